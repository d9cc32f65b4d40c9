"""How good is the digest itself, not just the ranking: the cut (`digest.rank.cut`) against a
fixed top 20 and the old `min_score: 0` (which filled every digest to max_papers = 20), beside
oracles that know the labels, and why the aim (precision >= 0.7 with recall >= 0.7 on thin
days) is out of reach on these days.

Days are made from the labelled arXiv papers as in `benchmarks/ranking.py` (a pool paper is
relevant when the profile's category is among its categories; categories are stripped before
ranking; profiles: (a) 5 liked papers of 2016-17, (b) keywords written from the category's
name, (c) both):

  thin day: 500, 1,000 or 2,000 papers of 2018 of which only 3 to 8 are relevant (one per
            category and seed, its own pool);
  rich day: 2,000 random papers of 2018 (a category has about 20 to 60 relevant ones).

Per day kind, profile form and ranking (lexical; `--semantic` adds the semantic extra's, on the
same days) it prints the digest's precision (relevant among included, over the digests that
hold anything), recall (relevant included / all relevant), F1 (0 for an empty digest), the mean
length, and the share of empty digests, for

  new cut          the digest's cut (`cut_digest`, max_papers 20)
  fixed top 20     the 20 best
  old min_score 0  every paper scoring above 0, at most 20
  oracle k <= 20   the k <= 20 of the ranking's order with the best precision at recall >= 0.7
                   (the best recall when none reaches it): the ceiling any 20-paper cut has
  oracle P@R>=.7   the k (any) with the best precision at recall >= 0.7
  oracle best F1   the k (any) with the best F1

Then why: per form, the share of relevant papers the profile cannot reach at all (score 0: a
keyword profile shares no word with them), their median rank, nDCG@10, and the share of the
papers ranked above the point where 70% of the relevant ones are in that are of the category's
own archive (cs, math, stat, ...: a neighbouring field's paper the label calls irrelevant).
Last, the labels' own ceiling (with scikit-learn, the `bench` extra): a TF-IDF + LinearSVC per
category trained on all 2016-17 papers of the labelled file (51 to 530 positives each, far
more than any profile), cut by the oracles: if a classifier trained on the labels themselves
cannot reach the aim, no profile of 5 papers or 4 keywords will.

nDCG@10 does not depend on the cut (it keeps the ranking's order): see `benchmarks/ranking.py`.
Last of all, the lengths of three profiles' digests on a recorded real day.
Run: `python benchmarks/digest_quality.py [--seeds N] [--seed S] [--semantic [--keep-vectors
FILE.npz]]` (`--seed`: another first seed draws held-out days).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from digest.models import Keyword, Paper, Topic
from digest.papers_file import read_papers
from digest.rank.cut import cut_digest
from digest.rank.index import build_index
from digest.rank.scoring import LikedVectors, combine, compile_topic, profile_phrases, topic_signals

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ranking import CATEGORIES, LABELLED, LIKED, MemoEmbedder, precision_ndcg

MAX_PAPERS = 20
SEED = 7
SEEDS = 3
THIN_POOLS = (500, 1000, 2000)
THIN_RELEVANT = (3, 8)
FORMS = ("a liked", "b keywords", "c both")
AIM = 0.7  # precision and recall on thin days (issue 17)

Case = tuple[list[Paper], list[str]]  # (liked papers, keywords)
Chooser = Callable[[np.ndarray, np.ndarray], list[int]]  # (scores, truth) -> rows, best first


def score_pool(
    pool: Sequence[Paper], cases: Sequence[Case], embedder: MemoEmbedder | None = None
) -> np.ndarray:
    """Papers x profiles, by the ranker's own formula (one single-topic profile per case;
    `embedder`: with the semantic extra)."""
    profiles = [
        compile_topic(Topic(name=str(i), keywords=tuple(Keyword(k) for k in kws)), likes)
        for i, (likes, kws) in enumerate(cases)
    ]
    index = build_index(pool, profile_phrases(profiles))
    signals = topic_signals(index, profiles, LikedVectors(index, profiles))
    if embedder is not None:
        from digest.rank.semantic import add_semantics

        signals = add_semantics(signals, index.papers, profiles, embedder)
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


def _cumulative(scores: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, ...]:
    """The ranking's order, and precision and recall of each of its prefixes."""
    order = np.argsort(-scores, kind="stable")
    hits = np.cumsum(truth[order])
    precision = hits / np.arange(1, len(order) + 1)
    return order, precision, hits / max(int(truth.sum()), 1)


