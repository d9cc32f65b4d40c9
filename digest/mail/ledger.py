"""The delivery ledger: one row per (subscriber email, digest day), kept in the store.

A row is planned, then claimed by one sender (`sending`, with a lease), then ends as sent (only
after the server's 250), failed or skipped. A claim is a conditional UPDATE, so any number of
senders on any number of machines can share the table; a crashed sender's claim is taken over
when its lease expires, or at once when it was a process on this host that is gone.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    String,
    and_,
    bindparam,
    cast,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from digest.errors import StoreError
from digest.store import Store, utcnow
from digest.store.clock import from_db, to_db
from digest.store.schema import deliveries, recipients

# Writes what a sent digest held (`store.copies`) on the connection of the ledger's "sent".
Keep = Callable[[Connection], None]

PLANNED, SENDING, SENT, FAILED, SKIPPED = "planned", "sending", "sent", "failed", "skipped"
DONE = frozenset({SENT, FAILED, SKIPPED})
ACTIVE, SUSPENDED = "active", "suspended"


@dataclass(frozen=True)
class Delivery:
    """One ledger row."""

    id: int
    email: str
    day: date
    subscriber: str
    status: str
    attempts: int = 0
    message_id: str | None = None
    reply: str | None = None
    papers: int | None = None
    next_attempt_at: datetime | None = None
    claimed_by: str | None = None
    lease_until: datetime | None = None
    planned_at: datetime | None = None
    updated_at: datetime | None = None
    sent_at: datetime | None = None
    unconfirmed: int = 0  # sends lost after the whole message, before the server's reply


@dataclass(frozen=True)
class SentMark:
    """One row to mark sent (see `Ledger.mark_sent`)."""

    delivery_id: int
    reply: str
    now: datetime
    papers: int
    clear_failures: bool = True
    keep: Keep | None = None


def new_worker_id() -> str:
    """Who holds a claim: host, process id and a per-run nonce."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Ledger:
    """Reads and writes of the `deliveries` and `recipients` tables."""

    def __init__(self, store: Store) -> None:
        self.engine = store.engine

    # ------------------------------------------------------------ reading

    def get(self, email: str, day: date) -> Delivery | None:
        query = select(deliveries).where(deliveries.c.email == email, deliveries.c.day == day)
        with self._connect() as conn:
            row = conn.execute(query).mappings().first()
        return _to_delivery(row) if row else None

    def for_day(self, day: date, emails: Iterable[str] | None = None) -> dict[str, Delivery]:
        """The day's rows keyed by email (only those of `emails` when given)."""
        query = select(deliveries).where(deliveries.c.day == day)
        wanted = set(emails) if emails is not None else None
        with self._connect() as conn:
            rows = [_to_delivery(r) for r in conn.execute(query).mappings()]
        return {d.email: d for d in rows if wanted is None or d.email in wanted}

    def by_ids(self, ids: Iterable[int]) -> list[Delivery]:
        wanted = list(ids)
        found: list[Delivery] = []
        with self._connect() as conn:
            for start in range(0, len(wanted), 500):
                query = select(deliveries).where(deliveries.c.id.in_(wanted[start : start + 500]))
                found.extend(_to_delivery(r) for r in conn.execute(query).mappings())
        return found

    def previous_digest(self, email: str, before: date) -> tuple[date, datetime] | None:
        """This person's last digest sent before `before`: its day and when its row was planned
        (see digest.day.previous_window_end). None if they never had one."""
        query = (
            select(deliveries.c.day, deliveries.c.planned_at)
            .where(
                deliveries.c.email == email,
                deliveries.c.day < before,
                deliveries.c.status == SENT,
            )
            .order_by(deliveries.c.day.desc(), deliveries.c.planned_at.desc())
            .limit(1)
        )
        with self._connect() as conn:
            row = conn.execute(query).first()
        planned = from_db(row.planned_at) if row is not None else None
        return (row.day, planned) if row is not None and planned is not None else None

    def previous_digests(
        self, days: Mapping[str, date], look_back: int
    ) -> dict[str, tuple[date, datetime]]:
        """`previous_digest` for many people at once (email: the day their next digest is for),
        in one query; digests more than `look_back` days before the earliest day are not read."""
        if not days:
            return {}
        earliest = min(days.values()) - timedelta(days=look_back)
        query = select(deliveries.c.email, deliveries.c.day, deliveries.c.planned_at).where(
            deliveries.c.day >= earliest, deliveries.c.status == SENT
        )
        found: dict[str, tuple[date, datetime]] = {}
        with self._connect() as conn:
            for email, day, planned_at in conn.execute(query):
                before = days.get(email)
                when = from_db(planned_at)
                if before is None or when is None or day >= before:
                    continue
                if email not in found or (day, when) > found[email]:
                    found[email] = (day, when)
        return found

    def suspended(self) -> dict[str, str]:
        """Suspended addresses, each with the last refusal that counted towards it."""
        query = select(recipients.c.email, recipients.c.last_error).where(
            recipients.c.status == SUSPENDED
        )
        with self._connect() as conn:
            return {email: error or "" for email, error in conn.execute(query)}

    # ------------------------------------------------------------ planning and claiming

    def plan(self, people: Sequence[tuple[str, str]], day: date, now: datetime) -> None:
        """Make sure a row exists for each (email, subscriber name) on `day`."""
        have = self.for_day(day, [email for email, _ in people])
        rows = [_new_row(email, name, day, now) for email, name in people if email not in have]
        if not rows:
            return
        try:
            with self._begin() as conn:
                conn.execute(insert(deliveries), rows)
        except StoreError as e:
            if not isinstance(e.__cause__, IntegrityError):
                raise
            for row in rows:  # another sender planned some of them meanwhile
                try:
                    with self._begin() as conn:
                        conn.execute(insert(deliveries), [row])
                except StoreError as again:
                    if not isinstance(again.__cause__, IntegrityError):
                        raise

    def claim(
        self,
        delivery_id: int,
        worker: str,
        *,
        now: datetime,
        lease: timedelta,
        message_id: str,
        take_over: str | None = None,
    ) -> Delivery | None:
        """Take a due row for sending; None if it is not due or someone else holds it.

        `take_over` names a dead sender whose claim may be taken regardless of its lease.
        A re-send keeps the row's first Message-ID, so receivers can drop the duplicate.
        """
        params = {
            "p_id": delivery_id,
            "p_now": to_db(now),
            "p_dead": take_over,
            "p_worker": worker,
            "p_lease": to_db(now + lease),
            "p_message_id": message_id,
        }
        with self._begin() as conn:
            row = conn.execute(_CLAIM, params).mappings().first()
        return _to_delivery(row) if row else None

    def claim_many(
        self,
        delivery_ids: Sequence[int],
        worker: str,
        *,
        now: datetime,
        lease: timedelta,
        message_id: str,
    ) -> list[Delivery]:
        """`claim` for several rows in one statement: the rows that were due and free, in the
        order asked. A row without a Message-ID gets `message_id` with its row id added before
        the "@" (unique per row, from one freshly made id)."""
        at = message_id.rfind("@")
        head, tail = (message_id[:at], message_id[at:]) if at > 0 else (message_id, "")
        params = {
            "p_ids": list(delivery_ids),
            "p_now": to_db(now),
            "p_dead": None,
            "p_worker": worker,
            "p_lease": to_db(now + lease),
            "p_mid_head": f"{head}.",
            "p_mid_tail": tail,
        }
        with self._begin() as conn:
            rows = [_to_delivery(r) for r in conn.execute(_CLAIM_MANY, params).mappings()]
        order = {delivery_id: i for i, delivery_id in enumerate(delivery_ids)}
        rows.sort(key=lambda row: order[row.id])
        return rows

    def release(self, delivery_ids: Iterable[int], worker: str, now: datetime) -> int:
        """Give back claims this worker made but did not try (its run stopped first): planned
        again, due at once, the claim's attempt not counted. How many were given back."""
        c = deliveries.c
        wanted = list(delivery_ids)
        released = 0
        with self._begin() as conn:
            for start in range(0, len(wanted), 500):
                done = conn.execute(
                    update(deliveries)
                    .where(
                        c.id.in_(wanted[start : start + 500]),
                        c.status == SENDING,
                        c.claimed_by == worker,
                    )
                    .values(
                        status=PLANNED,
                        attempts=c.attempts - 1,
                        claimed_by=None,
                        lease_until=None,
                        updated_at=to_db(now),
                    )
                )
                released += int(done.rowcount or 0)
        return released

    def renew(self, worker: str, until: datetime) -> int:
        """Extend every claim `worker` holds to `until` (its heartbeat); how many it holds."""
        c = deliveries.c
        with self._begin() as conn:
            renewed = conn.execute(
                update(deliveries)
                .where(c.status == SENDING, c.claimed_by == worker)
                .values(lease_until=to_db(until))
            )
        return int(renewed.rowcount or 0)

    # ------------------------------------------------------------ outcomes

    def mark_sent(
        self,
        delivery_id: int,
        reply: str,
        now: datetime,
        papers: int,
        *,
        clear_failures: bool = True,
        keep: Keep | None = None,
    ) -> None:
        """After the server's 250. Even a claim that was taken over is recorded: it did arrive.
        A success also clears the address's count of permanent failures (a sender that knows
        there is none to clear says so, and saves a statement per message). `keep` writes what
        the digest held (its web copy) in the same transaction: a sent digest always has it,
        and the run writes once per message instead of twice."""
        self.mark_sent_many([SentMark(delivery_id, reply, now, papers, clear_failures, keep)])

    def mark_sent_many(self, marks: Sequence[SentMark]) -> None:
        """`mark_sent` for several rows, in one transaction."""
        with self._begin() as conn:
            for mark in marks:
                if mark.keep is not None:
                    mark.keep(conn)
                params = {
                    "p_id": mark.delivery_id,
                    "p_reply": mark.reply,
                    "p_now": to_db(mark.now),
                    "p_papers": mark.papers,
                }
                for row in conn.execute(_MARK_SENT, params).mappings():
                    if mark.clear_failures:
                        conn.execute(
                            _CLEAR_FAILURES, {"p_email": row["email"], "p_now": to_db(mark.now)}
                        )

    def failing(self) -> set[str]:
        """Addresses with permanent failures on record (suspended or not)."""
        query = select(recipients.c.email).where(recipients.c.permanent_failures > 0)
        with self._connect() as conn:
            return set(conn.scalars(query))

    def mark_failed(self, delivery_id: int, worker: str, reply: str, now: datetime) -> None:
        self._finish(delivery_id, worker, FAILED, reply, now)

    def mark_skipped(
        self, delivery_id: int, worker: str, reason: str, now: datetime, papers: int = 0
    ) -> None:
        self._finish(delivery_id, worker, SKIPPED, reason, now, papers=papers)

    def defer(
        self, delivery_id: int, worker: str, reply: str, now: datetime, until: datetime | None
    ) -> None:
        """Back to planned, to be tried again from `until` (at once when None)."""
        self._finish(delivery_id, worker, PLANNED, reply, now, next_attempt_at=until)

    def defer_unconfirmed(
        self, delivery_id: int, worker: str, reply: str, now: datetime, until: datetime | None
    ) -> None:
        """Back to planned after a send that may have arrived, counted in `unconfirmed`."""
        self._finish(delivery_id, worker, PLANNED, reply, now, next_attempt_at=until, unconfirmed=1)

    def _finish(
        self,
        delivery_id: int,
        worker: str,
        status: str,
        reply: str,
        now: datetime,
        *,
        papers: int | None = None,
        next_attempt_at: datetime | None = None,
        unconfirmed: int = 0,
    ) -> None:
        """Settle a row this worker holds (a claim taken over by another sender is left be)."""
        params = {
            "p_unconfirmed": unconfirmed,
            "p_id": delivery_id,
            "p_worker": worker,
            "p_status": status,
            "p_reply": reply,
            "p_now": to_db(now),
            "p_papers": papers,
            "p_next": to_db(next_attempt_at),
        }
        with self._begin() as conn:
            conn.execute(_FINISH, params)

    def skip_unclaimed(self, delivery_id: int, reason: str, now: datetime) -> None:
        """Skip a planned row without sending (suspended address, missed day)."""
        c = deliveries.c
        with self._begin() as conn:
            conn.execute(
                update(deliveries)
                .where(c.id == delivery_id, c.status == PLANNED)
                .values(status=SKIPPED, reply=reason, updated_at=to_db(now))
            )

    # ------------------------------------------------------------ recipients

    def record_permanent_failure(
        self, email: str, reply: str, now: datetime, suspend_after: int
    ) -> bool:
        """Count a 5xx for this address; True when it is now suspended."""
        with self._begin() as conn:
            row = conn.execute(select(recipients).where(recipients.c.email == email)).first()
            failures = (row.permanent_failures if row else 0) + 1
            status = SUSPENDED if failures >= suspend_after else ACTIVE
            values = {
                "permanent_failures": failures,
                "status": status,
                "last_error": reply,
                "updated_at": to_db(now),
            }
            if row is None:
                conn.execute(insert(recipients).values(email=email, **values))
            else:
                conn.execute(update(recipients).where(recipients.c.email == email).values(values))
        return status == SUSPENDED

    def reactivate(self, email: str, now: datetime) -> bool:
        """Lift a suspension (after the address was fixed); False when it was not suspended."""
        with self._begin() as conn:
            lifted = conn.execute(
                update(recipients)
                .where(recipients.c.email == email, recipients.c.status == SUSPENDED)
                .values(status=ACTIVE, permanent_failures=0, updated_at=to_db(now))
            )
        return bool(lifted.rowcount)

    # ------------------------------------------------------------ plumbing

    def _connect(self) -> _Guarded:
        return _Guarded(self.engine.connect, begin=False)

    def _begin(self) -> _Guarded:
        return _Guarded(self.engine.begin, begin=True)


