"""Rank one subscriber's papers: score per topic, the best topic wins, every paper with reasons.

`rank_subscriber` returns every paper that scores above zero, best first. `rank_detailed` also
says what the digest would hold (the papers that stand out from the day, see `cut`), the "also
possibly relevant" ones and the near misses just below that cut, and the papers an `exclude`
removed: what `digest tune` shows. Pure: the liked papers (`papers:` ids and `library:` files)
are resolved by the caller and passed in.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from itertools import islice
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from digest.errors import RankError
from digest.models import Mark, Paper, RankedPaper, Reason, Subscriber
from digest.rank.authors import AuthorMatcher
from digest.rank.categories import category_match
from digest.rank.cut import ALSO_MAX, cut_digest
from digest.rank.feedback import DISLIKE_FROM, HALF_LIFE_DAYS
from digest.rank.index import PaperIndex
from digest.rank.scoring import (
    Floats,
    Keyterm,
    LikedVectors,
    Signals,
    TopicProfile,
    combine,
    compile_topic,
    liked_by_topic,
)
from digest.rank.text import fold, raw_words
from digest.rank.trending import trending_text
from digest.rank.written import Writing, find, plural_base
from digest.render.latex import bibtex_to_text

if TYPE_CHECKING:
    from digest.rank.semantic import Embedder

NEAR_MISSES = 10
TRENDING_PAPERS = 5
TRENDING_CANDIDATES = 40  # the most popular papers looked at for those 5 (each explained)
SIMILAR_REASON = 0.08  # below this cosine a liked paper is not worth naming
# ... and with the semantic extra, below this MiniLM cosine, unless the liked papers placed the
# paper (`_Explainer._in_meaning`): papers of one subfield score about 0.5-0.7 to each other, of
# one field 0.3-0.5 (on the recorded 112-paper day, a vision-language-action paper 0.72 to a
# liked one, a paper on an agent's memory 0.53).
SIMILAR_MEANING = 0.6
# With the semantic extra, the meaning z-score (spreads above the day's usual, see `semantic`)
# from which a paper's place is said to come from meaning (`_Explainer._in_meaning`); on a day
# of n < 5 papers, where no z-score reaches sqrt(n - 1), this share of that instead.
MEANING_REASON = 1.5
MEANING_REASON_SHARE = 0.8
SAID_TWICE = 2  # ... and a keyword said less often than this (once, in the abstract) is in passing
MAX_TERMS = 6
VAGUE = frozenset({"topic", "trending"})  # reasons that do not say why a paper is on topic


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
    # The most-upvoted papers that did not make the cut, each on topic by a reason besides its
    # upvotes (see `_trending`): the digest's trending section.
    trending: tuple[RankedPaper, ...] = ()


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
    marks: Sequence[Mark] = (),
    now: datetime | None = None,
    half_life_days: float = HALF_LIFE_DAYS,
) -> Ranking:
    """The ranking with its cut, near misses and exclusions. Papers the subscriber already
    liked are left out. `limit`: explain only the first `limit` ranked papers, for speed (the
    cut and the near misses are always explained). `embedder`: add sentence-embedding
    similarity (the semantic extra). `marks`: the subscriber's feedback from the email, each
    weighted by its age at `now` (`feedback.with_feedback`). This is the day plan
    (`batch.DayPlan`) with one row."""
    from digest.rank.batch import DayPlan, Reader
    from digest.rank.feedback import with_feedback

    profiles = compile_profiles(subscriber, liked or {}, libraries or {})
    profiles = with_feedback(profiles, marks, now=now, half_life_days=half_life_days)
    plan = DayPlan(papers, [Reader(subscriber, tuple(profiles))], embedder=embedder)
    return plan.ranking(0, near_misses=near_misses, limit=limit, details=True)


def rank_row(
    index: PaperIndex,
    subscriber: Subscriber,
    profiles: Sequence[TopicProfile],
    signals: Signals,
    scores: Floats,
    vectors: LikedVectors,
    *,
    candidates: npt.NDArray[np.bool_] | None = None,
    near_misses: int = NEAR_MISSES,
    limit: int | None = None,
    details: bool = True,
) -> Ranking:
    """One subscriber's ranking from their columns of the day's scores (papers x their topics):
    the best topic wins, the cut, the near misses and the trending papers, each explained.

    `candidates`: the papers in this subscriber's window (None: all), liked ones left out here.
    `details`: every paper above zero in `ranked`, the exclusions and keyword counts (for
    `digest rank` and `tune`); without, `ranked` holds only the cut, the near misses and the
    trending papers, which is all a digest needs and keeps thousands of subscribers cheap."""
    n = len(index)
    if profiles:
        best_topic = scores.argmax(axis=1)
        best = scores[np.arange(n), best_topic]
    else:
        best_topic = np.zeros(n, dtype=np.int64)
        best = np.zeros(n, dtype=np.float32)
    if candidates is not None:
        best = np.where(candidates, best, 0.0).astype(np.float32)
    # Papers the reader liked, or marked in an email, are not shown to them again.
    liked_rows = [
        index.row_of[p.id]
        for pr in profiles
        for p in (*pr.liked, *pr.disliked)
        if p.id in index.row_of
    ]
    if liked_rows:
        best = best.copy()
        best[liked_rows] = 0.0
    # The cut sees the subscriber's own day: the papers of their window, liked ones left out.
    window = np.ones(n, dtype=np.bool_) if candidates is None else candidates.copy()
    window[liked_rows] = False
    rows = np.flatnonzero(window)
    cut = cut_digest(scores[rows], max_papers=subscriber.max_papers, min_score=subscriber.min_score)
    in_cut = np.zeros(n, dtype=np.bool_)
    in_cut[rows[cut.digest]] = True
    picked_rows = _best_first(best, rows[cut.digest])
    also_rows = _best_first(best, rows[cut.also])
    last = float(best[picked_rows[-1]]) if picked_rows else math.inf
    below = np.flatnonzero((best > 0) & ~in_cut & (best <= last))
    miss_rows = _best_first(best, below)[: max(near_misses, len(also_rows))]
    explain_upto = max(limit or 0, subscriber.max_papers + max(near_misses, ALSO_MAX))
    if details:
        order = _best_first(best, np.flatnonzero(best > 0))
    else:  # a digest needs only its cut, the "also" lines and the near misses
        order = _best_first(best, np.array(sorted({*picked_rows, *also_rows, *miss_rows}), np.intp))
    in_digest = {*picked_rows, *also_rows}  # trending shows neither again
    # Trending shows the first few candidates that are on topic (`_trending`): only so many
    # are looked at, and explained.
    trending_rows = _trending_rows(index, best, in_digest)[:TRENDING_CANDIDATES]
    if details:
        explain = {r for i, r in enumerate(order) if limit is None or i < explain_upto}
    else:  # a digest shows its cut and "also" lines (and trending papers): only they need reasons
        explain = in_digest
    explainer = _Explainer(
        index, profiles, signals, vectors, rows=None if details else [*explain, *trending_rows]
    )

    def ranked_paper(r: int, explain: bool) -> RankedPaper:
        t = int(best_topic[r])
        return RankedPaper(
            paper=index.papers[r],
            score=round(float(best[r]), 6),
            topic=profiles[t].topic.name,
            reasons=explainer.reasons(r, t) if explain else (),
        )

    by_row = {r: ranked_paper(r, r in explain) for r in order}
    ranked = tuple(by_row[r] for r in order)
    picked = tuple(by_row[r] for r in picked_rows)
    also = tuple(by_row[r] for r in also_rows)
    misses = tuple(by_row[r] for r in miss_rows)
    also_bar = cut.also_floors[best_topic] if profiles else np.full(n, math.inf)
    near = {r: bool(best[r] >= also_bar[r]) for r in trending_rows}
    trending = _trending(
        (
            (ranked_paper(r, True), near[r])
            for r in trending_rows
            # Explained only when it could pass: near the cut, or a keyword in its title.
            if near[r] or _may_have_keyword_in_title(index.papers[r], profiles[int(best_topic[r])])
        ),
        TRENDING_PAPERS,
    )
    floors = {p.topic.name: float(f) for p, f in zip(profiles, cut.floors, strict=True)}
    if not details:
        return Ranking(
            ranked=ranked,
            picked=picked,
            near_misses=misses,
            excluded=(),
            also=also,
            floors=floors,
            trending=trending,
        )
    would = combine(signals, profiles, subscriber.trending_weight, exclude=False)
    if candidates is not None:
        would = np.where(candidates[:, None], would, 0.0).astype(np.float32)
    if liked_rows:
        would[liked_rows] = 0.0
    return Ranking(
        ranked=ranked,
        picked=picked,
        near_misses=misses,
        also=also,
        floors=floors,
        excluded=_excluded(index.papers, profiles, signals, would, best, explainer),
        keyword_hits=_keyword_hits(index, profiles),
        trending=trending,
    )


def _top(best: Floats, k: int) -> npt.NDArray[np.intp]:
    """The rows of the `k` best scores above zero (ties at the edge all kept)."""
    positive = np.flatnonzero(best > 0)
    if len(positive) <= k:
        return positive
    edge = np.partition(best[positive], len(positive) - k)[len(positive) - k]
    kept: npt.NDArray[np.intp] = positive[best[positive] >= edge]
    return kept


def _best_first(best: Floats, rows: npt.NDArray[np.intp]) -> list[int]:
    """Rows by score, best first; equal scores in row order."""
    rows = np.asarray(rows, dtype=np.intp)
    ordered: list[int] = rows[np.lexsort((rows, -best[rows]))].tolist()
    return ordered


def _trending_rows(index: PaperIndex, best: Floats, picked: set[int]) -> list[int]:
    """The most-upvoted papers (then GitHub stars, then score) scoring above zero that did not
    make the cut: the candidates of the digest's trending section (see `_trending`)."""
    popular, upvotes, stars = index.popularity
    scores = best
    if picked:  # a copy with the digest's own papers at zero: they are not candidates
        scores = best.copy()
        scores[np.fromiter(picked, dtype=np.intp, count=len(picked))] = 0.0
    keep = scores[popular] > 0
    rows = popular[keep]
    order = np.lexsort((rows, -best[rows], -stars[keep], -upvotes[keep]))
    found: list[int] = rows[order].tolist()
    return found


