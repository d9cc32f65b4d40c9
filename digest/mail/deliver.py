"""Deliver planned digests exactly once, over several connections at once.

`deliver_digests` takes ledger rows, a `compose` function that builds each message (or says why
there is none), and a transport. One thread claims rows a few at a time and composes them (one
at a time: `compose` need not be thread-safe); a sender thread per connection sends each; a
recorder marks the accepted ones sent, several rows per transaction, each only after the
server's 250 (a refusal or deferral is recorded by its sender); a connection sends again only
once its last message is marked, so a run killed outright leaves at most one digest per
connection that may have arrived unrecorded (sent again by the next run). 4xx replies and dropped
connections are deferred with bounded, doubling backoff (retried in this run while `retry_wait`
allows, else by the next run); a connection lost after the whole message was sent may have
delivered it, so that is retried once and then failed. A 5xx fails that row for good (and counts
towards suspending the address when it is about the address). A fatal error (login refused), a
server that cannot be reached on any connection, or too many errors in a row stops the run
early; what is left stays planned for the next run (rows claimed but not tried are given back).
While the run holds claims, a heartbeat renews them, so a sender that waits (rate limit,
ranking) never loses a claim to another.
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from digest.errors import DigestError, StoreDamaged
from digest.mail.ledger import (
    DONE,
    PLANNED,
    SENDING,
    Delivery,
    Keep,
    Ledger,
    SentMark,
    new_worker_id,
)
from digest.mail.transport import (
    Connection,
    DeliveryError,
    FatalError,
    Mail,
    PermanentFailure,
    Transport,
    Unconfirmed,
    Unreachable,
)
from digest.store import utcnow

log = logging.getLogger(__name__)
POLL_SECONDS = 1.0  # how often a waiting sender looks at the ledger again

MAX_BACKOFF = 1800.0


@dataclass(frozen=True)
class Policy:
    """How hard to try. Built from `smtp:` in config.yaml (defaults when there is none)."""

    max_attempts: int = 6
    retry_backoff: float = 30.0  # first wait after a temporary failure; doubles each attempt
    retry_wait: float = 300.0  # how long one run waits for retries before leaving them
    max_consecutive_errors: int = 10
    max_permanent_failures: int = 3
    lease: float = 150.0  # how long a claim holds unrenewed before another sender may take it

    def backoff(self, attempts: int) -> float:
        return float(min(self.retry_backoff * 2.0 ** max(attempts - 1, 0), MAX_BACKOFF))


@dataclass(frozen=True)
class Outgoing:
    """What `compose` made for one row: a message, or None and the reason to skip."""

    message: Mail | None
    papers: int = 0
    reason: str = ""
    published: bool = False  # no message, yet delivered (feed only): recorded as sent
    keep: Keep | None = None  # what the digest held, written with the row's "sent"


Compose = Callable[[Delivery], Outgoing]


@dataclass(frozen=True)
class Outcome:
    """What happened to one row in this run (reported as it happens, for progress)."""

    email: str
    subscriber: str
    status: str  # sent / skipped / deferred / failed / suspended
    reply: str = ""


@dataclass
class DeliveryReport:
    sent: int = 0
    skipped: int = 0
    retried: int = 0  # temporary failures that will be (or were) tried again
    failed: list[Outcome] = field(default_factory=list)
    pending: int = 0  # left planned for a later run (deferred, or the run stopped)
    stopped: str | None = None  # why the run stopped early
    logins: int = 0
    # (deferred / failed / suspended, the reason) -> the address of each such event
    problems: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    possible_duplicates: list[str] = field(default_factory=list)  # sent after an unconfirmed send
    by_others: int = 0  # finished by another sender while this run went on
    elsewhere: int = 0  # still being sent by another live sender when this run ended

    @property
    def ok(self) -> bool:
        """Nothing failed and nothing is left undone. A digest another live sender is still
        sending is that sender's to report."""
        return not self.failed and self.stopped is None and self.pending == 0


