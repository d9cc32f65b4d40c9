"""What the templates show, worked out from a `Digest`: rows of plain values, no I/O, no markup.

A digest page is a list of rows `(kind, values)`; the HTML and the text template draw each kind.
Values are dicts, lists, strings, ints and booleans only. The templates branch on booleans,
numbers, list lengths and whether a string is empty, never on what a non-empty string says:
`digest.render.inline` relies on that to inline each row's shape once and fill in the strings.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

from digest.models import Digest, Paper, RankedPaper, Reason, Subscriber
from digest.rank.written import Writing, find_all, lower_at_places, plural_base
from digest.render.latex import clean_text, latex_to_text

Row = tuple[str, Mapping[str, Any]]
# A recipient's signed "more like this" / "not for me" link: (purpose, paper id, topic) -> URL.
FeedbackUrl = Callable[[str, str, str], str]
# Row kinds whose values are cached by content (a paper's card): the same content gives the
# same dict object, which the renderer paints once. Reasons, trending and "also" lines are
# cached too, but differ from one reader to the next: kept by the painter, they only pushed
# cards out.
SHARED_ROWS = frozenset({"paper", "paper_end"})

AUTHORS_SHOWN = 3
CATEGORIES_SHOWN = 3
SUBJECT_TITLE_CHARS = 60
SUMMARY_CHARS = 320
TRENDING_SUMMARY_CHARS = 160  # one line  # about two sentences: enough to decide whether to click
MAX_SUMMARY_HITS = 2  # places a matched keyword is marked in a summary
MIN_SUMMARY_CHARS = 60  # below this a trimmed summary is dropped rather than kept as a stub

_SENTENCE_END = re.compile(
    r"(?<=[.!?])(?<!\bet al\.)(?<!\be\.g\.)(?<!\bi\.e\.)(?<!\bFig\.)(?<!\bcf\.)(?<!\bvs\.)"
    r"\s+(?=[A-Z0-9(“\"'])"
)
_UNSAFE_URL = re.compile(r"[\x00-\x20\x7f]")
# The sentence of an abstract that says what the paper does, and a structured abstract's verdict.
_CONTRIBUTION = re.compile(
    r"\b(?:we|this (?:paper|work|study|article)|our (?:method|approach|work|model|results?))\s+"
    r"(?:\w+ly\s+|also\s+|then\s+|further\s+)?"
    r"(?:propose|introduce|present|show|develop|design|demonstrate|find|found|report|describe"
    r"|build|release|derive|prove|establish|identify|reveal|achieve|construct|train)",
    re.IGNORECASE,
)
_CONCLUSION = re.compile(r"^(?:Conclusions?|Interpretation|Findings|Results)\s*:")


@dataclass(frozen=True)
class PageLinks:
    """The links a page needs besides the papers' own: the site and the manage/unsubscribe page."""

    base_url: str
    manage_url: str
    unsubscribe_url: str
    web_url: str = ""  # the digest's web copy: "view in your browser" ("" on the copy itself)
    feed_url: str = ""  # the subscriber's private Atom feed
    web_copy: bool = False  # the page is a web copy: no one's manage or unsubscribe link
    feedback: FeedbackUrl | None = None  # None (a preview): no feedback links


def page_links(
    base_url: str,
    manage_url: str | None = None,
    unsubscribe_url: str | None = None,
    feedback: FeedbackUrl | None = None,
    *,
    web_url: str | None = None,
    feed_url: str | None = None,
    web_copy: bool = False,
) -> PageLinks:
    """The page's links; manage defaults to `base_url/manage`, unsubscribe to the manage page."""
    base = base_url.rstrip("/")
    manage = manage_url or f"{base}/manage"
    return PageLinks(
        base_url=base,
        manage_url=manage,
        unsubscribe_url=unsubscribe_url or manage,
        web_url=web_url or "",
        feed_url=feed_url or "",
        web_copy=web_copy,
        feedback=feedback,
    )


# ---------------------------------------------------------------- whole page


