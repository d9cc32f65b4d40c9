"""A run's day plan: what the store, the ledger and the profiles hold for one day, read once.

`plan_day` reads the day's candidate papers once (those first seen up to CANDIDATE_DAYS before
each reader's end of day), each reader's window (after their previous digest) as a mask over
them, every liked paper and library once, every reader's feedback from the email once (see
`rank.feedback`), and hands them to `rank.batch.DayPlan`, which indexes
the papers once and scores the readers together in blocks. The send run, the daemon, preview
and `digest rank` all rank through it; one subscriber is a plan with one row. A reader whose
profile cannot be resolved (an unknown liked paper, an unreadable library) gets their error
back when their digest is asked for; the others are ranked.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from digest.errors import DigestError
from digest.mail.ledger import Ledger
from digest.models import Digest, Paper, RankedPaper, Subscriber, TopicGroup
from digest.rank.batch import DayPlan, Reader
from digest.rank.feedback import HALF_LIFE_DAYS, with_feedback
from digest.rank.library import read_library
from digest.rank.library_cache import LibraryCache
from digest.rank.ranker import Ranking, compile_profiles
from digest.rank.resolve import FetchIds, resolve_liked, without_unresolved
from digest.store import Store
from digest.store.copies import CopyStore
from digest.store.feedback import FeedbackStore
from digest.store.subscribers import email_key

if TYPE_CHECKING:
    from digest.rank.semantic import Embedder

CANDIDATE_DAYS = 3  # a digest looks at most this far back for papers the store first saw
WEEKLY_DAYS = 7  # and a weekly digest this far


def look_back(subscriber: Subscriber) -> int:
    """How many days back this subscriber's digest looks for papers the store first saw."""
    return WEEKLY_DAYS if subscriber.frequency == "weekly" else CANDIDATE_DAYS


def window_end(subscriber: Subscriber, day: date, now: datetime) -> datetime:
    """The end of a digest's window: the end of `day` where the subscriber lives, or now."""
    zone = ZoneInfo(subscriber.timezone)
    end_of_day = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=zone)
    return min(now, end_of_day)


def full_windows(
    people: Sequence[Subscriber], now: datetime, day: date | None = None
) -> dict[str, tuple[datetime, datetime]]:
    """Each of `people`'s digest window for `day` (default: today where each lives) by email,
    as far back as it looks (before an earlier digest narrows it)."""
    windows = {}
    for p in people:
        end = window_end(p, day or p.local_date(now), now)
        windows[p.email] = (end - timedelta(days=look_back(p)), end)
    return windows


def candidate_span(
    people: Sequence[Subscriber], now: datetime, day: date | None = None
) -> tuple[datetime, datetime]:
    """From the earliest window start to the latest window end of `people`'s digests: where
    the store's candidates for all of them lie."""
    return _span(full_windows(people, now, day))


def _span(windows: Mapping[str, tuple[datetime, datetime]]) -> tuple[datetime, datetime]:
    return min(s for s, _ in windows.values()), max(e for _, e in windows.values())


def previous_window_end(subscriber: Subscriber, previous: tuple[date, datetime]) -> datetime:
    """Where the window of a digest already sent ended, from its day and when its row was
    planned (the clock of the run that planned it, which ranked up to then): the next digest
    starts there. Not its sent time: papers first seen between the ranking and the sending
    (a fetch running meanwhile) would fall between two windows and never be sent. A digest
    retried in a later run ranked up to that run's clock, so the few papers first seen between
    the two runs may come again in the next digest: shown twice, never lost."""
    day, planned = previous
    return window_end(subscriber, day, planned)


class DayRun:
    """The rankings of one run's readers, from one `DayPlan`; thread-safe."""

    def __init__(
        self,
        plan: DayPlan | None,
        rows: Mapping[tuple[str, date], int],
        errors: Mapping[str, DigestError],
    ) -> None:
        self.plan, self.rows, self.errors = plan, dict(rows), dict(errors)
        self._lock = threading.Lock()

    def has(self, subscriber: Subscriber, day: date) -> bool:
        return (subscriber.email, day) in self.rows or subscriber.email in self.errors

    def ranking(
        self, subscriber: Subscriber, day: date, *, limit: int | None = None, details: bool = False
    ) -> Ranking:
        """The subscriber's ranking for `day` (their profile's error, if it had one)."""
        if subscriber.email in self.errors:
            raise self.errors[subscriber.email]
        row = self.rows[(subscriber.email, day)]
        assert self.plan is not None
        with self._lock:
            return self.plan.ranking(row, limit=limit, details=details)

    def digest(self, subscriber: Subscriber, day: date) -> Digest:
        """The subscriber's digest for `day`: the cut grouped by topic, and the trending papers."""
        ranking = self.ranking(subscriber, day)
        groups = group_by_topic(subscriber, ranking.picked)
        return Digest(subscriber, day, groups, ranking.trending, also=ranking.also)


def group_by_topic(subscriber: Subscriber, picked: Sequence[RankedPaper]) -> tuple[TopicGroup, ...]:
    """The digest's papers grouped under their topics, in the subscriber's topic order."""
    by_topic: dict[str, list[RankedPaper]] = {t.name: [] for t in subscriber.topics}
    for ranked in picked:
        by_topic[ranked.topic].append(ranked)
    return tuple(TopicGroup(name, tuple(found)) for name, found in by_topic.items() if found)


