""" "What would this catch today?": the manage form's topics, unsaved, ranked against the day's
papers by the digest's own ranking (`pipeline.rank_for_subscriber`), so the answer is what
the next digest would hold if they were saved now."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from digest.config import Config
from digest.store import Store
from digest.subscribe import Changes, Entry
from digest.subscribe.profile import build_profile

SHOWN = 10


@dataclass(frozen=True)
class Caught:
    title: str
    url: str  # "" when the paper has no http(s) link
    topic: str
    reasons: str


@dataclass(frozen=True)
class Catch:
    papers: tuple[Caught, ...]  # the best of the digest, at most SHOWN
    total: int  # how many would make the digest


def todays_catch(
    config: Config, store: Store, entry: Entry, changes: Changes, now: datetime
) -> Catch:
    """What the digest of `entry` with `changes` applied would hold today (nothing is saved)."""
    from digest.pipeline import rank_for_subscriber  # the ranking and its imports: only here
    from digest.render.view import abs_url  # the link the digest gives a paper

    base = entry.profile.model_dump(mode="json", by_alias=True)
    who = build_profile(base, changes).to_subscriber()
    ranking = rank_for_subscriber(config, store, who, now=now, limit=SHOWN)
    papers = tuple(
        Caught(
            title=r.paper.title,
            url=_web_link(abs_url(r.paper)),
            topic=r.topic,
            reasons="; ".join(reason.text for reason in r.reasons),
        )
        for r in ranking.picked[:SHOWN]
    )
    return Catch(papers, len(ranking.picked))


def _web_link(url: str) -> str:
    """Only an http(s) link is shown as one (a feed could give `javascript:`)."""
    return url if url and url.startswith(("https://", "http://")) else ""
