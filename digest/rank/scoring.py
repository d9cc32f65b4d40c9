"""Score every paper against every topic at once, as matrices (papers x topics).

A `TopicProfile` is a topic compiled into index keys plus its liked papers. `topic_signals`
reads each signal on its own (keywords and description by BM25, similarity to the liked
papers by TF-IDF cosine to their centroid, categories, followed authors, exclusion, trending);
`combine` turns them into one score per paper and topic:

    direct    = mean of the lexical and similarity strengths the topic has (each 0..1; the
                similarity weighted by `TopicProfile.liked_presence`)
    content   = 0.5 direct + 0.5 mean direct of its 10 nearest papers (0 where direct is 0)
    relevance = content x (1 + 0.3 category) + 0.8 author        (0.5 category without content)
    score     = topic weight x relevance x (1 + 0.3 trending_weight x trending); 0 if excluded

Feedback from the email (see `feedback`): papers marked "more like this" are among a topic's
liked papers; papers like one marked "not for me" have their relevance lowered, unless they
match one of the topic's keywords or followed authors. A liked paper's share of the centroid,
and the similarity's weight against the words (1 while any liked paper is the profile's own or
freshly marked), fade with the marks' age. A topic with enough marks has its own classifier
(`learn`) instead of the "not for me" push: with the semantic extra in its meaning column,
without it over TF-IDF as the topic's content (`learn.with_classifier`).

Smoothing over the nearest papers of the same day (kNN over TF-IDF) lifts a paper whose
neighbours match too: it ranks the topic's core above a lone stray match.

With the semantic extra, content is instead made of z-scores over the day's papers (how far
above the day's usual a paper is), which keep their spread where squashed cosines bunch up:

    fused   = (1 - w) meaning + w direct, each as z-scores (meaning: see `semantic`)
    content = sigmoid(1.5 ((1 - s) fused + s mean fused of its 30 nearest papers by meaning - 2))

where the words' share w and the smoothing s depend on the day's size (`semantic_mix`; a topic
with its own classifier, `learn`, takes LEARNED_SMOOTHING = half that s): w 0.15
and s 0.85 from 2,000 papers up, w 0.5 and s 0.5 up to 1,000, in between moving with log(size).
Sharing a score with its neighbours pays on a large day, where a paper's 30 nearest papers are
mostly of its field; on a small day a paper's neighbours are farther off, and a paper strong on
its own was pulled down to a middling neighbourhood (issue 21: on computer-science pools of 150
and 500 papers the large day's mix ranked below the lexical default, and on a recorded
112-paper day it pushed two plainly robotic papers out of the robotics top 10).

The same code scores one subscriber or ten thousand (see `batch`). Pure: no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from digest.models import Paper, Topic
from digest.papers_file import paper_key
from digest.rank.index import PaperIndex, paper_text
from digest.rank.text import phrase_key, terms_as_written

Floats = npt.NDArray[np.float32]

LEXICAL_SCALE = 8.0  # BM25 sum at which the lexical strength reaches 1 - 1/e
SIMILAR_SCALE = 0.2  # cosine at which the similarity strength reaches 1 - 1/e
DESCRIPTION_WEIGHT = 0.4  # a word of the description counts less than a chosen keyword
PHRASE_WORD_WEIGHT = 0.25  # a phrase's words found apart earn a little of the phrase's weight
SMOOTHING = 0.5
WORDS_SHARE = 0.15  # with the semantic extra: the share of shared words against meaning
SEMANTIC_SMOOTHING = 0.85  # ... and of the nearest papers by meaning in a paper's score
LARGE_DAY = 2000  # ... on a day of at least this many papers; on a day of at most
SMALL_DAY = 1000  # ... this many, these two instead (`semantic_mix`):
SMALL_DAY_WORDS_SHARE = 0.5
SMALL_DAY_SMOOTHING = 0.5
SEMANTIC_MIDPOINT = 2.0  # ... z-score (above the day's usual) at which a paper scores 0.5
SEMANTIC_SLOPE = 1.5
CATEGORY_BOOST = 0.3
CATEGORY_ONLY = 0.5
AUTHOR = 0.8
TRENDING_BOOST = 0.3


@dataclass(frozen=True)
class Keyterm:
    """A keyword, phrase or description word as an index key, with what the user wrote."""

    key: str
    text: str
    weight: float
    kind: str  # keyword | phrase-word (a word of a phrase keyword) | description


@dataclass(frozen=True)
class TopicProfile:
    """A topic ready to score: its terms and exclusions as index keys, its liked papers (with
    those marked "more like this" from the email) and those marked "not for me"."""

    topic: Topic
    terms: tuple[Keyterm, ...]
    exclude: tuple[Keyterm, ...]
    liked: tuple[Paper, ...]
    disliked: tuple[Paper, ...] = ()
    feedback_liked: frozenset[str] = frozenset()  # ids of the liked papers marked in an email
    # What each mark still weighs as it ages (`feedback.mark_weight`), by paper id; a paper not
    # named here (one the profile names itself) weighs 1.
    weight: tuple[tuple[str, float], ...] = ()

    def weights(self, papers: Sequence[Paper]) -> npt.NDArray[np.float64]:
        """Each paper's weight in this profile (1 unless a mark's age lowered it)."""
        if not self.weight:
            return np.ones(len(papers), dtype=np.float64)
        weight = dict(self.weight)
        return np.asarray([weight.get(p.id, 1.0) for p in papers], dtype=np.float64)

    @property
    def liked_presence(self) -> float:
        """How much the liked papers speak for the topic: 1 while one of them is the profile's
        own or freshly marked, less as the freshest mark ages, 0 without liked papers."""
        return float(self.weights(self.liked).max()) if self.liked else 0.0

    @property
    def marks_presence(self) -> float:
        """What the freshest mark from the email still weighs (0 without marks)."""
        return max((w for _, w in self.weight), default=0.0)

    @property
    def marks(self) -> int:
        """How many marks from the email this profile holds."""
        return len(self.feedback_liked) + len(self.disliked)


def compile_topic(topic: Topic, liked: Sequence[Paper] = ()) -> TopicProfile:
    """A topic's keywords, description and exclusions as index keys, with its liked papers."""
    found: dict[str, Keyterm] = {}
    for keyword in topic.keywords:
        key = phrase_key(keyword.text)
        if key and key not in found:
            found[key] = Keyterm(key, keyword.text, keyword.weight, "keyword")
    for keyword in topic.keywords:
        words = phrase_key(keyword.text).split()
        for word in words if len(words) > 1 else ():
            if word not in found:
                found[word] = Keyterm(
                    word, word, keyword.weight * PHRASE_WORD_WEIGHT, "phrase-word"
                )
    for word, written in terms_as_written(topic.description):
        if word not in found:
            found[word] = Keyterm(word, written, DESCRIPTION_WEIGHT, "description")
    exclude: dict[str, Keyterm] = {}
    for text in topic.exclude:
        key = phrase_key(text)
        if key:
            exclude.setdefault(key, Keyterm(key, text, 1.0, "exclude"))
    return TopicProfile(topic, tuple(found.values()), tuple(exclude.values()), tuple(liked))


