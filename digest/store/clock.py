"""Time as the store keeps it: naive UTC in the database (SQLite keeps no zone, and PostgreSQL
then agrees), aware UTC everywhere else. Every table goes through these two functions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import overload


def utcnow() -> datetime:
    return datetime.now(UTC)


@overload
def to_db(moment: datetime) -> datetime: ...
@overload
def to_db(moment: None) -> None: ...
def to_db(moment: datetime | None) -> datetime | None:
    """An aware (or already naive UTC) datetime as the naive UTC value the database stores."""
    if moment is None or moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


@overload
def from_db(moment: datetime) -> datetime: ...
@overload
def from_db(moment: None) -> None: ...
def from_db(moment: datetime | None) -> datetime | None:
    """A stored naive UTC datetime as an aware one."""
    return moment.replace(tzinfo=UTC) if moment is not None else None
