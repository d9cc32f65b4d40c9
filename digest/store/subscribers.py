"""Subscribers kept in the store: one row per email address, whatever its spelling.

A row is either a whole profile (someone who subscribed on the web or with `digest subscribe`,
or a config.yaml person who edited their topics on the web), or only a status for a config.yaml
person (`topics` None: "everything else as in config.yaml"). The rules that merge these rows
with config.yaml live in `digest.subscribe`; this module only reads and writes them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from digest.errors import StoreError
from digest.store import Store
from digest.store.clock import from_db, to_db
from digest.store.schema import subscribers

PENDING, ACTIVE, PAUSED, UNSUBSCRIBED = "pending", "active", "paused", "unsubscribed"
STATUSES = (PENDING, ACTIVE, PAUSED, UNSUBSCRIBED)
ORIGINS = ("config", "web", "cli")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def email_key(email: str) -> str:
    """The form an address is looked up by: one person, however they spell it."""
    return email.strip().lower()


@dataclass(frozen=True)
class StoredSubscriber:
    """One row of the `subscribers` table. `topics` holds TopicConfig dicts, or None for a
    config.yaml person whose profile is the file's."""

    email: str
    name: str
    status: str
    origin: str
    timezone: str = "UTC"
    send_at: str = "07:00"
    days: tuple[str, ...] = WEEKDAYS
    max_papers: int = 20
    topics: tuple[dict[str, Any], ...] | None = None
    created_at: datetime | None = None
    confirmed_at: datetime | None = None
    updated_at: datetime | None = None
    link_generation: int = 0  # bumped by each unsubscribe; older manage links stop working

    @property
    def key(self) -> str:
        return email_key(self.email)


class SubscriberStore:
    """Reads and writes of the `subscribers` table."""

    def __init__(self, store: Store) -> None:
        self.engine = store.engine

    def get(self, email: str) -> StoredSubscriber | None:
        query = select(subscribers).where(subscribers.c.email_key == email_key(email))
        try:
            with self.engine.connect() as conn:
                row = conn.execute(query).mappings().first()
        except SQLAlchemyError as e:
            raise StoreError(f"cannot read subscribers: {e}") from e
        return _to_record(row) if row else None

    def all(self) -> list[StoredSubscriber]:
        query = select(subscribers).order_by(subscribers.c.created_at, subscribers.c.email_key)
        try:
            with self.engine.connect() as conn:
                return [_to_record(row) for row in conn.execute(query).mappings()]
        except SQLAlchemyError as e:
            raise StoreError(f"cannot read subscribers: {e}") from e

    def last_change(self) -> datetime | None:
        """When any row last changed: a long-running process (the daemon) polls this to notice
        sign-ups, edits and unsubscribes made by `digest serve` or `digest subscribe`."""
        try:
            with self.engine.connect() as conn:
                latest: datetime | None = conn.scalar(select(func.max(subscribers.c.updated_at)))
            return from_db(latest)
        except SQLAlchemyError as e:
            raise StoreError(f"cannot read subscribers: {e}") from e

    def put(self, record: StoredSubscriber, now: datetime) -> StoredSubscriber:
        """Insert or replace the row for this address; `created_at` of an existing row stays."""
        values = _to_row(replace(record, updated_at=now))
        try:
            with self.engine.begin() as conn:
                key = values.pop("email_key")
                created = conn.scalar(
                    select(subscribers.c.created_at).where(subscribers.c.email_key == key)
                )
                if created is None:
                    values["created_at"] = values["created_at"] or to_db(now)
                    conn.execute(insert(subscribers).values(email_key=key, **values))
                else:
                    values["created_at"] = created
                    conn.execute(
                        update(subscribers).where(subscribers.c.email_key == key).values(**values)
                    )
        except SQLAlchemyError as e:
            raise StoreError(f"cannot save the subscriber: {e}") from e
        found = self.get(record.email)
        assert found is not None
        return found

    def link_generation(self, email: str) -> int:
        """The generation manage links for this address are signed with (0 without a row)."""
        row = self.get(email)
        return row.link_generation if row else 0

    def link_generations(self) -> dict[str, int]:
        """Every generation above 0, by email key: two columns, not everyone's profile."""
        c = subscribers.c
        query = select(c.email_key, c.link_generation).where(c.link_generation > 0)
        try:
            with self.engine.connect() as conn:
                return {key: int(generation) for key, generation in conn.execute(query)}
        except SQLAlchemyError as e:
            raise StoreError(f"cannot read subscribers: {e}") from e

    def purge_unconfirmed(self, before: datetime) -> int:
        """Forget web sign-ups never confirmed and last asked for before `before`."""
        c = subscribers.c
        query = delete(subscribers).where(
            c.status == PENDING,
            c.origin == "web",
            c.confirmed_at.is_(None),
            c.updated_at < to_db(before),
        )
        try:
            with self.engine.begin() as conn:
                return int(conn.execute(query).rowcount or 0)
        except SQLAlchemyError as e:
            raise StoreError(f"cannot clean up subscribers: {e}") from e


def _to_row(record: StoredSubscriber) -> dict[str, Any]:
    return {
        "email_key": record.key,
        "email": record.email.strip(),
        "name": record.name,
        "timezone": record.timezone,
        "send_at": record.send_at,
        "days": list(record.days),
        "max_papers": record.max_papers,
        "topics": None if record.topics is None else [dict(t) for t in record.topics],
        "status": record.status,
        "origin": record.origin,
        "created_at": to_db(record.created_at),
        "confirmed_at": to_db(record.confirmed_at),
        "updated_at": to_db(record.updated_at),
        "link_generation": record.link_generation,
    }


def _to_record(row: Any) -> StoredSubscriber:
    topics = row["topics"]
    return StoredSubscriber(
        email=row["email"],
        name=row["name"],
        status=row["status"],
        origin=row["origin"],
        timezone=row["timezone"],
        send_at=row["send_at"],
        days=tuple(row["days"]),
        max_papers=row["max_papers"],
        topics=None if topics is None else tuple(topics),
        created_at=from_db(row["created_at"]),
        confirmed_at=from_db(row["confirmed_at"]),
        updated_at=from_db(row["updated_at"]),
        link_generation=int(row["link_generation"] or 0),
    )
