"""The stages strung together. The CLI and the scheduler call these functions and nothing else,
so `digest fetch` and the daemon can never drift apart."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from digest import subscribe as subscriptions
from digest.channels.record import digest_record
from digest.config import Config, load_config
from digest.day import (
    DayRun,
    group_by_topic,
    look_back,
    plan_day,
    previous_window_end,
    window_end,
)
from digest.errors import DigestError, StoreDamaged
from digest.mail.ledger import Keep, Ledger
from digest.mail.message import Links
from digest.mail.run import Content, Progress, SendReport, send_run
from digest.mail.transport import Transport
from digest.memory import paused_gc
from digest.models import Digest, Paper, Subscriber
from digest.rank import Ranking, arxiv_lookup, load_libraries, resolve_liked
from digest.rank.library_cache import LibraryCache
from digest.rank.resolve import FetchIds, without_unresolved
from digest.render import RenderedDigest, render_digest
from digest.store import Store, open_store, utcnow
from digest.store.copies import CopyStore
from digest.store.feedback import FeedbackStore
from digest.tune import TuneReport, compare, format_report, tune_profile, tuning_sections

if TYPE_CHECKING:  # a send imports no HTTP client; fetching and liked-paper look-ups do
    import httpx

    from digest.rank.semantic import Embedder

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SourceReport:
    """What one source's fetch did: papers read, new to the store, changed, or why it failed."""

    name: str
    fetched: int = 0
    new: int = 0
    updated: int = 0
    error: str | None = None  # with papers fetched: the parts that failed (an arXiv category)
    skipped: int = 0  # bad items left out, their siblings stored
    skipped_reasons: tuple[str, ...] = ()  # the first few: "item 7 has no title"

    def line(self) -> str:
        """`hf: fetched 29, new 3, updated 2, skipped 1: item 7 has no title`, or its error."""
        if self.error and not self.fetched:
            return f"{self.name}: error: {self.error}"
        text = f"{self.name}: fetched {self.fetched}, new {self.new}, updated {self.updated}"
        if self.skipped:
            more = self.skipped - len(self.skipped_reasons)
            text += f", skipped {self.skipped}: " + "; ".join(self.skipped_reasons)
            text += f"; and {more} more" if more > 0 else ""
        return text + (f"; error: {self.error}" if self.error else "")


def open_configured_store(config: Config, *, create: bool = True) -> Store:
    """The configured store; `create=False` (dry runs) neither creates nor migrates it."""
    return open_store(config.store_url, create=create)


def active_subscribers(config: Config, store: Store) -> list[Subscriber]:
    """Everyone who gets digests now: config.yaml's people not unsubscribed or paused in the
    store, and the store's confirmed subscribers (the rules are in digest.subscribe)."""
    return subscriptions.active_subscribers(config, store)


def find_subscriber(config: Config, store: Store, name_or_email: str) -> Subscriber:
    """One person by email or name, config.yaml's or the store's, with their status now."""
    return subscriptions.named(config, store, name_or_email).subscriber()


def pick_subscriber(config: Config, store: Store, name_or_email: str | None) -> Subscriber:
    """The one named (config.yaml's or the store's), else the first active subscriber."""
    if name_or_email:
        return find_subscriber(config, store, name_or_email)
    everyone = active_subscribers(config, store)
    return everyone[0] if everyone else config.subscriber(None)


