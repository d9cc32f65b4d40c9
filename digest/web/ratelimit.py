"""Fixed-window request counters kept in the store, so every web worker shares one count.

`RateLimiter.allow(key, limit, window)` counts one request for `key` and says whether it is
within `limit` for the current window. A key's window starts at its first request.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from digest.errors import StoreError
from digest.store import Store, utcnow
from digest.store.schema import rate_limits


class RateLimiter:
    def __init__(self, store: Store, clock: Callable[[], datetime] = utcnow) -> None:
        self.engine = store.engine
        self.clock = clock

    def allow(self, key: str, limit: int, window: timedelta) -> bool:
        """Count a request for `key`; False when it is over `limit` in the current window."""
        now = _naive(self.clock())
        c = rate_limits.c
        try:
            with self.engine.begin() as conn:
                row = (
                    conn.execute(select(c.window_start, c.count).where(c.key == key))
                    .mappings()
                    .first()
                )
                if row is None:
                    conn.execute(insert(rate_limits).values(key=key, window_start=now, count=1))
                    return True
                if row["window_start"] <= now - window:
                    conn.execute(
                        update(rate_limits).where(c.key == key).values(window_start=now, count=1)
                    )
                    return True
                if row["count"] >= limit:
                    return False
                conn.execute(update(rate_limits).where(c.key == key).values(count=c.count + 1))
                return True
        except IntegrityError:  # another worker counted this key's first request at the same time
            return self.allow(key, limit, window)
        except SQLAlchemyError as e:
            raise StoreError(f"cannot update the rate limits: {e}") from e

    def forget_before(self, moment: datetime) -> None:
        """Drop counters whose window started before `moment` (they have run out)."""
        try:
            with self.engine.begin() as conn:
                conn.execute(delete(rate_limits).where(rate_limits.c.window_start < _naive(moment)))
        except SQLAlchemyError as e:
            raise StoreError(f"cannot clean up the rate limits: {e}") from e


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment
