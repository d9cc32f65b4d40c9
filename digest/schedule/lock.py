"""One daemon per store: a named lock row with a lease, held while alive, renewed on a timer.

A second `digest run` on the same store finds the lease live and refuses to start. A crashed
holder stops renewing, its lease runs out, and the next daemon takes over. The last heartbeat is
kept after release so that a restarted daemon knows since when it was down.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Row, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from digest.errors import DigestError
from digest.store import Store
from digest.store.clock import from_db, to_db
from digest.store.schema import locks


class LockHeld(DigestError):
    """Another process holds the lock."""


def holder_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class StoreLock:
    def __init__(self, store: Store, name: str, lease: timedelta, holder: str | None = None):
        self.store = store
        self.name = name
        self.lease = lease
        self.holder = holder or holder_id()

    def last_heartbeat(self) -> datetime | None:
        """When any holder (a previous daemon included) last renewed this lock."""
        with self.store.engine.connect() as conn:
            beat = conn.scalar(select(locks.c.heartbeat_at).where(locks.c.name == self.name))
        return from_db(beat) if beat is not None else None

    def acquire(self, now: datetime) -> None:
        """Take the lock, or raise LockHeld naming the live holder."""
        values = {
            "holder": self.holder,
            "lease_until": to_db(now + self.lease),
            "heartbeat_at": to_db(now),
        }
        with self.store.engine.begin() as conn:
            taken = conn.execute(
                update(locks)
                .where(locks.c.name == self.name)
                .where(
                    or_(
                        locks.c.holder.is_(None),
                        locks.c.holder == self.holder,
                        locks.c.lease_until < to_db(now),
                    )
                )
                .values(**values)
            ).rowcount
            if taken:
                return
            exists = conn.execute(select(locks).where(locks.c.name == self.name)).first()
            if exists is None:
                try:
                    conn.execute(insert(locks).values(name=self.name, **values))
                    return
                except IntegrityError:
                    pass  # another process inserted it a moment ago
        row = self._row()
        until = "?"
        if row is not None and row.lease_until is not None:
            until = row.lease_until.replace(tzinfo=UTC).isoformat(timespec="seconds")
        who = row.holder if row is not None else "another process"
        raise LockHeld(
            f"another digest daemon ({who}) is running on this store (its lease runs to {until}); "
            "stop it first, or wait for the lease to expire if it crashed"
        )

    def renew(self, now: datetime) -> bool:
        """Extend the lease; False if the lock was lost (taken over after an expired lease)."""
        with self.store.engine.begin() as conn:
            done = conn.execute(
                update(locks)
                .where(locks.c.name == self.name, locks.c.holder == self.holder)
                .values(lease_until=to_db(now + self.lease), heartbeat_at=to_db(now))
            ).rowcount
        return bool(done)

    def release(self, now: datetime) -> None:
        with self.store.engine.begin() as conn:
            conn.execute(
                update(locks)
                .where(locks.c.name == self.name, locks.c.holder == self.holder)
                .values(holder=None, lease_until=None, heartbeat_at=to_db(now))
            )

    def _row(self) -> Row[Any] | None:
        with self.store.engine.connect() as conn:
            return conn.execute(select(locks).where(locks.c.name == self.name)).first()
