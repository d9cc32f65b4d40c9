"""digest.blas: numpy's OpenBLAS runs no threads of its own in a digest process (it would
start one per core, spinning beside the sender processes)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

PROGRAM = """
import os, sys
from digest.blas import one_blas_thread
if sys.argv[1] == "one":
    print(one_blas_thread(), os.environ["OPENBLAS_NUM_THREADS"])
import numpy as np
a = np.ones((300, 300))
a @ a
print(len(os.listdir("/proc/self/task")))
"""


def run(mode: str, **env: str) -> list[str]:
    clean = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"} | env
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM, mode], capture_output=True, text=True, env=clean, check=True
    )
    return done.stdout.split()


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="counts threads in /proc")
@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="OpenBLAS starts no thread on one core")
def test_numpy_does_its_products_in_the_process_own_thread() -> None:
    assert int(run("default")[-1]) > 1  # what one_blas_thread prevents
    assert run("one") == ["True", "1", "1"]


def test_an_openblas_setting_in_the_environment_wins() -> None:
    assert run("one", OPENBLAS_NUM_THREADS="2")[:2] == ["False", "2"]