def _trending(
    candidates: Iterable[tuple[RankedPaper, bool]], count: int
) -> tuple[RankedPaper, ...]:
    """The first `count` candidates (each with whether it scores as an "also" entry would)
    that are on topic by a reason a reader can check besides their upvotes: scoring as an
    "also" entry would, or with one of the topic's keywords in the title. A keyword found once
    in an abstract is not enough ("Agentic Transaction" mentions data manipulation, which
    makes no robotics paper), and "close to your topic" (words of the description or of a
    phrase found apart) never is."""
    shown = (
        ranked
        for ranked, near in candidates
        if any(why.kind not in VAGUE for why in ranked.reasons)
        and (near or _keyword_in_title(ranked))
    )
    return tuple(islice(shown, count))


def _may_have_keyword_in_title(paper: Paper, profile: TopicProfile) -> bool:
    """Whether one of the topic's keywords is in the paper's title: what `_keyword_in_title`
    can find once the paper is explained (its keyword reasons are some of these), checked
    before explaining it."""
    title = _folded_title(paper)
    return any(_in_title(term.text, title) for term in profile.terms if term.kind == "keyword")


def _keyword_in_title(ranked: RankedPaper) -> bool:
    title = _folded_title(ranked.paper)
    return any(
        _in_title(term, title)
        for why in ranked.reasons
        if why.kind == "keyword"
        for term in why.terms
    )


