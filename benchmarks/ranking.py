"""Ranking quality on the labelled arXiv papers: this ranker against arxiv-sanity-lite's
TF-IDF + LinearSVC, a zotero-arxiv-daily-style recency-weighted cosine, and plain BM25.

Setup (issue 4): 17 categories across archives; the pool is 2,000 papers from 2018 with their
categories stripped; a pool paper is relevant when the profile's category is among its
categories. `--cs` draws computer-science-only pools (papers of 2018 with a cs.* category, the
profiles of the five cs.* categories), closer to a real day's listing; `--pool-size` sets the
pool's size (several sizes: a table of them side by side at the end, issue 21).
Each figure is the mean over POOLS independent pools (one pool's mean moves by about +-0.04
nDCG@10 with the draw, so one pool cannot tell two close methods apart).
Profiles never name a category:
  (a) 5 liked papers from 2016-17 whose primary is the category, DRAWS random draws;
  (b) a short keyword list written from the category's name;
  (c) both.
Prints P@10 and nDCG@10 per method and form, the scoring time per profile, and the
per-category wins and losses. Run: `python benchmarks/ranking.py` (needs the `bench` extra,
scikit-learn, for the baselines; `--semantic` adds the optional embedding ranker), e.g.
`python benchmarks/ranking.py --semantic --cs --pool-size 150 500 2000 --keep-vectors v.npz`.

`--feedback DAYS` instead simulates a reader who uses the email's links (issue 19): each day is a
new pool of 2,000 papers from 2018 (disjoint days), the reader marks the relevant papers of the
day's top 20 "more like this" and the others "not for me", and the marks carry over to the next
days (each dated its day; a mark's weight fades with its age, `ranking.feedback_half_life_days`).
It prints nDCG@10 per day per profile form, lexical (and with `--semantic` the semantic ranker;
in both, a topic gets its own classifier once it has enough marks), for this ranker without
feedback, with it, arxiv-sanity's SVM retrained on the very marks this ranker's reader made
(liked and "more" papers against all the day's others and the "not for me" ones; every form,
from the first day with a "more" mark in the keyword form), and arxiv-sanity's SVM on the marks
of its own digests (forms with liked papers to start from), averaged over `--pools` sequences of
days (sequence s drawn with seed `--seed` + 100 + s: `--seed 8 --pools 1` is the second of
`--pools 2`), then day DAYS side by side. With `--semantic` also the issue's plain logistic
regression on sentence vectors (scikit-learn, its own reader's likes against dislikes; this
ranker's order until it has both) and a ceiling: per category, a logistic regression on every
label of every day before (2,000 labelled papers a day, far more than any reader marks). E.g.
`python benchmarks/ranking.py --feedback 5 --semantic --keep-vectors v.npz` (embedding the 2018
papers takes long on 2 shared cores: keep them).
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from digest.models import Keyword, Mark, Paper, Topic
from digest.papers_file import read_papers
from digest.rank.batch import rank_many
from digest.rank.feedback import with_feedback
from digest.rank.index import build_index
from digest.rank.scoring import LikedVectors, compile_topic, profile_phrases

REAL = Path(__file__).resolve().parents[2] / "shared/data/real"
LABELLED = REAL / "labelled/arxiv_staeiou_2016-2018_stratified_250_per_primary.jsonl.gz"
POOL = 2000
LIKED = 5
DRAWS = 3
SEED = 7
POOLS = 3
K = 10

# Keywords written from each category's name (and nothing else): form (b).
CATEGORIES: dict[str, list[str]] = {
    "cs.CL": ["computational linguistics", "natural language", "language", "translation"],
    "cs.CR": ["cryptography", "security", "privacy", "attack"],
    "cs.RO": ["robotics", "robot", "manipulation", "navigation"],
    "cs.DB": ["databases", "database", "query", "SQL"],
    "cs.IR": ["information retrieval", "search", "ranking", "recommendation"],
    "math.PR": ["probability", "random", "stochastic process", "Brownian motion"],
    "math.NT": ["number theory", "prime", "modular forms", "arithmetic"],
    "stat.ME": ["statistical methodology", "estimation", "inference", "regression"],
    "q-bio.NC": ["neurons and cognition", "neuron", "brain", "cognition"],
    "q-fin.ST": ["statistical finance", "stock", "financial markets", "volatility"],
    "physics.optics": ["optics", "optical", "laser", "photonic"],
    "physics.flu-dyn": ["fluid dynamics", "flow", "turbulence", "fluid"],
    "cond-mat.soft": ["soft condensed matter", "polymer", "colloid", "liquid crystal"],
    "astro-ph.SR": ["solar and stellar astrophysics", "star", "stellar", "solar"],
    "hep-ex": ["high energy physics experiment", "collider", "LHC", "detector"],
    "econ.EM": ["econometrics", "econometric", "estimator", "panel data"],
    "quant-ph": ["quantum physics", "quantum", "qubit", "entanglement"],
}

# Seconds a method spent on work done once for the whole pool (an index, a vectorizer's fit),
# which every subscriber shares; the rest of its time is per profile.
SHARED: dict[str, float] = {}
Scorer = Callable[[Sequence[Paper], list[list[Paper]], list[list[str]]], np.ndarray]


def precision_ndcg(scores: np.ndarray, relevant: np.ndarray) -> tuple[float, float]:
    top = np.argsort(-scores, kind="stable")[:K]
    gains = relevant[top].astype(float)
    dcg = float(np.sum(gains / np.log2(np.arange(2, K + 2))))
    ideal_hits = min(K, int(relevant.sum()))
    ideal = float(np.sum(1.0 / np.log2(np.arange(2, ideal_hits + 2))))
    return float(gains.mean()), dcg / ideal if ideal else 0.0


# ---------------------------------------------------------------- the methods


class MemoEmbedder:
    """The semantic extra's embedder, each paper embedded once for the whole run. `backend`:
    torch (sentence-transformers) or onnx (onnxruntime, the int8 export; issue 21)."""

    def __init__(self, keep: Path | None = None, backend: str = "torch") -> None:
        from backends import OnnxEmbedder

        from digest.rank.semantic import Embedder, SentenceEmbedder

        self.inner: Embedder = SentenceEmbedder() if backend == "torch" else OnnxEmbedder()
        self.name = self.inner.name
        self.vectors: dict[str, np.ndarray] = {}
        if keep is not None and backend != "torch":  # one file per backend
            keep = keep.with_name(f"{keep.stem}-{backend}{keep.suffix}")
        self.keep = keep
        if keep is not None and keep.exists():
            with np.load(keep) as kept:
                if str(kept["model"]) == self.name:
                    self.vectors = dict(zip(kept["ids"].tolist(), kept["vectors"], strict=True))

    def save(self) -> None:
        """Write every vector to the `keep` file, for the next run."""
        if self.keep is not None and self.vectors:
            ids = list(self.vectors)
            vectors = np.vstack([self.vectors[i] for i in ids])
            np.savez(self.keep, model=self.name, ids=np.asarray(ids), vectors=vectors)

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.embed_texts(texts)

    def embed_papers(self, papers: Sequence[Paper]) -> np.ndarray:
        missing = list({p.id: p for p in papers if p.id not in self.vectors}.values())
        if missing:
            found = self.inner.embed_papers(missing)
            self.vectors.update(zip([p.id for p in missing], found, strict=True))
        return np.vstack([self.vectors[p.id] for p in papers])


def ours(
    pool: Sequence[Paper],
    liked: list[list[Paper]],
    keywords: list[list[str]],
    embedder: MemoEmbedder | None = None,
    marks: list[list[Mark]] | None = None,
    top: int = K,
    now: datetime | None = None,
) -> np.ndarray:
    """This ranker's batch path: one index, every profile scored at once (`marks`: each
    profile's feedback from the email; only the `top` papers get a score)."""
    profiles = [
        compile_topic(Topic(name=str(i), keywords=tuple(Keyword(k) for k in kws)), likes)
        for i, (likes, kws) in enumerate(zip(liked, keywords, strict=True))
    ]
    if marks is not None:
        profiles = [with_feedback([p], m, now=now)[0] for p, m in zip(profiles, marks, strict=True)]
    t0 = time.perf_counter()
    index = build_index(pool, profile_phrases(profiles))
    # Every liked paper projected on the day's vocabulary at once: the counterpart of the
    # baselines' TF-IDF fit, which also covers pool and liked papers together.
    vectors = LikedVectors(index, profiles)
    SHARED["seconds"] = time.perf_counter() - t0
    best = rank_many(index, [[p] for p in profiles], top=top, liked=vectors, embedder=embedder)
    scores = np.zeros((len(profiles), len(pool)), dtype=np.float32)
    for s in range(len(profiles)):
        valid = best.rows[s] >= 0
        scores[s, best.rows[s][valid]] = best.scores[s][valid]
    return scores