def fetch_all(
    config: Config,
    store: Store,
    client: httpx.Client | None = None,
    *,
    today: date | None = None,
    now: datetime | None = None,
    sleep: Callable[[float], None] = time.sleep,
    only: Collection[str] = (),
    clock: Callable[[], datetime] = utcnow,
) -> list[SourceReport]:
    """Fetch every enabled source (or those named in `only`) into the store. A failing source
    is reported and the others go on; what a source fetched is stored in one transaction, with
    its HTTP validators. Papers are first seen when their source is saved (`clock()` then), not
    when the fetch began: a digest ranked while a long fetch ran must not have their time fall
    inside its window unseen. A given `now` stamps everything with that time instead."""
    from digest.sources import Tally, fetch_source
    from digest.sources.http import Fetcher, make_client

    fixed = now
    now = now or clock()
    today = today or now.date()
    known = store.validators()
    reports = []
    for source in config.sources:
        if not source.enabled or (only and source.label not in only):
            continue
        name = source.label
        # A client per source: an address the config allows for one source is for it alone.
        http = client or make_client(config.fetch, source.origins)
        try:
            fetcher = Fetcher(http, config.fetch, known=known, sleep=sleep)
            tally = Tally()
            try:
                papers = fetch_source(source, fetcher, today, tally)
                saved = store.save_papers(papers, now=fixed or clock(), validators=fetcher.seen)
            except StoreDamaged:
                raise  # not this source's fault: no source can be stored
            except DigestError as e:
                reports.append(SourceReport(name, error=str(e)))
            except Exception as e:  # a parser bug on odd data must not stop the other sources
                log.debug("source %s failed unexpectedly", name, exc_info=True)
                first = (str(e).splitlines() or [""])[0][:200]
                reports.append(SourceReport(name, error=f"unexpected {type(e).__name__}: {first}"))
            else:
                reports.append(
                    SourceReport(
                        name,
                        len(papers),
                        saved.new,
                        saved.updated,
                        error="; ".join(tally.failed) or None,
                        skipped=tally.skipped,
                        skipped_reasons=tuple(tally.reasons),
                    )
                )
            store.record_fetch(name, now, reports[-1].error)
        finally:
            if client is None:
                http.close()
    return reports


# ---------------------------------------------------------------- ranking and the digest

NEAR_MISSES_SHOWN = 10


def candidate_papers(
    store: Store, subscriber: Subscriber, now: datetime, day: date | None = None
) -> list[Paper]:
    """The papers `subscriber`'s digest for `day` (default: today where they live) may hold:
    those the store first saw after their previous digest's window ended, and at most
    CANDIDATE_DAYS before the end of that day (or now, if that is earlier). Replacements of
    older papers are left out."""
    day = day or subscriber.local_date(now)
    until = window_end(subscriber, day, now)
    since = until - timedelta(days=look_back(subscriber))
    previous = Ledger(store).previous_digest(subscriber.email, day)
    if previous is not None:
        since = max(since, previous_window_end(subscriber, previous))
    return store.papers_first_seen(since, until)


def rank_for_subscriber(
    config: Config,
    store: Store,
    subscriber: Subscriber,
    *,
    papers: Sequence[Paper] | None = None,
    now: datetime | None = None,
    day: date | None = None,
    client: httpx.Client | None = None,
    limit: int | None = None,
) -> Ranking:
    """Rank `papers` (default: the store's candidates) for the subscriber: the day plan with
    one row. Liked papers are looked up in the store, then in `papers`, then on the arXiv API
    (left out with a warning when not found). `limit`: give reasons to the first `limit` papers
    only (and always to the digest's cut)."""
    now = now or utcnow()
    run = plan_run(config, store, [subscriber], now=now, day=day, papers=papers, client=client)
    return run.ranking(subscriber, day or subscriber.local_date(now), limit=limit, details=True)


def plan_run(
    config: Config,
    store: Store,
    people: Sequence[Subscriber],
    *,
    now: datetime,
    day: date | None = None,
    papers: Sequence[Paper] | None = None,
    client: httpx.Client | None = None,
) -> DayRun:
    """One day plan for `people` (see digest.day): the candidates read, indexed and scored
    once for all of them."""
    return plan_day(
        store,
        people,
        now,
        day=day,
        papers=papers,
        fetch_ids=_liked_fetcher(config, store, client),
        embedder=_configured_embedder(config, store),
        half_life_days=config.ranking.feedback_half_life_days,
        libraries_kept=LibraryCache(config.data_dir / "cache" / "libraries"),
    )


def _configured_embedder(config: Config, store: Store) -> Embedder | None:
    """The sentence embedder when `ranking.semantic` is on, its paper vectors cached in the
    store; None (lexical ranking) otherwise."""
    return _sentence_embedder(config, store) if config.ranking.semantic else None


def _sentence_embedder(config: Config, store: Store) -> Embedder:
    """The configured sentence model (loaded when first asked to embed), its vectors kept in
    the store."""
    from digest.rank.semantic import CachedEmbedder, LazyEmbedder

    path = str(config.ranking.model_path) if config.ranking.model_path else None
    return CachedEmbedder(LazyEmbedder(path, config.ranking.model_sha256), store)


