"""Rank one subscriber's papers: score per topic, the best topic wins, every paper with reasons.

`rank_subscriber` returns every paper that scores above zero, best first. `rank_detailed` also
says what the digest would hold (the papers that stand out from the day, see `cut`), the "also
possibly relevant" ones and the near misses just below that cut, and the papers an `exclude`
removed: what `digest tune` shows. Pure: the liked papers (`papers:` ids and `library:` files)
are resolved by the caller and passed in.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from digest.errors import RankError
from digest.models import Paper, RankedPaper, Reason, Subscriber
from digest.rank.authors import AuthorMatcher
from digest.rank.categories import category_match
from digest.rank.cut import ALSO_MAX, cut_digest
from digest.rank.index import PaperIndex, build_index
from digest.rank.scoring import (
    Floats,
    Keyterm,
    LikedVectors,
    Signals,
    TopicProfile,
    combine,
    compile_topic,
    liked_by_topic,
    profile_phrases,
    topic_signals,
)
from digest.rank.text import fold, raw_words
from digest.rank.trending import trending_text
from digest.render.latex import bibtex_to_text

if TYPE_CHECKING:
    from digest.rank.semantic import Embedder

NEAR_MISSES = 10
SIMILAR_REASON = 0.08  # below this cosine a liked paper is not worth naming
SIMILAR_MEANING = 0.35  # ... and below this sentence-embedding cosine (the semantic extra)
MAX_TERMS = 6


@dataclass(frozen=True)
class ExcludedPaper:
    """A paper an `exclude` term removed from a topic, with what it would have scored there."""

    paper: Paper
    topic: str
    terms: tuple[str, ...]
    score: float


@dataclass(frozen=True)
class Ranking:
    """A subscriber's full ranking of a set of papers."""

    ranked: tuple[RankedPaper, ...]  # every paper scoring above zero, best first
    picked: tuple[RankedPaper, ...]  # the digest: those that stand out (see `cut`)
    near_misses: tuple[RankedPaper, ...]  # the next ones below the cut (the "also" ones first)
    excluded: tuple[ExcludedPaper, ...]  # removed by an exclude, best would-be score first
    keyword_hits: dict[str, dict[str, int]] = field(default_factory=dict)  # topic: term: papers
    also: tuple[RankedPaper, ...] = ()  # just below the cut: "also possibly relevant"
    floors: dict[str, float] = field(default_factory=dict)  # topic: the score needed (`cut`)


def rank_subscriber(
    papers: Sequence[Paper],
    subscriber: Subscriber,
    liked: Mapping[str, Paper] | None = None,
    *,
    libraries: Mapping[str, Sequence[Paper]] | None = None,
    top: int | None = None,
    embedder: Embedder | None = None,
) -> list[RankedPaper]:
    """Every paper scoring above zero for the subscriber, best first (the first `top`)."""
    ranking = rank_detailed(
        papers, subscriber, liked, libraries=libraries, limit=top, embedder=embedder
    )
    return list(ranking.ranked[:top] if top is not None else ranking.ranked)