# A message the server accepted: its row, the server's reply, what was sent, when, and the event
# its sender waits on before it sends again (set once the row is marked, or could not be).
Accepted = tuple[Delivery, str, Outgoing, datetime, threading.Event]
# Composed messages on their way to the senders; None tells a sender there is no more.
Ready = queue.Queue[tuple[Delivery, Outgoing] | None]
MARK_BATCH = 64  # at most so many rows marked sent in one transaction


class _Run:
    """State shared by the sender threads of one run."""

    def __init__(
        self,
        ledger: Ledger,
        compose: Compose,
        sender: str,
        message_id: Callable[[], str],
        policy: Policy,
        progress: Callable[[Outcome], None] | None,
        clock: Callable[[], datetime],
    ) -> None:
        self.ledger, self.compose, self.sender, self.policy = ledger, compose, sender, policy
        self.message_id = message_id
        self.progress, self.clock = progress, clock
        self.worker = new_worker_id()
        self.report = DeliveryReport()
        self.lock = threading.Lock()
        self.stop = threading.Event()  # set by the run itself: fatal error, too many errors
        self.cancel = threading.Event()  # set from outside: finish what is in flight, then stop
        self.consecutive_errors = 0
        self.claimed = 0  # rows claimed so far
        self.given_up: set[int] = set()  # rows this run will not try again
        self.settled: set[int] = set()  # rows this run finished (sent, skipped, failed)
        self.failing = ledger.failing()  # addresses whose failure count a success must clear
        self.connections = 1  # sender threads in the current round
        self.reached = False  # the server answered at least once in this run
        self.unreachable = 0  # sends that could not reach the server at all
        self.unreachable_reply = ""
        self.unreachable_threads: set[str] = set()
        # Messages the server accepted, on their way to be marked sent (see `_recorder`).
        self.accepted: queue.SimpleQueue[Accepted | None] = queue.SimpleQueue()

    def record(self, outcome: Outcome, *, error: bool) -> None:
        with self.lock:
            r = self.report
            if outcome.status == "sent":
                r.sent += 1
            elif outcome.status == "skipped":
                r.skipped += 1
            elif outcome.status == "deferred":
                r.retried += 1
            else:
                r.failed.append(outcome)
            if outcome.status in ("deferred", "failed", "suspended"):
                r.problems.setdefault((outcome.status, outcome.reply), []).append(outcome.email)
            if error:
                self.consecutive_errors += 1
                if self.consecutive_errors >= self.policy.max_consecutive_errors:
                    self.halt(
                        f"stopped after {self.consecutive_errors} delivery errors in a row "
                        f"(last: {outcome.reply}); check the SMTP server, then run "
                        "`digest send` again to send the rest"
                    )
            elif outcome.status == "sent":
                self.consecutive_errors = 0
        if self.progress is not None:
            self.progress(outcome)

    def halted(self) -> bool:
        return self.stop.is_set() or self.cancel.is_set()

    def halt(self, reason: str) -> None:
        if not self.stop.is_set():
            self.report.stopped = reason
            self.stop.set()

    def compose_row(self, row: Delivery) -> Outgoing | None:
        """Compose a claimed row's message; None when there is nothing to send (the row is
        settled, given up, or the run halted)."""
        ledger = self.ledger
        try:
            outgoing = self.compose(row)
        except StoreDamaged as e:  # not this subscriber's fault: the run cannot go on
            self.halt(str(e))
            self.release([row])
            return None
        except DigestError as e:
            self._give_up(row, f"could not build the digest: {e}")
            return None
        except Exception as e:  # one subscriber's bad data must not stop the others
            log.exception("building the digest for %s failed", row.email)
            self._give_up(row, f"could not build the digest: unexpected {type(e).__name__}: {e}")
            return None
        if outgoing.message is None and outgoing.published:
            ledger.mark_sent(
                row.id, outgoing.reason, self.clock(), outgoing.papers, keep=outgoing.keep
            )
            self.settled.add(row.id)
            self.record(Outcome(row.email, row.subscriber, "sent", outgoing.reason), error=False)
            return None
        if outgoing.message is None:
            ledger.mark_skipped(row.id, self.worker, outgoing.reason, self.clock(), outgoing.papers)
            self.settled.add(row.id)
            self.record(Outcome(row.email, row.subscriber, "skipped", outgoing.reason), error=False)
            return None
        return outgoing

    def release(self, rows: Sequence[Delivery]) -> None:
        """Give back claimed rows this run will not try (it is stopping): planned, as they were."""
        if rows:
            self.ledger.release([r.id for r in rows], self.worker, self.clock())

    def deliver(
        self, row: Delivery, outgoing: Outgoing, connection: Connection
    ) -> threading.Event | None:
        """Send one composed message and record the outcome. When the server accepted it,
        return the event set once it is marked sent (by the recorder)."""
        assert outgoing.message is not None
        policy, ledger = self.policy, self.ledger
        try:
            reply = connection.send(outgoing.message, self.sender, row.email)
        except FatalError as e:
            ledger.defer(row.id, self.worker, e.reply, self.clock(), None)
            self.given_up.add(row.id)
            self.halt(e.reply)
            return None
        except PermanentFailure as e:
            self.reached = True
            now = self.clock()
            ledger.mark_failed(row.id, self.worker, e.reply, now)
            self.settled.add(row.id)
            suspended = e.about_recipient and ledger.record_permanent_failure(
                row.email, e.reply, now, policy.max_permanent_failures
            )
            status = "suspended" if suspended else "failed"
            self.record(Outcome(row.email, row.subscriber, status, e.reply), error=True)
            return None
        except Unreachable as e:
            self._unreachable(e.reply)
            self._defer(row, e.reply)
            return None
        except Unconfirmed as e:
            self.reached = True
            self._unconfirmed(row, e.reply)
            return None
        except DeliveryError as e:  # TemporaryFailure, or a transport's failure of its own
            self.reached = True
            self._defer(row, e.reply)
            return None
        self.reached = True
        marked = threading.Event()
        self.accepted.put((row, reply, outgoing, self.clock(), marked))
        return marked

    def record_sent(self, accepted: Sequence[Accepted]) -> None:
        """Mark rows the server accepted as sent, several in one transaction."""
        self.ledger.mark_sent_many(
            [
                SentMark(
                    row.id, reply, at, outgoing.papers, row.email in self.failing, outgoing.keep
                )
                for row, reply, outgoing, at, _ in accepted
            ]
        )
        for row, reply, _, _, _ in accepted:
            self.settled.add(row.id)
            if row.unconfirmed:
                with self.lock:
                    self.report.possible_duplicates.append(row.email)
            self.record(Outcome(row.email, row.subscriber, "sent", reply), error=False)

    def _unreachable(self, reply: str) -> None:
        """Stop at once when no connection of this run has reached the server: waiting out
        `retry_wait` would not make it answer."""
        with self.lock:
            self.unreachable += 1
            self.unreachable_reply = reply
            # Each thread is one connection; one still busy with a message has reached it.
            self.unreachable_threads.add(threading.current_thread().name)
            if not self.reached and len(self.unreachable_threads) >= self.connections:
                self.halt_unreachable()

    def halt_unreachable(self) -> None:
        self.halt(
            f"cannot reach the SMTP server: {self.unreachable_reply}; the digests stay planned: "
            "run `digest send` again once it is fixed"
        )

    def _unconfirmed(self, row: Delivery, reply: str) -> None:
        """A send that may have arrived is tried once more (a possible duplicate), not again."""
        if row.unconfirmed == 0:
            if row.attempts >= self.policy.max_attempts:
                self._defer(row, reply)  # gives up, as for any other temporary failure
                return
            now = self.clock()
            until = now + timedelta(seconds=self.policy.backoff(row.attempts))
            self.ledger.defer_unconfirmed(row.id, self.worker, reply, now, until)
            self.record(Outcome(row.email, row.subscriber, "deferred", reply), error=True)
            return
        reason = f"not sent again: {reply} (twice, so it was not risked a third time)"
        self.ledger.mark_failed(row.id, self.worker, reason, self.clock())
        self.settled.add(row.id)
        with self.lock:
            self.report.possible_duplicates.append(row.email)
        self.record(Outcome(row.email, row.subscriber, "failed", reason), error=True)

    def claim(self, row_ids: Sequence[int]) -> list[Delivery]:
        """Claim the rows that are free, in one transaction; a row held by a process on this
        host that died is taken over at once."""
        now = self.clock()
        lease = timedelta(seconds=self.policy.lease)
        rows = self.ledger.claim_many(
            row_ids, self.worker, now=now, lease=lease, message_id=self.message_id()
        )
        got = {r.id for r in rows}
        missed = [i for i in row_ids if i not in got]
        if missed:
            for held in self.ledger.by_ids(missed):
                if held.status != SENDING or not _is_dead_local(held.claimed_by):
                    continue
                taken = self.ledger.claim(
                    held.id,
                    self.worker,
                    now=now,
                    lease=lease,
                    message_id=self.message_id(),
                    take_over=held.claimed_by,
                )
                if taken is not None:
                    rows.append(taken)
            order = {row_id: i for i, row_id in enumerate(row_ids)}
            rows.sort(key=lambda r: order[r.id])
        with self.lock:
            self.claimed += len(rows)
        return rows

    def _defer(self, row: Delivery, reply: str) -> None:
        now = self.clock()
        if row.attempts >= self.policy.max_attempts:
            reason = f"gave up after {row.attempts} attempts: {reply}"
            self.ledger.mark_failed(row.id, self.worker, reason, now)
            self.settled.add(row.id)
            self.record(Outcome(row.email, row.subscriber, "failed", reason), error=True)
            return
        until = now + timedelta(seconds=self.policy.backoff(row.attempts))
        self.ledger.defer(row.id, self.worker, reply, now, until)
        self.record(Outcome(row.email, row.subscriber, "deferred", reply), error=True)

    def _give_up(self, row: Delivery, reason: str) -> None:
        # Left planned, not failed: a later run (after the fix) tries again.
        self.ledger.defer(row.id, self.worker, reason, self.clock(), None)
        self.given_up.add(row.id)
        self.record(Outcome(row.email, row.subscriber, "failed", reason), error=False)


