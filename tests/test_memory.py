"""digest.memory: a process that allocates from many threads at once keeps two malloc arenas
(glibc's `malloc_stats` counts them), where it would otherwise make one per thread."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

PROGRAM = """
import ctypes, os, sys, threading, zlib
from digest.memory import limit_malloc_arenas
if sys.argv[1] == "limit":
    assert limit_malloc_arenas()
data = os.urandom(1 << 18)
def work():
    for _ in range(6):
        zlib.compress(data, 1)  # allocates with the GIL released, as sockets and SQLite do
threads = [threading.Thread(target=work) for _ in range(8)]
for t in threads: t.start()
for t in threads: t.join()
ctypes.CDLL("libc.so.6").malloc_stats()
"""


def arenas(mode: str) -> int:
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM, mode], capture_output=True, text=True, env=env, check=True
    )
    return sum(line.startswith("Arena ") for line in done.stderr.splitlines())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc only")
def test_a_process_keeps_two_malloc_arenas_whatever_its_threads() -> None:
    assert arenas("none") > 2  # what the limit prevents
    assert arenas("limit") == 2


def test_the_collector_is_paused_inside_the_block_and_as_it_was_after() -> None:
    import gc

    from digest.memory import paused_gc

    assert gc.isenabled()
    with paused_gc():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with paused_gc():
            assert not gc.isenabled()
        assert not gc.isenabled()  # it was off before: it stays off
    finally:
        gc.enable()