def page_rows(digest: Digest, links: PageLinks) -> list[Row]:
    """The rows of one subscriber's page, top to bottom: header, topics with their papers (or
    the "nothing new" note when the digest is empty), near misses (tuning pages only),
    trending, footer."""
    rows: list[Row] = [("header", {**header_values(digest), "web_url": _url(links.web_url)})]
    shown: set[str] = set()
    for group in digest.groups:
        if not group.papers:
            continue
        count = f"{len(group.papers)} paper{'s' if len(group.papers) != 1 else ''}"
        rows.append(("topic", {"name": clean_text(group.topic), "count": count}))
        for ranked in group.papers:
            shown.add(ranked.paper.id)
            # A card reads title, why, summary, then what to do about it: the feedback links
            # come last and close the card (its bottom border), when there are any.
            feedback = links.feedback is not None
            top, end = card_values(ranked.paper, matched_terms(ranked), closes=not feedback)
            rows.append(("paper", top))
            # The trending figures are shown once, with the card's signals, not again in "Why".
            why = why_values(tuple(r for r in ranked.reasons if r.kind != "trending"))
            if why["reasons"]:
                rows.append(("why", why))
            rows.append(("paper_end", end))
            if links.feedback is not None:
                rows.append(("feedback", feedback_values(ranked, links.feedback, card=True)))
    if digest.is_empty:
        rows.append(("empty", {"note": "Nothing new matched your topics today."}))
    if digest.also:
        note = "Just below today's cut: less clearly about your topics."
        rows.append(("also_heading", {"title": "Also possibly relevant", "note": note}))
        for r in digest.also:
            # Its feedback links, when there are any, sit right under it.
            rows.append(("also", {**also_values(r), "open": links.feedback is not None}))
            if links.feedback is not None:
                rows.append(("feedback", feedback_values(r, links.feedback, also=True)))
    for title, lines in digest.tuning:
        rows.append(("near_heading", {"title": clean_text(title)}))
        rows.append(("tuning", {"lines": [clean_text(line) for line in lines]}))
    if digest.near_misses:
        rows.append(("near_heading", {"title": "Just below the cut"}))
        rows.extend(("near", near_values(r)) for r in digest.near_misses)
    trending = [r for r in digest.trending if r.paper.id not in shown]
    if trending:
        rows.append(("trending_heading", {"title": "Trending today"}))
        for r in trending:
            # Its feedback links, when there are any, end the item (its bottom border).
            rows.append(("trending", {**trending_values(r), "open": links.feedback is not None}))
            if links.feedback is not None:
                rows.append(("feedback", feedback_values(r, links.feedback, item=True)))
    rows.append(("footer", footer_values(digest.subscriber, links)))
    return rows


def subject_line(digest: Digest) -> str:
    """What is inside, the best paper first: "Paper digest, Tue 1 Dec: Agentic Transaction:
    ACID-Compliant… and 7 more"."""
    day = _day(digest.date)
    if digest.is_empty:
        return f"Paper digest, {day}: nothing new"
    best = max((r for g in digest.groups for r in g.papers), key=lambda r: r.score)
    title = _shorten(latex_to_text(best.paper.title) or best.paper.id, SUBJECT_TITLE_CHARS)
    more = f" and {digest.count - 1} more" if digest.count > 1 else ""
    return f"Paper digest, {day}: {title}{more}"


def header_values(digest: Digest) -> dict[str, Any]:
    # Only the topics that have papers today: a topic named with nothing under it reads as noise.
    topics = [clean_text(g.topic) for g in digest.groups if g.papers]
    titles = [latex_to_text(r.paper.title) for g in digest.groups for r in g.papers]
    return {
        "preheader": _shorten(" · ".join(titles[:3]), 140) if titles else "Nothing new today.",
        "date": f"{digest.date:%A} {digest.date.day} {digest.date:%B %Y}",
        "count": _papers(digest.count) if not digest.is_empty else "No new papers",
        "topics": topics,
    }


def footer_values(subscriber: Subscriber, links: PageLinks) -> dict[str, Any]:
    if links.web_copy:  # it may have been forwarded: it names no one and links no one's pages
        often = _OFTEN.get(subscriber.frequency, "daily")
        return {
            "why": f"The web copy of a paper digest, a {often} list of new research papers "
            "picked for its reader's topics.",
            "topics": [clean_text(t.name) for t in subscriber.topics],
            "manage_url": "",
            "unsubscribe_url": "",
            "site_url": _url(links.base_url),
            "web_url": "",
            "feed_url": "",
        }
    return {
        "why": f"You get this email because {clean_text(subscriber.email)} subscribed to "
        f"paper digest, a {_OFTEN.get(subscriber.frequency, 'daily')} list of new research "
        "papers picked for your topics.",
        "topics": [clean_text(t.name) for t in subscriber.topics],
        "manage_url": _url(links.manage_url),
        "unsubscribe_url": _url(links.unsubscribe_url),
        "site_url": _url(links.base_url),
        "web_url": _url(links.web_url),
        "feed_url": _url(links.feed_url),
    }