class _LikedLookup:
    """The store's papers that profiles name, read in one query for the whole run."""

    def __init__(self, store: Store, people: Sequence[Subscriber]) -> None:
        from digest.papers_file import paper_key

        wanted = {paper_key(given) for p in people for t in p.topics for given in t.papers}
        self.found = store.get_papers(wanted) if wanted else {}

    def get_papers(self, ids: Iterable[str]) -> dict[str, Paper]:
        return {i: self.found[i] for i in ids if i in self.found}


def plan_day(
    store: Store,
    people: Sequence[Subscriber],
    now: datetime,
    *,
    day: date | None = None,
    papers: Sequence[Paper] | None = None,
    fetch_ids: FetchIds | None = None,
    embedder: Embedder | None = None,
    half_life_days: float = HALF_LIFE_DAYS,
    libraries_kept: LibraryCache | None = None,
) -> DayRun:
    """The day plan for `people` (each for `day`, default today where they live): the store's
    candidates and each one's window, or the given `papers` for all. `fetch_ids`: how to look up
    liked papers the store does not hold (the arXiv API, through the caller). Feedback marks
    weigh what their age at `now` leaves of them (`half_life_days`, see `rank.feedback`).
    `libraries_kept`: where `library:` files are read through (None: each file itself)."""
    days = {p.email: day or p.local_date(now) for p in people}
    windows: dict[str, tuple[datetime, datetime]] = {}
    if papers is None:
        full = full_windows(people, now, day)
        by_email = {p.email: p for p in people}
        previous = Ledger(store).previous_digests(
            days, max(map(look_back, people), default=CANDIDATE_DAYS) + 1
        )
        for email, (since, end) in full.items():
            before = previous.get(email)
            if before is not None:
                since = max(since, previous_window_end(by_email[email], before))
            windows[email] = (since, end)
        if people:
            since, until = _span(full)
            pool = store.papers_first_seen(since, until)
            seen = store.first_seen_times(since, until)
        else:
            pool, seen = [], {}
    else:
        pool, seen = list(papers), {}
    pool = list({p.id: p for p in pool}.values())
    masks = _masks(pool, seen, windows)
    if papers is None:
        _leave_out_sent(store, pool, people, days, masks)
    lookup = _LikedLookup(store, people)
    marks = FeedbackStore(store).marks(p.email for p in people)
    libraries: dict[str, list[Paper]] = {}
    readers: list[Reader] = []
    rows: dict[tuple[str, date], int] = {}
    errors: dict[str, DigestError] = {}
    # Readers in the order a send run asks for them (by day, then as given): blocks are scored
    # once each, in turn.
    ordered = sorted(range(len(people)), key=lambda i: (days[people[i].email], i))
    for person in (people[i] for i in ordered):
        try:
            liked = resolve_liked(person, store=lookup, papers=pool, fetch_ids=fetch_ids)
            person = without_unresolved(person, liked)  # a liked id not found is left out
            for topic in person.topics:
                if topic.library is not None and topic.library not in libraries:
                    libraries[topic.library] = (
                        libraries_kept.read(topic.library)
                        if libraries_kept is not None
                        else read_library(topic.library)
                    )
            profiles = compile_profiles(person, liked, libraries)
            mine = marks.get(email_key(person.email), ())
            profiles = with_feedback(profiles, mine, now=now, half_life_days=half_life_days)
        except DigestError as e:
            errors[person.email] = e
            continue
        rows[(person.email, days[person.email])] = len(readers)
        readers.append(Reader(person, tuple(profiles), masks.get(person.email)))
    plan = DayPlan(pool, readers, embedder=embedder) if readers else None
    return DayRun(plan, rows, errors)


def _leave_out_sent(
    store: Store,
    pool: Sequence[Paper],
    people: Sequence[Subscriber],
    days: Mapping[str, date],
    masks: dict[str, npt.NDArray[np.bool_]],
) -> None:
    """A weekly reader never gets a paper an earlier digest of theirs already held (their week
    reaches further back than a daily window, past a switch from daily to weekly too)."""
    weekly = [p.email for p in people if p.frequency == "weekly" and p.email in masks]
    if not weekly:
        return
    since = min(days[e] for e in weekly) - timedelta(days=WEEKLY_DAYS + 1)
    sent = CopyStore(store).sent_paper_ids(weekly, since)
    index = {p.id: i for i, p in enumerate(pool)}
    for email in weekly:
        gone = [index[i] for i in sent.get(email, ()) if i in index]
        if gone:
            mask = masks[email].copy()  # masks are shared between readers of one window
            mask[gone] = False
            masks[email] = mask


def _masks(
    pool: Sequence[Paper],
    seen: Mapping[str, datetime],
    windows: Mapping[str, tuple[datetime, datetime]],
) -> dict[str, npt.NDArray[np.bool_]]:
    """Each reader's window as a mask over the pool; readers with the same window share one."""
    if not windows:
        return {}
    epoch = datetime(1970, 1, 1, tzinfo=ZoneInfo("UTC"))
    at = np.asarray([(seen[p.id] - epoch).total_seconds() for p in pool], dtype=np.float64)
    shared: dict[tuple[datetime, datetime], npt.NDArray[np.bool_]] = {}
    out = {}
    for email, (since, until) in windows.items():
        mask = shared.get((since, until))
        if mask is None:
            low, high = (since - epoch).total_seconds(), (until - epoch).total_seconds()
            mask = shared[(since, until)] = (at >= low) & (at < high)
        out[email] = mask
    return out
