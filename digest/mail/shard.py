"""One send run over several processes, so that ranking, rendering and building emails (pure
Python, held to one core by the GIL) use every core.

`deliver_sharded` forks the run and gives each process one contiguous slice of the run's rows,
in the order they are ranked; each process plans the day for its own slice's readers (the
day's papers indexed in each, the readers' libraries read and profiles compiled once, in the
process that ranks them), so the planning is shared out over the cores too.
Each process opens its own store connection and claims each row through the ledger exactly as
a lone run does, so a row is never sent twice, and a process that dies leaves its rows to the
next run (its claims run out, or are taken over at once: its pid is gone). The parent sends one
slice itself, relays the others' outcomes to `progress` and adds up their reports. POSIX only
(`fork`); a forked process may not start from a process that runs threads, so the daemon sends
in one process.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import multiprocessing
import os
import queue
import signal
import threading
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from typing import Any

from digest.mail.deliver import DeliveryReport, Outcome
from digest.mail.ledger import Delivery, Ledger
from digest.signals import set_from_signal
from digest.store import Store, open_store

log = logging.getLogger(__name__)
MIN_ROWS = 250  # per process: fewer are done before another process would have started
MAX_WORKERS = 8

# (its rows, its ledger, where outcomes go, its stop event) -> its report
RunSlice = Callable[
    [Sequence[Delivery], Ledger, Callable[[Outcome], None] | None, threading.Event],
    DeliveryReport,
]


def worker_count(asked: int | None, rows: int) -> int:
    """How many processes a run of `rows` rows uses: as many as `asked` (at most one per row),
    else (None or 0) one per core for every MIN_ROWS rows; 1 where there is no fork."""
    if not hasattr(os, "fork") or rows < 2:
        return 1
    if asked:
        return min(asked, rows)
    return max(1, min(os.cpu_count() or 1, MAX_WORKERS, rows // MIN_ROWS))


def split(rows: Sequence[Delivery], parts: int) -> list[list[Delivery]]:
    """`rows` in `parts` contiguous slices of nearly equal length."""
    size, extra = divmod(len(rows), parts)
    out, at = [], 0
    for i in range(parts):
        stop = at + size + (1 if i < extra else 0)
        out.append(list(rows[at:stop]))
        at = stop
    return out


def deliver_sharded(
    rows: Sequence[Delivery],
    run_slice: RunSlice,
    store: Store,
    workers: int,
    *,
    progress: Callable[[Outcome], None] | None = None,
    stop: threading.Event | None = None,
    forked: Callable[[], None] | None = None,
) -> DeliveryReport:
    """Deliver `rows` over `workers` processes (this one and `workers - 1` forks of it) and
    return their reports added up. Call it from a process that runs no other thread; `forked`
    is called once the forks are made (threads may start from then on)."""
    slices = split(rows, workers)
    url = store.engine.url.render_as_string(hide_password=False)
    # What exists now (the day plan, the papers, the profiles) stays out of the collector's
    # reach: its bookkeeping would write to every object and so copy every shared page.
    gc.freeze()
    context = multiprocessing.get_context("fork")
    messages: Any = context.Queue()
    children = []
    for number, mine in enumerate(slices[1:], 1):
        reader, writer = context.Pipe(duplex=False)
        process = context.Process(
            target=_child,
            args=(run_slice, mine, url, messages, writer, store),
            name=f"digest-send-{number}",
            daemon=True,
        )
        process.start()
        writer.close()
        children.append((process, reader, len(mine)))
    if forked is not None:
        forked()
    cancel = stop or threading.Event()
    relay = threading.Thread(
        target=_relay, args=(messages, progress, cancel, children), name="relay", daemon=True
    )
    relay.start()
    report = DeliveryReport()
    try:
        report = run_slice(slices[0], Ledger(store), progress, cancel)
    except BaseException:  # Ctrl-C, or this process failed: the children stop too
        cancel.set()
        raise
    finally:
        for process, reader, count in children:
            report = merge(report, _result(process, reader, count))
        messages.put(None)
        relay.join()
    return report


def _child(
    run_slice: RunSlice,
    rows: Sequence[Delivery],
    url: str,
    messages: Any,
    results: Connection,
    inherited: Store,
) -> None:
    """A forked sender: its own store connection (the parent's stays the parent's), SIGTERM
    finishes the messages in flight and stops, SIGINT is left to the parent. The parent's
    store, which the run's closures read through (its slice's day plan), forgets the
    parent's connections without closing them: it opens its own when asked."""
    inherited.engine.dispose(close=False)
    cancel = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: set_from_signal(cancel))
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    store = open_store(url, create=False)
    try:
        report = run_slice(rows, Ledger(store), messages.put, cancel)
    finally:
        store.close()
        messages.close()
        messages.join_thread()  # every outcome is on its way before the report
    results.send(report)
    results.close()


def _relay(
    messages: Any,
    progress: Callable[[Outcome], None] | None,
    stop: threading.Event,
    children: list[tuple[Any, Connection, int]],
) -> None:
    """Pass the children's outcomes on to `progress`; pass a stop on to the children."""
    stopped = False
    while True:
        if stop.is_set() and not stopped:
            stopped = True
            for process, _, _ in children:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGTERM)
        try:
            outcome = messages.get(timeout=0.2)
        except queue.Empty:
            continue
        if outcome is None:
            return
        if progress is not None:
            progress(outcome)


def _result(process: Any, reader: Connection, rows: int) -> DeliveryReport:
    """A child's report; a child that died without one says so, and leaves its rows planned."""
    report: DeliveryReport | None = None
    with contextlib.suppress(EOFError):
        report = reader.recv()
    process.join()
    if report is None:
        log.error("sender process %s died (exit code %s)", process.pid, process.exitcode)
        return DeliveryReport(
            pending=rows,
            stopped=f"a sender process died (exit code {process.exitcode}) before it was done: "
            "run `digest send` again to send the rest",
        )
    return report


def merge(a: DeliveryReport, b: DeliveryReport) -> DeliveryReport:
    """Two processes' reports as one run's."""
    problems = {key: list(found) for key, found in a.problems.items()}
    for key, found in b.problems.items():
        problems.setdefault(key, []).extend(found)
    return DeliveryReport(
        sent=a.sent + b.sent,
        skipped=a.skipped + b.skipped,
        retried=a.retried + b.retried,
        failed=[*a.failed, *b.failed],
        pending=a.pending + b.pending,
        stopped=a.stopped or b.stopped,
        logins=a.logins + b.logins,
        problems=problems,
        possible_duplicates=[*a.possible_duplicates, *b.possible_duplicates],
        by_others=a.by_others + b.by_others,
        elsewhere=a.elsewhere + b.elsewhere,
    )
