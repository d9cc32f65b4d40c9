"""Where a subscriber's digest ends: the papers that stand out from the day, not the first
`max_papers` because there is room.

`cut_digest(scores, max_papers=…, min_score=…)` takes one subscriber's scores for every paper of
the day in each of their topics (papers x topics; zeros included: they are the day's
distribution too) and says which papers make the digest and which follow as one-line "also
possibly relevant" entries. Each paper counts in its best topic, and makes the digest when

    it stands out from the day in that topic:
        score >= median + STAND_OUT x spread of the topic's scores over the day's papers
        (spread: 1.4826 x the median absolute deviation, at least MIN_SPREAD; robust, so the
        topic's own matches do not widen it; per topic, so a broad topic does not raise the bar
        for a narrow one)
    and it is close to the topic's best:
        score >= NEAR_BEST x the topic's best score (that best taken as at most BEST_CAP, so a
        followed author's paper, which scores far above, does not raise the bar)

and it scores at least `min_score` (when set). A thin day gives a short digest, a rich day a
full one, never more than `max_papers` (the best first). When a topic is the day's whole field
(most papers match it, so none stands out from the median), its bar is lowered to FLOOR_CAP of
its best, if that best is a real match (at least CAP_FROM): its best papers still come; and when
that bar is far above even its best (more than FIELD times it: many papers spread over the whole
range), only closeness to the best counts, as on a small day. The next
papers that stand out half as far and score at least ALSO_NEAR_BEST x their topic's best are
the "also" entries (at most ALSO_MAX).

A day of fewer than MIN_DAY papers is too small to tell what stands out from it: there only
closeness to the best counts. Pure: numpy in, masks out; the batch day plan calls it with each
subscriber's block of scores.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

STAND_OUT = 4.0  # spreads above the day's median
MIN_SPREAD = 0.05  # most papers score 0 for a keyword topic: the spread is never taken below this
NEAR_BEST = 0.75  # share of the topic's best score
ALSO_STAND_OUT = 2.0
ALSO_NEAR_BEST = 0.6
ALSO_MAX = 5
BEST_CAP = 0.7
FLOOR_CAP = 0.9  # share of a topic's best above which its bar never goes ...
CAP_FROM = 0.4  # ... when that best scores at least this
FIELD = 1.2  # a bar above this many times the best: the topic is the day's field (no cap then)
MIN_DAY = 50  # papers: below this the day's spread says nothing


@dataclass(frozen=True)
class Cut:
    """Which of the day's papers make the digest and which follow as "also" entries (masks in
    the order of the scores given), and each topic's bar a paper had to clear."""

    digest: npt.NDArray[np.bool_]
    also: npt.NDArray[np.bool_]
    floors: npt.NDArray[np.float64]  # per topic: the score a paper needed to make the digest
    # per topic: the score an "also" entry needs (a trending paper too: see `ranker`)
    also_floors: npt.NDArray[np.float64]

    @property
    def count(self) -> int:
        return int(self.digest.sum())


def cut_digest(
    scores: npt.ArrayLike,
    *,
    max_papers: int,
    min_score: float = 0.0,
    also_max: int = ALSO_MAX,
) -> Cut:
    """The cut for one subscriber's scores: papers x topics, or one score per paper (one
    topic), papers in any order."""
    matrix = np.asarray(scores, dtype=np.float64)
    matrix = matrix[:, None] if matrix.ndim == 1 else matrix
    n = matrix.shape[0]
    none = np.zeros(n, dtype=np.bool_)
    if n == 0 or matrix.shape[1] == 0 or max_papers <= 0 or float(matrix.max()) <= 0.0:
        never = np.full(matrix.shape[1], math.inf)
        return Cut(none, none.copy(), never, never.copy())
    # Topics x papers, each topic's scores in one run of memory: numpy reduces a column of a
    # papers x topics matrix element by element, ~20 times slower for a day's 2,000 papers.
    columns = np.ascontiguousarray(matrix.T)
    best_topic = columns.argmax(axis=0)
    values = columns.max(axis=0)
    tops = np.minimum(columns.max(axis=1), BEST_CAP)
    if n >= MIN_DAY:
        median = _medians(columns)
        spread = np.maximum(1.4826 * _medians(np.abs(columns - median[:, None])), MIN_SPREAD)
        floors = np.maximum(median + STAND_OUT * spread, min_score)
        also_floors = np.maximum(median + ALSO_STAND_OUT * spread, min_score)
    else:
        floors = also_floors = np.full(matrix.shape[1], min_score, dtype=np.float64)
    # A topic whose best barely misses standing out (the top of a narrow spread, as a liked
    # paper's similarity to every paper of the day gives) has its bar at most FLOOR_CAP of its
    # best: only its very best come, as long as that best is a real match (CAP_FROM), not the
    # top of the noise. A topic that is the day's field (many papers across the whole range
    # widen the spread, so the bar from the median is far above even the best, more than FIELD
    # times it) is like a small day: only closeness to its best counts.
    real = tops >= CAP_FROM
    field = real & (floors > FIELD * tops)
    cap = np.where(field, min_score, np.where(real, FLOOR_CAP * tops, np.inf))
    floors = np.maximum(np.minimum(floors, cap), max(min_score, 1e-9))
    also_floors = np.maximum(np.minimum(also_floors, cap), max(min_score, 1e-9))
    bars = np.maximum(floors, NEAR_BEST * tops)
    passes = values >= bars[best_topic]
    also_bars = np.maximum(also_floors, ALSO_NEAR_BEST * tops)
    near = values >= also_bars[best_topic]
    # Only the papers that pass or come near are put in order (best first, ties in the order
    # given): the same order as sorting the whole day, for a few dozen papers instead of 2,000.
    shortlist = np.flatnonzero(passes | near)
    order = shortlist[np.argsort(-values[shortlist], kind="stable")]
    digest, also = none.copy(), none.copy()
    picked = order[passes[order]][:max_papers]
    digest[picked] = True
    # "Also": the next best that nearly made it (and those a full digest left out).
    after = order[near[order] & ~digest[order]]
    if picked.size:
        after = after[values[after] <= values[picked[-1]]]
    also[after[:also_max]] = True
    return Cut(digest, also, bars, also_bars)


def _medians(rows: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Each row's median, as `np.median(rows, axis=1)` gives it for finite values (the middle
    value, or the mean of the two middle ones), without its checks and copies."""
    n = rows.shape[1]
    half = n // 2
    if n % 2:
        return np.partition(rows, half, axis=1)[:, half]
    middle = np.partition(rows, (half - 1, half), axis=1)
    return (middle[:, half - 1] + middle[:, half]) / 2.0
