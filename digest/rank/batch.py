"""Rank many subscribers against one day's papers at once: the path for thousands of profiles.

`DayPlan` is how every digest is ranked (the send run, the daemon, preview, tune and `digest
rank` alike; one subscriber is a plan with one row): the day's papers are indexed once, with
their neighbour graph (and sentence vectors, with the semantic extra); subscribers are scored
in blocks of about CHUNK_TOPICS topics (one sparse product per signal per block), each
subscriber's window of candidates is a mask over the same scores, and only the papers that make
a digest (its cut, near misses and trending section) are explained, by `ranker.rank_row`.
Memory stays at papers x block matrices whatever the number of subscribers.

`rank_many` is the bare scoring (top papers, no reasons) that `benchmarks/rank_speed.py` times.
Pure: no I/O.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from digest.models import Paper, Subscriber
from digest.rank.index import PaperIndex, build_index
from digest.rank.scoring import (
    Floats,
    LikedVectors,
    Signals,
    TopicProfile,
    combine,
    profile_phrases,
    topic_signals,
)

if TYPE_CHECKING:
    from digest.rank.ranker import Ranking
    from digest.rank.semantic import Embedder

CHUNK_TOPICS = 512
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
        signals = topic_signals(index, profiles, vectors, learn=embedder is None)
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


@dataclass(frozen=True)
class Reader:
    """One row of a day plan: a subscriber, their compiled topics, and which of the day's
    papers are their candidates (a mask over the plan's papers; None: all of them)."""

    subscriber: Subscriber
    profiles: tuple[TopicProfile, ...]
    window: npt.NDArray[np.bool_] | None = None


class DayPlan:
    """One day's ranking for many readers: the index (and with the semantic extra the paper
    vectors and their neighbour graph) built once, readers scored together in blocks.

    `ranking(i)` is reader i's `Ranking`; its block of readers is scored when first asked for,
    and only the last two blocks are kept, so asking in reader order keeps memory bounded.
    """

    def __init__(
        self,
        papers: Sequence[Paper],
        readers: Sequence[Reader],
        *,
        embedder: Embedder | None = None,
        chunk_topics: int = CHUNK_TOPICS,
    ) -> None:
        self.readers = list(readers)
        unique = list({p.id: p for p in papers}.values())
        phrases = profile_phrases([p for r in self.readers for p in r.profiles])
        self.index = build_index(unique, phrases)
        self.embedder = embedder
        self._semantic: tuple[Floats, Any] | None = None
        if embedder is not None and len(self.index):
            from digest.rank.semantic import nearest_by_meaning

            vectors = embedder.embed_papers(self.index.papers)
            self._semantic = (vectors, nearest_by_meaning(vectors))
        self._blocks = list(_chunks([r.profiles for r in self.readers], chunk_topics))
        self._block_of = {
            i: b for b, (start, stop) in enumerate(self._blocks) for i in range(start, stop)
        }
        self._scored: list[tuple[int, _Block]] = []  # the blocks scored last, at most two

    def __len__(self) -> int:
        return len(self.readers)

    def ranking(
        self,
        i: int,
        *,
        near_misses: int | None = None,
        limit: int | None = None,
        details: bool = False,
    ) -> Ranking:
        """Reader i's ranking (see `ranker.rank_row` for `near_misses`, `limit`, `details`)."""
        from digest.rank.ranker import NEAR_MISSES, rank_row

        block = self._block(self._block_of[i])
        reader = self.readers[i]
        first, last = block.columns[i]
        signals = _columns(block.signals, first, last)
        return rank_row(
            self.index,
            reader.subscriber,
            reader.profiles,
            signals,
            block.scores[:, first:last],
            block.vectors,
            candidates=reader.window,
            near_misses=NEAR_MISSES if near_misses is None else near_misses,
            limit=limit,
            details=details,
        )

    def _block(self, b: int) -> _Block:
        for scored, block in self._scored:
            if scored == b:
                return block
        # Keep the last block too: senders working in parallel cross a block's edge unevenly.
        self._scored = self._scored[-1:]
        start, stop = self._blocks[b]
        mine = self.readers[start:stop]
        profiles = [p for r in mine for p in r.profiles]
        columns, at = {}, 0
        for i, reader in enumerate(mine, start):
            columns[i] = (at, at + len(reader.profiles))
            at += len(reader.profiles)
        vectors = LikedVectors(self.index, profiles)
        signals = topic_signals(
            self.index, profiles, vectors, learn=self._semantic is None or self.embedder is None
        )
        if self._semantic is not None and self.embedder is not None:
            from digest.rank.semantic import add_semantics

            paper_vectors, graph = self._semantic
            signals = add_semantics(
                signals,
                self.index.papers,
                profiles,
                self.embedder,
                paper_vectors=paper_vectors,
                graph=graph,
            )
        weights = np.repeat(
            np.asarray([r.subscriber.trending_weight for r in mine], dtype=np.float32),
            [len(r.profiles) for r in mine],
        )
        scores = combine(signals, profiles, weights)
        block = _Block(signals, scores, vectors, columns)
        self._scored.append((b, block))
        return block


@dataclass(frozen=True)
class _Block:
    signals: Signals  # papers x the block's topics
    scores: Floats  # papers x the block's topics
    vectors: LikedVectors
    columns: dict[int, tuple[int, int]]  # reader: their first and past-last topic column


def _columns(signals: Signals, first: int, last: int) -> Signals:
    """One reader's topics of a block's signals (views, not copies)."""

    def cut(matrix: Any) -> Any:
        return None if matrix is None else matrix[:, first:last]

    return replace(
        signals,
        lexical=signals.lexical[:, first:last],
        similar=signals.similar[:, first:last],
        category=signals.category[:, first:last],
        author=signals.author[:, first:last],
        excluded=signals.excluded[:, first:last],
        semantic=cut(signals.semantic),
        semantic_topics=None
        if signals.semantic_topics is None
        else signals.semantic_topics[first:last],
        nearest_liked=cut(signals.nearest_liked),
        nearest_liked_cosine=cut(signals.nearest_liked_cosine),
        semantic_liked=cut(signals.semantic_liked),
        semantic_words=cut(signals.semantic_words),
        disliked=cut(signals.disliked),
        disliked_weight=cut(signals.disliked_weight),
        nearest_disliked=cut(signals.nearest_disliked),
        keyword_kept=cut(signals.keyword_kept),
        semantic_unlearned=cut(signals.semantic_unlearned),
        learned_topics=None
        if signals.learned_topics is None
        else signals.learned_topics[first:last],
        lexical_learned=cut(signals.lexical_learned),
    )