_OFTEN = {"daily": "daily", "weekly": "weekly"}


# ---------------------------------------------------------------- one paper


def card_values(
    paper: Paper, terms: tuple[str, ...] = (), *, closes: bool = True
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A paper's card: its `paper` and `paper_end` rows, the summary showing `terms` (the
    keywords it matched) where it can (both cached: the same papers recur in many digests, and
    the same content is the same dict). `closes`: the `paper_end` row ends the card (no
    feedback row follows it)."""
    return _card_top(paper), _card_end(paper, _written(paper, terms), closes)


def feedback_values(
    ranked: RankedPaper,
    url: FeedbackUrl,
    *,
    card: bool = False,
    item: bool = False,
    also: bool = False,
) -> dict[str, Any]:
    """A paper's "more like this" and "not for me" links, signed for this reader and topic
    (`card`: the last row of a paper's card, which it closes; `item`: of a trending item;
    `also`: of a paper just below the cut)."""
    paper, topic = ranked.paper.id, ranked.topic
    return {
        "more": _url(url("more", paper, topic)),
        "less": _url(url("less", paper, topic)),
        "card": card,
        "item": item,
        "also": also,
    }


@lru_cache(maxsize=16384)
def _card_top(paper: Paper) -> dict[str, Any]:
    return paper_values(paper)


@lru_cache(maxsize=8192)
def _card_end(paper: Paper, terms: tuple[str, ...], closes: bool) -> dict[str, Any]:
    return {**paper_end_values(paper, terms=terms), "closes": closes}


def matched_terms(ranked: RankedPaper) -> tuple[str, ...]:
    """The keywords a paper matched, as the subscriber wrote them."""
    return tuple(t for r in ranked.reasons if r.kind == "keyword" for t in r.terms)


def _written(paper: Paper, terms: tuple[str, ...]) -> tuple[str, ...]:
    """The terms a summary of the paper could show (written in its abstract or AI summary):
    a keyword found only in the title changes nothing, so many readers share one card."""
    if not terms:
        return ()
    lower = _lower_text(paper)
    return tuple(
        t for t in terms if any(k.written(lower) and k.found_in(lower) for k in _patterns((t,)))
    )


@lru_cache(maxsize=16384)
def _lower_text(paper: Paper) -> str:
    return f"{paper.ai_summary or ''} {paper.abstract}".lower()


def paper_values(paper: Paper) -> dict[str, Any]:
    """The top of a paper's card: its title, linked, its authors and categories."""
    authors = [clean_text(a) for a in paper.authors if a.strip()]
    return {
        "title": latex_to_text(paper.title) or paper.id,
        "url": _url(abs_url(paper)),
        "authors": ", ".join(authors[:AUTHORS_SHOWN]),
        "et_al": len(authors) > AUTHORS_SHOWN,
        "categories": [clean_text(c) for c in paper.categories[:CATEGORIES_SHOWN]],
        "details": details(paper),
    }


_ANNOUNCED = {"cross": "cross-list", "replace": "new version", "replace-cross": "new version"}


def details(paper: Paper) -> str:
    """What the sources say besides the abstract: organisation, new version or cross-list, the
    date, Hugging Face comments ("DeepMind · cross-list · 18 Aug 2026 · 4 comments")."""
    found = []
    if paper.organization:
        found.append(clean_text(paper.organization))
    if paper.announce_type in _ANNOUNCED:
        found.append(_ANNOUNCED[paper.announce_type])
    when = paper.announced or (paper.published.date() if paper.published else None)
    if when is not None:
        found.append(f"{when.day} {when:%b %Y}")
    if paper.comments:
        found.append(_count(paper.comments, "comment"))
    return " · ".join(found)


def paper_end_values(
    paper: Paper, summary_chars: int | None = SUMMARY_CHARS, terms: tuple[str, ...] = ()
) -> dict[str, Any]:
    """The rest of a card: the summary with the matched `terms` marked (None drops it),
    popularity signals and links."""
    return {
        "summary": summary_segments(paper, summary_chars, terms) if summary_chars else [],
        "signals": signals(paper),
        "links": paper_links(paper),
    }


