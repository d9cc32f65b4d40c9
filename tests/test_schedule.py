"""The schedule with an injected clock: send times in each subscriber's zone across DST, the
right day for zones far from UTC, catch-up inside and outside the window, and the store lock."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest

from digest.config import FetchTime
from digest.models import Subscriber
from digest.schedule.lock import LockHeld, StoreLock
from digest.schedule.plan import (
    catch_up,
    fire_times,
    last_planned_fetch,
    next_fire,
    send_trigger,
)
from digest.store import open_store


def person(name: str, tz: str, at: time, days: tuple[str, ...] | None = None) -> Subscriber:
    if days is None:
        return Subscriber(name=name, email=f"{name}@example.org", timezone=tz, send_at=at)
    return Subscriber(name=name, email=f"{name}@example.org", timezone=tz, send_at=at, days=days)


@pytest.mark.parametrize(
    ("start", "utc_hours"),
    [
        # Last Sunday of March 2026 is the 29th: 07:30 CET = 06:30 UTC, then CEST = 05:30 UTC.
        (datetime(2026, 3, 27, tzinfo=UTC), [6, 6, 5, 5]),
        # Last Sunday of October 2026 is the 25th: back from CEST to CET.
        (datetime(2026, 10, 23, tzinfo=UTC), [5, 5, 6, 6]),
    ],
)
def test_berlin_0730_gets_one_digest_at_0730_local_each_day_across_dst(
    start: datetime, utc_hours: list[int]
) -> None:
    berlin = person("b", "Europe/Berlin", time(7, 30))
    fires = fire_times(send_trigger(berlin), start, start + timedelta(days=4))
    assert [f.astimezone(UTC).hour for f in fires] == utc_hours
    assert all((f.hour, f.minute) == (7, 30) for f in fires)
    assert [berlin.local_date(f) for f in fires] == [
        start.date() + timedelta(days=n) for n in range(4)
    ]


def test_far_zones_get_their_own_days_digest() -> None:
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)  # Monday noon in London
    honolulu = person("h", "Pacific/Honolulu", time(7, 0))  # UTC-10
    tonga = person("t", "Pacific/Tongatapu", time(7, 0))  # UTC+13
    h_next, t_next = next_fire(send_trigger(honolulu), now), next_fire(send_trigger(tonga), now)
    assert h_next == datetime(2026, 11, 23, 17, 0, tzinfo=UTC)
    assert honolulu.local_date(h_next) == date(2026, 11, 23)
    assert t_next == datetime(2026, 11, 23, 18, 0, tzinfo=UTC) and tonga.local_date(t_next) == date(
        2026, 11, 24
    )


def test_days_are_honoured() -> None:
    weekdays = person("w", "UTC", time(7, 0), ("mon", "tue", "wed", "thu", "fri"))
    friday = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
    assert next_fire(send_trigger(weekdays), friday) == datetime(2026, 11, 30, 7, 0, tzinfo=UTC)


def test_catch_up_sends_within_the_window_and_writes_off_older_ones() -> None:
    ada = person("ada", "Europe/London", time(7, 0))
    now = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # 8 h after today's 07:00
    down_since = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)  # missed the 22nd as well
    owed = catch_up([ada], now, timedelta(hours=12), lambda email, day: False, since=down_since)
    assert [o.day for o in owed.due] == [date(2026, 11, 23)]
    assert [o.day for o in owed.missed] == [date(2026, 11, 22)]
    later = catch_up(
        [ada], now + timedelta(hours=5), timedelta(hours=12), lambda e, d: False, since=down_since
    )
    assert later.due == [] and [o.day for o in later.missed] == [
        date(2026, 11, 22),
        date(2026, 11, 23),
    ]


def test_catch_up_owes_nothing_already_delivered_and_nothing_before_the_first_start() -> None:
    ada = person("ada", "Europe/London", time(7, 0))
    now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    done = catch_up(
        [ada], now, timedelta(hours=12), lambda e, d: d == date(2026, 11, 23), since=None
    )
    assert done.due == [] and done.missed == []
    first = catch_up([ada], now, timedelta(hours=1), lambda e, d: False, since=None)
    assert first.due == [] and first.missed == []  # 2 h late, beyond a 1 h window, never ran before


def test_last_planned_fetch_follows_the_arxiv_announcement_days() -> None:
    arxiv = FetchTime(
        at="20:30", timezone="America/New_York", days=["sun", "mon", "tue", "wed", "thu"]
    )
    saturday = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    # Thursday 26 Nov 20:30 EST = Friday 01:30 UTC; none on Friday or Saturday.
    assert last_planned_fetch([arxiv], saturday) == datetime(2026, 11, 27, 1, 30, tzinfo=UTC)


def test_the_lock_admits_one_daemon_and_expires_after_a_crash(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'd.sqlite3'}")
    t0 = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
    first = StoreLock(store, "scheduler", timedelta(seconds=60), holder="first")
    second = StoreLock(store, "scheduler", timedelta(seconds=60), holder="second")
    first.acquire(t0)
    with pytest.raises(LockHeld, match="another digest daemon \\(first\\) is running"):
        second.acquire(t0 + timedelta(seconds=30))
    assert first.renew(t0 + timedelta(seconds=40))
    with pytest.raises(LockHeld):
        second.acquire(t0 + timedelta(seconds=90))  # renewed at 40 s: live until 100 s
    second.acquire(t0 + timedelta(seconds=101))  # the first crashed: its lease ran out
    assert not first.renew(t0 + timedelta(seconds=102))
    second.release(t0 + timedelta(seconds=200))
    assert second.last_heartbeat() == t0 + timedelta(seconds=200)
    first.acquire(t0 + timedelta(seconds=201))  # released: free at once