def rank_detailed(
    papers: Sequence[Paper],
    subscriber: Subscriber,
    liked: Mapping[str, Paper] | None = None,
    *,
    libraries: Mapping[str, Sequence[Paper]] | None = None,
    near_misses: int = NEAR_MISSES,
    limit: int | None = None,
    embedder: Embedder | None = None,
) -> Ranking:
    """The ranking with its cut, near misses and exclusions. Papers the subscriber already
    liked are left out. `limit`: explain only the first `limit` ranked papers, for speed (the
    cut and the near misses are always explained). `embedder`: add sentence-embedding
    similarity (the semantic extra)."""
    profiles = compile_profiles(subscriber, liked or {}, libraries or {})
    already_liked = {p.id for profile in profiles for p in profile.liked}
    unique = list({p.id: p for p in papers if p.id not in already_liked}.values())
    index = build_index(unique, profile_phrases(profiles))
    vectors = LikedVectors(index, profiles)
    signals = topic_signals(index, profiles, vectors)
    if embedder is not None:
        from digest.rank.semantic import add_semantics  # the extra is imported only when used

        signals = add_semantics(signals, unique, profiles, embedder)
    scores = combine(signals, profiles, subscriber.trending_weight)
    best_topic = scores.argmax(axis=1) if profiles else np.zeros(len(unique), dtype=np.int64)
    best = scores.max(axis=1) if profiles else np.zeros(len(unique), dtype=np.float32)
    order = sorted((r for r in range(len(unique)) if best[r] > 0), key=lambda r: (-best[r], r))
    explain_upto = max(limit or 0, subscriber.max_papers + max(near_misses, ALSO_MAX))
    explainer = _Explainer(index, profiles, signals, vectors)
    ranked = tuple(
        RankedPaper(
            paper=unique[r],
            score=round(float(best[r]), 6),
            topic=profiles[best_topic[r]].topic.name,
            reasons=explainer.reasons(r, int(best_topic[r]))
            if (limit is None or i < explain_upto)
            else (),
        )
        for i, r in enumerate(order)
    )
    cut = cut_digest(scores, max_papers=subscriber.max_papers, min_score=subscriber.min_score)
    picked = tuple(p for r, p in zip(order, ranked, strict=True) if cut.digest[r])
    also = tuple(p for r, p in zip(order, ranked, strict=True) if cut.also[r])
    below = [p for r, p in zip(order, ranked, strict=True) if not cut.digest[r]]
    last = picked[-1].score if picked else math.inf
    misses = tuple(p for p in below if p.score <= last)[: max(near_misses, len(also))]
    would = combine(signals, profiles, subscriber.trending_weight, exclude=False)
    return Ranking(
        ranked=ranked,
        picked=picked,
        near_misses=misses,
        also=also,
        floors={p.topic.name: float(f) for p, f in zip(profiles, cut.floors, strict=True)},
        excluded=_excluded(unique, profiles, signals, would, best, explainer),
        keyword_hits=_keyword_hits(index, profiles),
    )


def compile_profiles(
    subscriber: Subscriber,
    liked: Mapping[str, Paper],
    libraries: Mapping[str, Sequence[Paper]],
) -> list[TopicProfile]:
    """Each topic with its liked papers; RankError names a liked id or library not resolved."""
    try:
        per_topic = liked_by_topic(subscriber.topics, liked, libraries)
    except KeyError as e:
        missing = e.args[0]
        topic = next(
            (t.name for t in subscriber.topics if missing in t.papers or missing == t.library),
            "?",
        )
        if any(missing == t.library for t in subscriber.topics):
            raise RankError(
                f"topic {topic!r} of {subscriber.name}: the library {missing} was not read "
                "(pass it in libraries=, see rank.resolve.load_libraries)"
            ) from e
        raise RankError(
            f"topic {topic!r} of {subscriber.name}: liked paper {missing} is unknown "
            "(not in the store, the papers file or the arXiv API; check papers: in config.yaml)"
        ) from e
    return [compile_topic(t, found) for t, found in zip(subscriber.topics, per_topic, strict=True)]


