"""numpy's BLAS kept to one thread per process.

numpy's wheels carry OpenBLAS, which starts a thread per core and lets them spin while they
wait. Ranking's dense products are small (a day's papers times one topic), too small to gain
from threads, and a send run already runs a process per core: with the semantic extra, 300
digests took 14.8 s of CPU with OpenBLAS's threads and 11.0 s without, in one process
(`benchmarks/daily_run.py`, issue 16), and two processes each starting two threads took more
CPU than one. Lexical ranking, on sparse matrices, is the same either way. The sentence model
(torch) keeps its own threads. Done through OPENBLAS_NUM_THREADS, which OpenBLAS reads when
numpy is first imported; a value already in the environment wins.
"""

from __future__ import annotations

import os
import sys


def one_blas_thread() -> bool:
    """Ask OpenBLAS for one thread; whether it will be heeded (False: numpy is imported
    already, or the environment says otherwise)."""
    if "numpy" in sys.modules or "OPENBLAS_NUM_THREADS" in os.environ:
        return False
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    return True
