"""Where a subscriber's digest ends: the papers that stand out from the day, not the first
`max_papers` because there is room.

`cut_digest(scores, max_papers=…, min_score=…)` takes one subscriber's score for every paper
of the day (zeros included: they are the day's distribution too) and says how many of the best
go in the digest and how many more follow as one-line "also possibly relevant" entries. A paper
makes the digest when both hold:

    it stands out from the day:  score >= median + STAND_OUT x spread of the day's scores
                                 (spread: 1.4826 x the median absolute deviation, at least
                                 MIN_SPREAD; robust, so a popular topic's many papers do not
                                 widen it, and most papers of a day are about something else)
    it is close to the day's best: score >= NEAR_BEST x the best score of its topic (that
                                   best taken as at most BEST_CAP, so that a followed author's
                                   paper, which scores far above, does not raise the bar)

and it scores at least `min_score` (when set). A thin day gives a short digest, a rich day a
full one, never more than `max_papers`. The next papers that still stand out half as far and
score at least ALSO_NEAR_BEST x their topic's best are the "also" entries (at most ALSO_MAX).

A day of fewer than MIN_DAY papers is too small to tell what stands out from it: there only
closeness to the best counts. Pure: numpy in, two counts out; the batch
day plan calls it with each subscriber's row of scores.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

STAND_OUT = 4.0  # spreads above the day's median
MIN_SPREAD = 0.05  # most papers score 0 for a keyword topic: the spread is never taken below this
NEAR_BEST = 0.75  # share of the day's best score
ALSO_STAND_OUT = 2.0
ALSO_NEAR_BEST = 0.6
ALSO_MAX = 5
BEST_CAP = 0.7
MIN_DAY = 50  # papers: below this the day's spread says nothing


@dataclass(frozen=True)
class Cut:
    """Which of the day's papers make the digest and which follow as "also" entries (masks in
    the order of the scores given), and the day's bar a paper had to clear."""

    digest: npt.NDArray[np.bool_]
    also: npt.NDArray[np.bool_]
    floor: float  # median + STAND_OUT x spread of the day's scores (or min_score, if higher)

    @property
    def count(self) -> int:
        return int(self.digest.sum())


def cut_digest(
    scores: npt.ArrayLike,
    topics: npt.ArrayLike | None = None,
    *,
    max_papers: int,
    min_score: float = 0.0,
    also_max: int = ALSO_MAX,
) -> Cut:
    """The cut for one subscriber's scores over every paper of the day, in any order; `topics`:
    each paper's topic (any labels; default: all one topic)."""
    values = np.asarray(scores, dtype=np.float64).ravel()
    none = np.zeros(values.size, dtype=np.bool_)
    if values.size == 0 or max_papers <= 0 or float(values.max()) <= 0.0:
        return Cut(none, none.copy(), math.inf)
    labels = np.zeros(values.size) if topics is None else np.asarray(topics).ravel()
    best = np.zeros(values.size)
    for label in np.unique(labels):
        mine = labels == label
        best[mine] = min(float(values[mine].max()), BEST_CAP)
    median = float(np.median(values))
    spread = max(1.4826 * float(np.median(np.abs(values - median))), MIN_SPREAD)
    if values.size >= MIN_DAY:
        floor = max(min_score, median + STAND_OUT * spread)
        also_floor = max(min_score, median + ALSO_STAND_OUT * spread)
    else:
        floor = also_floor = min_score
    floor, also_floor = max(floor, 1e-9), max(also_floor, 1e-9)
    order = np.argsort(-values, kind="stable")
    passes = values[order] >= np.maximum(floor, NEAR_BEST * best[order])
    near = values[order] >= np.maximum(also_floor, ALSO_NEAR_BEST * best[order])
    digest, also = none.copy(), none.copy()
    picked = order[passes][:max_papers]
    digest[picked] = True
    # "Also": the next best that nearly made it (the best of those a full digest left out too).
    after = order[near & ~digest[order]]
    if picked.size:
        after = after[values[after] <= values[picked[-1]]]
    also[after[:also_max]] = True
    return Cut(digest, also, floor)
