"""How good is the digest itself, not just the ranking: the cut (`digest.rank.cut`) against a
fixed top 20 and the old `min_score: 0` (which filled every digest to max_papers = 20).

Days are made from the labelled arXiv papers as in `benchmarks/ranking.py` (a pool paper is
relevant when the profile's category is among its categories; categories are stripped before
ranking; profiles: (a) 5 liked papers of 2016-17, (b) keywords written from the category's
name, (c) both):

  thin day: 500, 1,000 or 2,000 papers of 2018 of which only 3 to 8 are relevant (one per
            category and seed, its own pool);
  rich day: 2,000 random papers of 2018 (a category has about 20 to 60 relevant ones).

Per day kind and profile form it prints the digest's precision (relevant among included, over
the digests that hold anything), recall (relevant included / all relevant), "of room" (relevant
included / min(relevant, 20): what a 20-paper digest could hold at best), the mean length, and
the share of empty digests. "best possible" is an oracle that knows the labels and picks, per
profile, the k <= 20 with the best precision at recall >= 0.7: the ceiling the ranking's order
leaves to any cut. nDCG@10 does not depend on the cut (it keeps the ranking's order): see
`benchmarks/ranking.py`. Last, the lengths of three profiles' digests on a recorded real day.
Run: `python benchmarks/digest_quality.py [--seeds N]`.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from digest.models import Keyword, Paper, Topic
from digest.papers_file import read_papers
from digest.rank.cut import cut_digest
from digest.rank.index import build_index
from digest.rank.scoring import LikedVectors, combine, compile_topic, profile_phrases, topic_signals

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ranking import CATEGORIES, LABELLED, LIKED

MAX_PAPERS = 20
SEED = 7
SEEDS = 3
THIN_POOLS = (500, 1000, 2000)
THIN_RELEVANT = (3, 8)
FORMS = ("a liked", "b keywords", "c both")

Case = tuple[list[Paper], list[str]]  # (liked papers, keywords)
Chooser = Callable[[np.ndarray, np.ndarray], list[int]]  # (scores, truth) -> rows, best first


def score_pool(pool: Sequence[Paper], cases: Sequence[Case]) -> np.ndarray:
    """Papers x profiles, by the ranker's own formula (one single-topic profile per case)."""
    profiles = [
        compile_topic(Topic(name=str(i), keywords=tuple(Keyword(k) for k in kws)), likes)
        for i, (likes, kws) in enumerate(cases)
    ]
    index = build_index(pool, profile_phrases(profiles))
    signals = topic_signals(index, profiles, LikedVectors(index, profiles))
    return np.asarray(combine(signals, profiles, 1.0))


def forms(liked: list[Paper], keywords: list[str]) -> list[Case]:
    return [(liked, []), ([], keywords), (liked, keywords)]


def new_cut(scores: np.ndarray, _: np.ndarray) -> list[int]:
    cut = cut_digest(scores, max_papers=MAX_PAPERS)
    return [int(r) for r in np.argsort(-scores, kind="stable") if cut.digest[r]]


def top_20(scores: np.ndarray, _: np.ndarray) -> list[int]:
    return list(np.argsort(-scores, kind="stable")[:MAX_PAPERS])


def old_min_score_0(scores: np.ndarray, _: np.ndarray) -> list[int]:
    """The old cut: every paper scoring above 0, at most max_papers."""
    return [int(r) for r in np.argsort(-scores, kind="stable")[:MAX_PAPERS] if scores[r] > 0]


def best_possible(scores: np.ndarray, truth: np.ndarray) -> list[int]:
    """The oracle: the k <= 20 of the ranking's order with the best precision at recall >= 0.7
    (the k with the best recall when none reaches it)."""
    order = np.argsort(-scores, kind="stable")[:MAX_PAPERS]
    hits = np.cumsum(truth[order])
    k_range = range(1, len(order) + 1)
    reaching = [k for k in k_range if hits[k - 1] >= 0.7 * truth.sum()]
    if reaching:
        k = max(reaching, key=lambda k: (hits[k - 1] / k, -k))
    else:
        k = max(k_range, key=lambda k: (hits[k - 1], -k))
    return list(order[:k])


METHODS: dict[str, Chooser] = {
    "new cut": new_cut,
    "fixed top 20": top_20,
    "old min_score 0": old_min_score_0,
    "best possible": best_possible,
}


