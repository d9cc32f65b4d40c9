"""Fixed-window request counters kept in the store, so every web worker shares one count, and
the keys they count: the client (`client_address`, believing X-Forwarded-For only from
`web.trusted_proxies`) and the mailbox (`mailbox_key`, plus-address variants together).

`RateLimiter.allow(key, limit, window)` counts one request for `key` and says whether it is
within `limit` for the current window. A key's window starts at its first request.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Network, IPv6Address, IPv6Network, ip_address

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


def client_address(
    peer: str | None, forwarded_for: str | None, trusted: Sequence[IPv4Network | IPv6Network]
) -> str:
    """The client's address for the per-client limit: the peer, unless the peer is a trusted
    proxy; then the right-most X-Forwarded-For entry that is not itself a trusted proxy (the
    left ones are whatever the client wrote)."""
    address = peer or "unknown"
    if not trusted or not forwarded_for or not _within(address, trusted):
        return address
    for hop in reversed([h.strip() for h in forwarded_for.split(",") if h.strip()]):
        if not _within(hop, trusted):
            return hop if _parses(hop) else address
    return address


def _parses(text: str) -> bool:
    try:
        ip_address(text)
    except ValueError:
        return False
    return True


def _within(text: str, networks: Sequence[IPv4Network | IPv6Network]) -> bool:
    try:
        address = ip_address(text)
    except ValueError:
        return False
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in n for n in networks)


def mailbox_key(email: str) -> str:
    """One mailbox however it is written: case, and a `+tag` in the local part, folded
    (ada+1@example.org and Ada+2@example.org are ada@example.org)."""
    local, _, domain = email.strip().lower().rpartition("@")
    return f"{local.split('+', 1)[0]}@{domain}" if local else email.strip().lower()
