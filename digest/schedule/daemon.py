"""`digest run`: one long-lived process that fetches at the configured times and sends each
subscriber's digest at their hour, calling exactly the pipeline code of `digest fetch` and
`digest send`.

Everyone due at the same minute (same zone, time and days) is one send job, ranked through one
day plan; send jobs run one at a time on the scheduler's worker. Fetches run one at a time on
their own worker (digest.schedule.fetcher) with their own store connection, so a slow source
never holds back a due send: a send that finds a planned fetch missing starts it and waits at
most FETCH_WAIT_SECONDS, then goes on with what is stored (what the fetch brings in goes out
with the next digest). On start the daemon takes the store's lock (a second daemon refuses to
start), catches up on digests still within `schedule.catch_up_hours` (one batch per day) and
records older missed ones as skipped. SIGTERM/SIGINT finish the message in flight and exit 0
without waiting for a fetch; SIGHUP or an edited config.yaml reloads it (an invalid one is
reported and the old one kept).
"""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from digest.config import Config, load_config
from digest.errors import DigestError
from digest.mail.ledger import Ledger
from digest.mail.report import problem_lines
from digest.mail.transport import Transport
from digest.models import Subscriber
from digest.pipeline import active_subscribers, fetch_all, send_digests
from digest.schedule.fetcher import FetchWorker
from digest.schedule.lock import StoreLock
from digest.schedule.plan import (
    Owed,
    catch_up,
    fetch_trigger,
    last_planned_fetch,
    send_trigger,
)
from digest.signals import set_from_signal
from digest.store import Store, open_store, utcnow
from digest.store.subscribers import SubscriberStore

if TYPE_CHECKING:
    from digest.channels.send import ChannelReport

log = logging.getLogger("digest.daemon")
LOCK_NAME = "scheduler"
DONE = frozenset({"sent", "skipped", "failed"})
FETCH_WAIT_SECONDS = 5.0  # the longest a due send waits for the fetch it started


