"""Who gets a digest: config.yaml's people and the store's, side by side, and the changes people
make (subscribe, confirm, edit, pause, unsubscribe).

The rules:
- a config.yaml person is active unless the store says otherwise: an unsubscribe or a pause
  recorded in the store wins over the file until they subscribe again;
- a config.yaml person who edited their profile on the web gets the store's copy;
- anyone else comes from the store, and gets digests only once confirmed (status active);
- an address is one person, whatever its spelling (case-insensitive).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime
from enum import Enum
from typing import Any

from pydantic import ValidationError

from digest.config import Config, SubscriberConfig
from digest.models import Subscriber
from digest.store import Store, utcnow
from digest.store.copies import Choices, CopyStore
from digest.store.subscribers import (
    ACTIVE,
    PAUSED,
    PENDING,
    UNSUBSCRIBED,
    StoredSubscriber,
    SubscriberStore,
    email_key,
)
from digest.subscribe.profile import Changes, SubscriptionError, build_profile
from digest.subscribe.zones import ZoneError, announcement_days, resolve_timezone

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Entry:
    """One person as the sender sees them: the profile in force, its status and its origin."""

    profile: SubscriberConfig
    status: str  # pending / active / paused / unsubscribed
    origin: str  # config / web / cli
    in_config: bool
    stored: StoredSubscriber | None

    @property
    def email(self) -> str:
        return self.profile.email

    @property
    def edited_on_web(self) -> bool:
        return self.in_config and self.stored is not None and self.stored.topics is not None

    def subscriber(self) -> Subscriber:
        return replace(self.profile.to_subscriber(), status=self.status)


class SignUp(Enum):
    """What a web subscribe request led to; the page says the same thing for both."""

    CONFIRM = "confirm"  # a pending row waits for the address to confirm
    ALREADY = "already"  # the address already gets digests (or paused them): nothing changed


# ---------------------------------------------------------------- reading


def roster(config: Config, store: Store) -> list[Entry]:
    """Everyone known: config.yaml's people in file order, then the store's own."""
    rows = {r.key: r for r in SubscriberStore(store).all()}
    choices = CopyStore(store).all_choices()
    entries = []
    for person in config.subscribers:
        entry = _entry(person, rows.pop(email_key(person.email), None))
        if entry is not None:
            entries.append(_with_choices(entry, choices.get(email_key(entry.email))))
    for row in rows.values():
        entry = _entry(None, row)
        if entry is not None:
            entries.append(_with_choices(entry, choices.get(row.key)))
    return entries


def active_subscribers(config: Config, store: Store) -> list[Subscriber]:
    """The people the next `digest send` is for: config.yaml's people not unsubscribed or paused
    in the store, and the store's confirmed subscribers."""
    return [e.subscriber() for e in roster(config, store) if e.status == ACTIVE]


def find(config: Config, store: Store, email: str) -> Entry | None:
    """The person with this address (any spelling), or None."""
    key = email_key(email)
    person = next((p for p in config.subscribers if email_key(p.email) == key), None)
    entry = _entry(person, SubscriberStore(store).get(email))
    return _with_choices(entry, CopyStore(store).choices(email)) if entry else None


def _with_choices(entry: Entry, choices: Choices | None) -> Entry:
    """The person with the delivery choices they made on the manage page (feed only, daily or
    weekly), which win over config.yaml's."""
    if choices is None:
        return entry
    given = {
        "feed_only": choices.feed_only,
        "frequency": choices.frequency,
        "weekly_on": choices.weekly_on,
    }
    changes = {key: value for key, value in given.items() if value is not None}
    return replace(entry, profile=entry.profile.model_copy(update=changes)) if changes else entry


def _entry(person: SubscriberConfig | None, row: StoredSubscriber | None) -> Entry | None:
    if row is None:
        return Entry(person, ACTIVE, "config", True, None) if person else None
    if row.topics is None:
        if person is None:  # a status row for someone since removed from config.yaml
            return None
        return Entry(person, row.status, "config", True, row)
    try:
        profile = SubscriberConfig.model_validate(_row_profile(row))
    except ValidationError:
        log.warning("subscriber %s in the store has an invalid profile; left out", row.key)
        return None
    if person is not None:  # keep the file's other settings (min_score, send_empty, …)
        base = person.model_dump(by_alias=True)
        profile = SubscriberConfig.model_validate(base | _row_profile(row))
    return Entry(profile, row.status, row.origin, person is not None, row)


def _row_profile(row: StoredSubscriber) -> dict[str, Any]:
    return {
        "name": row.name,
        "email": row.email,
        "timezone": row.timezone,
        "send_at": row.send_at,
        "days": list(row.days),
        "max_papers": row.max_papers,
        "topics": list(row.topics or ()),
    }


# ---------------------------------------------------------------- changing