def signals(paper: Paper) -> list[str]:
    """Popularity: Hugging Face upvotes and GitHub stars."""
    found = []
    if paper.upvotes:
        found.append(f"▲ {_count(paper.upvotes, 'upvote')}")
    if paper.github_stars:
        found.append(f"★ {_count(paper.github_stars, 'star')}")
    return found


@lru_cache(maxsize=4096)
def summary_segments(
    paper: Paper, limit: int = SUMMARY_CHARS, terms: tuple[str, ...] = ()
) -> list[dict[str, Any]]:
    """The summary (see `summarize`) as `highlight` segments, the first MAX_SUMMARY_HITS
    places a matched term is written marked (cached: the same papers recur in many digests;
    the list is shared, never changed)."""
    text = summarize(paper, limit, terms)
    if not text:
        return []
    return _mark(text, terms)


def summarize(paper: Paper, limit: int = SUMMARY_CHARS, terms: Sequence[str] = ()) -> str:
    """The HF AI summary when there is one, else what the paper does: the abstract from the
    sentence that states its contribution ("we propose…", "this paper introduces…", a
    structured abstract's conclusions), or from its start when none does, within limit.

    `terms`: the keywords the paper matched. When the summary from the abstract holds none of
    them, the first sentence that does joins the contribution's (after "…"; cut short when
    both do not fit), or the summary starts there (when no sentence states the contribution,
    or the keyword's sentence cannot be shown with it): the reader sees why the paper is
    here."""
    summary = _plain_summary(paper, limit)
    patterns = _patterns(tuple(terms))
    if paper.ai_summary or not patterns or not summary or _says(patterns, summary):
        return summary
    sentences, start, lower = _abstract(paper)
    if not any(k.written(lower) for k in patterns):  # none written anywhere: the usual
        return summary
    where = next((i for i, s in enumerate(sentences) if _says(patterns, s)), None)
    if where is None:
        return summary
    if start is None:  # no sentence states the contribution: the keyword's is the best start
        return shorten_summary(" ".join(sentences[where:]), limit)
    first, term = sentences[start], sentences[where]
    pair = f"{term} … {first}" if where < start else f"{first} … {term}"
    if where == start + 1:
        pair = f"{first} {term}"
    if len(pair) <= limit:
        return pair
    cut = _shorten(pair, limit)  # the contribution whole, the term's sentence cut short ...
    if where > start and _says(patterns, cut):
        return cut
    return shorten_summary(" ".join(sentences[where:]), limit)  # ... or from the term on


@lru_cache(maxsize=16384)
def _plain_summary(paper: Paper, limit: int) -> str:
    """The summary whatever matched: the AI summary, or the abstract from its contribution."""
    if paper.ai_summary and latex_to_text(paper.ai_summary):
        return shorten_summary(latex_to_text(paper.ai_summary), limit)
    sentences, start, _ = _abstract(paper)
    return shorten_summary(" ".join(sentences[start or 0 :]), limit)


@lru_cache(maxsize=16384)
def _abstract(paper: Paper) -> tuple[tuple[str, ...], int | None, str]:
    """The abstract's sentences, the one stating the contribution (None: none does) and the
    whole in lower case."""
    text = latex_to_text(paper.abstract)
    sentences = tuple(_SENTENCE_END.split(text))
    for pattern in (_CONTRIBUTION, _CONCLUSION):
        start = next((i for i, s in enumerate(sentences) if pattern.search(s)), None)
        if start is not None:
            return sentences, start, text.lower()
    return sentences, None, text.lower()


def shorten_summary(text: str, limit: int) -> str:
    """The first whole sentences of text that fit in limit characters, else its first words."""
    if len(text) <= limit:
        return text
    kept = ""
    for sentence in _SENTENCE_END.split(text):
        candidate = f"{kept} {sentence}".strip()
        if len(candidate) > limit:
            break
        kept = candidate
    return kept or _shorten(text, limit)


def paper_links(paper: Paper) -> list[dict[str, str]]:
    arxiv = paper.arxiv_id
    candidates = [
        ("PDF", paper.pdf_url or (f"https://arxiv.org/pdf/{arxiv}" if arxiv else None)),
        ("Code", paper.code_url),
        ("Project", paper.project_url),
        ("Hugging Face", paper.hf_url),
    ]
    return [{"label": label, "url": _url(url)} for label, url in candidates if url and _url(url)]


