"""The base of every config model (unknown keys refused, frozen) and the value types several
sections share: IANA time zones, clock times, weekdays."""

from __future__ import annotations

from datetime import time
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict
from pydantic_core import PydanticCustomError

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise ValueError("is not an IANA time zone like Europe/London") from e
    return value


def _check_time(value: str) -> str:
    try:
        time.fromisoformat(value)
    except ValueError as e:
        raise ValueError('is not a time like "07:00"') from e
    return value


def _not_a_number(value: Any) -> Any:
    # YAML 1.1 reads an unquoted 17:30 as the base-60 number 1050: say how to write it.
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 24 * 60:
        hh_mm = f"{value // 60:02d}:{value % 60:02d}"
        raise PydanticCustomError(
            "base60_time",
            'write the time in quotes, "{hh_mm}" (YAML reads an unquoted {hh_mm} as the '
            "number {number})",
            {"hh_mm": hh_mm, "number": value},
        )
    return value


def _check_days(value: list[str]) -> list[str]:
    days = [d.strip().lower()[:3] for d in value]
    if any(d not in WEEKDAYS or not given for d, given in zip(days, value, strict=True)):
        raise ValueError(f"days are written {', '.join(WEEKDAYS)}")
    return days


def _check_day(value: str) -> str:
    return _check_days([value])[0]


TimeZoneName = Annotated[str, AfterValidator(_check_timezone)]
ClockTime = Annotated[str, BeforeValidator(_not_a_number), AfterValidator(_check_time)]
Weekdays = Annotated[list[str], AfterValidator(_check_days)]
Weekday = Annotated[str, AfterValidator(_check_day)]
