"""Feedback from the email in ranking, per topic: "more like this" papers join the topic's liked
papers; "not for me" papers push the papers like them down.

A topic's profile takes the marks made under its name (`with_feedback`). A disliked paper's
likeness to each of the day's papers is its TF-IDF cosine (the nearest disliked paper counts);
`scoring.combine` multiplies a paper's relevance by

    1 - weight x DISLIKE_WEIGHT x (1 - exp(-cosine / DISLIKE_SCALE))   where cosine >= DISLIKE_FROM

A paper less alike than DISLIKE_FROM is left as it is, and every paper pushed down says which
disliked paper it is like. A paper that matches one of the topic's own keywords or followed
authors is never pushed down: what a reader asked for by name is not hidden by feedback (its
reasons say it was kept). The papers marked are not shown again. Pure: the marks are read by
the caller (`digest.day`).

Old marks fade: a mark weighs 0.5 ** (its age in days / the half-life), `ranking.
feedback_half_life_days` in config.yaml (HALF_LIFE_DAYS by default). The weight scales a liked
paper's share of the topic's centroid (and how much the liked papers count against the topic's
words, `TopicProfile.liked_presence`), how far a disliked paper pushes the papers like it down
(`weight` above), and a mark's weight in the topic's classifier (`learn`). A paper the profile
names itself weighs 1.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from digest.models import Mark

if TYPE_CHECKING:
    from digest.rank.index import PaperIndex
    from digest.rank.scoring import Floats, LikedVectors, TopicProfile

MORE, LESS = "more", "less"
DISLIKE_WEIGHT = 0.3  # at most this share of a paper's score goes for being like a disliked one
DISLIKE_SCALE = 0.2  # the cosine at which that reaches 1 - 1/e of it
DISLIKE_FROM = 0.08  # below this cosine a paper is not like the disliked one (nor named so)
HALF_LIFE_DAYS = 90.0  # a mark this old weighs half as much as a fresh one


def mark_weight(mark: Mark, now: datetime, half_life_days: float = HALF_LIFE_DAYS) -> float:
    """What a mark weighs at `now`: 1 when fresh, half after `half_life_days`, and so on (a
    mark dated after `now` weighs 1)."""
    age = max((now - mark.created_at).total_seconds(), 0.0) / 86400.0
    return float(0.5 ** (age / half_life_days))


def with_feedback(
    profiles: Sequence[TopicProfile],
    marks: Iterable[Mark],
    *,
    now: datetime | None = None,
    half_life_days: float = HALF_LIFE_DAYS,
) -> list[TopicProfile]:
    """Each profile with the marks made under its topic: liked ones added to its liked papers
    (once), "not for me" ones as its disliked papers, each weighted by its age at `now`
    (`mark_weight`; default: the time of the newest mark). Marks under a topic the profile no
    longer has change nothing."""
    by_topic: dict[str, list[Mark]] = {}
    for mark in marks:
        by_topic.setdefault(mark.topic, []).append(mark)
    if now is None and by_topic:
        now = max(m.created_at for mine in by_topic.values() for m in mine)
    out = []
    for profile in profiles:
        mine = by_topic.get(profile.topic.name)
        if not mine:
            out.append(profile)
            continue
        known = {p.id for p in profile.liked}
        more = [m.paper for m in mine if m.vote == MORE and m.paper.id not in known]
        less = [m.paper for m in mine if m.vote == LESS]
        assert now is not None
        weight = tuple(
            (m.paper.id, mark_weight(m, now, half_life_days))
            for m in mine
            if m.vote == LESS or m.paper.id not in known
        )
        out.append(
            replace(
                profile,
                liked=(*profile.liked, *more),
                disliked=tuple(less),
                feedback_liked=frozenset(p.id for p in more),
                weight=weight,
            )
        )
    return out


def dislike_signals(
    index: PaperIndex,
    profiles: Sequence[TopicProfile],
    vectors: LikedVectors,
) -> tuple[Floats, Floats, npt.NDArray[np.bool_], npt.NDArray[np.intp]]:
    """Papers x topics: the cosine to the topic's disliked paper that pushes the paper down most
    (its push times what its mark's age leaves of it), that mark's weight, whether the paper
    matches one of the topic's keywords (it is kept whatever the dislikes), and which disliked
    paper it is (an index into the topic's `disliked`, -1 for none)."""
    from digest.rank.scoring import query_matrix

    n, t = len(index), len(profiles)
    cosine = np.zeros((n, t), dtype=np.float32)
    weight = np.zeros((n, t), dtype=np.float32)
    nearest = np.full((n, t), -1, dtype=np.intp)
    protected = np.zeros((n, t), dtype=np.bool_)
    for j, profile in enumerate(profiles):
        if not profile.disliked:
            continue
        rows = [vectors.row[p.id] for p in profile.disliked]
        product = (index.tfidf @ vectors.matrix[rows].T).toarray()
        weights = profile.weights(profile.disliked)
        strongest = (_push(product) * weights[None, :]).argmax(axis=1)
        nearest[:, j] = strongest
        cosine[:, j] = product[np.arange(n), strongest]
        weight[:, j] = weights[strongest]
        keywords = [replace(k, weight=1.0) for k in profile.terms if k.kind == "keyword"]
        if keywords:
            hits = index.counts @ query_matrix(index, [keywords])
            protected[:, j] = np.asarray(hits.toarray()).ravel() > 0
    return cosine, weight, protected, nearest


def _push(cosine: npt.NDArray[np.floating[Any]]) -> npt.NDArray[np.float64]:
    """The share of a paper's relevance taken for being like a disliked paper (fresh mark)."""
    alike = np.where(cosine >= DISLIKE_FROM, cosine, 0.0)
    return np.asarray(DISLIKE_WEIGHT * (1.0 - np.exp(-alike / DISLIKE_SCALE)), dtype=np.float64)


def dislike_factor(
    cosine: Floats, weight: Floats, protected: npt.NDArray[np.bool_], author: Floats
) -> npt.NDArray[np.float32]:
    """What a paper's relevance is multiplied by (see the module's docstring)."""
    push = weight * _push(cosine)
    kept = protected | (author > 0)
    return np.asarray(np.where(kept, 1.0, 1.0 - push), dtype=np.float32)