def oracle_20(scores: np.ndarray, truth: np.ndarray) -> list[int]:
    """The k <= 20 of the ranking's order with the best precision at recall >= 0.7 (the k
    with the best recall when none reaches it)."""
    order, precision, recall = _cumulative(scores, truth)
    k_range = range(1, min(MAX_PAPERS, len(order)) + 1)
    reaching = [k for k in k_range if recall[k - 1] >= AIM - 1e-9]
    if reaching:
        k = max(reaching, key=lambda k: (precision[k - 1], -k))
    else:
        k = max(k_range, key=lambda k: (recall[k - 1], -k))
    return list(order[:k])


def oracle_at_recall(scores: np.ndarray, truth: np.ndarray) -> list[int]:
    """The k (any) with the best precision at recall >= 0.7: the best digest meeting the
    aim's recall that this ranking's order allows."""
    order, precision, recall = _cumulative(scores, truth)
    best = np.where(recall >= AIM - 1e-9, precision, -1.0)
    return list(order[: int(np.argmax(best)) + 1])


def oracle_f1(scores: np.ndarray, truth: np.ndarray) -> list[int]:
    """The k (any) with the best F1."""
    order, precision, recall = _cumulative(scores, truth)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    return list(order[: int(np.argmax(f1)) + 1])


METHODS: dict[str, Chooser] = {
    "new cut": new_cut,
    "fixed top 20": top_20,
    "old min_score 0": old_min_score_0,
    "oracle k <= 20": oracle_20,
    "oracle P@R>=.7": oracle_at_recall,
    "oracle best F1": oracle_f1,
}


@dataclass(frozen=True)
class Day:
    """One profile's day: its kind, form, category, the pool's categories (labels, for the
    diagnosis only), the truth, and the scores of each ranking ("lexical", "semantic")."""

    kind: str
    form: str
    category: str
    labels: list[tuple[str, ...]]
    truth: np.ndarray
    scores: dict[str, np.ndarray]
    texts: list[str]  # the pool's titles and abstracts, for the labels' ceiling


def days(everything: Sequence[Paper], seed: int, embedder: MemoEmbedder | None) -> list[Day]:
    """Every category's thin day and the seed's rich day, in every form, scored lexically and
    (with `embedder`) with the semantic extra."""
    rng = random.Random(seed)
    y2018 = [p for p in everything if p.published and p.published.year == 2018]
    earlier = [p for p in everything if p.published and p.published.year in (2016, 2017)]
    liked = {}
    for cat in CATEGORIES:
        mine = [
            replace(p, categories=()) for p in earlier if p.categories and p.categories[0] == cat
        ]
        liked[cat] = rng.sample(mine, LIKED)

    def rankings(pool: list[Paper], cases: list[Case]) -> dict[str, np.ndarray]:
        stripped = [replace(p, categories=()) for p in pool]
        found = {"lexical": score_pool(stripped, cases)}
        if embedder is not None:
            found["semantic"] = score_pool(stripped, cases, embedder)
        return found

    out = []
    for cat, keywords in CATEGORIES.items():
        size, relevant = rng.choice(THIN_POOLS), rng.randint(*THIN_RELEVANT)
        yes = [p for p in y2018 if cat in p.categories]
        no = [p for p in y2018 if cat not in p.categories]
        pool = rng.sample(no, size - relevant) + rng.sample(yes, relevant)
        rng.shuffle(pool)
        truth = np.asarray([cat in p.categories for p in pool])
        scored = rankings(pool, forms(liked[cat], keywords))
        labels, texts = [p.categories for p in pool], [f"{p.title} {p.abstract}" for p in pool]
        out += [
            Day("thin", form, cat, labels, truth, {r: s[:, f] for r, s in scored.items()}, texts)
            for f, form in enumerate(FORMS)
        ]
    pool = rng.sample(y2018, 2000)
    labels, texts = [p.categories for p in pool], [f"{p.title} {p.abstract}" for p in pool]
    cases = [c for cat, kws in CATEGORIES.items() for c in forms(liked[cat], kws)]
    scored = rankings(pool, cases)
    for c, cat in enumerate(CATEGORIES):
        truth = np.asarray([cat in p.categories for p in pool])
        for f, form in enumerate(FORMS):
            column = c * len(FORMS) + f
            by = {r: s[:, column] for r, s in scored.items()}
            out.append(Day("rich", form, cat, labels, truth, by, texts))
    return out


