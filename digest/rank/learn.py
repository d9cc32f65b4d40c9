"""A topic's own classifier, learned from the email's feedback: over sentence vectors with the
semantic extra, over the day's TF-IDF rows without it.

Once a topic has MIN_MARKS marks, at least one of them "not for me", a logistic regression over
the papers' sentence vectors tells its papers from the rest:

    positives   its liked papers (its own and those marked "more like this")
    negatives   the papers marked "not for me", and a sample of the day's papers (BACKGROUND
                of them, BACKGROUND_SHARE of the negatives' weight: most of a day is off topic)
    weights     each class weighs the same in total (its papers' mean weight), a mark what
                its age leaves of it (`feedback.mark_weight`), a paper named in the profile 1
    prior       the weights are drawn towards PRIOR_NORM x the unit vector of the topic's own
                meaning (its liked papers' centroid and its words, `semantic.add_semantics`),
                by an L2 penalty of REGULARISATION: with few marks the classifier stays the
                profile, and marks move it only as far as they agree

`add_semantics` trains it once per topic per run (the day plan scores each topic once) and mixes
its z-scored margin into the topic's meaning column (LEARNED_SHARE, times what the freshest mark
still weighs: with fresh marks the column is the classifier's, and it fades back to the profile
as the marks age). Such a topic also shares less of a paper's score with the paper's nearest
papers by meaning (LEARNED_SMOOTHING times the usual share, `scoring.combine`): the classifier
has drawn the line between what the reader likes and the near misses they turned down, and
averaging over 30 neighbours blurred it again. On the feedback benchmark (`benchmarks/ranking.py
--feedback 5 --semantic --pools 1`, day 5, liked / keywords / both) the three together (share
1.0 from 0.7, regularisation 0.03 from 0.1, half the smoothing) raised nDCG@10 from 0.671 /
0.687 / 0.694 to 0.713 / 0.714 / 0.715 on the days they were chosen on (seed 7), and from
0.760 / 0.812 / 0.802 to 0.794 / 0.831 / 0.838 on other days (seed 8); half the smoothing
alone gave 0.686 / 0.713 / 0.715 on seed 7, a quarter or none no more.

On such a topic the TF-IDF "not for me" push (`feedback`) is left out: the classifier has
learned the dislikes (on the feedback benchmark the push on top of it cost 0.04 nDCG@10 with
liked papers). A paper matching one of the topic's keywords scores no lower than it would
without the classifier (`scoring.combine`: its score without the classifier is computed as
before, usual smoothing included, and the higher of the two is kept).

Without the semantic extra (`learn_lexical`, called by `scoring.topic_signals`) the same
regression runs over the TF-IDF rows of the index (single terms, unit rows): the liked and
disliked papers projected on the day's vocabulary (`scoring.LikedVectors`), LEXICAL_BACKGROUND
of the day's papers, the prior the mean of the unit centroid of the liked papers and the unit
vector of the topic's terms (weight x idf), LEXICAL_PRIOR_NORM long, and an L2 penalty of
LEXICAL_REGULARISATION. Fitted in the span of its rows (`_fit_spanned`: one unknown per paper,
not per term of the day's vocabulary), it costs about 12 ms per topic on a day of 2,000 papers,
once per topic per run, and nothing for a topic without enough marks. `with_classifier` then
makes such a topic's content, like the semantic extra's: the margin's z-score (times what the
freshest mark still weighs, the rest the z-score of the content without it) fused with the
z-score of the content without it (LEXICAL_WORDS_SHARE), shared with the paper's 10 nearest
papers by TF-IDF (LEXICAL_SMOOTHING), squashed by the semantic extra's sigmoid; a paper matching
one of the topic's keywords keeps at least its content without it, and the "not for me" push is
left out for the topic. Chosen on the feedback benchmark (`benchmarks/ranking.py --feedback 5
--pools 1 --seed S`, lexical, day 5 nDCG@10 liked / keywords / both; arxiv-sanity's SVM
retrained on the same marks in brackets): regularisation 0.03 and smoothing 0.25 gave, on seed
8, 0.716 / 0.745 / 0.754 (0.718 / 0.733 / 0.755); 0.01 and 0.5 were ahead of the SVM on seeds
7, 8 and 10 but not with liked papers on seed 9 (0.743, SVM 0.745); 0.003 and 0.5 are ahead
on all four (README). On seed 8 regularisation 0.1, 1,024 papers of the day, a words share of
0.3 and a prior twice as long each did worse; on seed 9 no words share no better.
Pure: numpy and scipy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.optimize import minimize

if TYPE_CHECKING:
    from digest.rank.index import PaperIndex
    from digest.rank.scoring import LikedVectors, Signals, TopicProfile

Floats = npt.NDArray[np.float32]

MIN_MARKS = 4  # marks under a topic before it has a classifier
BACKGROUND = 256  # papers of the day taken as unlabelled negatives
BACKGROUND_SHARE = 0.5  # ... and their share of the negatives' weight
REGULARISATION = 0.03  # the L2 penalty towards the prior, per unit of a class's weight
PRIOR_NORM = 4.0  # the prior's length (the margin of a paper on the profile's own meaning)
LEARNED_SHARE = 1.0  # the classifier's share of a topic's meaning column (fresh marks)
LEARNED_SMOOTHING = 0.5  # ... and the neighbours' share of a paper's score, times the usual
ITERATIONS = 60
MIN_SPREAD = 1e-6
# Without the semantic extra: the classifier over the day's TF-IDF rows (`learn_lexical`)
LEXICAL_BACKGROUND = 256
LEXICAL_REGULARISATION = 0.003
LEXICAL_PRIOR_NORM = 4.0
LEXICAL_WORDS_SHARE = 0.15  # the share of the topic's content without it in its fused score
LEXICAL_SMOOTHING = 0.5  # ... and of its nearest papers


@dataclass(frozen=True)
class TopicModel:
    """A linear classifier over unit sentence vectors: margin = vectors @ weights + bias."""

    weights: Floats
    bias: float

    def margin(self, vectors: Floats) -> Floats:
        return np.asarray(vectors @ self.weights + self.bias, dtype=np.float32)


def background_sample(vectors: Floats, size: int = BACKGROUND) -> Floats:
    """Every k-th of the day's paper vectors, at most `size`: the same for every topic."""
    step = max(1, -(-len(vectors) // size))
    return vectors[::step]


def learn_topic(
    liked: Floats,
    liked_weight: npt.NDArray[np.float64],
    disliked: Floats,
    disliked_weight: npt.NDArray[np.float64],
    background: Floats,
    prior: Floats | None,
) -> TopicModel:
    """The topic's classifier (see the module's docstring); `prior`: the direction of the
    topic's own meaning (None: no pull but towards zero)."""
    dim = liked.shape[1] if len(liked) else disliked.shape[1]
    start = np.zeros(dim, dtype=np.float64)
    if prior is not None:
        start = PRIOR_NORM * prior.astype(np.float64) / max(float(np.linalg.norm(prior)), 1e-9)
    x = np.vstack([liked, disliked, background]).astype(np.float64)
    y = np.concatenate([np.ones(len(liked)), np.zeros(len(disliked) + len(background))])
    weight = _class_weights(liked_weight, disliked_weight, len(background))
    theta = _fit(x, y, weight, start, REGULARISATION)
    return TopicModel(theta[:-1].astype(np.float32), float(theta[-1]))


def _fit(
    x: Any,
    y: npt.NDArray[np.float64],
    weight: npt.NDArray[np.float64],
    start: npt.NDArray[np.float64],
    regularisation: float,
) -> npt.NDArray[np.float64]:
    """Weights and bias (last) of the weighted logistic regression drawn towards `start` (x:
    a dense array or a scipy sparse matrix, one row per paper)."""

    def loss(theta: npt.NDArray[np.float64]) -> tuple[float, npt.NDArray[np.float64]]:
        w, b = theta[:-1], theta[-1]
        z = np.asarray(x @ w).ravel() + b
        # log(1 + e^z) - y z, stably
        value = float(weight @ (np.logaddexp(0.0, z) - y * z))
        residual = weight * (0.5 * (1.0 + np.tanh(0.5 * z)) - y)  # sigmoid(z) - y
        diff = w - start
        value += 0.5 * regularisation * float(diff @ diff)
        grad = np.empty_like(theta)
        grad[:-1] = np.asarray(x.T @ residual).ravel() + regularisation * diff
        grad[-1] = residual.sum()
        return value, grad

    theta0 = np.concatenate([start, [0.0]])
    found = minimize(loss, theta0, jac=True, method="L-BFGS-B", options={"maxiter": ITERATIONS})
    return np.asarray(found.x, dtype=np.float64)


def _fit_spanned(
    x: Any,
    y: npt.NDArray[np.float64],
    weight: npt.NDArray[np.float64],
    start: npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]:
    """The same regression as `_fit` for sparse rows over a large vocabulary: the weights that
    minimise it are `start` plus a mix of the rows (x.T @ beta), so it is fitted over beta,
    one number per paper, instead of one per term. Returns beta (the bias is not needed: the
    margins are taken as z-scores)."""
    base = np.asarray(x @ start).ravel()
    gram = np.asarray((x @ x.T).toarray(), dtype=np.float64)
    reg = LEXICAL_REGULARISATION

    def loss(theta: npt.NDArray[np.float64]) -> tuple[float, npt.NDArray[np.float64]]:
        beta, b = theta[:-1], theta[-1]
        k_beta = gram @ beta
        z = base + k_beta + b
        value = float(weight @ (np.logaddexp(0.0, z) - y * z)) + 0.5 * reg * float(beta @ k_beta)
        residual = weight * (0.5 * (1.0 + np.tanh(0.5 * z)) - y)
        grad = np.empty_like(theta)
        grad[:-1] = gram @ (residual + reg * beta)
        grad[-1] = residual.sum()
        return value, grad

    theta0 = np.zeros(len(base) + 1)
    found = minimize(loss, theta0, jac=True, method="L-BFGS-B", options={"maxiter": ITERATIONS})
    return np.asarray(found.x[:-1], dtype=np.float64)


def learn_lexical(
    index: PaperIndex, profiles: Sequence[TopicProfile], vectors: LikedVectors
) -> tuple[Floats, npt.NDArray[np.bool_]] | None:
    """Without the semantic extra: each topic with enough marks gets a classifier over the
    day's TF-IDF rows (see the module's docstring); its margin over the day's papers as
    z-scores (papers x topics, 0 for the other topics), and which topics have one. None when
    no topic has one (nothing is trained)."""
    from digest.rank.scoring import standardise

    chosen = [t for t, p in enumerate(profiles) if learns(p)]
    if not chosen:
        return None
    n = len(index)
    out = np.zeros((n, len(profiles)), dtype=np.float32)
    mask = np.zeros(len(profiles), dtype=np.bool_)
    step = max(1, -(-n // LEXICAL_BACKGROUND))
    background = index.tfidf[::step]
    for t in chosen:
        profile = profiles[t]
        liked = vectors.matrix[[vectors.row[p.id] for p in profile.liked]]
        disliked = vectors.matrix[[vectors.row[p.id] for p in profile.disliked]]
        x = sp.csr_matrix(sp.vstack([liked, disliked, background]), dtype=np.float64)
        weight = _class_weights(
            profile.weights(profile.liked), profile.weights(profile.disliked), background.shape[0]
        )
        y = np.concatenate([np.ones(liked.shape[0]), np.zeros(x.shape[0] - liked.shape[0])])
        start = LEXICAL_PRIOR_NORM * _lexical_prior(index, profile, liked)
        weights = start + np.asarray(x.T @ _fit_spanned(x, y, weight, start)).ravel()
        margin = np.asarray(index.tfidf @ weights.astype(np.float32)).ravel()
        out[:, t] = standardise(margin[:, None].astype(np.float32), MIN_SPREAD)[:, 0]
        mask[t] = True
    return out, mask


def learns(profile: TopicProfile) -> bool:
    """Whether a topic has its own classifier: liked papers, a "not for me" mark, and at least
    MIN_MARKS marks."""
    return bool(profile.liked) and bool(profile.disliked) and profile.marks >= MIN_MARKS


def _class_weights(
    liked: npt.NDArray[np.float64], disliked: npt.NDArray[np.float64], background: int
) -> npt.NDArray[np.float64]:
    negatives = float(disliked.sum())
    share = BACKGROUND_SHARE if negatives > 0 else 1.0
    return np.concatenate(
        [
            liked / max(len(liked), 1),
            (1.0 - share) * disliked / max(len(disliked), 1),
            np.full(background, share / max(background, 1)),
        ]
    )


def _lexical_prior(index: PaperIndex, profile: TopicProfile, liked: Any) -> npt.NDArray[np.float64]:
    """The unit direction of the topic's own words and liked papers in TF-IDF space: the mean
    of the unit centroid of its liked papers and its terms (weight x idf), each made unit."""
    parts = []
    weight = profile.weights(profile.liked)
    centroid = np.asarray(liked.T @ weight).ravel()
    if np.linalg.norm(centroid) > 0:
        parts.append(centroid / np.linalg.norm(centroid))
    words = np.zeros(len(index.vocab), dtype=np.float64)
    for term in profile.terms:
        col = index.vocab.get(term.key)
        if col is not None and " " not in term.key:
            words[col] += term.weight * index.tfidf_idf[col]
    if np.linalg.norm(words) > 0:
        parts.append(words / np.linalg.norm(words))
    if not parts:
        return words
    prior = np.mean(parts, axis=0)
    return np.asarray(prior / max(float(np.linalg.norm(prior)), 1e-9), dtype=np.float64)


def with_classifier(
    content: Floats, raw: Floats, signals: Signals, profiles: Sequence[TopicProfile]
) -> Floats:
    """Lexical content (`scoring.combine`) with each learned topic's column made of its
    classifier: the margin's z-score fused with the z-score of the content without it
    (`raw`, before smoothing), shared with the nearest papers and squashed to 0..1 like the
    semantic extra's; a paper matching a keyword keeps at least its content without it. Only
    the learned topics' columns are computed."""
    from digest.rank.scoring import SEMANTIC_MIDPOINT, SEMANTIC_SLOPE, standardise

    assert signals.lexical_learned is not None and signals.learned_topics is not None
    cols = np.flatnonzero(signals.learned_topics)
    share = np.asarray([profiles[t].marks_presence for t in cols.tolist()], dtype=np.float32)
    words = standardise(np.ascontiguousarray(raw[:, cols]))
    margin = share * signals.lexical_learned[:, cols] + (1.0 - share) * words
    fused = (1.0 - LEXICAL_WORDS_SHARE) * margin + LEXICAL_WORDS_SHARE * words
    if signals.neighbours is not None:
        fused = (1.0 - LEXICAL_SMOOTHING) * fused + LEXICAL_SMOOTHING * (signals.neighbours @ fused)
    learned = 1.0 / (1.0 + np.exp(-SEMANTIC_SLOPE * (fused - SEMANTIC_MIDPOINT)))
    if signals.keyword_kept is not None:
        learned = np.maximum(learned, np.where(signals.keyword_kept[:, cols], content[:, cols], 0))
    out = content.copy()
    out[:, cols] = learned
    return out