def plain_bm25(
    pool: Sequence[Paper], liked: list[list[Paper]], keywords: list[list[str]]
) -> np.ndarray:
    """BM25 on the keywords' words (no phrases, no weights, no squashing)."""
    t0 = time.perf_counter()
    index = build_index(pool)
    SHARED["seconds"] = time.perf_counter() - t0
    out = np.zeros((len(keywords), len(pool)), dtype=np.float32)
    for q, kws in enumerate(keywords):
        cols = sorted(
            {index.vocab[w] for k in kws for w in k.lower().split() if w in index.vocab}
            | {index.vocab[t] for k in kws for t in _terms(k) if t in index.vocab}
        )
        if cols:
            out[q] = np.asarray(index.bm25[:, cols].sum(axis=1)).ravel()
    return out


def _terms(text: str) -> list[str]:
    from digest.rank.text import terms

    return terms(text)


def _sanity_text(paper: Paper) -> str:
    return f"{paper.title} {paper.abstract} {' '.join(paper.authors)}"


def arxiv_sanity(
    pool: Sequence[Paper],
    liked: list[list[Paper]],
    keywords: list[list[str]],
    disliked: list[list[Paper]] | None = None,
) -> np.ndarray:
    """arxiv-sanity-lite: TF-IDF (1-2 grams) features, LinearSVC of liked vs all others (and
    the `disliked` papers, retrained on feedback)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.svm import LinearSVC

    disliked = disliked or [[] for _ in liked]
    every_liked = list({p.id: p for likes in (*liked, *disliked) for p in likes}.values())
    position = {p.id: i for i, p in enumerate(every_liked)}
    vectorizer = TfidfVectorizer(
        lowercase=True,
        strip_accents="unicode",
        encoding="utf-8",
        decode_error="replace",
        ngram_range=(1, 2),
        max_features=20000,
        norm="l2",
        use_idf=True,
        smooth_idf=True,
        sublinear_tf=True,
        max_df=0.1,
        min_df=5,
        stop_words="english",
    )
    t0 = time.perf_counter()
    features = vectorizer.fit_transform([_sanity_text(p) for p in (*pool, *every_liked)])
    SHARED["seconds"] = time.perf_counter() - t0
    pool_x, liked_x = features[: len(pool)], features[len(pool) :]
    out = np.zeros((len(liked), len(pool)), dtype=np.float32)
    import scipy.sparse as sp

    for q, likes in enumerate(liked):
        if not likes:  # nothing liked yet: no model, no order
            continue
        rows = [position[p.id] for p in likes]
        against = [position[p.id] for p in disliked[q]]
        x = sp.vstack([pool_x, liked_x[against], liked_x[rows]])
        y = np.zeros(x.shape[0])
        y[len(pool) + len(against) :] = 1
        svm = LinearSVC(class_weight="balanced", C=0.01, max_iter=10000, tol=1e-6)
        svm.fit(x, y)
        out[q] = svm.decision_function(pool_x)
    return out


def zotero_style(
    pool: Sequence[Paper],
    liked: list[list[Paper]],
    keywords: list[list[str]],
    embedder: MemoEmbedder | None = None,
) -> np.ndarray:
    """zotero-arxiv-daily: cosine to each liked paper, weighted 1/(1+log10(rank+1)) by recency
    (newest liked paper first), on MiniLM embeddings as it does (`embedder`), or on TF-IDF
    vectors standing in for them."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    every_liked = list({p.id: p for likes in liked for p in likes}.values())
    position = {p.id: i for i, p in enumerate(every_liked)}
    t0 = time.perf_counter()
    if embedder is not None:
        pool_x, liked_x = embedder.embed_papers(pool), embedder.embed_papers(every_liked)
    else:
        vectorizer = TfidfVectorizer(sublinear_tf=True, stop_words="english")
        texts = [f"{p.title} {p.abstract}" for p in (*pool, *every_liked)]
        features = vectorizer.fit_transform(texts)
        pool_x, liked_x = features[: len(pool)], features[len(pool) :]
    SHARED["seconds"] = time.perf_counter() - t0
    out = np.zeros((len(liked), len(pool)), dtype=np.float32)
    for q, likes in enumerate(liked):
        newest = sorted(likes, key=lambda p: p.published or 0, reverse=True)  # type: ignore[arg-type,return-value]
        weights = np.asarray([1 / (1 + math.log10(r + 1)) for r in range(len(newest))])
        weights /= weights.sum()
        sims = pool_x @ liked_x[[position[p.id] for p in newest]].T
        sims = sims.toarray() if hasattr(sims, "toarray") else np.asarray(sims)
        out[q] = sims @ weights
    return out


