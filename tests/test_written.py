"""`rank.written` finds a keyword where the patterns it replaces do, at the same places: the
summary's (case aside, spaces and dashes between words, word characters around) and the folded
text's (ASCII letters and digits around, anything else between). Checked against the patterns
themselves on real abstracts and on texts made to catch the edge cases."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from digest.rank.ranker import _in_title, written_in
from digest.rank.text import fold, raw_words
from digest.rank.written import plural_base
from digest.render.view import _keyword_pattern, summary_segments
from digest.sources.arxiv import parse_listing

EDGES = [
    "Multi-agent systems and multiagent planning with multi\u2010agents, multi\u2013agent, multi \u2011 agent.",
    "LLM agents, an LLM-agent, llmagentes, LLMs agents; xLLM agent, LLM agentsx, _LLM agent_.",
    "Kelvin \u212anowledge graphs, \u0130nformation retrieval, \u0131nformation ret\u017fieval.",
    "graph neural networks: graph-neural-network GNNs, graphs neural networkes, graph  \n neural.",
    "process processes processs, class classes, bus buses busses; sss ss s.",
    "3D point clouds, 3-D point-cloud, 3d_point_cloud, a3d point cloud, \u00e9t\u00e9 point clouds.",
]
KEYWORDS = [
    "multi agent", "LLM agents", "LLM agent", "knowledge graph", "information retrieval",
    "graph neural network", "process", "class", "bus", "s", "ss", "3D point cloud", "point",
    "neural", "agent", "Kelvin", "\u00e9t\u00e9 point", "cloud",
]  # fmt: skip


def old_summary_spans(term: str, text: str) -> list[tuple[int, int]]:
    """The summary's pattern as it was, with every dash in its class, on the text as it is
    (its words without their plural ending, as `plural_base` gives them)."""
    words = [plural_base(w) for w in re.findall(r"\w+", term)]
    body = r"[\s\-\u2010\u2011\u2013]*".join(rf"{re.escape(w)}(?:e?s)?" for w in words)
    return [m.span() for m in re.finditer(rf"(?<!\w){body}(?!\w)", text, re.IGNORECASE)]


def old_folded_search(keyword: str, folded: str) -> bool:
    words = [plural_base(w) for w in raw_words(keyword)]
    body = r"[\W_]*".join(rf"{re.escape(w)}(?:e?s)?" for w in words)
    return re.search(rf"(?<![a-z0-9]){body}(?![a-z0-9])", folded) is not None


@pytest.fixture(scope="module")
def texts_and_keywords(real: Path) -> tuple[list[str], list[str]]:
    papers = [
        p
        for listing in sorted((real / "arxiv_rss").glob("*.xml"))
        for p in parse_listing(listing.read_bytes())
    ]
    rng = random.Random(5)
    sample = rng.sample(papers, min(len(papers), 400))
    texts = [*EDGES, *(f"{p.title}. {p.abstract}" for p in sample)]
    keywords = list(KEYWORDS)
    for p in sample[:150]:  # runs of 1-3 words from real titles, as subscribers write them
        words = re.findall(r"\w+", p.title)
        if words:
            i = rng.randrange(len(words))
            keywords.append(" ".join(words[i : i + rng.randint(1, 3)]))
    return texts, keywords


def test_the_summary_finds_a_keyword_where_its_pattern_did(
    texts_and_keywords: tuple[list[str], list[str]],
) -> None:
    texts, keywords = texts_and_keywords
    hits = 0
    for keyword in keywords:
        written = _keyword_pattern(keyword)
        assert written is not None
        for text in texts:
            lower = text.lower()
            expected = old_summary_spans(keyword, text)
            if written.written(lower) or expected:
                assert list(written.spans(text)) == expected, (keyword, text[:80])
                assert written.found_in(text) == bool(expected)
                hits += bool(expected)
    assert hits > 300  # the real texts write many of the keywords taken from their titles


def test_the_folded_text_holds_a_keyword_where_its_pattern_did(
    texts_and_keywords: tuple[list[str], list[str]],
) -> None:
    texts, keywords = texts_and_keywords
    folded_texts = [fold(t) for t in texts]
    hits = 0
    for keyword in keywords:
        for folded in folded_texts:
            expected = old_folded_search(keyword, folded)
            assert _in_title(keyword, folded) == (expected and bool(raw_words(keyword))), (
                keyword,
                folded[:80],
            )
            if len(raw_words(keyword)) >= 2:
                assert written_in(keyword, folded) == expected, (keyword, folded[:80])
            hits += expected
    assert hits > 300


def test_a_plural_keyword_is_found_where_the_text_says_it_once() -> None:
    """ "LLM agents" matched a paper (the index folds plurals) whose summary says "an LLM
    agent": the summary marks it, as it marks the plural; words the index keeps whole
    ("series", "class", "analysis") are looked for whole."""
    from digest.models import Paper

    text = (
        "We build an LLM agent, then LLM agents, from boxes and a box; a time series of one "
        "serie, a class, an analysis."
    )
    paper = Paper(id="x:1", title="T", abstract=text)

    def marked(term: str) -> list[str]:
        return [s["text"] for s in summary_segments(paper, terms=(term,)) if s["hit"]]

    assert marked("LLM agents") == ["LLM agent", "LLM agents"]
    assert marked("boxes") == ["boxes", "box"]
    assert marked("time series") == ["time series"] and marked("series") == ["series"]
    assert marked("classes") == ["class"] and marked("analysis") == ["analysis"]
    assert written_in("LLM agents", fold("we build an llm agent"))
