"""Ranking speed: 10,000 subscribers x 2,000 new papers, the full score matrix and the top 20 of
each, on the lexical ranker's batch path, against a naive loop over the profiles one at a time.

Subscribers are made from the labelled papers (seeded): one to three topics each, with 2 to 5
keywords taken from real titles (some as phrases, some weighted), an exclude word for some, and
for half of the topics 5 liked papers from 2016-17; some follow authors or categories, and the
trending weight varies. The naive loop scores the same profiles one subscriber at a time on the
same index (the same formula), for a sample of subscribers, and its time is scaled up to all;
the run checks that both agree on that sample's top 20.
Run: `python benchmarks/rank_speed.py [--subscribers N] [--naive-sample N]`.
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import time
from pathlib import Path

import numpy as np

from digest.models import Keyword, Paper, Topic
from digest.papers_file import read_papers
from digest.rank.batch import rank_many
from digest.rank.index import build_index
from digest.rank.scoring import (
    LikedVectors,
    TopicProfile,
    combine,
    compile_topic,
    profile_phrases,
    topic_signals,
)
from digest.rank.text import terms

REAL = Path(__file__).resolve().parents[2] / "shared/data/real"
LABELLED = REAL / "labelled/arxiv_staeiou_2016-2018_stratified_250_per_primary.jsonl.gz"
PAPERS = 2000
TOP = 20
SEED = 11


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_subscribers(
    rng: random.Random, earlier: list[Paper], count: int
) -> list[list[tuple[Topic, list[Paper]]]]:
    titles = [terms(p.title) for p in earlier]
    authors = [a for p in earlier[:3000] for a in p.authors[:1]]
    categories = sorted({c for p in earlier for c in p.categories})
    subscribers = []
    for s in range(count):
        topics = []
        for t in range(rng.choice((1, 1, 2, 2, 3))):
            words = rng.choice(titles) or ["model"]
            keywords = []
            for _ in range(rng.randint(2, 5)):
                if len(words) > 1 and rng.random() < 0.3:
                    i = rng.randrange(len(words) - 1)
                    keywords.append(Keyword(f"{words[i]} {words[i + 1]}"))
                else:
                    keywords.append(Keyword(rng.choice(words), rng.choice((1.0, 1.0, 2.0, 0.5))))
                words = rng.choice(titles) or words if rng.random() < 0.3 else words
            liked = rng.sample(earlier, 5) if rng.random() < 0.5 else []
            topic = Topic(
                name=f"s{s}t{t}",
                keywords=tuple(keywords),
                exclude=(rng.choice(rng.choice(titles) or ["x"]),) if rng.random() < 0.2 else (),
                categories=(rng.choice(categories),) if rng.random() < 0.3 else (),
                authors=(rng.choice(authors),) if rng.random() < 0.2 else (),
            )
            topics.append((topic, liked))
        subscribers.append(topics)
    return subscribers


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--naive-sample", type=int, default=500)
    args = parser.parse_args()
    rng = random.Random(SEED)
    everything = read_papers(LABELLED)
    pool = rng.sample([p for p in everything if p.published and p.published.year == 2018], PAPERS)
    earlier = [p for p in everything if p.published and p.published.year in (2016, 2017)]
    specs = make_subscribers(rng, earlier, args.subscribers)
    trending = [rng.choice((0.0, 1.0, 2.0)) for _ in specs]
    topics = sum(len(s) for s in specs)
    liked_count = sum(len(liked) for s in specs for _, liked in s)
    print(
        f"{len(specs):,} subscribers, {topics:,} topics, {liked_count:,} liked papers; "
        f"{len(pool):,} papers; top {TOP} each"
    )
    before = peak_mb()

    t0 = time.perf_counter()
    subscribers = [[compile_topic(t, liked) for t, liked in s] for s in specs]
    t1 = time.perf_counter()
    index = build_index(pool, profile_phrases([p for s in subscribers for p in s]))
    t2 = time.perf_counter()
    liked = LikedVectors(index, [p for s in subscribers for p in s])
    t3 = time.perf_counter()
    top = rank_many(index, subscribers, trending, top=TOP, liked=liked)
    t4 = time.perf_counter()
    after = peak_mb()

    sample = min(args.naive_sample, len(subscribers))
    n0 = time.perf_counter()
    agree = 0
    for s in range(sample):
        scores = naive_one(index, subscribers[s], trending[s], liked)
        order = np.argsort(-scores, kind="stable")[:TOP]
        order = order[scores[order] > 0]
        agree += np.allclose(
            np.sort(scores[order]), np.sort(top.scores[s][: len(order)]), atol=1e-5
        )
    naive_each = (time.perf_counter() - n0) / sample

    print(f"\n{'step':44} {'seconds':>8}")
    print(f"{'compile profiles (keywords to index keys)':44} {t1 - t0:8.2f}")
    print(f"{'index the papers (once, shared)':44} {t2 - t1:8.2f}")
    print(f"{'vectorise the liked papers':44} {t3 - t2:8.2f}")
    print(f"{'score matrix + best topic + top 20 each':44} {t4 - t3:8.2f}")
    print(f"{'total, batch path':44} {t4 - t0:8.2f}")
    print(
        f"{'naive loop, one subscriber at a time':44} {naive_each * len(subscribers):8.2f}"
        f"   (measured on {sample}, x{len(subscribers) / sample:g})"
    )
    print(
        f"\npeak memory (max RSS): {after:,.0f} MB; before ranking {before:,.0f} MB "
        f"(the papers file read whole), so ranking added {after - before:,.0f} MB"
    )
    print(
        f"batch and naive agree on the top {TOP} scores of {agree} of {sample} sampled subscribers"
    )
    return 0 if agree == sample else 1


def naive_one(index, profiles: list[TopicProfile], trending_weight: float, liked: LikedVectors):  # type: ignore[no-untyped-def]
    signals = topic_signals(index, profiles, liked)
    return combine(signals, profiles, trending_weight).max(axis=1)


if __name__ == "__main__":
    sys.exit(main())
