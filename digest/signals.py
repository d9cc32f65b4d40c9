"""Signal handlers that stop or wake threads, safely."""

from __future__ import annotations

import threading


def set_from_signal(event: threading.Event) -> None:
    """Set `event` from a signal handler, on a thread of its own. A handler runs on the main
    thread, which may be inside that very event's `wait()` holding its lock: `event.set()` there
    waits for the lock forever (a daemon, or a sender process, that never exits on SIGTERM)."""
    threading.Thread(target=event.set, name="signal", daemon=True).start()
