"""Time zones and send days as people type and read them (pure, no I/O).

`resolve_timezone` turns what someone typed into an IANA zone: any case (`europe/berlin`), or
a city that names one zone (`Berlin`, `new york`). Abbreviations such as `EST` are refused
with the city to use instead: they never change for daylight saving, so a digest set for 07:00
EST would come at 08:00 all summer in New York. `announcement_days` are the days on which a
digest at a given local time has new arXiv papers; `schedule_in_words` says when it comes.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from digest.config import WEEKDAYS

# arXiv announces new papers Sunday to Thursday at 20:00 in New York; paper digest fetches them
# at 20:30 (schedule.fetch's default).
ANNOUNCED = ZoneInfo("America/New_York")
ANNOUNCED_AT = time(20, 30)
ANNOUNCED_ON = ("sun", "mon", "tue", "wed", "thu")

# The old abbreviations and fixed offsets in the zone database, and the city to use instead.
_INSTEAD = {
    "EST": "America/New_York",
    "EST5EDT": "America/New_York",
    "CST6CDT": "America/Chicago",
    "MST": "America/Denver",
    "MST7MDT": "America/Denver",
    "PST8PDT": "America/Los_Angeles",
    "HST": "Pacific/Honolulu",
    "CET": "Europe/Paris",
    "MET": "Europe/Paris",
    "EET": "Europe/Athens",
    "WET": "Europe/Lisbon",
    "GMT": "Europe/London",
    "PRC": "Asia/Shanghai",
    "ROC": "Asia/Taipei",
    "ROK": "Asia/Seoul",
    "NZ": "Pacific/Auckland",
    "W-SU": "Europe/Moscow",
}
_NAMES = {
    day: name
    for day, name in zip(
        WEEKDAYS,
        ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
        strict=True,
    )
}


class ZoneError(ValueError):
    """What someone typed is not a time zone we can use; the message says what to type."""


@cache
def zone_names() -> list[str]:
    """The zones people pick from: every Region/City name (no "EST", no "Etc/GMT+5"), and UTC."""
    cities = (z for z in available_timezones() if "/" in z)
    return [*sorted(z for z in cities if not z.startswith(("Etc/", "SystemV/"))), "UTC"]


@cache
def _zones() -> dict[str, str]:
    """Every usable zone, lower-cased to its spelling."""
    return {z.lower(): z for z in zone_names()}


@cache
def _cities() -> dict[str, list[str]]:
    """`"berlin"` -> `["Europe/Berlin"]`: the last part of each zone, spaces for underscores."""
    found: dict[str, list[str]] = {}
    for zone in _zones().values():
        city = zone.rsplit("/", 1)[-1].replace("_", " ").lower()
        found.setdefault(city, []).append(zone)
    return found


def resolve_timezone(text: str) -> str:
    """The IANA zone `text` names; ZoneError saying what to type instead when there is none."""
    typed = " ".join(text.split())
    key = typed.lower().replace(" ", "_")
    if key.upper() in _INSTEAD or typed.upper() in _INSTEAD:
        city = _INSTEAD.get(typed.upper(), "Europe/London")
        raise ZoneError(
            f"“{typed}” does not change for daylight saving, so your digest would come an hour "
            f"off for half the year: choose a city, such as {city}"
        )
    if key in _zones():
        return _zones()[key]
    if key in ("utc", "gmt", "z", "zulu", "universal"):
        return "UTC"
    matches = _cities().get(typed.lower().replace("_", " "), [])
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise ZoneError(f"“{typed}” could be {' or '.join(sorted(matches))}: choose one")
    guess = difflib.get_close_matches(key, list(_zones()) + list(_cities()), n=1, cutoff=0.75)
    hint = ""
    if guess:
        zone = _zones().get(guess[0]) or _cities()[guess[0]][0]
        hint = f" Did you mean {zone}?"
    raise ZoneError(
        f"“{typed}” is not a time zone we know: type your city, such as Europe/Berlin or "
        f"America/New_York.{hint}"
    )


def announcement_days(timezone: str, send_at: str) -> tuple[str, ...]:
    """The local days on which a digest sent at `send_at` has new arXiv papers: the days of the
    first send after each announcement (Monday to Friday at 07:00 in Europe, Sunday to
    Thursday for an evening digest in New York)."""
    zone = ZoneInfo(timezone)
    at = time.fromisoformat(send_at)
    week = date(2024, 1, 7)  # a Sunday in winter; a summer week gives the same days but rarely
    days = set()
    for offset in range(7):
        day = week + timedelta(days=offset)
        if WEEKDAYS[day.weekday()] not in ANNOUNCED_ON:
            continue
        announced = datetime.combine(day, ANNOUNCED_AT, ANNOUNCED).astimezone(zone)
        send = datetime.combine(announced.date(), at, zone)
        if send < announced:
            send += timedelta(days=1)
        days.add(WEEKDAYS[send.weekday()])
    return tuple(d for d in WEEKDAYS if d in days)


def days_in_words(days: Sequence[str]) -> str:
    """`("mon", …, "fri")` -> "Monday to Friday"; "every day"; "Monday, Wednesday and Friday"."""
    chosen = [d for d in WEEKDAYS if d in days]
    if len(chosen) == 7:
        return "every day"
    for start in range(7):  # a run, possibly across Sunday -> Monday
        run = [WEEKDAYS[(start + i) % 7] for i in range(len(chosen))]
        if len(chosen) > 2 and set(run) == set(chosen):
            return f"{_NAMES[run[0]]} to {_NAMES[run[-1]]}"
    names = [_NAMES[d] for d in chosen]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def schedule_in_words(timezone: str, send_at: str, days: Sequence[str], now: datetime) -> str:
    """ "Monday to Friday at 07:00 Berlin time; the next on Tuesday 2 December (06:00 UTC)"."""
    zone = ZoneInfo(timezone)
    at = time.fromisoformat(send_at)
    place = timezone.rsplit("/", 1)[-1].replace("_", " ")
    local = now.astimezone(zone)
    text = f"{days_in_words(days)} at {at:%H:%M} {place} time"
    for ahead in range(8):
        day = local.date() + timedelta(days=ahead)
        send = datetime.combine(day, at, zone)
        if WEEKDAYS[day.weekday()] in days and send > local:
            utc = send.astimezone(UTC)
            name = _NAMES[WEEKDAYS[day.weekday()]]
            return f"{text}; the next on {name} {day.day} {day:%B} ({utc:%H:%M} UTC)"
    return text


def valid_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True