def deliver_digests(
    rows: Sequence[Delivery],
    compose: Compose,
    transport: Transport,
    ledger: Ledger,
    *,
    sender: str,
    message_id: Callable[[], str],
    policy: Policy | None = None,
    progress: Callable[[Outcome], None] | None = None,
    clock: Callable[[], datetime] = utcnow,
    stop: threading.Event | None = None,
) -> DeliveryReport:
    """Send every row that is not done yet; return what happened.

    `sender` is the envelope sender (MAIL FROM); `message_id()` makes a new Message-ID for a row
    sent for the first time (a re-send keeps the one in the ledger). Setting `stop` (SIGTERM in
    the daemon) lets the messages in flight finish and record, then returns; the rest stays
    planned.
    """
    policy = policy or Policy()
    run = _Run(ledger, compose, sender, message_id, policy, progress, clock)
    if stop is not None:
        run.cancel = stop
    ids = [r.id for r in rows if r.status not in DONE]
    deadline = time.monotonic() + policy.retry_wait
    with _heartbeat(run), _prompt_handoffs():
        while ids and not run.halted():
            due, wait, held = _due(ledger, ids, run, clock())
            if due:
                claimed = _send_round(run, due, transport)
                if run.unreachable and not run.reached:
                    run.halt_unreachable()
                    break
                if claimed == 0:
                    # Due, yet another sender claimed them first: let it work, within our
                    # deadline.
                    if time.monotonic() > deadline:
                        break
                    run.cancel.wait(0.1)
                continue
            if held:
                # Another live sender is on them: watch them finish (or its claim run out)
                # while our deadline allows. Its heartbeat keeps its lease ahead of us.
                if time.monotonic() > deadline:
                    break
                run.cancel.wait(POLL_SECONDS)
                continue
            if wait is None or time.monotonic() + wait > deadline:
                break
            log.info("waiting %.1f s for deferred deliveries", wait)
            run.cancel.wait(min(max(wait, 0.05), POLL_SECONDS))
    _settle_report(run, ids, clock())
    return run.report