def minilm_query(
    pool: Sequence[Paper],
    liked: list[list[Paper]],
    keywords: list[list[str]],
    embedder: MemoEmbedder | None = None,
) -> np.ndarray:
    """The issue's 'MiniLM query': cosine of each paper to the keywords embedded as one text
    (joined as this ranker joins them, with spaces)."""
    assert embedder is not None
    t0 = time.perf_counter()
    papers = embedder.embed_papers(pool)
    SHARED["seconds"] = time.perf_counter() - t0
    queries = embedder.embed_texts([" ".join(kws) for kws in keywords])
    return np.asarray(queries @ papers.T)


# ---------------------------------------------------------------- the run

Case = tuple[str, list[Paper], list[str]]  # (category, liked papers, keywords)


def computer_science(paper: Paper) -> bool:
    return any(c.startswith("cs.") for c in paper.categories)


def draw_pool(
    everything: Sequence[Paper], seed: int, size: int = POOL, *, cs: bool = False
) -> tuple[list[Paper], dict[str, np.ndarray], list[Case]]:
    """One pool of `size` papers from 2018 (categories stripped; `cs`: only papers with a cs.*
    category, and only the cs.* profiles), its truth per category, and the cases."""
    rng = random.Random(seed)
    eligible = [
        p
        for p in everything
        if p.published and p.published.year == 2018 and (not cs or computer_science(p))
    ]
    pool = rng.sample(eligible, size)
    wanted = {c: k for c, k in CATEGORIES.items() if not cs or c.startswith("cs.")}
    truth = {cat: np.asarray([cat in p.categories for p in pool]) for cat in wanted}
    pool = [replace(p, categories=()) for p in pool]
    earlier = [p for p in everything if p.published and p.published.year in (2016, 2017)]
    cases: list[Case] = []
    for cat, kws in wanted.items():
        mine = [
            replace(p, categories=()) for p in earlier if p.categories and p.categories[0] == cat
        ]
        for _ in range(DRAWS):
            cases.append((cat, rng.sample(mine, LIKED), kws))
    return pool, truth, cases