class _Guarded:
    """A connection context that turns database errors into StoreError with a hint."""

    def __init__(self, opener: Any, begin: bool) -> None:
        self._opener, self._begin = opener, begin
        self._ctx: Any = None

    def __enter__(self) -> Connection:
        try:
            self._ctx = self._opener()
            conn: Connection = self._ctx.__enter__()
        except SQLAlchemyError as e:
            raise StoreError(f"cannot reach the delivery ledger: {e}") from e
        return conn

    def __exit__(self, kind: Any, error: Any, tb: Any) -> None:
        try:
            self._ctx.__exit__(kind, error, tb)
        except SQLAlchemyError as e:
            raise StoreError(f"cannot write the delivery ledger: {e}") from e
        if isinstance(error, SQLAlchemyError):
            raise StoreError(f"cannot update the delivery ledger: {error}") from error


_c = deliveries.c
# Due and free: planned and due, or held by a claim that ran out (or by `p_dead`, a sender gone).
_CLAIMABLE = or_(
    and_(
        _c.status == PLANNED,
        or_(_c.next_attempt_at.is_(None), _c.next_attempt_at <= bindparam("p_now")),
    ),
    and_(
        _c.status == SENDING,
        or_(_c.lease_until < bindparam("p_now"), _c.claimed_by == bindparam("p_dead")),
    ),
)
# Built once: a settle runs per message; a claim per row taken over from a dead sender (the
# others are claimed several at a time, `_CLAIM_MANY`).
_CLAIM = (
    update(deliveries)
    .where(_c.id == bindparam("p_id"), _CLAIMABLE)
    .values(
        status=SENDING,
        attempts=_c.attempts + 1,
        claimed_by=bindparam("p_worker"),
        lease_until=bindparam("p_lease"),
        message_id=func.coalesce(_c.message_id, bindparam("p_message_id")),
        updated_at=bindparam("p_now"),
    )
    .returning(*deliveries.c)
)
_CLAIM_MANY = (
    update(deliveries)
    .where(_c.id.in_(bindparam("p_ids", expanding=True)), _CLAIMABLE)
    .values(
        status=SENDING,
        attempts=_c.attempts + 1,
        claimed_by=bindparam("p_worker"),
        lease_until=bindparam("p_lease"),
        message_id=func.coalesce(
            _c.message_id,
            bindparam("p_mid_head", type_=String)
            + cast(_c.id, String)
            + bindparam("p_mid_tail", type_=String),
        ),
        updated_at=bindparam("p_now"),
    )
    .returning(*deliveries.c)
)
# Not `in_()`: a list in a statement is spelled out anew at each execution (SQLAlchemy's
# "expanding" parameters), and these run once per message.
_NOT_DONE = or_(_c.status == PLANNED, _c.status == SENDING)
_MARK_SENT = (
    update(deliveries)
    .where(_c.id == bindparam("p_id"), _NOT_DONE)
    .values(
        status=SENT,
        reply=bindparam("p_reply"),
        sent_at=bindparam("p_now"),
        papers=bindparam("p_papers"),
        updated_at=bindparam("p_now"),
        claimed_by=None,
        lease_until=None,
    )
    .returning(_c.email)
)
_FINISH = (
    update(deliveries)
    .where(
        _c.id == bindparam("p_id"),
        _NOT_DONE,
        _c.claimed_by == bindparam("p_worker"),
    )
    .values(
        status=bindparam("p_status"),
        reply=bindparam("p_reply"),
        papers=func.coalesce(bindparam("p_papers"), _c.papers),
        next_attempt_at=bindparam("p_next"),
        unconfirmed=_c.unconfirmed + bindparam("p_unconfirmed"),
        updated_at=bindparam("p_now"),
        claimed_by=None,
        lease_until=None,
    )
)
_CLEAR_FAILURES = (
    update(recipients)
    .where(recipients.c.email == bindparam("p_email"), recipients.c.permanent_failures > 0)
    .values(permanent_failures=0, updated_at=bindparam("p_now"))
)


def _new_row(email: str, name: str, day: date, now: datetime) -> dict[str, Any]:
    t = to_db(now)
    return {
        "email": email,
        "day": day,
        "subscriber": name,
        "status": PLANNED,
        "attempts": 0,
        "unconfirmed": 0,
        "planned_at": t,
        "updated_at": t,
    }


def _to_delivery(row: Any) -> Delivery:
    values = dict(row)
    for key in ("next_attempt_at", "lease_until", "planned_at", "updated_at", "sent_at"):
        values[key] = from_db(values[key])
    return Delivery(**values)


__all__ = ["DONE", "Delivery", "Ledger", "SentMark", "new_worker_id", "utcnow"]