def measure(rows: list[int], truth: np.ndarray) -> tuple[float | None, float, float, int]:
    """(precision or None for an empty digest, recall, F1, length)."""
    hits = int(truth[rows].sum()) if rows else 0
    precision = hits / len(rows) if rows else None
    recall = hits / int(truth.sum())
    f1 = 2 * precision * recall / (precision + recall) if precision and recall else 0.0
    return precision, recall, f1, len(rows)


def diagnose(day: Day, scores: np.ndarray) -> tuple[float, float, float, float | None]:
    """(share of relevant papers scoring 0, their median rank, nDCG@10, share of the papers
    above the 70%-recall point that are of the category's own archive)."""
    order = np.argsort(-scores, kind="stable")
    rank = np.empty(len(scores), dtype=int)
    rank[order] = np.arange(1, len(scores) + 1)
    relevant = np.flatnonzero(day.truth)
    need = int(np.ceil(AIM * len(relevant) - 1e-9))
    above = [r for r in order[: int(np.sort(rank[relevant])[need - 1])] if not day.truth[r]]
    archive = day.category.split(".")[0]
    same = [any(c.split(".")[0] == archive for c in day.labels[r]) for r in above]
    return (
        float(np.mean(scores[relevant] <= 0)),
        float(np.median(rank[relevant])),
        precision_ndcg(scores, day.truth)[1],
        float(np.mean(same)) if same else None,
    )


def _mean(values: Sequence[float | None]) -> float:
    present = [v for v in values if v is not None]
    return statistics.mean(present) if present else 0.0


def _cells(values: list[tuple[float | None, float, float, int]]) -> str:
    """Precision, recall, F1, length and the share of empty digests, as one table cell."""
    precision, recall = _mean([v[0] for v in values]), _mean([v[1] for v in values])
    f1, length = _mean([v[2] for v in values]), _mean([v[3] for v in values])
    empty = sum(v[3] == 0 for v in values) / len(values)
    return f"{precision:5.2f} {recall:6.2f} {f1:5.2f} {length:6.1f} {empty:5.0%}"


def print_tables(found: list[Day], rankings: list[str]) -> None:
    """The per-form tables of each day kind, each ranking side by side."""
    for kind in ("thin", "rich"):
        mine = [d for d in found if d.kind == kind]
        counts = [int(d.truth.sum()) for d in mine if d.form == FORMS[0]]
        sizes = sorted({len(d.truth) for d in mine})
        print(
            f"\n{kind} days: {len(counts)} profiles x {len(FORMS)} forms, "
            f"{'/'.join(f'{s:,}' for s in sizes)} papers a day, relevant papers per day: "
            f"median {statistics.median(counts):.0f} (min {min(counts)}, max {max(counts)})"
        )
        head = f"{'prec':>5} {'recall':>6} {'F1':>5} {'length':>6} {'empty':>5}"
        print(f"  {'':11} {'':16} " + " | ".join(f"{r:^31}" for r in rankings))
        print(f"  {'form':11} {'method':16} " + " | ".join(head for _ in rankings))
        for form in FORMS:
            days_of_form = [d for d in mine if d.form == form]
            for m, (method, choose) in enumerate(METHODS.items()):
                cells = []
                for ranking in rankings:
                    values = [
                        measure(choose(d.scores[ranking], d.truth), d.truth) for d in days_of_form
                    ]
                    cells.append(_cells(values))
                print(f"  {form if m == 0 else '':11} {method:16} " + " | ".join(cells))
        print(
            "\n  why: relevant papers the profile cannot reach (score 0), their median rank, "
            "nDCG@10, and the share of the papers\n  ranked above the 70%-recall point that "
            "are of the category's own archive (a neighbouring field the label calls irrelevant)"
        )
        head = f"{'unreach':>7} {'med rank':>8} {'nDCG@10':>7} {'archive':>7}"
        print(f"  {'form':11} " + " | ".join(f"{r:^34}" for r in rankings))
        print(f"  {'':11} " + " | ".join(head for _ in rankings))
        for form in FORMS:
            days_of_form = [d for d in mine if d.form == form]
            cells = []
            for ranking in rankings:
                values = [diagnose(d, d.scores[ranking]) for d in days_of_form]
                cells.append(
                    f"{_mean([v[0] for v in values]):7.0%} {_mean([v[1] for v in values]):8.0f} "
                    f"{_mean([v[2] for v in values]):7.3f} {_mean([v[3] for v in values]):7.0%}"
                )
            print(f"  {form:11} " + " | ".join(cells))