# The side-by-side table's columns: (heading, method of each form liked / keywords / both).
COLUMNS = (
    ("lexical (this ranker)", ("this ranker",) * 3),
    ("semantic (+ extra)", ("this ranker + semantic",) * 3),
    ("semantic, onnx int8", ("this ranker + semantic [onnx]",) * 3),
    ("plain MiniLM cosine", ("zotero-style (MiniLM)", "MiniLM query", "MiniLM cosine")),
)


# ---------------------------------------------------------------- feedback over days (issue 19)

SHOWN = 20  # the simulated reader marks the papers of the day's top 20
FORMS: dict[str, tuple[bool, bool]] = {  # form: (liked papers, keywords)
    "a liked": (True, False),
    "b keywords": (False, True),
    "c both": (True, True),
}
FORM_NAMES = tuple(FORMS)


def feedback_days(
    everything: Sequence[Paper],
    days: int,
    sequences: int,
    memo: MemoEmbedder | None = None,
    seed: int = SEED,
) -> dict[str, list[float]]:
    """nDCG@10 per day, per (method, form), averaged over the profiles of `sequences` runs of
    `days` disjoint pools (run s drawn with seed + 100 + s: `--seed 8 --pools 1` is the second
    run of `--pools 2`); prints the table and returns it. `memo`: the semantic ranker too."""
    year = [p for p in everything if p.published and p.published.year == 2018]
    if days * POOL > len(year):
        raise SystemExit(f"--feedback: at most {len(year) // POOL} days of disjoint pools")
    start = datetime(2026, 12, 1, 7, tzinfo=UTC)
    results: dict[str, list[list[float]]] = {}  # "method [form]" -> per day, every profile
    modes: dict[str, MemoEmbedder | None] = {"lexical": None}
    if memo is not None:
        modes["semantic"] = memo

    def record(name: str, day: int, scores: np.ndarray, truth: list[np.ndarray]) -> None:
        table = results.setdefault(name, [[] for _ in range(days)])
        table[day] += [precision_ndcg(scores[i], truth[i])[1] for i in range(len(truth))]

    def read(
        scores: np.ndarray, pool: list[Paper], truth: list[np.ndarray]
    ) -> list[tuple[list[Paper], list[Paper]]]:
        """What the reader marks in each profile's top 20: (relevant, the others)."""
        out = []
        for i in range(len(truth)):
            top = [r for r in np.argsort(-scores[i], kind="stable")[:SHOWN] if scores[i][r] > 0]
            out.append(
                ([pool[r] for r in top if truth[i][r]], [pool[r] for r in top if not truth[i][r]])
            )
        return out

    for sequence in range(sequences):
        rng = random.Random(seed + 100 + sequence)
        shuffled = list(year)
        rng.shuffle(shuffled)
        earlier = [p for p in everything if p.published and p.published.year in (2016, 2017)]
        cases: list[Case] = []
        for cat, kws in CATEGORIES.items():
            mine = [replace(p, categories=()) for p in earlier if p.categories[:1] == (cat,)]
            cases += [(cat, rng.sample(mine, LIKED), kws) for _ in range(DRAWS)]
        # (mode, form) -> each profile's marks, made by the reader of this ranker's digests
        marks = {(m, f): [[] for _ in cases] for m in modes for f in FORMS}
        svm_more: dict[str, list[list[Paper]]] = {f: [[] for _ in cases] for f in FORMS}
        svm_less: dict[str, list[list[Paper]]] = {f: [[] for _ in cases] for f in FORMS}
        lr_marks: dict[str, list[tuple[list[Paper], list[Paper]]]] = {
            f: [([], []) for _ in cases] for f in FORMS
        }
        for day in range(days):
            now = start + timedelta(days=day)
            chosen = shuffled[day * POOL : (day + 1) * POOL]
            truth = [np.asarray([c[0] in p.categories for p in chosen]) for c in cases]
            pool = [replace(p, categories=()) for p in chosen]
            print(f"sequence {sequence + 1}, day {day + 1}: {len(pool)} new papers", flush=True)
            for form, (has_liked, has_words) in FORMS.items():
                likes = [list(c[1]) if has_liked else [] for c in cases]
                kws = [list(c[2]) if has_words else [] for c in cases]
                for mode, embedder in modes.items():
                    mine: list[list[Mark]] = marks[(mode, form)]
                    plain = ours(pool, likes, kws, embedder)
                    record(f"{mode}, no feedback [{form}]", day, plain, truth)
                    scored = ours(pool, likes, kws, embedder, marks=mine, top=SHOWN, now=now)
                    record(f"{mode} + feedback [{form}]", day, scored, truth)
                    # arxiv-sanity's SVM retrained on the very marks this ranker's reader made:
                    # liked and "more" papers against the day's others and the "not for me" ones
                    positives = [
                        likes[i] + [m.paper for m in ms if m.vote == "more"]
                        for i, ms in enumerate(mine)
                    ]
                    negatives = [[m.paper for m in ms if m.vote == "less"] for ms in mine]
                    svm = arxiv_sanity(pool, positives, kws, negatives)
                    record(f"SVM on the {mode} marks [{form}]", day, svm, truth)
                    for i, (more, less) in enumerate(read(scored, pool, truth)):
                        mine[i] += [Mark("", p, "more", str(i), now) for p in more]
                        mine[i] += [Mark("", p, "less", str(i), now) for p in less]
                if memo is not None:  # the plain logistic regression, its own marks
                    plain_lr = logistic_on_marks(pool, likes, lr_marks[form], memo, fallback=plain)
                    record(f"plain LR on its own marks [{form}]", day, plain_lr, truth)
                    for i, (more, less) in enumerate(read(plain_lr, pool, truth)):
                        lr_marks[form][i][0].extend(more)
                        lr_marks[form][i][1].extend(less)
                if not has_liked:
                    continue  # arxiv-sanity's own digest needs liked papers to start from
                positives = [likes[i] + svm_more[form][i] for i in range(len(cases))]
                svm = arxiv_sanity(pool, positives, kws, svm_less[form])
                record(f"SVM on its own marks [{form}]", day, svm, truth)
                for i, (more, less) in enumerate(read(svm, pool, truth)):
                    svm_more[form][i] += more
                    svm_less[form][i] += less
            if memo is not None and day > 0:
                ceiling = labelled_ceiling(shuffled[: day * POOL], pool, cases, memo)
                for form in FORMS:
                    record(f"ceiling: LR on all labels before [{form}]", day, ceiling, truth)
    means = {  # nan: no figure that day (the ceiling has no labels before day 2)
        name: [statistics.mean(v) if v else math.nan for v in per_day]
        for name, per_day in results.items()
    }
    profiles = len(results[next(iter(results))][0])
    print(
        f"\nnDCG@10 per day, {profiles} profiles ({sequences} sequences of {days} days, "
        f"seeds {', '.join(str(seed + s) for s in range(sequences))})"
    )
    print(f"{'method [form]':40}" + "".join(f"{'day ' + str(d + 1):>8}" for d in range(days)))
    for form in FORMS:
        for name, values in means.items():
            if name.endswith(f"[{form}]"):
                print(f"{name:40}" + "".join(f"{v:8.3f}" for v in values))
    print(f"\nnDCG@10 on day {days}, side by side")
    heads = [h for h in dict.fromkeys(n.rsplit(" [", 1)[0] for n in means)]
    print(f"{'method':28}" + "".join(f"{f:>12}" for f in FORMS))
    for head in heads:
        cells = [means.get(f"{head} [{f}]") for f in FORMS]
        print(f"{head:28}" + "".join(f"{c[-1]:12.3f}" if c else f"{'-':>12}" for c in cells))
    return means


