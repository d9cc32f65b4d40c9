"""The subscription pages served by waitress on 127.0.0.1 in a thread, for the browser tests."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from waitress import wasyncore
from waitress.server import create_server


@contextmanager
def serving(app: Any, port: int) -> Iterator[None]:
    """Serve `app` until the block ends. The server's loop is stopped and joined before its
    sockets close: closing them under a running `select` fails in its thread (EBADF)."""
    server = create_server(app, host="127.0.0.1", port=port, threads=2)
    done = threading.Event()

    def loop() -> None:
        while not done.is_set():
            wasyncore.loop(timeout=0.05, map=server._map, count=1)

    thread = threading.Thread(target=loop, name="waitress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join(timeout=5)
        server.task_dispatcher.shutdown()
        wasyncore.close_all(server._map)
