"""Parse and store 2,000 arXiv API entries: this project's parser + store against feedparser's
parse alone, side by side.

The 100-entry recording in ../shared/data/real/arxiv_api is repeated to 2,000 entries, each copy
with its own ids so that all 2,000 are new papers. Run: `python benchmarks/fetch.py`.
"""

from __future__ import annotations

import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import feedparser

from digest.sources.arxiv import parse_api
from digest.store import open_store

REAL = Path(__file__).resolve().parents[2] / "shared/data/real"
ENTRIES = 2000
RUNS = 5


def build_feed() -> bytes:
    text = (REAL / "arxiv_api/query_all-testing_start0_max100.xml").read_text(encoding="utf-8")
    head, _, rest = text.partition("<entry>")
    body, _, tail = rest.rpartition("</entry>")
    entries = ("<entry>" + body + "</entry>").split("</entry>")[:-1]
    copies = []
    for n in range(ENTRIES):
        entry = entries[n % len(entries)] + "</entry>"
        copies.append(
            re.sub(r"abs/[^<\"]+?(v\d+)?</id>", f"abs/9{n:03d}.{n:05d}v1</id>", entry, count=1)
        )
    return (head + "".join(copies) + tail).encode("utf-8")


def best_of(runs: int, work: Callable[[], object]) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def main() -> None:
    feed = build_feed()
    papers, _ = parse_api(feed)
    assert len({p.id for p in papers}) == ENTRIES, "every copy must be a distinct paper"
    assert len(feedparser.parse(feed).entries) == ENTRIES

    fp_best, fp_median = best_of(RUNS, lambda: feedparser.parse(feed))
    ours_best, ours_median = best_of(RUNS, lambda: parse_api(feed))

    def parse_and_store() -> None:
        with tempfile.TemporaryDirectory() as folder:
            store = open_store(f"sqlite:///{folder}/bench.sqlite3")
            found, _ = parse_api(feed)
            result = store.save_papers(found)
            assert result.new == ENTRIES
            store.close()

    total_best, total_median = best_of(RUNS, parse_and_store)
    store_only = total_best - ours_best

    print(f"fetch benchmark: {ENTRIES} arXiv API entries, best of {RUNS} runs (median in brackets)")
    print(f"{'method':<44}{'seconds':>10}{'papers/s':>12}")
    rows = [
        ("feedparser.parse alone", fp_best, fp_median),
        ("digest parse_api alone (lxml)", ours_best, ours_median),
        ("digest parse_api + store in a new SQLite file", total_best, total_median),
    ]
    for name, best, median in rows:
        print(f"{name:<44}{best:>7.3f} ({median:.3f}){ENTRIES / best:>10,.0f}")
    print(
        f"storing adds {store_only:.3f} s: {store_only / fp_best:.0%} on top of "
        "feedparser's parse, "
        f"{store_only / ours_best:.0%} on top of our own parse"
    )
    print(
        f"parse + store takes {total_best / fp_best:.2f}x the time of feedparser's parse alone "
        f"(aim: < 1.5x)"
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