def _settle_report(run: _Run, ids: list[int], now: datetime) -> None:
    """Count what is left: done by another sender, still being sent by one, or pending."""
    report = run.report
    for row in run.ledger.by_ids(ids):
        if row.status in DONE:
            report.by_others += row.id not in run.settled
        elif _held_elsewhere(row, run.worker, now):
            report.elsewhere += 1
        else:
            report.pending += 1


def _held_elsewhere(row: Delivery, worker: str, now: datetime) -> bool:
    """Claimed by another sender that is alive as far as we can tell (its lease runs)."""
    return (
        row.status == SENDING
        and row.claimed_by != worker
        and row.lease_until is not None
        and row.lease_until >= now
        and not _is_dead_local(row.claimed_by)
    )


# How long a thread may keep the GIL while another waits for it, during a run (Python's default:
# 5 ms). Set when each sender thread composed in turn under a lock: with 5 ms turns the next
# digest often waited for a sender still queueing to record its last one (in a 10,000 digest
# run on busy cores, 25-29 s of ~115 s per process with no digest being made; ~10 s with 0.5 ms
# turns). Now one thread composes and never waits on a sender. Eight interleaved 10,000 runs
# each way: medians 69.7 s with 5 ms turns, 70.8 s with 0.5 ms, inside this machine's drift, so
# it is kept. With the SMTP sends replaced by an instant reply, 5 ms turns were faster (54-56 s
# against 64-66 s; the composing thread was switched out less): worth measuring again.
SWITCH_INTERVAL = 0.0005