def _in_title(keyword: str, folded_title: str) -> bool:
    """Whether a folded title holds the keyword: its words in order, single words too (see
    `_FOLDED`)."""
    words = _words(keyword)
    return bool(words) and find(folded_title, folded_title, words, _FOLDED) is not None


@lru_cache(maxsize=65536)  # one per keyword of every reader
def _words(keyword: str) -> tuple[str, ...]:
    return tuple(plural_base(w) for w in raw_words(keyword))


def _continues_folded_word(c: str) -> bool:
    return c in _ASCII_WORD


def _joins_folded_words(c: str) -> bool:  # [\W_]
    return c == "_" or not c.isalnum()


_ASCII_WORD = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
# A keyword as a folded text writes it: its words (plurals and hyphens allowed) not inside a
# longer run of ASCII letters and digits, joined by anything but letters and digits.
_FOLDED = Writing(continues_word=_continues_folded_word, joins=_joins_folded_words)


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
        *,
        rows: Sequence[int] | None = None,
    ) -> None:
        """`rows`: the only papers that will be explained (None: any of them)."""
        self.index, self.profiles, self.signals, self.vectors = index, profiles, signals, vectors
        self._matchers = [AuthorMatcher(p.topic.authors) for p in profiles]
        self._nearest: dict[int, tuple[npt.NDArray[np.intp], Floats]] = {}
        self._rows = None if rows is None else np.unique(np.asarray(rows, dtype=np.intp))

    def matched(self, row: int, keyterms: Sequence[Keyterm]) -> list[Keyterm]:
        present = self.index.present(row)
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
        found apart, or a stop word. With the semantic extra, closeness in meaning too, and a
        keyword said only in passing just when nothing else explains the paper (`_in_meaning`)."""
        profile, paper = self.profiles[t], self.index.papers[row]
        matched = self.matched(row, profile.terms)
        written = _folded_text(paper)
        keywords = [k for k in matched if k.kind == "keyword" and written_in(k.text, written)]
        authors = self._matchers[t].matches(paper.authors) if self._matchers[t] else []
        names = tuple(dict.fromkeys(_unlatex(written) for _, written in authors))
        in_meaning = self.signals.semantic_topics is not None and bool(
            self.signals.semantic_topics[t]
        )
        if in_meaning:
            reasons = self._in_meaning(row, t, keywords, followed=bool(names))
        else:
            reasons = self._in_words(row, t, keywords)
        if self.signals.category[row, t] > 0:
            _, category = category_match(profile.topic.categories, paper.categories)
            reasons.append(Reason("category", f"in {category}", (category or "",)))
        if names:
            reasons.append(Reason("author", f"by {', '.join(names)}", names))
        if not reasons and (matched or in_meaning):
            # Only words of a phrase found apart or of the description, or (with the semantic
            # extra) a middling closeness in meaning shared with its neighbours: not worth
            # listing, and not a reason for the trending section (`_trending`).
            reasons.append(Reason("topic", f"close to your “{profile.topic.name}” topic"))
        disliked = self._disliked(row, t)
        if disliked is not None:
            reasons.append(disliked)
        trend = trending_text(paper)
        if trend:
            reasons.append(Reason("trending", trend))
        return tuple(reasons)

    def _in_words(self, row: int, t: int, keywords: Sequence[Keyterm]) -> list[Reason]:
        """Without the semantic extra: the keywords found, and the liked paper sharing most
        words with this one (TF-IDF cosine), when close enough to name or nothing else is."""
        reasons = []
        if keywords:
            reasons.append(_keyword_reason(keywords))
        similar = self._most_similar(row, t, required=not reasons)
        if similar is not None:
            reasons.append(self._liked_reason(t, similar, "like"))
        return reasons

    def _in_meaning(
        self, row: int, t: int, keywords: Sequence[Keyterm], *, followed: bool
    ) -> list[Reason]:
        """With the semantic extra, what placed the paper. Its meaning is the mean of two
        z-scores over the day (see `semantic`), each named when at least MEANING_REASON:
        closeness to the topic's liked papers as "close in meaning to <liked title>" (the
        nearest of them, also named whenever at least SIMILAR_MEANING close), else to the
        topic's words as "close in meaning to your <topic> topic". A keyword in the title or
        said twice is always listed; one said once, in passing in the abstract, only when
        nothing else (another keyword, meaning, a liked paper, a followed author) explains the
        paper, since then it is what placed it."""
        signals, profile = self.signals, self.profiles[t]
        n = len(self.index)
        bar = min(MEANING_REASON, MEANING_REASON_SHARE * math.sqrt(n - 1)) if n > 1 else math.inf
        by_liked = signals.semantic_liked is not None and signals.semantic_liked[row, t] >= bar
        by_words = signals.semantic_words is not None and signals.semantic_words[row, t] >= bar
        named = None
        nearest, cosines = signals.nearest_liked, signals.nearest_liked_cosine
        close = by_liked or (cosines is not None and cosines[row, t] >= SIMILAR_MEANING)
        if profile.liked and nearest is not None and close:
            named = profile.liked[int(nearest[row, t])]
        said = [k for k in keywords if self._count(row, k) >= SAID_TWICE]
        if not (said or named is not None or by_words or followed):
            said = list(keywords)  # in passing, but the only thing that placed it
        reasons = [_keyword_reason(said)] if said else []
        if named is not None:
            reasons.append(self._liked_reason(t, named, "close in meaning to"))
        if by_words and named is None:
            text = f"close in meaning to your “{profile.topic.name}” topic"
            reasons.append(Reason("meaning", text))
        return reasons

    def _count(self, row: int, term: Keyterm) -> float:
        """How often the paper says a term: a title's word counts TITLE_REPEAT times."""
        col = self.index.vocab.get(term.key)
        return 0.0 if col is None else float(self.index.counts[row, col])

    def _liked_reason(self, t: int, liked: Paper, said: str) -> Reason:
        if liked.id in self.profiles[t].feedback_liked:
            said = "because you liked"
        return Reason("similar", f"{said} “{liked.title}”")

    def _disliked(self, row: int, t: int) -> Reason | None:
        """What a "not for me" mark did to this paper, when it is like the paper marked: ranked
        lower, or kept because it matches the topic's keywords or authors (never silently)."""
        signals, profile = self.signals, self.profiles[t]
        if signals.disliked is None or signals.nearest_disliked is None or not profile.disliked:
            return None
        if signals.disliked[row, t] < DISLIKE_FROM:
            return None
        title = profile.disliked[int(signals.nearest_disliked[row, t])].title
        kept = signals.keyword_kept is not None and bool(signals.keyword_kept[row, t])
        if kept or signals.author[row, t] > 0:
            return Reason("feedback", f"kept though like “{title}”, marked not for me")
        if signals.learned_topics is not None and signals.learned_topics[t]:
            return None  # the topic's classifier placed it, not this likeness (`learn`)
        return Reason("feedback", f"ranked lower: like “{title}”, marked not for me")

    def _most_similar(self, row: int, t: int, *, required: bool) -> Paper | None:
        """The liked paper sharing most words with this one, if close enough to name (or
        `required`)."""
        profile = self.profiles[t]
        if not profile.liked or self.signals.similar[row, t] <= 0:
            return None
        if t not in self._nearest:  # each paper's nearest liked paper, in one product
            self._nearest[t] = self._nearest_liked(profile)
        nearest, cosine = self._nearest[t]
        close = cosine[row] >= SIMILAR_REASON or (required and cosine[row] > 0)
        return profile.liked[int(nearest[row])] if close else None

    def _nearest_liked(self, profile: TopicProfile) -> tuple[npt.NDArray[np.intp], Floats]:
        """Each paper's nearest liked paper of the topic and its cosine (for the papers to be
        explained only, when the explainer knows them: a digest explains a few dozen)."""
        # The liked papers' rows written out dense (vocabulary x liked): a sparse product and
        # its fancy indexing cost ~0.3 ms more per call in scipy's checks and conversions, for
        # the same sums in the same order (the same bits).
        vectors = self.vectors.matrix
        liked = np.zeros((vectors.shape[1], len(profile.liked)), dtype=vectors.dtype)
        for column, paper in enumerate(profile.liked):
            row = self.vectors.row[paper.id]
            start, end = vectors.indptr[row], vectors.indptr[row + 1]
            liked[vectors.indices[start:end], column] = vectors.data[start:end]
        if self._rows is None:
            cosines = np.asarray(self.index.tfidf @ liked)
            return cosines.argmax(axis=1), cosines.max(axis=1)
        cosines = np.asarray(self.index.tfidf[self._rows] @ liked)
        nearest = np.zeros(len(self.index), dtype=np.intp)
        cosine = np.zeros(len(self.index), dtype=cosines.dtype)
        if len(self._rows):
            nearest[self._rows], cosine[self._rows] = cosines.argmax(axis=1), cosines.max(axis=1)
        return nearest, cosine