def logistic_on_marks(
    pool: Sequence[Paper],
    liked: list[list[Paper]],
    marks: list[tuple[list[Paper], list[Paper]]],
    memo: MemoEmbedder,
    fallback: np.ndarray,
) -> np.ndarray:
    """The issue's comparison: a plain logistic regression (scikit-learn, C=1, balanced
    classes) on sentence vectors, liked and "more" papers against "not for me" ones, of its own
    reader's marks; a profile without both kinds of paper yet keeps `fallback` (this ranker's
    order without feedback)."""
    from sklearn.linear_model import LogisticRegression

    vectors = memo.embed_papers(pool)
    out = np.array(fallback, dtype=np.float64)
    for i, (more, less) in enumerate(marks):
        positives = liked[i] + more
        if positives and less:
            x = memo.embed_papers([*positives, *less])
            y = np.r_[np.ones(len(positives)), np.zeros(len(less))]
            model = LogisticRegression(class_weight="balanced", max_iter=1000).fit(x, y)
            margin = model.decision_function(vectors)
            out[i] = margin - margin.min() + 1.0  # every paper above 0: all can be shown
    return out


def labelled_ceiling(
    before: Sequence[Paper],
    pool: Sequence[Paper],
    cases: list[Case],
    memo: MemoEmbedder,
) -> np.ndarray:
    """What a linear model over the sentence vectors reaches with far more than any reader
    gives: per category, a logistic regression (C=10) on every label of every day before
    (`before`, all 2,000 papers of each), applied to today's pool."""
    from sklearn.linear_model import LogisticRegression

    train = memo.embed_papers(before)
    vectors = memo.embed_papers(pool)
    by_category: dict[str, np.ndarray] = {}
    for cat in dict.fromkeys(c[0] for c in cases):
        y = np.asarray([cat in p.categories for p in before])
        model = LogisticRegression(C=10.0, max_iter=2000).fit(train, y)
        by_category[cat] = model.decision_function(vectors)
    return np.vstack([by_category[c[0]] for c in cases])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--semantic", action="store_true", help="add the embedding ranker")
    parser.add_argument(
        "--pools",
        type=int,
        default=POOLS,
        help=f"independent pools (seeds --seed, --seed + 1, ...) to average over "
        f"(default {POOLS}: one pool's mean moves by +-0.04 with the draw)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=SEED,
        help=f"the first pool's seed (default {SEED}; another one draws held-out pools; with "
        "--feedback, the first sequence of days')",
    )
    parser.add_argument(
        "--pool-size",
        type=int,
        nargs="+",
        default=[POOL],
        metavar="N",
        help=f"papers per pool (default {POOL}); several sizes are run in turn and compared "
        "side by side at the end",
    )
    parser.add_argument(
        "--cs",
        action="store_true",
        help="computer-science-only pools: papers with a cs.* category, the cs.* profiles",
    )
    parser.add_argument(
        "--backends",
        nargs="+",
        choices=("torch", "onnx"),
        default=["torch"],
        help="with --semantic: the ways to run MiniLM, side by side (torch: sentence-transformers;"
        " onnx: onnxruntime with the int8 export), with each one's speed, memory and install size",
    )
    parser.add_argument(
        "--keep-vectors",
        type=Path,
        metavar="FILE.npz",
        help="with --semantic: read the papers' vectors from this file and write them back "
        "(embedding three pools takes minutes)",
    )
    parser.add_argument(
        "--feedback",
        type=int,
        metavar="DAYS",
        help="simulate a reader marking each day's top 20 over DAYS new pools (see above)",
    )
    args = parser.parse_args()
    try:
        import sklearn  # noqa: F401  (the baselines need it)
    except ImportError:
        print("benchmarks/ranking.py needs the bench extra: pip install '.[bench]'")
        return 2
    started = time.perf_counter()
    everything = read_papers(LABELLED)
    if args.feedback:
        memo = MemoEmbedder(args.keep_vectors) if args.semantic else None
        feedback_days(everything, args.feedback, args.pools, memo, args.seed)
        if memo is not None:
            memo.save()
        print(f"\ntotal {time.perf_counter() - started:.1f} s")
        return 0
    # Each paper is embedded once, for every form, pool and size.
    memos = {b: MemoEmbedder(args.keep_vectors, b) for b in args.backends} if args.semantic else {}
    # (size, method, form) -> per case (P@10, nDCG@10), over every pool; the timings per pool.
    metrics: dict[tuple[int, str, str], list[tuple[float, float]]] = {}
    per_pool: dict[tuple[int, str, str], list[float]] = {}
    timings: dict[tuple[int, str, str], list[tuple[float, float]]] = {}
    categories: dict[int, list[str]] = {}  # each case's category, in the order of metrics' lists
    seeds = range(args.seed, args.seed + args.pools)
    kind = "computer-science papers" if args.cs else "papers"
    for size in args.pool_size:
        for seed in seeds:
            pool, truth, cases = draw_pool(everything, seed, size, cs=args.cs)
            categories.setdefault(size, []).extend(c[0] for c in cases)
            print(
                f"pool {seed}: {len(pool)} {kind} from 2018, {len(truth)} categories x "
                f"{DRAWS} draws of {LIKED} liked papers; relevant per category: median "
                f"{statistics.median(int(t.sum()) for t in truth.values()):.0f}"
            )
            run_pool(size, pool, truth, cases, memos, metrics, per_pool, timings)

    pools = ", ".join(str(s) for s in seeds)
    for size in args.pool_size:
        print(
            f"\n{size} {kind} per pool: means over {len(categories[size])} profiles from "
            f"{args.pools} pools ({pools})"
        )
        print(
            f"{'method':32} {'form':12} {'P@10':>6} {'nDCG@10':>8} {'per pool':>20} "
            f"{'ms once':>8} {'ms/profile':>11}"
        )
        for (at, method, form), values in metrics.items():
            if at != size:
                continue
            p = statistics.mean(v[0] for v in values)
            n = statistics.mean(v[1] for v in values)
            each_pool = " ".join(f"{v:.3f}" for v in per_pool[(size, method, form)])
            shared = statistics.mean(t[0] for t in timings[(size, method, form)])
            each = statistics.mean(t[1] for t in timings[(size, method, form)])
            print(
                f"{method:32} {form:12} {p:6.3f} {n:8.3f} {each_pool:>20} "
                f"{shared * 1000:8.0f} {each * 1000:11.2f}"
            )
    print(
        "ms once: work done once for the pool and all the liked papers, shared by every "
        "subscriber (this ranker's index and liked-paper term vectors; the baselines' TF-IDF "
        "fit);\nms/profile: the rest, per profile (this ranker: scoring and its top 10; "
        "arxiv-sanity: training and applying its SVM)"
    )
    if memos:
        print("(+ semantic: the pool's embedding is computed once beforehand, not in these times)")
    memo = memos.get("torch")

    def per_category(size: int, a: tuple[str, str], b: tuple[str, str]) -> None:
        print(f"\nper category, nDCG@10: {a[0]} [{a[1]}] vs {b[0]} [{b[1]}]")
        wins = losses = 0
        for cat in dict.fromkeys(categories[size]):
            rows = [i for i, c in enumerate(categories[size]) if c == cat]
            mine = statistics.mean(metrics[(size, *a)][i][1] for i in rows)
            theirs = statistics.mean(metrics[(size, *b)][i][1] for i in rows)
            mark = "win " if mine > theirs + 1e-9 else "loss" if mine < theirs - 1e-9 else "tie "
            wins += mark == "win "
            losses += mark == "loss"
            print(f"  {cat:16} {mine:6.3f} {theirs:6.3f}  {mark}")
        print(f"  {wins} wins, {losses} losses")

    if len(args.pool_size) == 1:
        size = args.pool_size[0]
        per_category(size, ("this ranker", "a liked"), ("arxiv-sanity (tfidf+svm)", "a liked"))
        per_category(size, ("this ranker", "b keywords"), ("plain BM25", "b keywords"))
        per_category(size, ("this ranker", "c both"), ("this ranker", "a liked"))
        if memo is not None:
            per_category(
                size, ("this ranker + semantic", "a liked"), ("zotero-style (MiniLM)", "a liked")
            )
            per_category(
                size, ("this ranker + semantic", "b keywords"), ("MiniLM query", "b keywords")
            )
    else:
        print(f"\nnDCG@10 liked / keywords / both by pool size ({kind}; pools {pools})")
        columns = [c for c in COLUMNS if (args.pool_size[0], c[1][0], FORM_NAMES[0]) in metrics]
        print(f"{'pool size':>9}  " + "  ".join(f"{c[0]:>22}" for c in columns))
        for size in args.pool_size:
            cells = []
            for _, methods in columns:
                means = [
                    statistics.mean(v[1] for v in metrics[(size, method, form)])
                    for method, form in zip(methods, FORM_NAMES, strict=True)
                ]
                cells.append("/".join(f"{m:.3f}" for m in means))
            print(f"{size:>9,}  " + "  ".join(f"{c:>22}" for c in cells))
    if len(memos) > 1:
        from backends import compare_backends

        compare_backends(everything, memos)
    print(f"\ntotal {time.perf_counter() - started:.1f} s")
    return 0