def abs_url(paper: Paper) -> str:
    if paper.abs_url:
        return paper.abs_url
    if paper.arxiv_id:
        return f"https://arxiv.org/abs/{paper.arxiv_id}"
    if paper.doi:
        return f"https://doi.org/{paper.doi}"
    return paper.hf_url or paper.pdf_url or ""


@lru_cache(maxsize=4096)  # reasons differ from one reader to the next: few come again
def why_values(reasons: tuple[Reason, ...]) -> dict[str, Any]:
    """Why the ranker picked a paper: each reason's sentence with its matched terms highlighted."""
    return {
        "reasons": [highlight(clean_text(r.text), r.terms) for r in reasons if clean_text(r.text)]
    }


@lru_cache(maxsize=1024)
def trending_values(ranked: RankedPaper) -> dict[str, Any]:
    paper = ranked.paper
    reason = next((clean_text(r.text) for r in ranked.reasons if r.kind != "trending"), "")
    return {
        "title": latex_to_text(paper.title) or paper.id,
        "url": _url(abs_url(paper)),
        "signals": signals(paper),
        "why": reason,
        "summary": summary_segments(
            paper, TRENDING_SUMMARY_CHARS, _written(paper, matched_terms(ranked))
        ),
    }


@lru_cache(maxsize=512)
def also_values(ranked: RankedPaper) -> dict[str, Any]:
    """A paper just below the cut: one line, its title and its first reason."""
    paper = ranked.paper
    return {
        "title": latex_to_text(paper.title) or paper.id,
        "url": _url(abs_url(paper)),
        "why": next((clean_text(r.text) for r in ranked.reasons if clean_text(r.text)), ""),
    }


def near_values(ranked: RankedPaper) -> dict[str, Any]:
    """A near miss, for tuning pages: title, score, topic and why it scored at all."""
    paper = ranked.paper
    return {
        "title": latex_to_text(paper.title) or paper.id,
        "url": _url(abs_url(paper)),
        "score": f"score {ranked.score:.3f} in {clean_text(ranked.topic)}",
        "why": " · ".join(clean_text(r.text) for r in ranked.reasons),
    }


# ---------------------------------------------------------------- text helpers


def highlight(text: str, terms: Sequence[str]) -> list[dict[str, Any]]:
    """Split text into segments `{"text", "hit"}`, hits being the terms (case-insensitive, whole
    words where the term starts or ends with a letter or digit, longest term first)."""
    wanted = sorted({t.strip() for t in terms if t.strip()}, key=len, reverse=True)
    if not wanted:
        return [{"text": text, "hit": False}]
    # Plain searches, no pattern per set of terms: every reader's reasons are a new set.
    lower, found = _same_length_lower(text), list[tuple[int, int]]()
    for term in wanted:
        at = lower.find(term.lower())
        while at >= 0:
            end = at + len(term)
            whole = not (term[0].isalnum() and at > 0 and _word_char(lower[at - 1])) and not (
                term[-1].isalnum() and end < len(lower) and _word_char(lower[end])
            )
            if whole and all(end <= a or at >= b for a, b in found):
                found.append((at, end))
            at = lower.find(term.lower(), at + 1)
    segments: list[dict[str, Any]] = []
    at = 0
    for a, b in sorted(found):
        if a > at:
            segments.append({"text": text[at:a], "hit": False})
        segments.append({"text": text[a:b], "hit": True})
        at = b
    if at < len(text):
        segments.append({"text": text[at:], "hit": False})
    return segments


def _same_length_lower(text: str) -> str:
    """text in lower case, letter for letter ("İ" lowers to two characters: kept as it is)."""
    lower = text.lower()
    if len(lower) == len(text):
        return lower
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in text)


def _word_char(c: str) -> bool:
    return c.isalnum() or c == "_"


def _mark(text: str, terms: tuple[str, ...]) -> list[dict[str, Any]]:
    """`text` as segments with the first MAX_SUMMARY_HITS places a term is written marked (a
    bounded number: each count of marks is a row shape to inline), the longest term first
    where two overlap."""
    found: list[tuple[int, int]] = []
    for pattern in _patterns(terms):  # longest term first
        for start, end in pattern.spans(text):
            if all(end <= a or start >= b for a, b in found):
                found.append((start, end))
    segments: list[dict[str, Any]] = []
    at = 0
    for a, b in sorted(found)[:MAX_SUMMARY_HITS]:
        if a > at:
            segments.append({"text": text[at:a], "hit": False})
        segments.append({"text": text[a:b], "hit": True})
        at = b
    if at < len(text):
        segments.append({"text": text[at:], "hit": False})
    return segments