def subscribe(
    config: Config,
    store: Store,
    email: str,
    changes: Changes,
    *,
    origin: str = "cli",
    now: datetime | None = None,
) -> Entry:
    """Subscribe at once, no confirmation (the terminal: the operator vouches for the address).
    A config.yaml person just becomes active again; their profile is changed in the file (a
    copy here would hide every later edit of it), so changes to it are refused."""
    current = find(config, store, email)
    if current is not None and current.in_config and changes != Changes():
        raise SubscriptionError(
            f"{current.email} is in config.yaml: change their topics, name or schedule there "
            f"(`digest subscribe {current.email}` alone makes them active again)"
        )
    if changes.timezone is not None:  # "Berlin" and "europe/berlin" as the web form takes them
        try:
            changes = replace(changes, timezone=resolve_timezone(changes.timezone))
        except ZoneError as e:
            raise SubscriptionError(f"timezone: {e}") from e
    return _save(config, store, email, changes, ACTIVE, origin, now or utcnow(), confirm=True)


def reset_profile(
    config: Config, store: Store, email: str, *, now: datetime | None = None
) -> Entry:
    """A config.yaml person gets the file's profile again (what they saved on the web is
    dropped) and is active."""
    current = find(config, store, email)
    if current is None or not current.in_config:
        raise SubscriptionError(
            f"{email} is not in config.yaml: there is no file profile to go back to"
        )
    person = next(p for p in config.subscribers if email_key(p.email) == email_key(email))
    now = now or utcnow()
    row = current.stored or _status_row(person, ACTIVE)
    row = replace(
        _status_row(person, ACTIVE),
        origin=row.origin,
        created_at=row.created_at,
        confirmed_at=row.confirmed_at or now,
        link_generation=row.link_generation,
    )
    SubscriberStore(store).put(row, now)
    found = find(config, store, email)
    assert found is not None
    return found


def request_subscription(
    config: Config, store: Store, email: str, changes: Changes, *, now: datetime | None = None
) -> SignUp:
    """A web sign-up: store it as pending (to be confirmed by email), unless the address already
    gets digests or paused them, which a stranger must not be able to change."""
    now = now or utcnow()
    current = find(config, store, email)
    if current is not None and current.status in (ACTIVE, PAUSED):
        return SignUp.ALREADY
    if changes.topics is None:
        raise SubscriptionError("topics: give at least one keyword, category or paper")
    if current is not None and current.status == PENDING and current.stored is not None:
        # Someone asked already: their row is not overwritten (each confirmation link carries
        # its own profile, see pending_profile); it lives on as long as the newest link.
        SubscriberStore(store).put(current.stored, now)
    else:
        _save(config, store, email, changes, PENDING, "web", now, confirm=False)
    return SignUp.CONFIRM


def pending_profile(config: Config, store: Store, email: str, changes: Changes) -> dict[str, Any]:
    """The profile one sign-up asks for, as its confirmation link carries it: confirming that
    link makes exactly this profile active, whatever other sign-ups for the address asked."""
    current = find(config, store, email)
    if current is not None and current.status != PENDING:
        base = current.profile.model_dump(mode="json", by_alias=True, exclude={"deliver"})
    else:
        base = {"name": email.split("@")[0], "email": email.strip()}
    profile = build_profile(base, changes)
    return {
        "name": profile.name,
        "timezone": profile.timezone,
        "send_at": profile.send_at,
        "days": list(profile.days),
        "max_papers": profile.max_papers,
        "topics": [t.model_dump(mode="json", by_alias=True) for t in profile.topics],
    }