def days(everything: Sequence[Paper], seed: int) -> list[tuple[str, str, np.ndarray, np.ndarray]]:
    """(day kind, form, scores over the day's papers, truth) for every category and form."""
    rng = random.Random(seed)
    y2018 = [p for p in everything if p.published and p.published.year == 2018]
    earlier = [p for p in everything if p.published and p.published.year in (2016, 2017)]
    out = []
    liked = {}
    for cat in CATEGORIES:
        mine = [
            replace(p, categories=()) for p in earlier if p.categories and p.categories[0] == cat
        ]
        liked[cat] = rng.sample(mine, LIKED)
    for cat, keywords in CATEGORIES.items():
        size, relevant = rng.choice(THIN_POOLS), rng.randint(*THIN_RELEVANT)
        yes = [p for p in y2018 if cat in p.categories]
        no = [p for p in y2018 if cat not in p.categories]
        pool = rng.sample(no, size - relevant) + rng.sample(yes, relevant)
        rng.shuffle(pool)
        truth = np.asarray([cat in p.categories for p in pool])
        scores = score_pool([replace(p, categories=()) for p in pool], forms(liked[cat], keywords))
        out += [("thin", form, scores[:, f], truth) for f, form in enumerate(FORMS)]
    pool = rng.sample(y2018, 2000)
    truths = {cat: np.asarray([cat in p.categories for p in pool]) for cat in CATEGORIES}
    cases = [c for cat, kws in CATEGORIES.items() for c in forms(liked[cat], kws)]
    scores = score_pool([replace(p, categories=()) for p in pool], cases)
    for c, cat in enumerate(CATEGORIES):
        out += [
            ("rich", form, scores[:, c * len(FORMS) + f], truths[cat])
            for f, form in enumerate(FORMS)
        ]
    return out


RECORDED_PROFILES = {  # name: (keywords, categories)
    "LLM agents": (("LLM agents", "tool use", "agentic", "multi-agent"), ("cs.AI", "cs.CL")),
    "Robotics": (("robot", "manipulation", "vision-language-action", "locomotion"), ("cs.RO",)),
    "Retrieval": (
        ("retrieval augmented generation", "RAG", "dense retrieval", "reranking"),
        ("cs.IR",),
    ),
}


def recorded_day() -> None:
    """The digests of three profiles on a real day (the recorded cs.AI feed of 2025-08-20 and
    the Hugging Face daily papers of 2026-08-18, categories kept): no labels, so only their
    lengths, to read beside the digests themselves."""
    from digest.models import Subscriber
    from digest.rank import rank_detailed
    from digest.sources.arxiv import parse_listing
    from digest.sources.hf import parse_daily

    real = LABELLED.parents[1]
    day = parse_listing(
        (real / "arxiv_rss/rss.arxiv.org_atom_cs.AI_2025-08-20_86entries.xml").read_bytes()
    ) + parse_daily((real / "hf_daily_papers/daily_papers_2026-08-18.json").read_bytes())
    print(f"\nrecorded day: {len(day)} papers (cs.AI 2025-08-20 + Hugging Face 2026-08-18)")
    print(f"  {'profile':11} {'digest':>6} {'also':>5} {'trending':>8} {'scoring > 0':>11}")
    for name, (keywords, categories) in RECORDED_PROFILES.items():
        topic = Topic(name, keywords=tuple(Keyword(k) for k in keywords), categories=categories)
        ranking = rank_detailed(day, Subscriber(name, "x@example.org", topics=(topic,)))
        print(
            f"  {name:11} {len(ranking.picked):6} {len(ranking.also):5} "
            f"{len(ranking.trending):8} {len(ranking.ranked):11}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=SEEDS, help=f"default {SEEDS}")
    args = parser.parse_args()
    started = time.perf_counter()
    everything = read_papers(LABELLED)
    # (day, form, method) -> per profile (precision or None, recall, of room, length)
    found: dict[tuple[str, str, str], list[tuple[float | None, float, float, int]]] = {}
    relevant: dict[str, list[int]] = {}
    for seed in range(SEED, SEED + args.seeds):
        for day, form, scores, truth in days(everything, seed):
            relevant.setdefault(day, []).append(int(truth.sum()))
            for method, choose in METHODS.items():
                rows = choose(scores, truth)
                hits = int(truth[rows].sum()) if rows else 0
                found.setdefault((day, form, method), []).append(
                    (
                        hits / len(rows) if rows else None,
                        hits / truth.sum(),
                        hits / min(int(truth.sum()), MAX_PAPERS),
                        len(rows),
                    )
                )
    for day in ("thin", "rich"):
        counts = relevant[day]
        print(
            f"\n{day} days: {len(counts) // len(FORMS)} profiles x {len(FORMS)} forms, relevant "
            f"papers per day: median {statistics.median(counts):.0f} "
            f"(min {min(counts)}, max {max(counts)})"
        )
        print(
            f"  {'form':11} {'method':16} {'precision':>9} {'recall':>7} {'of room':>8} "
            f"{'length':>7} {'empty':>6}"
        )
        for form in FORMS:
            for method in METHODS:
                values = found[(day, form, method)]
                precisions = [v[0] for v in values if v[0] is not None]
                print(
                    f"  {form:11} {method:16} "
                    f"{statistics.mean(precisions) if precisions else 0:9.2f} "
                    f"{statistics.mean(v[1] for v in values):7.2f} "
                    f"{statistics.mean(v[2] for v in values):8.2f} "
                    f"{statistics.mean(v[3] for v in values):7.1f} "
                    f"{sum(v[3] == 0 for v in values) / len(values):6.0%}"
                )
    recorded_day()
    print(f"\ntotal {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
