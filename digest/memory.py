"""Keep the process's memory to what it uses, and its collector out of the way.

glibc's malloc arenas are limited to two:

glibc gives each thread that allocates while another holds the main arena an arena of its own
(up to eight per core) and keeps what is freed in each for later. A send run's sender threads
each build ~100 KB messages: measured on 3,000 digests in one process, that kept ~75 MB more
than two arenas do (`benchmarks/daily_run.py`, issue 16). The threads take turns on the GIL,
so two arenas cost nothing in speed. Done through `mallopt`, as `MALLOC_ARENA_MAX=2` in the
environment would; a MALLOC_ARENA_MAX already set wins, and other C libraries are left alone.

Python's cyclic collector is paused (`paused_gc`) while a run reads its subscribers and builds
its day plan: that makes hundreds of thousands of objects that all live on, and the collector,
started every 700 new ones, walks them again and again. Reading 10,000 subscribers took 2.9 s
with it and 1.5 s without (issue 16). Nothing made there is cyclic garbage worth collecting
early; the collector runs again as soon as the block ends.
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

M_ARENA_MAX = -8  # glibc's malloc.h
ARENAS = 2


def limit_malloc_arenas(arenas: int = ARENAS) -> bool:
    """Ask glibc for at most `arenas` malloc arenas; whether it was done (call it before
    threads start: arenas already made stay)."""
    if not sys.platform.startswith("linux") or "MALLOC_ARENA_MAX" in os.environ:
        return False
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl, …)
        return False
    return bool(mallopt(M_ARENA_MAX, arenas))


@contextmanager
def paused_gc() -> Iterator[None]:
    """The cyclic collector off inside the block (as it was before, after it)."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()
