"""A topic's own classifier, learned from the email's feedback over sentence vectors (the
semantic extra).

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
before, usual smoothing included, and the higher of the two is kept). Pure: numpy and scipy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize

Floats = npt.NDArray[np.float32]

MIN_MARKS = 4  # marks under a topic before it has a classifier
BACKGROUND = 256  # papers of the day taken as unlabelled negatives
BACKGROUND_SHARE = 0.5  # ... and their share of the negatives' weight
REGULARISATION = 0.03  # the L2 penalty towards the prior, per unit of a class's weight
PRIOR_NORM = 4.0  # the prior's length (the margin of a paper on the profile's own meaning)
LEARNED_SHARE = 1.0  # the classifier's share of a topic's meaning column (fresh marks)
LEARNED_SMOOTHING = 0.5  # ... and the neighbours' share of a paper's score, times the usual
ITERATIONS = 60


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
    negatives = float(disliked_weight.sum())
    share = BACKGROUND_SHARE if negatives > 0 else 1.0
    weight = np.concatenate(
        [
            liked_weight / max(len(liked), 1),
            (1.0 - share) * disliked_weight / max(len(disliked), 1),
            np.full(len(background), share / max(len(background), 1)),
        ]
    )
    prior_w = start

    def loss(theta: npt.NDArray[np.float64]) -> tuple[float, npt.NDArray[np.float64]]:
        w, b = theta[:-1], theta[-1]
        z = x @ w + b
        # log(1 + e^z) - y z, stably
        value = float(weight @ (np.logaddexp(0.0, z) - y * z))
        residual = weight * (0.5 * (1.0 + np.tanh(0.5 * z)) - y)  # sigmoid(z) - y
        diff = w - prior_w
        value += 0.5 * REGULARISATION * float(diff @ diff)
        grad = np.empty_like(theta)
        grad[:-1] = x.T @ residual + REGULARISATION * diff
        grad[-1] = residual.sum()
        return value, grad

    theta0 = np.concatenate([start, [0.0]])
    found = minimize(loss, theta0, jac=True, method="L-BFGS-B", options={"maxiter": ITERATIONS})
    theta = np.asarray(found.x, dtype=np.float64)
    return TopicModel(theta[:-1].astype(np.float32), float(theta[-1]))
