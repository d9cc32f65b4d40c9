"""Render 10,000 personalised digests of 20 papers from a pool of 2,000: this project's renderer
(CSS inlined once per row shape) against Jinja + premailer over each whole email, side by side.

The pool is the first 2,000 papers of the labelled arXiv file in ../shared/data/real. Each
subscriber has one to three topics, and gets 20 papers drawn from the pool, each with reasons
built from that subscriber's own keywords, plus three trending papers. The naive way is timed on
a sample (200 emails by default) and extrapolated to all of them, as the output says; the sample
is also checked to be byte for byte what the cached way produced. The naive way runs second, so
the per-paper work both share (LaTeX to Unicode, summaries) is already cached for it: the
speed-up shown is, if anything, too low.
Run: `python benchmarks/render.py [--emails N] [--naive-sample N]`.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from dataclasses import replace
from datetime import date
from itertools import islice
from pathlib import Path

from digest.models import Digest, Paper, RankedPaper, Reason, Subscriber, Topic, TopicGroup
from digest.papers_file import iter_papers
from digest.render import Renderer

REAL = Path(__file__).resolve().parents[2] / "shared/data/real"
LABELLED = REAL / "labelled" / "arxiv_staeiou_2016-2018_stratified_250_per_primary.jsonl.gz"
POOL = 2000
PAPERS = 20
TARGET_RATE = 500.0
TARGET_SPEEDUP = 25.0
TOPICS = [
    "Retrieval for LLMs",
    "LLM agents",
    "Graph learning",
    "Quantum error correction",
    "Galaxy formation",
    "Protein structure",
    "Causal inference",
    "Robotics",
]
WORDS = [
    "retrieval",
    "agents",
    "graph",
    "quantum",
    "galaxy",
    "protein",
    "causal",
    "robot",
    "transformer",
    "diffusion",
    "bayesian",
    "sparse",
    "kernel",
    "spectral",
    "lattice",
    "entropy",
    "network",
    "learning",
    "optimal",
    "stochastic",
    "neural",
    "dark matter",
    "reinforcement learning",
    "language model",
    "topological",
    "manifold",
]


def load_pool() -> list[Paper]:
    pool = list(islice(iter_papers(LABELLED), POOL))
    rng = random.Random(7)
    # Give some papers the signals Hugging Face adds, as a real day's pool has.
    return [
        replace(
            p, upvotes=rng.randint(1, 400), github_stars=rng.choice([None, rng.randint(1, 9000)])
        )
        if rng.random() < 0.2
        else p
        for p in pool
    ]


def make_digests(pool: list[Paper], count: int) -> list[Digest]:
    rng = random.Random(42)
    popular = sorted((p for p in pool if p.upvotes), key=lambda p: -(p.upvotes or 0))[:50]
    digests = []
    for n in range(count):
        names = rng.sample(TOPICS, rng.randint(1, 3))
        words = rng.sample(WORDS, 6)
        person = Subscriber(
            name=f"user{n}",
            email=f"user{n}@example.org",
            topics=tuple(Topic(name=t) for t in names),
        )

        def pick(paper: Paper, topic: str) -> RankedPaper:
            terms = tuple(rng.sample(words, rng.randint(1, 2)))  # noqa: B023 - used at once
            text = "matches " + ", ".join(f"“{t}”" for t in terms)
            reasons = [Reason("keyword", text, terms)]
            if rng.random() < 0.3:
                reasons.append(Reason("category", f"in {paper.categories[0]}"))
            return RankedPaper(paper, rng.random(), topic, tuple(reasons))

        chosen = rng.sample(pool, PAPERS)
        groups = tuple(
            TopicGroup(t, tuple(pick(p, t) for p in chosen[i :: len(names)]))
            for i, t in enumerate(names)
        )
        trending = tuple(pick(p, names[0]) for p in rng.sample(popular, 3))
        digests.append(Digest(person, date(2026, 11, 23), groups, trending))
    return digests


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--emails", type=int, default=10_000)
    parser.add_argument("--naive-sample", type=int, default=200)
    args = parser.parse_args()

    pool = load_pool()
    digests = make_digests(pool, args.emails)
    base = "https://digest.example.org"
    print(f"{len(digests):,} digests of {PAPERS} papers (+3 trending) from a pool of {len(pool):,}")

    renderer = Renderer()
    ours = []  # only the emails the naive way also renders are kept, to compare them
    sizes = []
    wall, cpu = time.perf_counter(), time.process_time()
    for digest in digests:
        rendered = renderer.render(
            digest, base_url=base, manage_url=f"{base}/m/{digest.subscriber.name}"
        )
        assert rendered is not None
        sizes.append(len(rendered.html.encode()))
        if len(ours) < args.naive_sample:
            ours.append(rendered)
    ours_wall, ours_cpu = time.perf_counter() - wall, time.process_time() - cpu

    sample = digests[: args.naive_sample]
    naive = Renderer()
    reference = []
    wall, cpu = time.perf_counter(), time.process_time()
    for digest in sample:
        rendered = naive.render_naive(
            digest, base_url=base, manage_url=f"{base}/m/{digest.subscriber.name}"
        )
        assert rendered is not None
        reference.append(rendered)
    naive_wall, naive_cpu = time.perf_counter() - wall, time.process_time() - cpu
    same = sum(a.html == b.html and a.text == b.text for a, b in zip(ours, reference, strict=False))

    ours_rate, naive_rate = len(digests) / ours_wall, len(sample) / naive_wall
    speedup = ours_rate / naive_rate
    cpu_speedup = (len(digests) / ours_cpu) / (len(sample) / naive_cpu)
    sizes.sort()
    print()
    print(f"{'':30}{'emails/s':>10}{'ms/email':>10}{'CPU ms':>8}{'10,000 emails':>15}")
    print(
        f"{'cached rows (this renderer)':30}{ours_rate:>10.0f}{1000 / ours_rate:>10.2f}"
        f"{1000 * ours_cpu / len(digests):>8.2f}{10_000 / ours_rate:>14.1f}s"
    )
    print(
        f"{'premailer per email (naive)':30}{naive_rate:>10.1f}{1000 / naive_rate:>10.2f}"
        f"{1000 * naive_cpu / len(sample):>8.2f}{10_000 / naive_rate:>14.1f}s"
        f"  (timed on {len(sample)} emails, extrapolated)"
    )
    print()
    print(f"speed-up: {speedup:.1f}x wall clock, {cpu_speedup:.1f}x CPU time")
    print(
        f"premailer runs for the cached way: {renderer.premailer_runs} "
        f"({renderer.shapes} row shapes; included in its time)"
    )
    print(
        f"HTML size: median {sizes[len(sizes) // 2] / 1000:.1f} KB, max {sizes[-1] / 1000:.1f} KB"
    )
    print(f"same bytes as premailer per email: {same} of {len(reference)} sampled emails")
    met = ours_rate >= TARGET_RATE and speedup >= TARGET_SPEEDUP
    print(
        f"target (>= {TARGET_RATE:.0f} emails/s and >= {TARGET_SPEEDUP:.0f}x): "
        f"{'met' if met else 'NOT met'}"
    )
    return 0 if same == len(reference) else 1


if __name__ == "__main__":
    sys.exit(main())