def labels_ceiling(everything: Sequence[Paper], found: list[Day]) -> None:
    """The oracles over a classifier trained on the labels themselves (see the docstring)."""
    try:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.svm import LinearSVC
    except ImportError:
        print("\nlabels' ceiling: needs scikit-learn (pip install '.[bench]')")
        return
    started = time.perf_counter()
    train = [p for p in everything if p.published and p.published.year in (2016, 2017)]
    vectorizer = TfidfVectorizer(
        sublinear_tf=True, ngram_range=(1, 2), min_df=3, max_features=200_000, stop_words="english"
    )
    features = vectorizer.fit_transform([f"{p.title} {p.abstract}" for p in train])
    models: dict[str, Any] = {}
    for cat in CATEGORIES:
        labels = np.asarray([cat in p.categories for p in train])
        models[cat] = LinearSVC(C=0.5, class_weight="balanced").fit(features, labels)
    positives = [sum(cat in p.categories for p in train) for cat in CATEGORIES]
    print(
        f"\nlabels' ceiling: a TF-IDF + LinearSVC per category trained on the {len(train):,} "
        f"papers of 2016-17 (each category's own labels, {min(positives)} to {max(positives)} "
        f"positives), cut by the oracles ({time.perf_counter() - started:.0f} s)"
    )
    vectors: dict[int, Any] = {}
    for kind in ("thin", "rich"):
        at, f1 = [], []
        for day in (d for d in found if d.kind == kind and d.form == FORMS[0]):
            key = id(day.texts)
            if key not in vectors:
                vectors[key] = vectorizer.transform(day.texts)
            scores = models[day.category].decision_function(vectors[key])
            at.append(measure(oracle_at_recall(scores, day.truth), day.truth))
            f1.append(measure(oracle_f1(scores, day.truth), day.truth)[2])
        print(
            f"  {kind} days: oracle P@R>=.7 precision {_mean([v[0] for v in at]):.2f} "
            f"(length {_mean([v[3] for v in at]):.1f}); oracle best F1 {_mean(f1):.2f}"
        )


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
    parser.add_argument(
        "--seed",
        type=int,
        default=SEED,
        help=f"the first seed (default {SEED}; another one draws held-out days)",
    )
    parser.add_argument(
        "--semantic", action="store_true", help="also rank with the semantic extra (same days)"
    )
    parser.add_argument(
        "--keep-vectors",
        type=Path,
        metavar="FILE.npz",
        help="with --semantic: read the papers' vectors from this file and write them back "
        "(embedding the days' papers takes most of an hour on 2 busy cores)",
    )
    args = parser.parse_args()
    started = time.perf_counter()
    everything = read_papers(LABELLED)
    embedder = MemoEmbedder(args.keep_vectors) if args.semantic else None
    found: list[Day] = []
    for seed in range(args.seed, args.seed + args.seeds):
        found += days(everything, seed, embedder)
        if embedder is not None:
            embedder.save()
    rankings = ["lexical", "semantic"] if embedder is not None else ["lexical"]
    print(
        f"seeds {args.seed}..{args.seed + args.seeds - 1}; aim on thin days: precision >= "
        f"{AIM} with recall >= {AIM}"
    )
    print_tables(found, rankings)
    labels_ceiling(everything, found)
    recorded_day()
    print(f"\ntotal {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