class _Explainer:
    """Turns a paper's signals in one topic into `Reason`s people can read."""

    def __init__(
        self,
        index: PaperIndex,
        profiles: Sequence[TopicProfile],
        signals: Signals,
        vectors: LikedVectors,
    ) -> None:
        self.index, self.profiles, self.signals, self.vectors = index, profiles, signals, vectors
        self._matchers = [AuthorMatcher(p.topic.authors) for p in profiles]
        self._nearest: dict[int, tuple[npt.NDArray[np.intp], Floats]] = {}

    def matched(self, row: int, keyterms: Sequence[Keyterm]) -> list[Keyterm]:
        counts = self.index.counts
        present = set(counts.indices[counts.indptr[row] : counts.indptr[row + 1]].tolist())
        found = []
        for term in keyterms:
            col = self.index.vocab.get(term.key)
            if col is not None and col in present:
                found.append(term)
        return found

    def reasons(self, row: int, t: int) -> tuple[Reason, ...]:
        """Only what a reader can check: each keyword as written (a phrase only where the paper
        has that phrase, its stop words included), the liked paper it is like, the category,
        the followed author, the trending figures. Never a description word, a word of a phrase
        found apart, or a stop word."""
        profile, paper = self.profiles[t], self.index.papers[row]
        reasons = []
        matched = self.matched(row, profile.terms)
        written = _folded_text(paper)
        keywords = [k.text for k in matched if k.kind == "keyword" and written_in(k.text, written)]
        if keywords:
            shown = ", ".join(f"“{k}”" if " " in k.strip() else k for k in keywords[:MAX_TERMS])
            reasons.append(Reason("keyword", f"matches {shown}", tuple(keywords)))
        similar = self._most_similar(row, t, required=not reasons)
        if similar is not None:
            reasons.append(Reason("similar", f"like “{similar.title}”"))
        if self.signals.category[row, t] > 0:
            _, category = category_match(profile.topic.categories, paper.categories)
            reasons.append(Reason("category", f"in {category}", (category or "",)))
        authors = self._matchers[t].matches(paper.authors)
        if authors:
            names = tuple(dict.fromkeys(_unlatex(written) for _, written in authors))
            reasons.append(Reason("author", f"by {', '.join(names)}", names))
        meaning = self.signals.semantic
        if not reasons and meaning is not None and meaning[row, t] > 0:
            said = ", ".join(k.text for k in profile.topic.keywords[:MAX_TERMS])
            text = f"close in meaning to {said}" if said else "close in meaning to your topic"
            reasons.append(Reason("similar", text))
        if not reasons and matched:
            # Only words of a phrase found apart or of the description: not worth listing.
            reasons.append(Reason("topic", f"close to your “{profile.topic.name}” topic"))
        trend = trending_text(paper)
        if trend:
            reasons.append(Reason("trending", trend))
        return tuple(reasons)

    def _most_similar(self, row: int, t: int, *, required: bool) -> Paper | None:
        """The liked paper closest to this one, if close enough to name (or `required`): by
        meaning with the semantic extra, else by shared words."""
        profile = self.profiles[t]
        by_meaning, cosines = self.signals.nearest_liked, self.signals.nearest_liked_cosine
        if profile.liked and by_meaning is not None and cosines is not None:
            close = cosines[row, t] >= SIMILAR_MEANING or (required and cosines[row, t] > 0)
            return profile.liked[int(by_meaning[row, t])] if close else None
        if not profile.liked or self.signals.similar[row, t] <= 0:
            return None
        if t not in self._nearest:  # every paper's nearest liked paper, in one product
            rows = [self.vectors.row[p.id] for p in profile.liked]
            cosines = (self.index.tfidf @ self.vectors.matrix[rows].T).toarray()
            self._nearest[t] = (cosines.argmax(axis=1), cosines.max(axis=1))
        nearest, cosine = self._nearest[t]
        close = cosine[row] >= SIMILAR_REASON or (required and cosine[row] > 0)
        return profile.liked[int(nearest[row])] if close else None


def _unlatex(name: str) -> str:
    """A name as a reader writes it, even from a paper not tidied on the way in."""
    return bibtex_to_text(name) if "\\" in name or "{" in name else name


def _folded_text(paper: Paper) -> str:
    return fold(f"{paper.title} {paper.abstract}")


@lru_cache(maxsize=4096)
def _written_pattern(keyword: str) -> re.Pattern[str] | None:
    """A keyword's words in order, as written (stop words too), plurals and hyphens allowed;
    None for a single word, which the index already matched as itself."""
    words = raw_words(keyword)
    if len(words) < 2:
        return None
    body = r"[\W_]*".join(rf"{re.escape(w)}(?:e?s)?" for w in words)
    return re.compile(rf"(?<![a-z0-9]){body}(?![a-z0-9])")


def written_in(keyword: str, folded_text: str) -> bool:
    """Whether a paper's folded text holds the keyword as the user wrote it."""
    pattern = _written_pattern(keyword)
    return pattern is None or pattern.search(folded_text) is not None


def _excluded(
    papers: Sequence[Paper],
    profiles: Sequence[TopicProfile],
    signals: Signals,
    would: Floats,
    best: Floats,
    explainer: _Explainer,
) -> tuple[ExcludedPaper, ...]:
    found = []
    rows, topics = np.nonzero(signals.excluded & (would > best[:, None]))
    for row, t in zip(rows.tolist(), topics.tolist(), strict=True):
        terms = tuple(k.text for k in explainer.matched(row, profiles[t].exclude))
        found.append(
            ExcludedPaper(
                papers[row], profiles[t].topic.name, terms, round(float(would[row, t]), 6)
            )
        )
    found.sort(key=lambda e: (-e.score, e.paper.id))
    return tuple(found)


def _keyword_hits(index: PaperIndex, profiles: Sequence[TopicProfile]) -> dict[str, dict[str, int]]:
    df = np.diff(index.counts.tocsc().indptr)
    hits: dict[str, dict[str, int]] = {}
    for profile in profiles:
        mine = hits.setdefault(profile.topic.name, {})
        for term in profile.terms:
            if term.kind == "keyword":
                col = index.vocab.get(term.key)
                mine[term.text] = int(df[col]) if col is not None else 0
    return hits