def watch_tuning(
    config_file: Path,
    subscriber: str | None,
    emit: Callable[[str], None],
    *,
    papers: Sequence[Paper] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    html: Path | None = None,
    poll: float = 0.5,
    stop: threading.Event | None = None,
) -> None:
    """`digest tune --watch`: re-run the report whenever the config file changes, saying what
    entered and left the digest since the last edit (and rewriting the `html` page). An invalid
    edit is reported, and watching goes on with the next edit."""
    stop = stop or threading.Event()
    previous: TuneReport | None = None
    seen: float | None = None
    while not stop.is_set():
        try:
            mtime: float | None = config_file.stat().st_mtime
        except OSError:
            mtime = None
        if mtime != seen:
            seen = mtime
            try:
                config = load_config(config_file)
                with open_configured_store(config) as store:
                    person = pick_subscriber(config, store, subscriber)
                    report = tune_subscriber(
                        config, store, person, papers=papers, since=since, until=until
                    )
                if html is not None:
                    write_tuning_page(config, report, person, html, utcnow())
            except DigestError as e:
                emit(f"error: {e}\n(still watching {config_file} for the next edit)")
            else:
                previous = compare(previous, report)
                emit(format_report(previous))
        stop.wait(poll)


def _profile_inputs(
    config: Config,
    store: Store,
    subscriber: Subscriber,
    pool: Sequence[Paper],
    client: httpx.Client | None,
) -> tuple[Subscriber, Mapping[str, Paper], Mapping[str, Sequence[Paper]]]:
    """The liked papers (store, then pool, then the arXiv API) and libraries a profile names,
    and the subscriber without the liked ids not found (left out with a warning). What the API
    returns is kept in the store, so each id is asked for once, not every day."""
    fetch_ids = _liked_fetcher(config, store, client)
    liked = resolve_liked(subscriber, store=store, papers=pool, fetch_ids=fetch_ids)
    return without_unresolved(subscriber, liked), liked, load_libraries(subscriber)


def _liked_fetcher(config: Config, store: Store, client: httpx.Client | None) -> FetchIds:
    """Liked papers the store has not got, from the arXiv API. What the API returns is kept in
    the store, so each id is asked for once, not every day."""

    def fetch_ids(ids: Sequence[str]) -> Sequence[Paper]:
        from digest.sources.http import Fetcher, make_client

        kept = store.get_liked_papers(f"arxiv:{i}" for i in ids)
        missing = [i for i in ids if f"arxiv:{i}" not in kept]
        if not missing:
            return list(kept.values())
        http = client or make_client(config.fetch, config.allowed_origins)
        try:
            api = subscriptions.arxiv_api_url(config)
            fetched = arxiv_lookup(Fetcher(http, config.fetch), api)(missing)
        finally:
            if client is None:
                http.close()
        store.save_liked_papers(fetched)
        return [*kept.values(), *fetched]

    return fetch_ids


def tune_subscriber(
    config: Config,
    store: Store,
    subscriber: Subscriber,
    *,
    papers: Sequence[Paper] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    now: datetime | None = None,
    client: httpx.Client | None = None,
) -> TuneReport:
    """The tuning report for `digest tune`: the papers first seen in [since, until) (default:
    the digest's candidates), or the given papers, ranked for the whole profile and per topic."""
    if papers is None:
        now = now or utcnow()
        if since is None:
            papers = candidate_papers(store, subscriber, now)
        else:
            papers = store.papers_first_seen(since, until)
    pool = list(papers)
    subscriber, liked, libraries = _profile_inputs(config, store, subscriber, pool, client)
    embedder = _configured_embedder(config, store)
    marks = FeedbackStore(store).of(subscriber.email)
    return tune_profile(
        pool,
        subscriber,
        liked,
        libraries,
        embedder,
        marks=marks,
        now=now or utcnow(),
        half_life_days=config.ranking.feedback_half_life_days,
    )