def profile_phrases(profiles: Sequence[TopicProfile]) -> set[str]:
    """The phrase keys the index must count for these profiles."""
    return {t.key for p in profiles for t in (*p.terms, *p.exclude) if " " in t.key}


class LikedVectors:
    """TF-IDF rows of liked papers on an index's vocabulary, each paper vectorised once."""

    def __init__(self, index: PaperIndex, profiles: Sequence[TopicProfile]) -> None:
        self.row: dict[str, int] = {}
        texts: list[str] = []
        for profile in profiles:
            for paper in (*profile.liked, *profile.disliked):
                if paper.id not in self.row:
                    self.row[paper.id] = len(texts)
                    texts.append(paper_text(paper))
        self.matrix = index.vectorise(texts) if texts else sp.csr_matrix((0, len(index.vocab)))

    def centroids(self, profiles: Sequence[TopicProfile]) -> sp.csr_matrix:
        """One unit-length centroid per profile (a zero row when it has no liked papers), each
        liked paper weighted by what its mark's age leaves of it."""
        rows, cols, vals = [], [], []
        for t, profile in enumerate(profiles):
            weights = profile.weights(profile.liked).tolist()
            liked = {self.row[p.id]: w for p, w in zip(profile.liked, weights, strict=True)}
            total = sum(liked.values()) or 1.0
            for r, w in liked.items():
                rows.append(t)
                cols.append(r)
                vals.append(w / total)
        pick = sp.csr_matrix(
            (np.asarray(vals, dtype=np.float32), (rows, cols)),
            shape=(len(profiles), self.matrix.shape[0]),
        )
        centroid = sp.csr_matrix(pick @ self.matrix)
        norms = np.sqrt(np.asarray(centroid.multiply(centroid).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        return sp.csr_matrix(sp.diags((1.0 / norms).astype(np.float32)) @ centroid)


@dataclass(frozen=True)
class Signals:
    """Each signal on its own, papers x topics (trending: one value per paper)."""

    lexical: Floats  # raw BM25 sum of matched keywords and description words
    similar: Floats  # cosine to the centroid of the liked papers
    category: Floats  # 1 primary, 0.7 cross-list, 0 none
    author: Floats  # 1 when a followed author wrote it
    excluded: npt.NDArray[np.bool_]
    trending: Floats
    neighbours: Any = None  # the index's kNN graph (scipy sparse), None for no smoothing
    semantic: Floats | None = None  # sentence-embedding cosine to liked papers and topic words
    semantic_topics: npt.NDArray[np.bool_] | None = None  # topics the semantic column speaks for
    # With the semantic extra: each paper's nearest liked paper of each topic by meaning (an
    # index into the topic's liked papers, -1 for none) and its cosine, to name in the reasons.
    nearest_liked: npt.NDArray[np.intp] | None = None
    nearest_liked_cosine: Floats | None = None
    # ... and the two parts the semantic column is the mean of: the z-scores of the cosine to
    # the liked papers' centroid and to the topic's words (-inf where a topic has no such part).
    semantic_liked: Floats | None = None
    semantic_words: Floats | None = None
    # With "not for me" feedback (see `feedback`): the cosine to each topic's nearest disliked
    # paper, which one (-1 for none), and whether the paper matches one of its keywords.
    disliked: Floats | None = None
    disliked_weight: Floats | None = None  # what that mark's age leaves of it
    nearest_disliked: npt.NDArray[np.intp] | None = None
    keyword_kept: npt.NDArray[np.bool_] | None = None
    # With the semantic extra and a topic's own classifier (`learn`): the meaning column
    # without it, so a paper matching a keyword scores no lower than it would without it.
    semantic_unlearned: Floats | None = None
    learned_topics: npt.NDArray[np.bool_] | None = None  # the topics with a classifier
    # Without the semantic extra, those topics' classifier margins over TF-IDF (`learn`), as
    # z-scores over the day's papers (0 in the other topics' columns).
    lexical_learned: Floats | None = None


def topic_signals(
    index: PaperIndex,
    profiles: Sequence[TopicProfile],
    liked: LikedVectors | None = None,
    *,
    learn: bool = True,
) -> Signals:
    """Each signal on its own (`learn`: train the classifier of each topic with enough marks
    over TF-IDF, `learn.learn_lexical`; False when the semantic extra trains its own)."""
    n, t = len(index), len(profiles)
    if any(p.terms for p in profiles):
        lexical = _dense(index.bm25 @ query_matrix(index, [p.terms for p in profiles]), n, t)
    else:
        lexical = np.zeros((n, t), dtype=np.float32)
    if any(p.exclude for p in profiles):
        excluding = query_matrix(index, [p.exclude for p in profiles])
        excluded = _dense(index.counts @ excluding, n, t) > 0
    else:
        excluded = np.zeros((n, t), dtype=np.bool_)
    if any(p.liked for p in profiles):
        liked = liked or LikedVectors(index, profiles)
        similar = _dense(index.tfidf @ liked.centroids(profiles).T, n, t)
    else:
        similar = np.zeros((n, t), dtype=np.float32)
    disliked = disliked_weight = nearest_disliked = keyword_kept = None
    if any(p.disliked for p in profiles):
        from digest.rank.feedback import dislike_signals

        liked = liked or LikedVectors(index, profiles)
        disliked, disliked_weight, keyword_kept, nearest_disliked = dislike_signals(
            index, profiles, liked
        )
    learned = None
    if learn and disliked is not None:
        from digest.rank.learn import learn_lexical

        learned = learn_lexical(index, profiles, liked or LikedVectors(index, profiles))
    return Signals(
        lexical=lexical,
        similar=similar,
        category=_category_matrix(index, profiles),
        author=_author_matrix(index, profiles),
        excluded=excluded,
        trending=index.trending,
        neighbours=index.neighbours,
        disliked=disliked,
        disliked_weight=disliked_weight,
        nearest_disliked=nearest_disliked,
        keyword_kept=keyword_kept,
        lexical_learned=None if learned is None else learned[0],
        learned_topics=None if learned is None else learned[1],
    )


def combine(
    signals: Signals,
    profiles: Sequence[TopicProfile],
    trending_weight: float | Floats = 1.0,
    *,
    exclude: bool = True,
) -> Floats:
    """Scores, papers x topics, by the formula in this module's docstring (`exclude=False`:
    what excluded papers would have scored)."""
    has_lexical = np.asarray([bool(p.terms) for p in profiles], dtype=np.float32)
    has_liked = np.asarray([p.liked_presence for p in profiles], dtype=np.float32)
    count = has_lexical + has_liked
    content = (
        has_lexical * lexical_strength(signals.lexical)
        + has_liked * similar_strength(signals.similar)
    ) / np.maximum(count, 1.0)
    if signals.semantic is not None and signals.semantic_topics is not None:
        meaning = _with_meaning(content, signals, signals.semantic, signals.learned_topics)
        if signals.semantic_unlearned is not None and signals.keyword_kept is not None:
            unlearned = _with_meaning(content, signals, signals.semantic_unlearned, None)
            meaning = np.where(
                signals.keyword_kept, np.maximum(meaning, unlearned), meaning
            ).astype(np.float32)
        content = np.where(signals.semantic_topics, meaning, content).astype(np.float32)
    else:
        raw = content
        if signals.neighbours is not None:
            smoothed = (1.0 - SMOOTHING) * content + SMOOTHING * (signals.neighbours @ content)
            content = np.where(content > 0, smoothed, 0.0).astype(np.float32)
        if signals.lexical_learned is not None and signals.learned_topics is not None:
            from digest.rank.learn import with_classifier

            content = with_classifier(content, raw, signals, profiles)
    with_content = content * (1.0 + CATEGORY_BOOST * signals.category)
    without_content = CATEGORY_ONLY * signals.category
    relevance = np.where(count > 0, with_content, without_content) + AUTHOR * signals.author
    if (
        signals.disliked is not None
        and signals.disliked_weight is not None
        and signals.keyword_kept is not None
    ):
        from digest.rank.feedback import dislike_factor

        factor = dislike_factor(
            signals.disliked, signals.disliked_weight, signals.keyword_kept, signals.author
        )
        if signals.learned_topics is not None:  # a topic's classifier learned its dislikes
            factor = np.where(signals.learned_topics, 1.0, factor).astype(np.float32)
        relevance = relevance * factor
    weights = np.asarray([p.topic.weight for p in profiles], dtype=np.float32)
    trend = 1.0 + TRENDING_BOOST * np.outer(signals.trending, np.asarray(trending_weight))
    scores: Floats = np.asarray(relevance * weights * trend, dtype=np.float32)
    if exclude:
        scores[signals.excluded] = 0.0
    return scores


def _with_meaning(
    content: Floats, signals: Signals, semantic: Floats, learned: npt.NDArray[np.bool_] | None
) -> Floats:
    """Content with the semantic extra: the meaning z-score and the words' z-score fused,
    shared with the nearest papers by meaning (`learned`: the topics with a classifier, which
    share LEARNED_SMOOTHING times as much), and squashed to 0..1."""
    from digest.rank.learn import LEARNED_SMOOTHING

    words, usual = semantic_mix(len(content))
    smoothing: float | Floats = usual
    if learned is not None and learned.any():
        smoothing = np.where(learned, LEARNED_SMOOTHING * usual, usual).astype(np.float32)
    fused = (1.0 - words) * semantic + words * standardise(content)
    if signals.neighbours is not None:
        fused = (1.0 - smoothing) * fused + smoothing * (signals.neighbours @ fused)
    return np.asarray(1.0 / (1.0 + np.exp(-SEMANTIC_SLOPE * (fused - SEMANTIC_MIDPOINT))))


def semantic_mix(papers: int) -> tuple[float, float]:
    """The share of words against meaning, and of the nearest papers by meaning in a paper's
    score, for a day of `papers` papers: the small day's up to SMALL_DAY papers, the large
    day's from LARGE_DAY, in between moving with the logarithm of the day's size."""
    if papers >= LARGE_DAY:
        return WORDS_SHARE, SEMANTIC_SMOOTHING  # exactly, as before issue 21
    along = math.log(max(papers, SMALL_DAY) / SMALL_DAY) / math.log(LARGE_DAY / SMALL_DAY)
    words = SMALL_DAY_WORDS_SHARE + along * (WORDS_SHARE - SMALL_DAY_WORDS_SHARE)
    smoothing = SMALL_DAY_SMOOTHING + along * (SEMANTIC_SMOOTHING - SMALL_DAY_SMOOTHING)
    return words, smoothing


def standardise(values: Floats, min_spread: float = 1e-6) -> Floats:
    """Each column as z-scores over the day's papers: how far above the day's usual a paper
    is. A column spread less than `min_spread` is treated as spread that much."""
    # Each column reduced as its own contiguous row: numpy sums a contiguous run pairwise but
    # strided columns one by one, so this keeps a column's z-scores to the last bit whatever
    # the other columns (one subscriber ranked alone or among thousands).
    columns = np.ascontiguousarray(values.T)
    spread = np.maximum(columns.std(axis=1), min_spread)
    return np.asarray((values - columns.mean(axis=1)) / spread, dtype=np.float32)


def lexical_strength(raw: Floats) -> Floats:
    return np.asarray(1.0 - np.exp(-raw / LEXICAL_SCALE), dtype=np.float32)


def similar_strength(cosine: Floats, scale: float = SIMILAR_SCALE) -> Floats:
    return np.asarray(1.0 - np.exp(-np.maximum(cosine, 0.0) / scale), dtype=np.float32)


def query_matrix(index: PaperIndex, queries: Sequence[Sequence[Keyterm]]) -> sp.csr_matrix:
    """Vocabulary x queries: each query's weights on the keys the index knows."""
    rows, cols, vals = [], [], []
    for q, query in enumerate(queries):
        for term in query:
            col = index.vocab.get(term.key)
            if col is not None:
                rows.append(col)
                cols.append(q)
                vals.append(term.weight)
    return sp.csr_matrix(
        (np.asarray(vals, dtype=np.float32), (rows, cols)), shape=(len(index.vocab), len(queries))
    )


def _dense(product: Any, n: int, t: int) -> Floats:
    dense = product.toarray() if sp.issparse(product) else np.asarray(product)
    return np.asarray(dense, dtype=np.float32).reshape(n, t)


def _category_matrix(index: PaperIndex, profiles: Sequence[TopicProfile]) -> Floats:
    out = np.zeros((len(index), len(profiles)), dtype=np.float32)
    for t, profile in enumerate(profiles):
        for wanted in profile.topic.categories:
            wanted = wanted.strip().lower()
            if wanted.endswith(".*"):
                names = [c for c in index.categories if c.startswith(wanted[:-1])]
            else:
                names = [wanted] if wanted in index.categories else []
            for name in names:
                rows, strengths = index.categories[name]
                out[rows, t] = np.maximum(out[rows, t], strengths)
    return out


def _author_matrix(index: PaperIndex, profiles: Sequence[TopicProfile]) -> Floats:
    out = np.zeros((len(index), len(profiles)), dtype=np.float32)
    for t, profile in enumerate(profiles):
        for followed in profile.topic.authors:
            for row, _ in index.authors.find(followed):
                out[row, t] = 1.0
    return out


def liked_by_topic(
    topics: Sequence[Topic],
    liked: Mapping[str, Paper],
    libraries: Mapping[str, Sequence[Paper]],
) -> list[list[Paper]]:
    """Each topic's liked papers: its `papers` ids looked up in `liked`, then its library.

    A missing id or library is a caller's mistake (resolve them first), reported by KeyError.
    """
    out = []
    for topic in topics:
        found = []
        for given in topic.papers:
            paper = liked.get(given) or liked.get(paper_key(given))
            if paper is None:
                raise KeyError(given)
            found.append(paper)
        if topic.library:
            found.extend(libraries[topic.library])
        out.append(found)
    return out