_handoffs = threading.Lock()
_runs: list[float] = []  # the interval before the first run that is still going, once per run


@contextmanager
def _prompt_handoffs() -> Iterator[None]:
    """Shorter GIL turns while any run goes on (see SWITCH_INTERVAL), as they were after."""
    with _handoffs:
        _runs.append(_runs[0] if _runs else sys.getswitchinterval())
        sys.setswitchinterval(min(_runs[0], SWITCH_INTERVAL))
    try:
        yield
    finally:
        with _handoffs:
            before = _runs.pop()
            if not _runs:
                sys.setswitchinterval(before)


@contextmanager
def _heartbeat(run: _Run) -> Iterator[None]:
    """Renew this run's claims every third of a lease while the run goes on."""
    done = threading.Event()
    lease = run.policy.lease

    def beat() -> None:
        while not done.wait(lease / 3.0):
            try:
                run.ledger.renew(run.worker, run.clock() + timedelta(seconds=lease))
            except DigestError as e:  # the next beat tries again; a lost claim is re-sent once
                log.warning("could not renew this run's claims: %s", e)

    thread = threading.Thread(target=beat, name="claim-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def _due(
    ledger: Ledger, ids: list[int], run: _Run, now: datetime
) -> tuple[list[int], float | None, int]:
    """The rows to send now; else how long until the next deferred one is due (None: never);
    and how many another live sender holds."""
    due, waits, held = [], [], 0
    for row in ledger.by_ids(ids):
        if row.status in DONE or row.id in run.given_up:
            continue
        if row.status == SENDING:
            if _held_elsewhere(row, run.worker, now):
                held += 1
            else:
                due.append(row.id)
        elif row.status == PLANNED:
            at = row.next_attempt_at
            if at is None or at <= now:
                due.append(row.id)
            else:
                waits.append((at - now).total_seconds())
    return due, (min(waits) if waits else None), held


# Rows claimed at a time (one transaction) by the thread that composes. A few are enough to
# spare it the ledger's write lock between most digests; each waits at most the time it takes
# to compose the ones before it.
CLAIM_BATCH = 16


