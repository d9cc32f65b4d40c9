"""Rank many subscribers against one day's papers at once: the path for thousands of profiles.

The papers are indexed once; profiles are scored in chunks of topics (one sparse product per
signal per chunk), the best topic per subscriber is taken, and only each subscriber's `top`
papers are kept, so memory stays at a few papers x chunk matrices whatever the number of
subscribers. Same formula as `ranker`; no reasons (explain the few papers you keep with
`rank_detailed`). Pure: no I/O.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from digest.rank.index import PaperIndex

if TYPE_CHECKING:
    from digest.rank.semantic import Embedder

from digest.rank.scoring import Floats, LikedVectors, TopicProfile, combine, topic_signals

CHUNK_TOPICS = 1024
WORKERS = min(2, os.cpu_count() or 1)


@dataclass(frozen=True)
class TopPapers:
    """Each subscriber's best papers: rows into the index, scores, best first (-1 / 0 pads)."""

    rows: npt.NDArray[np.int32]  # subscribers x top
    scores: Floats  # subscribers x top


def rank_many(
    index: PaperIndex,
    subscribers: Sequence[Sequence[TopicProfile]],
    trending_weights: Sequence[float] | None = None,
    *,
    top: int = 20,
    chunk_topics: int = CHUNK_TOPICS,
    liked: LikedVectors | None = None,
    workers: int = WORKERS,
    embedder: Embedder | None = None,
) -> TopPapers:
    """The `top` papers of every subscriber (a subscriber is the list of its topic profiles).

    `liked`: the liked papers already vectorised (for all subscribers), else done here.
    `workers`: chunks scored in parallel threads (numpy and scipy release the GIL).
    `embedder`: add sentence-embedding similarity (the semantic extra).
    """
    if any(not s for s in subscribers):
        raise ValueError("every subscriber needs at least one topic")
    vectors = liked or LikedVectors(index, [p for s in subscribers for p in s])
    k = min(top, len(index))
    rows = np.full((len(subscribers), top), -1, dtype=np.int32)
    scores = np.zeros((len(subscribers), top), dtype=np.float32)
    weights = list(trending_weights or [1.0] * len(subscribers))

    def score_chunk(bounds: tuple[int, int]) -> None:
        start, stop = bounds
        mine = subscribers[start:stop]
        profiles = [p for s in mine for p in s]
        per_topic = np.repeat(
            np.asarray(weights[start:stop], dtype=np.float32), [len(s) for s in mine]
        )
        signals = topic_signals(index, profiles, vectors)
        if embedder is not None:
            from digest.rank.semantic import add_semantics

            signals = add_semantics(signals, index.papers, profiles, embedder)
        topic_scores = combine(signals, profiles, per_topic)
        firsts = np.cumsum([0] + [len(s) for s in mine[:-1]])
        best = np.maximum.reduceat(topic_scores, firsts, axis=1)  # papers x subscribers
        # Subscribers x papers, each row contiguous: partitioning along rows is about twice as
        # fast as down the columns.
        mine_best = np.ascontiguousarray(best.T)
        if k < len(index):
            part = np.argpartition(-mine_best, k - 1, axis=1)[:, :k]
        else:
            part = np.broadcast_to(np.arange(len(index))[None, :], mine_best.shape)
        picked = np.take_along_axis(mine_best, part, axis=1)
        order = np.argsort(-picked, axis=1, kind="stable")
        rows[start:stop, :k] = np.take_along_axis(part, order, axis=1)
        scores[start:stop, :k] = np.take_along_axis(picked, order, axis=1)

    chunks = list(_chunks(subscribers, chunk_topics))
    if workers > 1 and len(chunks) > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(score_chunk, chunks))
    else:
        for chunk in chunks:
            score_chunk(chunk)
    rows[scores <= 0] = -1
    return TopPapers(rows=rows, scores=scores)


def _chunks(
    subscribers: Sequence[Sequence[TopicProfile]], chunk_topics: int
) -> Iterator[tuple[int, int]]:
    """(start, stop) runs of whole subscribers holding about `chunk_topics` topics each."""
    start = 0
    while start < len(subscribers):
        stop, topics = start, 0
        while stop < len(subscribers) and (
            topics == 0 or topics + len(subscribers[stop]) <= chunk_topics
        ):
            topics += len(subscribers[stop])
            stop += 1
        yield start, stop
        start = stop