def _keyword_reason(keywords: Sequence[Keyterm]) -> Reason:
    texts = [k.text for k in keywords]
    shown = ", ".join(f"“{k}”" if " " in k.strip() else k for k in texts[:MAX_TERMS])
    return Reason("keyword", f"matches {shown}", tuple(texts))


def _unlatex(name: str) -> str:
    """A name as a reader writes it, even from a paper not tidied on the way in."""
    return bibtex_to_text(name) if "\\" in name or "{" in name else name


@lru_cache(maxsize=16384)  # each paper is explained for many readers
def _folded_text(paper: Paper) -> str:
    return fold(f"{paper.title} {paper.abstract}")


@lru_cache(maxsize=16384)
def _folded_title(paper: Paper) -> str:
    return fold(paper.title)


def written_in(keyword: str, folded_text: str) -> bool:
    """Whether a paper's folded text holds the keyword as the user wrote it."""
    words = _words(keyword)
    if len(words) < 2:  # the index already matched a single word as itself
        return True
    if not all(w in folded_text for w in words):  # a cheap first test
        return False
    return find(folded_text, folded_text, words, _FOLDED) is not None


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
    df = index.document_frequency
    hits: dict[str, dict[str, int]] = {}
    for profile in profiles:
        mine = hits.setdefault(profile.topic.name, {})
        for term in profile.terms:
            if term.kind == "keyword":
                col = index.vocab.get(term.key)
                mine[term.text] = int(df[col]) if col is not None else 0
    return hits