def confirm_subscription(
    config: Config,
    store: Store,
    email: str,
    *,
    profile: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> Entry | None:
    """The address confirmed: pending becomes active, with `profile` (the one the clicked link
    carries) when given. None when there is nothing to confirm."""
    current = find(config, store, email)
    if current is None or current.stored is None or current.status not in (PENDING, ACTIVE):
        return None
    if current.status == ACTIVE:
        return current
    now = now or utcnow()
    row = replace(current.stored, status=ACTIVE, confirmed_at=now)
    if profile is not None:
        try:
            checked = SubscriberConfig.model_validate({**profile, "email": current.stored.email})
        except ValidationError:
            return None
        row = replace(
            row,
            name=checked.name,
            timezone=checked.timezone,
            send_at=checked.send_at,
            days=tuple(checked.days),
            max_papers=checked.max_papers,
            topics=tuple(t.model_dump(mode="json", by_alias=True) for t in checked.topics),
        )
    SubscriberStore(store).put(row, now)
    return find(config, store, email)


def update_subscription(
    config: Config, store: Store, email: str, changes: Changes, *, now: datetime | None = None
) -> Entry:
    """Change a person's name, schedule or topics; their status stays."""
    current = _known(config, store, email)
    return _save(config, store, email, changes, current.status, current.origin, now or utcnow())


def set_status(
    config: Config, store: Store, email: str, status: str, *, now: datetime | None = None
) -> Entry:
    """Pause, resume or unsubscribe someone (recorded in the store, for config.yaml people too)."""
    if status not in (ACTIVE, PAUSED, UNSUBSCRIBED):
        raise ValueError(f"not a status to set: {status}")
    now = now or utcnow()
    current = _known(config, store, email)
    row = current.stored or _status_row(current.profile, status)
    confirmed = row.confirmed_at or (now if status == ACTIVE else None)
    # An unsubscribe retires every manage link sent so far: an old one must not resume them.
    leaving = status == UNSUBSCRIBED and current.status != UNSUBSCRIBED
    generation = row.link_generation + 1 if leaving else row.link_generation
    row = replace(row, status=status, confirmed_at=confirmed, link_generation=generation)
    SubscriberStore(store).put(row, now)
    found = find(config, store, email)
    assert found is not None
    return found


def unsubscribe(config: Config, store: Store, email: str, *, now: datetime | None = None) -> Entry:
    return set_status(config, store, email, UNSUBSCRIBED, now=now)


def _known(config: Config, store: Store, email: str) -> Entry:
    current = find(config, store, email)
    if current is None:
        raise SubscriptionError(f"no subscriber with the address {email}")
    return current


def _status_row(profile: SubscriberConfig, status: str) -> StoredSubscriber:
    """A config.yaml person's row that records only a status."""
    return StoredSubscriber(
        email=profile.email,
        name=profile.name,
        status=status,
        origin="config",
        timezone=profile.timezone,
        send_at=profile.send_at,
        days=tuple(profile.days),
        max_papers=profile.max_papers,
    )


def _save(
    config: Config,
    store: Store,
    email: str,
    changes: Changes,
    status: str,
    origin: str,
    now: datetime,
    *,
    confirm: bool = False,
) -> Entry:
    current = find(config, store, email)
    if current is not None and current.in_config and changes == Changes():
        # A config.yaml person with nothing to change: only the status is recorded.
        row = current.stored or _status_row(current.profile, status)
        confirmed = row.confirmed_at or (now if confirm else None)
        row = replace(row, status=status, confirmed_at=confirmed)
        SubscriberStore(store).put(row, now)
    else:
        if current is not None:
            base = current.profile.model_dump(mode="json", by_alias=True, exclude={"deliver"})
        elif changes.topics is None:
            raise SubscriptionError("topics: give at least one topic (keywords, categories, ids)")
        else:
            base = {"name": email.split("@")[0], "email": email.strip()}
        if current is None and changes.days is None:
            changes = replace(changes, days=_news_days(changes))
        profile = build_profile(base, changes)
        previous = current.stored if current else None
        SubscriberStore(store).put(
            StoredSubscriber(
                email=profile.email,
                name=profile.name,
                status=status,
                origin=current.origin if current else origin,
                timezone=profile.timezone,
                send_at=profile.send_at,
                days=tuple(profile.days),
                max_papers=profile.max_papers,
                topics=tuple(t.model_dump(mode="json", by_alias=True) for t in profile.topics),
                created_at=previous.created_at if previous else now,
                confirmed_at=(previous.confirmed_at if previous else None)
                or (now if confirm else None),
                link_generation=previous.link_generation if previous else 0,
            ),
            now,
        )
    found = find(config, store, email)
    assert found is not None
    return found


def _news_days(changes: Changes) -> tuple[str, ...] | None:
    """A newcomer's days: those new arXiv papers reach their time zone (None: their time zone
    or time is wrong, which building the profile reports)."""
    try:
        return announcement_days(changes.timezone or "UTC", changes.send_at or "07:00")
    except (ValueError, KeyError):
        return None


def named(config: Config, store: Store, name_or_email: str) -> Entry:
    """One person by address (any spelling) or name, config.yaml's or the store's. An address
    reads that one person; a name reads everyone."""
    found_by_address = find(config, store, name_or_email) if "@" in name_or_email else None
    if found_by_address is not None:
        return found_by_address
    everyone = roster(config, store)
    key = email_key(name_or_email)
    for entry in everyone:
        if email_key(entry.email) == key:
            return entry
    # Names as addresses are: any case ("ada" finds Ada); an exact spelling wins when two
    # people's names differ only in case, and a name two people share is refused.
    wanted = name_or_email.strip()
    exact = [e for e in everyone if e.profile.name == wanted]
    any_case = [e for e in everyone if e.profile.name.casefold() == wanted.casefold()]
    for found in (exact, any_case):
        if len(found) == 1:
            return found[0]
        if found:
            raise SubscriptionError(
                f"{len(found)} subscribers are named {wanted!r} "
                f"({', '.join(e.email for e in found)}): give the email address instead"
            )
    raise SubscriptionError(
        f"no subscriber named {name_or_email!r} (see `digest subscribers` for everyone)"
    )
