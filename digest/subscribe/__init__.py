"""The subscription stage: who gets a digest, and how people join, change and leave.

profile.py  what people type (a form, a --topic option) made into validated profiles (pure)
roster.py   config.yaml's people and the store's side by side, and the changes people make
liked.py    liked arXiv ids looked up when a profile is saved (titles shown, unknown refused)
zones.py    time zones as people type them (a city is enough), and the days new papers come
feedback.py "more like this" / "not for me" marks from the email: recorded, listed, exported

The web pages that drive it are in `digest.web`; the signed links in `digest.mail.tokens`.
"""

from __future__ import annotations

from digest.subscribe.liked import Liked, arxiv_api_url, check_liked, look_up_liked
from digest.subscribe.profile import Changes, SubscriptionError, topic_from_spec
from digest.subscribe.roster import (
    Entry,
    SignUp,
    active_subscribers,
    confirm_subscription,
    find,
    named,
    pending_profile,
    request_subscription,
    reset_profile,
    roster,
    set_status,
    subscribe,
    unsubscribe,
    update_subscription,
)

__all__ = [
    "Changes",
    "Entry",
    "Liked",
    "SignUp",
    "SubscriptionError",
    "active_subscribers",
    "arxiv_api_url",
    "check_liked",
    "confirm_subscription",
    "find",
    "look_up_liked",
    "named",
    "pending_profile",
    "request_subscription",
    "reset_profile",
    "roster",
    "set_status",
    "subscribe",
    "topic_from_spec",
    "unsubscribe",
    "update_subscription",
]