def run_pool(
    size: int,
    pool: list[Paper],
    truth: dict[str, np.ndarray],
    cases: list[Case],
    memos: dict[str, MemoEmbedder],
    metrics: dict[tuple[int, str, str], list[tuple[float, float]]],
    per_pool: dict[tuple[int, str, str], list[float]],
    timings: dict[tuple[int, str, str], list[tuple[float, float]]],
) -> None:
    """Every method and form on one pool, their figures added to `metrics`, `per_pool` and
    `timings`."""
    liked = [c[1] for c in cases]
    keywords = [c[2] for c in cases]
    nothing: list[list[Paper]] = [[] for _ in cases]
    no_words: list[list[str]] = [[] for _ in cases]

    def run(
        method: str, form: str, scorer: Scorer, likes: list[list[Paper]], kws: list[list[str]]
    ) -> None:
        SHARED["seconds"] = 0.0
        t0 = time.perf_counter()
        scores = scorer(pool, likes, kws)
        total = time.perf_counter() - t0
        shared = SHARED["seconds"]
        values = [precision_ndcg(scores[i], truth[c[0]]) for i, c in enumerate(cases)]
        key = (size, method, form)
        metrics.setdefault(key, []).extend(values)
        per_pool.setdefault(key, []).append(statistics.mean(v[1] for v in values))
        timings.setdefault(key, []).append((shared, (total - shared) / len(cases)))

    run("this ranker", "a liked", ours, liked, no_words)
    run("this ranker", "b keywords", ours, nothing, keywords)
    run("this ranker", "c both", ours, liked, keywords)
    run("arxiv-sanity (tfidf+svm)", "a liked", arxiv_sanity, liked, no_words)
    run("zotero-style (tfidf cosine)", "a liked", zotero_style, liked, no_words)
    run("plain BM25", "b keywords", plain_bm25, nothing, keywords)
    for backend, other in memos.items():
        t0 = time.perf_counter()
        before = len(other.vectors)
        other.embed_papers([*pool, *{p.id: p for likes in liked for p in likes}.values()])
        other.save()
        print(
            f"  semantic ({backend}): embedded {len(other.vectors) - before} new papers in "
            f"{time.perf_counter() - t0:.0f} s"
        )
    if "onnx" in memos:
        onnx = memos["onnx"]

        def semantic_onnx(
            pool: Sequence[Paper], likes: list[list[Paper]], kws: list[list[str]]
        ) -> np.ndarray:
            return ours(pool, likes, kws, embedder=onnx)

        run("this ranker + semantic [onnx]", "a liked", semantic_onnx, liked, no_words)
        run("this ranker + semantic [onnx]", "b keywords", semantic_onnx, nothing, keywords)
        run("this ranker + semantic [onnx]", "c both", semantic_onnx, liked, keywords)
    memo = memos.get("torch")
    if memo is None:
        return

    def semantic(
        pool: Sequence[Paper], likes: list[list[Paper]], kws: list[list[str]]
    ) -> np.ndarray:
        return ours(pool, likes, kws, embedder=memo)

    def zotero_minilm(
        pool: Sequence[Paper], likes: list[list[Paper]], kws: list[list[str]]
    ) -> np.ndarray:
        return zotero_style(pool, likes, kws, embedder=memo)

    def query_minilm(
        pool: Sequence[Paper], likes: list[list[Paper]], kws: list[list[str]]
    ) -> np.ndarray:
        return minilm_query(pool, likes, kws, embedder=memo)

    def cosine_both(
        pool: Sequence[Paper], likes: list[list[Paper]], kws: list[list[str]]
    ) -> np.ndarray:
        both = zotero_minilm(pool, likes, kws) + query_minilm(pool, likes, kws)
        return np.asarray(both / 2)

    run("this ranker + semantic", "a liked", semantic, liked, no_words)
    run("this ranker + semantic", "b keywords", semantic, nothing, keywords)
    run("this ranker + semantic", "c both", semantic, liked, keywords)
    run("zotero-style (MiniLM)", "a liked", zotero_minilm, liked, no_words)
    run("MiniLM query", "b keywords", query_minilm, nothing, keywords)
    run("MiniLM cosine", "c both", cosine_both, liked, keywords)


if __name__ == "__main__":
    sys.exit(main())
