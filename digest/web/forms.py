"""The subscribe and manage forms: what a browser sent, made into validated changes (pure).

A `Form` is the forms' plain values, both to render a page and to read one back; the fields of
topic i are `topic-i-name`, `-keywords`, `-categories`, `-papers`, `-exclude` and `-authors`.
Problems come back as `field: what is wrong` lines; `field_problems` files them under the form
field they belong beside.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from digest.config import WEEKDAYS, TopicConfig
from digest.errors import MailError
from digest.mail.message import make_address
from digest.subscribe import Changes, Entry, SubscriptionError
from digest.subscribe.profile import build_profile, topic_fields, topic_from_fields
from digest.subscribe.zones import ZoneError, announcement_days, resolve_timezone

MAX_TOPICS = 10
MAX_FIELD = 2000  # characters: longer is not a topic, it is someone testing us
TOPIC_FIELDS = ("name", "keywords", "categories", "papers", "exclude", "authors")
_ANY_TOPIC = TopicConfig(name="any", keywords=["any"])


@dataclass(frozen=True)
class TopicFields:
    name: str = ""
    keywords: str = ""
    categories: str = ""
    papers: str = ""
    exclude: str = ""
    authors: str = ""


@dataclass(frozen=True)
class Form:
    email: str = ""
    name: str = ""
    timezone: str = ""
    send_at: str = "07:00"
    days: tuple[str, ...] | None = None  # None: the days arXiv's announcements reach them
    topics: tuple[TopicFields, ...] = field(default_factory=lambda: (TopicFields(),))


def read_form(data: Mapping[str, str], days: Sequence[str] | None = None) -> Form:
    """The form as sent; `days` are the checked day boxes (None: the form has none, and the
    digest comes on the days new arXiv papers reach the subscriber's time zone)."""

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
        days=None if days is None else tuple(d for d in WEEKDAYS if d in days),
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


def manage_changes(form: Form, keep: Sequence[TopicConfig], email: str) -> Changes:
    """The manage form's changes, every problem at once; what the form does not show is kept
    from `keep` (by position)."""
    changes, problems = _changes(form, keep)
    checked = changes if changes.topics is not None else replace(changes, topics=(_ANY_TOPIC,))
    try:
        build_profile({"name": form.name or email.split("@")[0], "email": email}, checked)
    except SubscriptionError as e:
        problems += [p for p in e.problems if p not in problems]
    if problems:
        raise SubscriptionError("; ".join(problems), problems)
    return changes


def without_topic(form: Form, index: int) -> Form:
    """The form with topic `index` taken out (its Remove button)."""
    kept = tuple(t for i, t in enumerate(form.topics) if i != index)
    return replace(form, topics=kept)


_TOPIC_FIELD = re.compile(r"^topic (\d+)(?:\.(\w+))?")
LABELS = {
    "email": "Email",
    "name": "Name",
    "timezone": "Time zone",
    "send_at": "Send at",
    "days": "Days",
    "topics": "Topics",
    "keywords": "Keywords",
    "categories": "arXiv categories",
    "papers": "Papers you liked",
    "exclude": "Leave out",
    "authors": "Authors",
}


def field_problems(problems: Sequence[str]) -> dict[str, list[str]]:
    """`"topic 2.categories: …"` filed under `topic-1-categories`, `"timezone: …"` under
    `timezone`; a problem of no one field under `form`."""
    filed: dict[str, list[str]] = {}
    for problem in problems:
        where, _, message = problem.partition(": ")
        key = "form"
        topic = _TOPIC_FIELD.match(where)
        if topic:
            part = topic.group(2)
            number = int(topic.group(1)) - 1
            key = f"topic-{number}-{part}" if part in TOPIC_FIELDS else f"topic-{number}"
        elif where.split(".")[0] in ("email", "name", "timezone", "send_at", "days", "topics"):
            key = where.split(".")[0]
        elif where.startswith("topics."):
            key = "topics"
        filed.setdefault(key, []).append(message if key != "form" else problem)
    return filed


def problem_labels(filed: Mapping[str, list[str]]) -> list[str]:
    """The summary at the top of a form: `Topic 1, arXiv categories: …`."""
    lines = []
    for key, messages in filed.items():
        topic = re.match(r"^topic-(\d+)(?:-(\w+))?$", key)
        if topic:
            part = LABELS.get(topic.group(2) or "", "")
            label = f"Topic {int(topic.group(1)) + 1}" + (f", {part}" if part else "")
        else:
            label = LABELS.get(key, "")
        lines += [f"{label}: {m}" if label else m for m in messages]
    return lines


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
                exclude=fields.exclude,
                authors=fields.authors,
                field=f"topic {i + 1}",
                keep=keep[i] if i < len(keep) else None,
            )
        except SubscriptionError as e:
            problems += e.problems
            continue
        if topic is not None:
            topics.append(topic)
    if not topics and not problems:
        problems.append("topics: give at least one keyword, arXiv category, author or liked paper")
    try:
        timezone = resolve_timezone(form.timezone)
    except ZoneError as e:
        problems.append(f"timezone: {e}")
        timezone = "UTC"
    days = form.days
    if days is None:
        try:
            days = announcement_days(timezone, form.send_at)
        except ValueError:  # a bad time: said by the profile's own check
            days = WEEKDAYS
    if not days:
        problems.append("days: tick at least one day")
    changes = Changes(
        name=form.name or None,
        timezone=timezone,
        send_at=form.send_at,
        days=days,
        topics=tuple(topics) if topics else None,
    )
    return changes, problems
