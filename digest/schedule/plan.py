"""When things happen, as pure functions of the config and a clock: each subscriber's send
times in their own time zone (DST included), the fetch times, and what a restarted daemon owes
(digests still within the catch-up window) or must write off (older ones).

The daemon and `digest schedule` both read these, so what is printed is what runs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from digest.config import FetchTime
from digest.models import Subscriber

LOOKBACK_DAYS = 7  # the furthest back a restarted daemon looks for missed digests


def send_trigger(subscriber: Subscriber) -> CronTrigger:
    """Fires at send_at, local time in the subscriber's zone, on their days."""
    return CronTrigger(
        day_of_week=",".join(subscriber.send_days),
        hour=subscriber.send_at.hour,
        minute=subscriber.send_at.minute,
        timezone=ZoneInfo(subscriber.timezone),
    )


def fetch_trigger(fetch: FetchTime) -> CronTrigger:
    hour, minute = (int(part) for part in fetch.at.split(":")[:2])
    return CronTrigger(
        day_of_week=",".join(fetch.days),
        hour=hour,
        minute=minute,
        timezone=ZoneInfo(fetch.timezone),
    )


def next_fire(trigger: CronTrigger, after: datetime) -> datetime | None:
    """The trigger's first fire time strictly after `after`."""
    fire: datetime | None = trigger.get_next_fire_time(None, after + timedelta(microseconds=1))
    return fire


def fire_times(trigger: CronTrigger, start: datetime, end: datetime) -> list[datetime]:
    """Every fire time in (start, end]."""
    times = []
    moment = next_fire(trigger, start)
    while moment is not None and moment <= end:
        times.append(moment)
        moment = next_fire(trigger, moment)
    return times


def last_planned_fetch(fetches: Sequence[FetchTime], now: datetime) -> datetime | None:
    """The latest scheduled fetch time at or before now (within a week)."""
    latest: datetime | None = None
    for fetch in fetches:
        times = fire_times(fetch_trigger(fetch), now - timedelta(days=8), now)
        if times and (latest is None or times[-1] > latest):
            latest = times[-1]
    return latest


@dataclass(frozen=True)
class Owed:
    """A digest a (re)started daemon has to deal with: send it now, or record it as skipped."""

    subscriber: Subscriber
    day: date
    planned: datetime


@dataclass(frozen=True)
class CatchUp:
    due: list[Owed]
    missed: list[Owed]


def catch_up(
    subscribers: Sequence[Subscriber],
    now: datetime,
    window: timedelta,
    delivered: Callable[[str, date], bool],
    since: datetime | None = None,
) -> CatchUp:
    """What a daemon starting at `now` owes: digests planned before now and not yet delivered.

    Those planned within `window` of now are due; older ones are missed (to be recorded as
    skipped). Missed ones are looked for back to `since`, when the last daemon was alive (at
    most a week); a daemon that never ran before owes only what is still within the window.
    """
    due: list[Owed] = []
    missed: list[Owed] = []
    earliest = now - window
    if since is not None:
        earliest = max(min(since, earliest), now - timedelta(days=LOOKBACK_DAYS))
    for person in subscribers:
        for planned in fire_times(send_trigger(person), earliest, now):
            day = person.local_date(planned)
            if delivered(person.email, day):
                continue
            owed = Owed(person, day, planned)
            (due if now - planned <= window else missed).append(owed)
    return CatchUp(due, missed)


@dataclass(frozen=True)
class Upcoming:
    """The next run of one job: what, and when (in its own zone)."""

    what: str
    zone: str
    when: datetime


def upcoming(
    subscribers: Sequence[Subscriber], fetches: Sequence[FetchTime], now: datetime, count: int = 4
) -> tuple[list[Upcoming], list[Upcoming]]:
    """Each subscriber's next send, and the next `count` fetches, soonest first."""
    sends = []
    for person in subscribers:
        fire = next_fire(send_trigger(person), now)
        if fire is not None:
            sends.append(Upcoming(person.name, person.timezone, fire))
    runs = []
    for index, fetch in enumerate(fetches):
        name = fetch.name or f"fetch-{index + 1}"
        moment = now
        for _ in range(count):
            fire = next_fire(fetch_trigger(fetch), moment)
            if fire is None:
                break
            runs.append(Upcoming(name, fetch.timezone, fire))
            moment = fire
    runs.sort(key=lambda u: u.when)
    return sorted(sends, key=lambda u: u.when), runs[:count]
