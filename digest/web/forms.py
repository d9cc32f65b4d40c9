"""The subscribe and manage forms: what a browser sent, made into validated changes (pure).

A `Form` is the forms' plain values, both to render a page and to read one back; the fields of
topic i are `topic-i-name`, `topic-i-keywords`, `topic-i-categories` and `topic-i-papers`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from digest.config import WEEKDAYS, TopicConfig
from digest.errors import MailError
from digest.mail.message import make_address
from digest.subscribe import Changes, Entry, SubscriptionError
from digest.subscribe.profile import build_profile, topic_fields, topic_from_fields

MAX_TOPICS = 10
MAX_FIELD = 2000  # characters: longer is not a topic, it is someone testing us
TOPIC_FIELDS = ("name", "keywords", "categories", "papers")
_ANY_TOPIC = TopicConfig(name="any", keywords=["any"])


@dataclass(frozen=True)
class TopicFields:
    name: str = ""
    keywords: str = ""
    categories: str = ""
    papers: str = ""


@dataclass(frozen=True)
class Form:
    email: str = ""
    name: str = ""
    timezone: str = ""
    send_at: str = "07:00"
    days: tuple[str, ...] = WEEKDAYS
    topics: tuple[TopicFields, ...] = field(default_factory=lambda: (TopicFields(),))


def read_form(data: Mapping[str, str], days: Sequence[str] | None = None) -> Form:
    """The form as sent; `days` are the checked day boxes (None: the form has none)."""

    def text(key: str) -> str:
        return str(data.get(key, ""))[:MAX_FIELD].strip()

    topics = tuple(
        TopicFields(*(text(f"topic-{i}-{part}") for part in TOPIC_FIELDS))
        for i in range(MAX_TOPICS)
        if any(f"topic-{i}-{part}" in data for part in TOPIC_FIELDS)
    )
    return Form(
        email=text("email"),
        name=text("name"),
        timezone=text("timezone") or "UTC",
        send_at=text("send_at") or "07:00",
        days=WEEKDAYS if days is None else tuple(d for d in WEEKDAYS if d in days),
        topics=topics,
    )


def form_for(entry: Entry) -> Form:
    """The manage form filled in with a person's profile, plus one blank topic to add."""
    p = entry.profile
    topics = tuple(TopicFields(**topic_fields(t)) for t in p.topics)
    return Form(
        email=p.email,
        name=p.name,
        timezone=p.timezone,
        send_at=p.send_at,
        days=tuple(p.days),
        topics=topics[:MAX_TOPICS] + ((TopicFields(),) if len(topics) < MAX_TOPICS else ()),
    )


def with_blank_topic(form: Form) -> Form:
    if len(form.topics) >= MAX_TOPICS or (form.topics and form.topics[-1] == TopicFields()):
        return form
    return Form(**{**form.__dict__, "topics": (*form.topics, TopicFields())})


def subscribe_changes(form: Form) -> tuple[str, Changes]:
    """The address and profile of a sign-up, validated exactly as a stored profile is, so the
    answer never depends on whether the address is known."""
    problems = []
    try:
        make_address(form.name, form.email, "email")
    except MailError:
        problems.append("email: enter an email address like name@example.org")
    changes, more = _changes(form, [])
    problems += more
    # The rest is checked even when the email or topics are wrong: every problem shows at once.
    email = "x@example.org" if problems and problems[0].startswith("email:") else form.email
    checked = changes if changes.topics is not None else replace(changes, topics=(_ANY_TOPIC,))
    try:
        build_profile({"name": form.name or email.split("@")[0], "email": email}, checked)
    except SubscriptionError as e:
        problems += [p for p in e.problems if p not in problems]
    if problems:
        raise SubscriptionError("; ".join(problems), problems)
    return form.email, changes


def manage_changes(form: Form, keep: Sequence[TopicConfig]) -> Changes:
    """The manage form's changes; what the form does not show is kept from `keep` (by position)."""
    changes, problems = _changes(form, keep)
    if problems:
        raise SubscriptionError("; ".join(problems), problems)
    return changes


def _changes(form: Form, keep: Sequence[TopicConfig]) -> tuple[Changes, list[str]]:
    topics: list[TopicConfig] = []
    problems: list[str] = []
    for i, fields in enumerate(form.topics):
        try:
            topic = topic_from_fields(
                fields.name,
                fields.keywords,
                fields.categories,
                fields.papers,
                field=f"topic {i + 1}",
                keep=keep[i] if i < len(keep) else None,
            )
        except SubscriptionError as e:
            problems += e.problems
            continue
        if topic is not None:
            topics.append(topic)
    if not topics and not problems:
        problems.append("topics: give at least one keyword, arXiv category or liked paper")
    if not form.days:
        problems.append("days: pick at least one day")
    changes = Changes(
        name=form.name or None,
        timezone=form.timezone,
        send_at=form.send_at,
        days=form.days,
        topics=tuple(topics) if topics else None,
    )
    return changes, problems
