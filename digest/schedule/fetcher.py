"""The daemon's fetch worker: fetches run one at a time on their own thread with their own store
connection, so a slow or hostile source never holds back a due send, and never delays shutdown.

At shutdown the worker is told to stop and left behind if a fetch is still running (it is a
daemon thread): what a source fetched is stored in one transaction, so an abandoned fetch leaves
nothing half-written, and the papers it did not fetch come with the next fetch.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger("digest.daemon")


@dataclass
class FetchRequest:
    name: str
    only: tuple[str, ...] = ()
    done: threading.Event = field(default_factory=threading.Event)


class FetchWorker:
    """A queue of fetches and the one thread that runs them with `run(name, only)`."""

    def __init__(self, run: Callable[[str, tuple[str, ...]], None]) -> None:
        self._run = run
        self._queue: queue.Queue[FetchRequest | None] = queue.Queue()
        self._lock = threading.Lock()
        self._pending: FetchRequest | None = None
        self._thread = threading.Thread(target=self._loop, name="digest-fetch", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def submit(self, name: str, only: tuple[str, ...] = ()) -> FetchRequest:
        """Queue a fetch; if one is already waiting or running for all sources, share it."""
        with self._lock:
            if self._pending is not None and not self._pending.done.is_set() and not only:
                return self._pending
            request = FetchRequest(name, only)
            if not only:
                self._pending = request
        self._queue.put(request)
        return request

    def busy(self) -> bool:
        with self._lock:
            return self._pending is not None and not self._pending.done.is_set()

    def stop(self, wait: float) -> bool:
        """Ask the worker to finish; wait at most `wait` seconds. True if it has stopped."""
        self._queue.put(None)
        if self._thread.is_alive():
            self._thread.join(timeout=wait)
        return not self._thread.is_alive()

    def _loop(self) -> None:
        while True:
            request = self._queue.get()
            if request is None:
                return
            try:
                self._run(request.name, request.only)
            except Exception:  # the worker must outlive any one fetch
                log.exception("fetch %s failed unexpectedly", request.name)
            finally:
                request.done.set()
