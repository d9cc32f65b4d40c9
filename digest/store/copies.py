"""What each sent digest held (its web copy and feed entries come from it), and each person's
delivery choices from the manage page (feed only, frequency, the feed link's generation).

A send run keeps a digest's copy in the same transaction as its delivery's "sent"
(`Ledger.mark_sent`), so a digest that never went out has no web copy and no feed entry, and
the run writes once per message. Copies are shown only for deliveries the ledger says were
sent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from digest.errors import StoreError
from digest.store import Store, utcnow
from digest.store.clock import from_db, to_db
from digest.store.schema import deliveries, delivery_choices, digest_copies
from digest.store.subscribers import email_key

SENT = "sent"


@dataclass(frozen=True)
class SentCopy:
    """One digest as it went out: its content record (digest.channels.record) and when."""

    email: str
    day: date
    subscriber: str
    subject: str
    content: dict[str, Any]
    sent_at: datetime | None


@dataclass(frozen=True)
class Choices:
    """A person's delivery choices kept in the store; None: as in config.yaml."""

    feed_generation: int = 0
    feed_only: bool | None = None
    frequency: str | None = None
    weekly_on: str | None = None


# One statement each, made once: a send run records a copy per email (thousands).
_COPY_VALUES = {
    "subscriber": bindparam("p_subscriber"),
    "subject": bindparam("p_subject"),
    "content": bindparam("p_content", type_=digest_copies.c.content.type),
    "recorded_at": bindparam("p_at", type_=digest_copies.c.recorded_at.type),
}
_UPDATE_COPY = (
    update(digest_copies)
    .where(digest_copies.c.email == bindparam("p_email"), digest_copies.c.day == bindparam("p_day"))
    .values(**_COPY_VALUES)
)
_INSERT_COPY = insert(digest_copies).values(
    email=bindparam("p_email"), day=bindparam("p_day"), **_COPY_VALUES
)


@lru_cache(maxsize=4)
def _upsert_copy(dialect: str) -> Any:
    """One statement that inserts a copy or replaces the one kept for its (email, day), where
    the database has one (SQLite, PostgreSQL); None elsewhere (an update, then an insert)."""
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as upsert
    elif dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as upsert  # type: ignore[assignment]
    else:
        return None
    statement = upsert(digest_copies).values(
        email=bindparam("p_email"), day=bindparam("p_day"), **_COPY_VALUES
    )
    return statement.on_conflict_do_update(
        index_elements=[digest_copies.c.email, digest_copies.c.day],
        set_={name: statement.excluded[name] for name in _COPY_VALUES},
    )


