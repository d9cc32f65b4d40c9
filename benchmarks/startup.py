"""Start-up of the command line: CPU seconds of `digest --help` and `digest check` (each a fresh
interpreter, as a user's command is), against a CLI that imports every command's modules up
front (the pipeline, the web app, the daemon), as this one did before it imported lazily.

Target: each of our commands under 0.5 s. The figure is the best of N runs of the child's own
CPU time (user + system), which a busy machine disturbs far less than wall time; the median
wall time is printed beside it.
Run: `python benchmarks/startup.py [--runs N]`.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET = 0.5
CONFIG = """\
subscribers:
  - name: ada
    email: ada@example.org
    topics: [{name: Retrieval, keywords: [retrieval augmented generation], categories: [cs.IR]}]
"""
EAGER = (
    "import digest.pipeline, digest.web, digest.schedule.daemon, digest.check, digest.tune; "
    "from digest.cli import main; main(['--help'])"
)


def measure(argv: list[str], runs: int, cwd: Path) -> tuple[float, float]:
    """(best CPU seconds, median wall seconds) of `runs` runs of argv."""
    cpu: list[float] = []
    wall: list[float] = []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(argv, capture_output=True, cwd=cwd, check=False)
        wall.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return min(cpu), statistics.median(wall)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        cwd = Path(folder)
        (cwd / "config.yaml").write_text(CONFIG, encoding="utf-8")
        digest = [sys.executable, "-m", "digest"]
        rows = [
            ("digest --help", measure([*digest, "--help"], args.runs, cwd)),
            ("digest check", measure([*digest, "check"], args.runs, cwd)),
            ("bare python", measure([sys.executable, "-c", "pass"], args.runs, cwd)),
            (
                "eager CLI (every command's imports) + --help",
                measure(
                    [sys.executable, "-c", EAGER],
                    args.runs,
                    cwd,
                ),
            ),
        ]
    print(f"{'command':<46} {'best CPU (s)':>12} {'median wall (s)':>16}")
    for name, (cpu, wall) in rows:
        print(f"{name:<46} {cpu:>12.3f} {wall:>16.3f}")
    ours = max(rows[0][1][0], rows[1][1][0])
    print(f"target: under {TARGET} s of CPU each: {'met' if ours < TARGET else 'NOT met'}")
    return 0 if ours < TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
