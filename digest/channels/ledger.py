"""The chat channels' delivery ledger: one row per (email, day, channel) in `channel_deliveries`.

As for email (digest.mail.ledger): a row is planned, claimed by one sender with a lease (a
conditional UPDATE, so senders can share the table), and ends sent only after the receiver's
2xx, or failed. A dead sender's claim is taken over when its lease runs out, or at once when it
was a process on this host.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from digest.errors import StoreError
from digest.mail.deliver import is_dead_local
from digest.models import Channel
from digest.store import Store
from digest.store.clock import from_db, to_db
from digest.store.schema import channel_deliveries

PLANNED, SENDING, SENT, FAILED = "planned", "sending", "sent", "failed"
DONE = frozenset({SENT, FAILED})


def channel_key(channel: Channel) -> str:
    """How the ledger names a channel: its type and a hash of its URL (not the URL)."""
    digest = hashlib.sha256(channel.url.encode("utf-8")).hexdigest()[:16]
    return f"{channel.type}:{digest}"


@dataclass(frozen=True)
class ChannelRow:
    id: int
    email: str
    day: date
    channel: str
    subscriber: str
    status: str
    attempts: int
    delivery_key: str
    reply: str | None = None
    next_attempt_at: datetime | None = None
    claimed_by: str | None = None
    lease_until: datetime | None = None


class ChannelLedger:
    """Reads and writes of `channel_deliveries`."""

    def __init__(self, store: Store) -> None:
        self.engine = store.engine

    def plan(
        self, email: str, day: date, channel: str, subscriber: str, now: datetime
    ) -> ChannelRow:
        """The row for (email, day, channel), made if it is not there yet."""
        found = self.get(email, day, channel)
        if found is not None:
            return found
        row = {
            "email": email,
            "day": day,
            "channel": channel,
            "subscriber": subscriber,
            "status": PLANNED,
            "attempts": 0,
            "delivery_key": uuid.uuid4().hex,
            "updated_at": to_db(now),
        }
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(channel_deliveries), [row])
        except IntegrityError:
            pass  # another sender planned it meanwhile
        except SQLAlchemyError as e:
            raise StoreError(f"cannot plan a chat delivery: {e}") from e
        planned = self.get(email, day, channel)
        assert planned is not None
        return planned

    def get(self, email: str, day: date, channel: str) -> ChannelRow | None:
        c = channel_deliveries.c
        query = select(channel_deliveries).where(
            c.email == email, c.day == day, c.channel == channel
        )
        try:
            with self.engine.connect() as conn:
                row = conn.execute(query).mappings().first()
        except SQLAlchemyError as e:
            raise StoreError(f"cannot read the chat ledger: {e}") from e
        return _to_row(row) if row else None

    def claim(
        self, row: ChannelRow, worker: str, now: datetime, lease: timedelta
    ) -> ChannelRow | None:
        """Take the row for sending; None when it is done, not due, or held by a live sender."""
        c = channel_deliveries.c
        dead = row.claimed_by if is_dead_local(row.claimed_by) else None
        query = (
            update(channel_deliveries)
            .where(
                c.id == row.id,
                or_(
                    and_(
                        c.status == PLANNED,
                        or_(c.next_attempt_at.is_(None), c.next_attempt_at <= to_db(now)),
                    ),
                    and_(
                        c.status == SENDING,
                        or_(c.lease_until < to_db(now), c.claimed_by == dead),
                    ),
                ),
            )
            .values(
                status=SENDING,
                attempts=c.attempts + 1,
                claimed_by=worker,
                lease_until=to_db(now + lease),
                updated_at=to_db(now),
            )
        )
        try:
            with self.engine.begin() as conn:
                taken = conn.execute(query).rowcount
        except SQLAlchemyError as e:
            raise StoreError(f"cannot claim a chat delivery: {e}") from e
        return self.get(row.email, row.day, row.channel) if taken else None

    def finish(
        self,
        row: ChannelRow,
        worker: str,
        status: str,
        reply: str,
        now: datetime,
        next_attempt_at: datetime | None = None,
    ) -> None:
        """Settle a row this worker holds: sent, failed, or planned again (from
        `next_attempt_at`)."""
        c = channel_deliveries.c
        values: dict[str, Any] = {
            "status": status,
            "reply": reply,
            "updated_at": to_db(now),
            "next_attempt_at": to_db(next_attempt_at),
            "claimed_by": None,
            "lease_until": None,
        }
        if status == SENT:
            values["sent_at"] = to_db(now)
        query = (
            update(channel_deliveries)
            .where(c.id == row.id, c.status == SENDING, c.claimed_by == worker)
            .values(**values)
        )
        try:
            with self.engine.begin() as conn:
                conn.execute(query)
        except SQLAlchemyError as e:
            raise StoreError(f"cannot record a chat delivery: {e}") from e


def _to_row(row: Any) -> ChannelRow:
    values = dict(row)
    for key in ("next_attempt_at", "lease_until"):
        values[key] = from_db(values[key])
    for key in ("updated_at", "sent_at"):
        values.pop(key, None)
    return ChannelRow(**values)