def _send_round(run: _Run, ids: list[int], transport: Transport) -> int:
    """Send `ids` over up to `max_connections` connections, one sender thread each, while this
    thread claims and composes ahead of them; return how many rows this run claimed.

    Composing (ranking, rendering, the MIME message) is pure Python and holds the GIL, so it is
    done by one thread that never waits on the SMTP server; the senders only send and record.
    A short queue between them bounds how far it runs ahead."""
    before = run.claimed
    run.connections = min(transport.max_connections, len(ids))
    ready: Ready = queue.Queue(run.connections + 1)
    threads = [
        threading.Thread(target=_sender, args=(run, ready, transport), name=f"sender-{i}")
        for i in range(run.connections)
    ]
    recorder = threading.Thread(target=_recorder, args=(run,), name="recorder")
    recorder.start()
    for t in threads:
        t.start()
    try:
        _compose_ahead(run, ids, ready)
    finally:
        for _ in threads:
            ready.put(None)
        for t in threads:
            t.join()
        run.accepted.put(None)
        recorder.join()
    return run.claimed - before


@contextmanager
def _halting(run: _Run, what: str) -> Iterator[None]:
    """A failure of the ledger itself (nothing can be recorded), or an unexpected error, stops
    the run with its reason; the thread goes on (to give back or hand over what it holds)."""
    try:
        yield
    except DigestError as e:
        run.halt(str(e))
    except Exception as e:
        log.exception("%s failed", what)
        run.halt(f"unexpected {type(e).__name__}: {e}")


def _recorder(run: _Run) -> None:
    """Mark sent what the server accepted, as it comes: whatever has queued up while the last
    transaction was written goes in the next one. A message is never marked before its 250,
    and the round ends only once all are marked. If the ledger cannot be written, the run
    stops; those rows stay claimed, and the next run sends them again (once)."""
    done = False
    while not done:
        item = run.accepted.get()
        if item is None:
            return
        batch = [item]
        while len(batch) < MARK_BATCH:
            try:
                item = run.accepted.get_nowait()
            except queue.Empty:
                break
            if item is None:
                done = True
                break
            batch.append(item)
        try:
            with _halting(run, "recording sent digests"):
                run.record_sent(batch)
        finally:
            for *_, marked in batch:
                marked.set()


def _compose_ahead(run: _Run, ids: list[int], ready: Ready) -> None:
    held: list[Delivery] = []  # claimed, not yet composed
    try:
        with _halting(run, "composing digests"):
            for at in range(0, len(ids), CLAIM_BATCH):
                if run.halted():
                    return
                held = run.claim(ids[at : at + CLAIM_BATCH])
                while held:
                    if run.halted():
                        return
                    row = held.pop(0)
                    outgoing = run.compose_row(row)
                    if outgoing is not None:
                        ready.put((row, outgoing))
    finally:
        try:
            run.release(held)
        except DigestError as e:  # their claims run out instead
            log.warning("could not give back %d claimed digests: %s", len(held), e)


def _sender(run: _Run, ready: Ready, transport: Transport) -> None:
    """Send what the composer hands over until it says there is no more. Once the run halts,
    what is still handed over is given back unsent.

    A sender takes its next message only once its last accepted one is marked sent: so at any
    moment each connection holds one row, and has at most one digest that may have arrived
    without the ledger knowing it; a run killed outright costs at most one duplicate per
    connection."""
    connection: Connection | None = None
    marking: threading.Event | None = None  # the last accepted message's mark
    try:
        while True:
            if marking is not None:
                marking.wait()
            item = ready.get()
            if item is None:
                break
            row, outgoing = item
            with _halting(run, "sender thread"):
                if run.halted():
                    run.release([row])
                    continue
                if connection is None:
                    connection = transport.connect()
                marking = run.deliver(row, outgoing, connection)
    finally:
        if connection is not None:
            connection.close()
            with run.lock:
                run.report.logins += int(getattr(connection, "logins", 0))


_HOST = socket.gethostname()


def is_dead_local(worker: str | None) -> bool:
    """True when `worker` (a claim's holder) was a process on this host that no longer runs."""
    return _is_dead_local(worker)


def _is_dead_local(worker: str | None) -> bool:
    """True when `worker` was a process on this host that no longer runs."""
    if not worker:
        return False
    host, _, rest = worker.partition(":")
    pid_text = rest.partition(":")[0]
    if host != _HOST or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