def log_event(event: str, level: int = logging.INFO, **fields: Any) -> None:
    """One log line per event, with its counts as fields (text or JSON, see JsonFormatter)."""
    text = " ".join(f"{k}={v}" for k, v in fields.items())
    log.log(level, f"{event} {text}".strip(), extra={"event": event, "fields": fields})


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log collectors: time, level, event and the counts."""

    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="seconds"),
            "level": record.levelname.lower(),
            "event": getattr(record, "event", record.name),
        }
        fields = getattr(record, "fields", None)
        if fields:
            body.update(fields)
        else:
            body["message"] = record.getMessage()
        if record.exc_info:
            body["traceback"] = self.formatException(record.exc_info)
        return json.dumps(body, default=str)


class Daemon:
    """The scheduler process. `run()` blocks until stopped and returns the exit status."""

    def __init__(
        self,
        config_path: Path,
        *,
        clock: Callable[[], datetime] = utcnow,
        transport: Transport | None = None,
        poll_seconds: float = 1.0,
    ) -> None:
        self.config_path = config_path
        self.config: Config = load_config(config_path)
        self.clock = clock
        self.transport = transport
        self.poll_seconds = poll_seconds
        self.store: Store = open_store(self.config.store_url)
        lease = timedelta(seconds=self.config.schedule.lock_lease_seconds)
        self.lock = StoreLock(self.store, LOCK_NAME, lease)
        self.stop = threading.Event()
        self.reload_requested = threading.Event()
        self._config_mtime = _mtime(config_path)
        self._subscriptions_seen = SubscriberStore(self.store).last_change()
        self.fetches = FetchWorker(self._fetch)
        self.scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(1)},
            job_defaults={"coalesce": True, "max_instances": 1},
            timezone=UTC,
        )

    # ------------------------------------------------------------ life cycle

    def run(self) -> int:
        now = self.clock()
        since = self.lock.last_heartbeat()
        self.lock.acquire(now)
        log_event("start", config=str(self.config_path), subscribers=len(self.subscribers()))
        previous = self._install_signals()
        self.fetches.start()
        try:
            self._schedule_jobs()
            self.catch_up(now, since)
            if not self.stop.is_set():
                self.scheduler.start()
            self._watch()
        finally:
            if self.scheduler.running:
                self.scheduler.shutdown(wait=True)
            if not self.fetches.stop(wait=1.0):
                log_event("fetch-abandoned", note="still running; the next fetch redoes it")
            self.lock.release(self.clock())
            self.store.close()
            _restore_signals(previous)
            log_event("stop")
        return 0

    def request_stop(self) -> None:
        self.stop.set()

    def _watch(self) -> None:
        renew_every = self.lock.lease.total_seconds() / 3
        last_renewal = self.clock()
        while not self.stop.wait(self.poll_seconds):
            now = self.clock()
            if (now - last_renewal).total_seconds() >= renew_every:
                if not self.lock.renew(now):
                    log_event("lock-lost", logging.ERROR, note="another daemon took over")
                    self.stop.set()
                    break
                last_renewal = now
            if self.reload_requested.is_set() or self._config_changed():
                self.reload()
            elif self._subscriptions_changed():
                self._schedule_jobs()
                log_event("subscribers-changed", subscribers=len(self.subscribers()))

    def _install_signals(self) -> dict[int, Any]:
        if threading.current_thread() is not threading.main_thread():
            return {}

        def stop(signum: int, _frame: FrameType | None) -> None:
            log_event("signal", name=signal.Signals(signum).name, action="finishing and exiting")
            set_from_signal(self.stop)

        def reload(_signum: int, _frame: FrameType | None) -> None:
            set_from_signal(self.reload_requested)

        previous: dict[int, Any] = {
            signal.SIGTERM: signal.signal(signal.SIGTERM, stop),
            signal.SIGINT: signal.signal(signal.SIGINT, stop),
        }
        if hasattr(signal, "SIGHUP"):
            previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, reload)
        return previous

    # ------------------------------------------------------------ config reload

    def _subscriptions_changed(self) -> bool:
        """Sign-ups, edits and unsubscribes from `digest serve` or `digest subscribe`."""
        changed = SubscriberStore(self.store).last_change()
        if changed == self._subscriptions_seen:
            return False
        self._subscriptions_seen = changed
        return True

    def _config_changed(self) -> bool:
        if not self.config.schedule.watch_config:
            return False
        return _mtime(self.config_path) != self._config_mtime

    def reload(self) -> bool:
        """Re-read config.yaml and reschedule; keep the old config if the new one is invalid."""
        self.reload_requested.clear()
        self._config_mtime = _mtime(self.config_path)
        try:
            config = load_config(self.config_path)
        except DigestError as e:
            log_event("reload-failed", logging.ERROR, error=str(e), kept="the previous config")
            return False
        self.config = config
        self._schedule_jobs()
        log_event(
            "reloaded", subscribers=len(self.subscribers()), fetches=len(config.schedule.fetch)
        )
        return True

    # ------------------------------------------------------------ jobs

    def subscribers(self) -> list[Subscriber]:
        return active_subscribers(self.config, self.store)

    def _schedule_jobs(self) -> None:
        self.scheduler.remove_all_jobs()
        grace = int(self.config.schedule.catch_up_hours * 3600) or 1
        for index, fetch in enumerate(self.config.schedule.fetch):
            name = fetch.name or f"fetch-{index + 1}"
            self.scheduler.add_job(
                self.fetch_job,
                fetch_trigger(fetch),
                args=[name, tuple(fetch.sources)],
                id=f"fetch:{name}",
                name=f"fetch {name}",
                misfire_grace_time=grace,
            )
        groups: dict[tuple[str, str, tuple[str, ...]], list[Subscriber]] = {}
        for person in self.subscribers():
            key = (person.timezone, person.send_at.strftime("%H:%M"), tuple(person.days))
            groups.setdefault(key, []).append(person)
        # One job per send time: everyone due at the same minute is one batch (one day plan).
        for (zone, at, days), people in groups.items():
            self.scheduler.add_job(
                self.send_job,
                send_trigger(people[0]),
                args=[tuple(p.email for p in people)],
                id=f"send:{zone}:{at}:{','.join(days)}",
                name=f"send {len(people)} at {at} {zone}",
                misfire_grace_time=grace,
            )

    def send_job_for(self, email: str) -> Any:
        """The scheduled job that sends this person's digest (an APScheduler Job), or None."""
        for job in self.scheduler.get_jobs():
            if job.id.startswith("send:") and email in job.args[0]:
                return job
        return None

    def fetch_job(self, name: str, only: tuple[str, ...] = ()) -> None:
        """The scheduled fetch: handed to the fetch worker, so the scheduler never waits on it."""
        if not self.stop.is_set():
            self.fetches.submit(name, only)

    def _fetch(self, name: str, only: tuple[str, ...]) -> None:
        """One fetch, on the fetch worker's thread with its own store connection."""
        if self.stop.is_set():
            return
        config = self.config
        try:
            with open_store(config.store_url) as store:
                reports = fetch_all(config, store, clock=self.clock, only=only)
        except DigestError as e:
            log_event("fetch", logging.ERROR, job=name, error=str(e))
            return
        failed = [r.name for r in reports if r.error]
        log_event(
            "fetch",
            logging.WARNING if failed else logging.INFO,
            job=name,
            sources=len(reports),
            fetched=sum(r.fetched for r in reports),
            new=sum(r.new for r in reports),
            updated=sum(r.updated for r in reports),
            failed=",".join(failed) or 0,
        )

    def send_job(self, emails: tuple[str, ...]) -> None:
        if self.stop.is_set():
            return
        wanted = set(emails)
        # Unsubscribed or paused since the job was planned: left out.
        people = [p for p in self.subscribers() if p.email in wanted]
        if people:
            now = self.clock()
            self._send(people, people[0].local_date(now), now)

    def _send(self, people: list[Subscriber], day: Any, now: datetime) -> None:
        """Send `day`'s digest to `people` in one run (one day plan for all of them)."""
        self.ensure_fetched(now)
        now = self.clock()  # what the wait for a fetch brought in belongs to this digest
        who = people[0].name if len(people) == 1 else f"{len(people)} subscribers"
        try:
            report = send_digests(
                self.config,
                self.store,
                emails=[p.email for p in people],
                day=day,
                now=now,
                transport=self.transport,
                stop=self.stop,
            )
        except DigestError as e:
            log_event("send", logging.ERROR, subscriber=who, day=day, error=str(e))
            return
        d = report.delivery
        log_event(
            "send",
            logging.INFO if report.ok else logging.WARNING,
            subscriber=who,
            day=day,
            sent=d.sent,
            skipped=d.skipped + report.already,
            retried=d.retried,
            failed=len(d.failed),
            by_others=d.by_others + d.elsewhere,
            **({"problems": " | ".join(problem_lines(d))} if d.problems else {}),
            **({"stopped": d.stopped} if d.stopped else {}),
            **_chat_fields(report.channels),
        )

    def ensure_fetched(self, now: datetime) -> None:
        """Fetch first when the latest scheduled fetch has not run (the daemon was down)."""
        due = last_planned_fetch(self.config.schedule.fetch, now)
        attempts = [s["last_attempt"] for s in self.store.fetch_state().values()]
        latest = max((a.replace(tzinfo=UTC) for a in attempts if a), default=None)
        if due is not None and (latest is None or latest < due):
            if self.fetches.busy():
                return  # a fetch is on its way; the send before this one already waited for it
            request = self.fetches.submit("before-send")
            until = time.monotonic() + FETCH_WAIT_SECONDS
            while not request.done.wait(0.1) and not self.stop.is_set():
                if time.monotonic() >= until:
                    log_event("fetch-pending", job=request.name, note="sending what is stored")
                    break

    # ------------------------------------------------------------ catch-up

    def catch_up(self, now: datetime, since: datetime | None) -> None:
        """Send what is due and still within the window; record older missed digests skipped."""
        ledger = Ledger(self.store)

        def delivered(email: str, day: Any) -> bool:
            row = ledger.get(email, day)
            return row is not None and row.status in DONE

        window = timedelta(hours=self.config.schedule.catch_up_hours)
        owed = catch_up(self.subscribers(), now, window, delivered, since)
        for missed in owed.missed:
            self._skip(ledger, missed, now)
        by_day: dict[Any, list[Subscriber]] = {}
        for due in owed.due:
            log_event("catch-up", subscriber=due.subscriber.name, day=due.day)
            by_day.setdefault(due.day, []).append(due.subscriber)
        for day, people in sorted(by_day.items()):
            if self.stop.is_set():
                break
            self._send(people, day, self.clock())

    def _skip(self, ledger: Ledger, missed: Owed, now: datetime) -> None:
        person = missed.subscriber
        ledger.plan([(person.email, person.name)], missed.day, now)
        row = ledger.get(person.email, missed.day)
        if row is None:
            return
        reason = f"missed: planned {missed.planned.isoformat(timespec='minutes')}, daemon was down"
        ledger.skip_unclaimed(row.id, reason, now)
        log_event("skipped", subscriber=person.name, day=missed.day, reason="missed while down")


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def _restore_signals(previous: dict[int, Any]) -> None:
    for number, handler in previous.items():
        signal.signal(number, handler)


def _chat_fields(chat: ChannelReport | None) -> dict[str, Any]:
    """The chat deliveries' counts for a send's log line (none when no one has a channel)."""
    if chat is None:
        return {}
    fields: dict[str, Any] = {"chat_sent": chat.sent, "chat_failed": len(chat.failed)}
    if chat.failed or chat.pending:
        fields["chat_problems"] = " | ".join([*chat.failed, *chat.pending])
    return fields