@dataclass(frozen=True)
class WrittenKeyword:
    """A keyword as a summary writes it: its words (lower case) in order, each with an optional
    plural ending, joined by spaces or dashes, case aside (see `rank.written`). Words of ASCII
    letters are found without a pattern (a big list has thousands of keywords, and compiling
    each costs more than a summary); others, or a text that lower case would move, through
    the pattern `source`."""

    words: tuple[str, ...]
    source: str
    ascii: bool = True  # every word is of ASCII letters and digits

    def written(self, lower: str) -> bool:
        """Whether every word is in `lower` (the text in lower case): a cheap first test."""
        return all(w in lower for w in self.words)

    def found_in(self, text: str) -> bool:
        return next(self.spans(text), None) is not None

    def spans(self, text: str) -> Iterator[tuple[int, int]]:
        """Where `text` writes the keyword, left to right."""
        lower = lower_at_places(text) if self.ascii else None
        if lower is None:
            pattern = _compiled(self.source)
            return (m.span() for m in pattern.finditer(_dashes_as_hyphens(text)))
        return find_all(text, lower, self.words, _SUMMARY_WRITING)


def _joins_words(c: str) -> bool:
    return c.isspace() or c in "-\u2010\u2011\u2013"


_SUMMARY_WRITING = Writing(continues_word=_word_char, joins=_joins_words)


@lru_cache(maxsize=4096)  # only for keywords or texts beyond ASCII letters (see WrittenKeyword)
def _compiled(source: str) -> re.Pattern[str]:
    return re.compile(source, re.IGNORECASE)


# The dashes a keyword's words may be joined by, as hyphens: the same length, so a match's
# place is the same in the text. A pattern's character class of ASCII only compiles three
# times faster than one naming these.
_DASHES = str.maketrans({"\u2010": "-", "\u2011": "-", "\u2013": "-"})


def _dashes_as_hyphens(text: str) -> str:
    return text if text.isascii() else text.translate(_DASHES)


def _says(patterns: Sequence[WrittenKeyword], text: str) -> bool:
    lower = text.lower()  # a plain substring test first: most sentences lack every keyword
    return any(k.written(lower) and k.found_in(text) for k in patterns)


@lru_cache(maxsize=16384)
def _patterns(terms: tuple[str, ...]) -> list[WrittenKeyword]:
    """Each keyword's pattern (see `_keyword_pattern`), the longest keyword first."""
    unique = sorted({t.strip() for t in terms if t.strip()}, key=lambda t: (-len(t), t))
    return [p for p in map(_keyword_pattern, unique) if p is not None]


@lru_cache(maxsize=65536)  # one per keyword of every reader: thousands on a big list
def _keyword_pattern(term: str) -> WrittenKeyword | None:
    """Where a text writes a keyword: its words in order, case, plurals, hyphens and spaces
    aside ("LLM agents" finds "LLM agent", "multi-agent" finds "multi agent"; see
    `rank.written`)."""
    words = [plural_base(w) for w in re.findall(r"\w+", term)]
    if not words:
        return None
    body = r"[\s\-]*".join(rf"{re.escape(w)}(?:e?s)?" for w in words)  # any dash: see `spans`
    lower = tuple(w.lower() for w in words)
    return WrittenKeyword(lower, rf"(?<!\w){body}(?!\w)", all(w.isascii() for w in lower))


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,;:.")
    return f"{cut}…"


def _url(url: str | None) -> str:
    # A URL with spaces or control characters in it is broken: drop them rather than the link.
    if url and url.isprintable() and " " not in url:  # the usual: nothing to drop (a digest
        return url  # has ~50 links)
    return _UNSAFE_URL.sub("", url or "")


def _count(n: int, noun: str) -> str:
    if n >= 10_000:
        return f"{n / 1000:.0f}k {noun}s"
    if n >= 1000:
        return f"{n / 1000:.1f}k {noun}s"
    return f"{n} {noun}{'s' if n != 1 else ''}"


def _papers(n: int) -> str:
    return f"{n} new paper{'s' if n != 1 else ''}"


def _join(items: Sequence[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} and {items[-1]}"


def _day(day: date) -> str:
    return f"{day:%a} {day.day} {day:%b}"