class CopyStore:
    """Reads and writes of `digest_copies` and `delivery_choices`."""

    def __init__(self, store: Store) -> None:
        self.engine = store.engine
        self._upsert = _upsert_copy(self.engine.dialect.name)

    # ------------------------------------------------------------ copies

    def record(
        self,
        email: str,
        day: date,
        subscriber: str,
        subject: str,
        content: dict[str, Any],
        now: datetime,
    ) -> None:
        """Keep (or replace: a retried send composes again) what the digest for (email, day)
        holds."""
        try:
            with self.engine.begin() as conn:
                self.keeper(email, day, subscriber, subject, content, now)(conn)
        except SQLAlchemyError as e:
            raise StoreError(f"cannot record the digest's web copy: {e}") from e

    def keeper(
        self,
        email: str,
        day: date,
        subscriber: str,
        subject: str,
        content: dict[str, Any],
        now: datetime | None = None,
    ) -> Callable[[Connection], None]:
        """`record` on a given connection, later: the send run keeps a digest's copy in the
        same transaction as its delivery's "sent" (`Ledger.mark_sent`). `now`: the copy's
        time, else the time it is written."""
        upsert = self._upsert

        def keep(conn: Connection) -> None:
            params = {
                "p_email": email,
                "p_day": day,
                "p_subscriber": subscriber,
                "p_subject": subject,
                "p_content": content,
                "p_at": to_db(now or utcnow()),
            }
            if upsert is not None:
                conn.execute(upsert, params)
            elif not conn.execute(_UPDATE_COPY, params).rowcount:
                conn.execute(_INSERT_COPY, params)

        return keep

    def sent(self, email: str, day: date) -> SentCopy | None:
        """The copy of the digest sent to `email` for `day`, or None (never sent, or gone)."""
        found = self._sent([digest_copies.c.email == email, digest_copies.c.day == day], 1)
        return found[0] if found else None

    def recent(self, email: str, since: date, limit: int) -> list[SentCopy]:
        """The person's sent digests from `since` on, newest first (at most `limit`)."""
        conditions = [digest_copies.c.email == email, digest_copies.c.day >= since]
        return self._sent(conditions, limit)

    def sent_paper_ids(self, emails: Iterable[str], since: date) -> dict[str, set[str]]:
        """The ids of the papers each person's sent digests held from `since` on."""
        wanted = list(dict.fromkeys(emails))
        found: dict[str, set[str]] = {e: set() for e in wanted}
        for start in range(0, len(wanted), 500):
            conditions = [
                digest_copies.c.email.in_(wanted[start : start + 500]),
                digest_copies.c.day >= since,
            ]
            for copy in self._sent(conditions, None):
                found[copy.email].update(_paper_ids(copy.content))
        return found

    def prune(self, before: date) -> int:
        """Forget copies of digests older than `before` (their links have expired)."""
        try:
            with self.engine.begin() as conn:
                gone = conn.execute(delete(digest_copies).where(digest_copies.c.day < before))
        except SQLAlchemyError as e:
            raise StoreError(f"cannot prune old web copies: {e}") from e
        return int(gone.rowcount or 0)

    def _sent(self, conditions: list[Any], limit: int | None) -> list[SentCopy]:
        c, d = digest_copies.c, deliveries.c
        query = (
            select(c.email, c.day, c.subscriber, c.subject, c.content, d.sent_at)
            .join(deliveries, (d.email == c.email) & (d.day == c.day))
            .where(d.status == SENT, *conditions)
            .order_by(c.day.desc())
        )
        if limit is not None:
            query = query.limit(limit)
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(query).all()
        except SQLAlchemyError as e:
            raise StoreError(f"cannot read the digests' web copies: {e}") from e
        return [
            SentCopy(r.email, r.day, r.subscriber, r.subject, dict(r.content), from_db(r.sent_at))
            for r in rows
        ]

    # ------------------------------------------------------------ choices

    def choices(self, email: str) -> Choices:
        query = select(delivery_choices).where(delivery_choices.c.email_key == email_key(email))
        try:
            with self.engine.connect() as conn:
                row = conn.execute(query).mappings().first()
        except SQLAlchemyError as e:
            raise StoreError(f"cannot read delivery choices: {e}") from e
        return _to_choices(row) if row else Choices()

    def all_choices(self) -> dict[str, Choices]:
        """Everyone's choices, by email key."""
        try:
            with self.engine.connect() as conn:
                rows = list(conn.execute(select(delivery_choices)).mappings())
        except SQLAlchemyError as e:
            raise StoreError(f"cannot read delivery choices: {e}") from e
        return {row["email_key"]: _to_choices(row) for row in rows}

    def set_choices(self, email: str, now: datetime, **changes: Any) -> Choices:
        """Change some of a person's choices (feed_only, frequency, weekly_on)."""
        allowed = {"feed_only", "frequency", "weekly_on", "feed_generation"}
        unknown = set(changes) - allowed
        if unknown:
            raise ValueError(f"not a delivery choice: {sorted(unknown)}")
        key = email_key(email)
        c = delivery_choices.c
        try:
            with self.engine.begin() as conn:
                changed = conn.execute(
                    update(delivery_choices)
                    .where(c.email_key == key)
                    .values(**changes, updated_at=to_db(now))
                )
                if not changed.rowcount:
                    conn.execute(
                        insert(delivery_choices).values(
                            email_key=key, updated_at=to_db(now), **changes
                        )
                    )
        except SQLAlchemyError as e:
            raise StoreError(f"cannot save delivery choices: {e}") from e
        return self.choices(email)

    def reset_feed(self, email: str, now: datetime) -> int:
        """A new feed link: the generation goes up and every older feed link stops working."""
        generation = self.choices(email).feed_generation + 1
        self.set_choices(email, now, feed_generation=generation)
        return generation


def _to_choices(row: Any) -> Choices:
    return Choices(
        feed_generation=int(row["feed_generation"] or 0),
        feed_only=None if row["feed_only"] is None else bool(row["feed_only"]),
        frequency=row["frequency"],
        weekly_on=row["weekly_on"],
    )


def _paper_ids(content: dict[str, Any]) -> list[str]:
    return [p["id"] for g in content.get("groups", []) for p in g.get("papers", [])]