def build_digest(
    config: Config,
    store: Store,
    subscriber: Subscriber,
    day: date,
    now: datetime,
    papers: Sequence[Paper] | None = None,
    *,
    client: httpx.Client | None = None,
    run: DayRun | None = None,
) -> Digest:
    """The subscriber's digest for `day`: the papers that stand out from the day (at most
    max_papers, none below min_score; see `rank.cut`), grouped by topic in the subscriber's topic
    order, the few just below the cut (`also`), plus the most-upvoted papers that are at least
    loosely relevant and did not make the cut (`trending`). `run`: the day plan to take it from
    (default: a plan of this subscriber alone)."""
    if run is None or not run.has(subscriber, day):
        run = plan_run(config, store, [subscriber], now=now, day=day, papers=papers, client=client)
    return run.digest(subscriber, day)


@dataclass(frozen=True)
class Preview:
    """What `preview_digest` wrote: the HTML and text files, and whether it would be sent."""

    subscriber: str
    day: date
    papers: int
    html_path: Path
    text_path: Path
    would_send: bool


def preview_digest(
    config: Config,
    store: Store,
    *,
    subscriber: str | None = None,
    day: date | None = None,
    out: Path | None = None,
    papers: Sequence[Paper] | None = None,
    now: datetime | None = None,
    client: httpx.Client | None = None,
) -> Preview:
    """Render a subscriber's digest (by default the first active one, config.yaml's people first;
    today in their time zone)
    to an HTML file and a .txt beside it, default data_dir/preview/<name>-<day>.html. Nothing is
    recorded and nothing is sent; an empty day shows the "nothing new" note it would send."""
    now = now or utcnow()
    person = pick_subscriber(config, store, subscriber)
    day = day or person.local_date(now)
    digest = build_digest(config, store, person, day, now, papers, client=client)
    rendered = render_digest(digest, base_url=config.base_url, always=True)
    assert rendered is not None  # always=True renders even an empty digest
    html_path = out or config.data_dir / "preview" / f"{person.name}-{day.isoformat()}.html"
    text_path = _write_page(rendered, html_path)
    would_send = not digest.is_empty or person.send_empty
    return Preview(person.name, day, digest.count, html_path, text_path, would_send)


def preview_channel(
    config: Config,
    store: Store,
    fmt: str,
    *,
    subscriber: str | None = None,
    day: date | None = None,
    papers: Sequence[Paper] | None = None,
    now: datetime | None = None,
    client: httpx.Client | None = None,
) -> str:
    """A subscriber's digest as one channel would carry it (see `channels.preview`), without
    sending or recording anything."""
    from digest.channels.preview import channel_text

    now = now or utcnow()
    person = pick_subscriber(config, store, subscriber)
    digest = build_digest(
        config, store, person, day or person.local_date(now), now, papers, client=client
    )
    return channel_text(digest, fmt, base_url=config.base_url, now=now)


def _write_page(rendered: RenderedDigest, html_path: Path) -> Path:
    """Write the HTML and, beside it, the text part; return the text file's path."""
    text_path = html_path.with_suffix(".txt")
    try:
        html_path.parent.mkdir(parents=True, exist_ok=True)
        html_path.write_text(rendered.html, encoding="utf-8")
        text_path.write_text(rendered.text, encoding="utf-8")
    except OSError as e:
        raise DigestError(f"cannot write {html_path}: {e} (try another --out/--html)") from e
    return text_path


def write_tuning_page(
    config: Config, report: TuneReport, subscriber: Subscriber, html_path: Path, now: datetime
) -> Path:
    """`digest tune --html`: the digest as it would go out, with the near misses shown greyed
    below it. Returns the text file written beside the HTML."""
    ranking = report.ranking
    digest = Digest(
        subscriber,
        subscriber.local_date(now),
        group_by_topic(subscriber, ranking.picked),
        near_misses=ranking.near_misses[:NEAR_MISSES_SHOWN],
        tuning=tuning_sections(report),
    )
    rendered = render_digest(digest, base_url=config.base_url, always=True)
    assert rendered is not None  # always=True renders even an empty digest
    return _write_page(rendered, html_path)


# ---------------------------------------------------------------- sending


@dataclass(frozen=True)
class DailyReport:
    """What the main job did: each source's fetch, then the send (None: not attempted, because
    no source could be fetched)."""

    sources: list[SourceReport]
    send: SendReport | None

    @property
    def failed_sources(self) -> list[str]:
        return [r.name for r in self.sources if r.error]

    @property
    def ok(self) -> bool:
        return not self.failed_sources and self.send is not None and self.send.ok


def fetch_and_send(
    config: Config,
    store: Store,
    *,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> DailyReport:
    """The main job (`digest daily`, `make run`, a cron line): fetch every source, then send
    today's digests from what the store holds, even when some sources failed. When every
    source failed nothing is sent: the day's digests would go out without the day's papers,
    and they wait for the next run instead."""
    sources = fetch_all(config, store, now=now)  # the send's clock starts after the fetch
    if sources and all(r.error for r in sources):
        return DailyReport(sources, None)
    return DailyReport(sources, send_digests(config, store, now=now, progress=progress))


def send_digests(
    config: Config,
    store: Store,
    *,
    subscriber: str | None = None,
    emails: Collection[str] | None = None,
    day: date | None = None,
    now: datetime | None = None,
    dry_run: bool = False,
    transport: Transport | None = None,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
    workers: int | None = 1,
) -> SendReport:
    """Send the day's digest (default: today in each subscriber's zone) to every active
    subscriber, or the one named, or those of `emails`, who has not had it yet; exactly once,
    through the ledger. All of them are ranked through one day plan.
    Setting `stop` finishes the messages in flight and leaves the rest planned. `workers`:
    processes to send with (None: one per core, on a run long enough; see `mail.shard`); a
    process that runs threads of its own (the daemon) keeps to 1."""
    now = now or utcnow()
    if subscriber:  # one person: read them alone, not everyone
        chosen = [find_subscriber(config, store, subscriber)]
    else:
        with paused_gc():  # thousands of long-lived profiles (see digest.memory)
            chosen = active_subscribers(config, store)
    if emails is not None:  # the daemon's batch: everyone due at one minute
        wanted = set(emails)
        chosen = [p for p in chosen if p.email in wanted]
    # A weekly digest goes out on its weekday only (where its reader lives).
    people = [p for p in chosen if p.status == "active" and p.is_due(day or p.local_date(now))]
    copies = CopyStore(store)
    # One day plan for everyone (or, in each sender process, for its own readers), made when
    # the first digest is asked for (a run with nothing left to send ranks nothing) and scored
    # in blocks as the senders ask, in this order.
    plans: list[DayRun] = []
    planning = threading.Lock()

    def prepare(emails: Collection[str] | None = None) -> None:
        with planning:
            if not plans:
                mine = people if emails is None else [p for p in people if p.email in emails]
                with paused_gc():
                    plans.append(plan_run(config, store, mine, now=now, day=day))
                if not dry_run:  # copies past their links' lifetime are forgotten
                    copies.prune((day or now.date()) - timedelta(days=config.web.copy_days))

    def write(person: Subscriber, d: date, links: Links) -> tuple[Content | None, int, Keep | None]:
        prepare()
        digest = build_digest(config, store, person, d, now, run=plans[0])
        rendered = render_digest(
            digest,
            base_url=config.base_url,
            manage_url=links.manage_url,
            unsubscribe_url=links.unsubscribe_url,
            always=person.send_empty,
            web_url=links.web_url or None,
            feed_url=links.feed_url or None,
            feedback=links.feedback.url if links.feedback else None,
        )
        keep = None
        if rendered is not None and not dry_run:  # what the web copy and the feed will show
            record = digest_record(digest)
            keep = copies.keeper(person.email, d, person.name, rendered.subject, record)
        return rendered, digest.count, keep

    def embedded_ahead(emails: Collection[str]) -> bool:
        from digest.rank.ahead import embed_ahead

        mine = [p for p in people if p.email in emails]
        return embed_ahead(store, lambda s: _sentence_embedder(config, s), mine, now, day)

    report = send_run(
        config,
        store,
        people,
        write,
        day=day,
        now=now,
        dry_run=dry_run,
        transport=transport,
        progress=progress,
        stop=stop,
        workers=workers,
        prepare=prepare,
        fork_ready=embedded_ahead if config.ranking.semantic else None,
    )
    chatty = [p for p in people if p.channels]
    if chatty and not dry_run and not (stop is not None and stop.is_set()):
        from digest.channels.send import deliver_channels
        from digest.mail.tokens import load_secret_key

        days = {p.email: day or p.local_date(now) for p in chatty}
        report.channels = deliver_channels(
            config, store, chatty, days, secret=load_secret_key(config)
        )
    return report
