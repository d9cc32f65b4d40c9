"""Without a Hugging Face summary, a card's summary says what the paper does: the sentence that
states the contribution, or a structured abstract's conclusions, not its background."""

from __future__ import annotations

from pathlib import Path

from digest.models import Paper
from digest.render.view import summarize
from digest.sources.arxiv import parse_listing
from digest.sources.biorxiv import parse_details
from digest.sources.tidy import tidy_paper


def test_the_contribution_sentence_comes_first(real: Path) -> None:
    listing = parse_listing(
        (real / "arxiv_rss/rss.arxiv.org_atom_cs.AI_2025-08-20_86entries.xml").read_bytes()
    )
    chain = next(p for p in listing if p.arxiv_id == "2508.13167")
    assert chain.abstract.startswith("Recent advances in large language models")
    assert summarize(chain).startswith("In this work, we introduce Chain-of-Agents (CoA)")


def test_a_structured_abstract_gives_its_conclusions_and_a_plain_one_its_start(
    real: Path,
) -> None:
    body = (real / "biorxiv_medrxiv/medrxiv_api_details_2026-09-15_excerpt.json").read_bytes()
    shunt = next(tidy_paper(p) for p in parse_details(body, "medrxiv") if "Shunt" in p.title)
    assert shunt.abstract.startswith("Background: The modified")
    assert not summarize(shunt).startswith("Background")
    plain = Paper(id="x:1", title="T", abstract="Cats purr. Dogs bark loudly at night.")
    assert summarize(plain) == "Cats purr. Dogs bark loudly at night."
    told = Paper(id="x:2", title="T", abstract="Long text.", ai_summary="It does X.")
    assert summarize(told) == "It does X."


def test_a_card_says_what_the_sources_give() -> None:
    from datetime import date

    from digest.models import RankedPaper
    from digest.render.view import details, trending_values

    paper = Paper(
        id="arxiv:2608.00001",
        title="T",
        abstract="Background words. We propose a thing that works.",
        organization="DeepMind",
        announce_type="cross",
        announced=date(2026, 8, 18),
        comments=4,
    )
    assert details(paper) == "DeepMind · cross-list · 18 Aug 2026 · 4 comments"
    assert details(Paper(id="x:1", title="T")) == ""
    trending = trending_values(RankedPaper(paper, 0.1, "Agents"))
    assert trending["summary"] == [{"text": "We propose a thing that works.", "hit": False}]


def test_a_summary_shows_the_keyword_that_matched_marked(real: Path) -> None:
    """The contribution sentence may not say the matched keyword: the sentence that does joins
    it, and the keyword is marked (in the HTML part, escaped; plain in the text part)."""
    from datetime import date

    from digest.models import Digest, RankedPaper, Reason, Subscriber, TopicGroup
    from digest.render import render_digest
    from digest.render.view import summary_segments

    listing = parse_listing(
        (real / "arxiv_rss/rss.arxiv.org_atom_cs.AI_2025-08-20_86entries.xml").read_bytes()
    )
    bench = next(p for p in listing if p.arxiv_id == "2508.13201")
    alone = summarize(bench)
    assert alone.startswith("We introduce a novel benchmarking evaluation system")
    assert "multi-agent" not in alone.lower()  # matched in the abstract's fifth sentence
    shown = summarize(bench, terms=("multi-agent",))
    assert shown.startswith("We introduce a novel benchmarking evaluation system")
    assert " … Multi-agent frameworks significantly enhance" in shown and len(shown) <= 320
    marked = [s["text"] for s in summary_segments(bench, terms=("multi-agent",)) if s["hit"]]
    assert marked == ["Multi-agent"]
    # A keyword the summary already says is marked where it is, the summary unchanged.
    chain = next(p for p in listing if p.arxiv_id == "2508.13167")
    assert summarize(chain, terms=("multi-agent",)) == summarize(chain)
    marked = [s["text"] for s in summary_segments(chain, terms=("multi-agent",)) if s["hit"]]
    assert marked == ["multi-agent"]
    hostile = Paper(
        id="x:3",
        title="T",
        abstract="Background <b>words</b>. We propose a <i>thing</i>. It uses RAG & friends.",
    )
    ranked = RankedPaper(hostile, 0.5, "T", (Reason("keyword", "matches RAG", ("RAG",)),))
    sub = Subscriber("a", "a@example.org")
    page = render_digest(
        Digest(sub, date(2026, 8, 18), (TopicGroup("T", (ranked,)),)),
        base_url="https://digest.example.org",
    )
    assert page is not None
    assert ">RAG</mark> &amp; friends" in page.html and "&lt;i&gt;thing&lt;/i&gt;" in page.html
    assert "<mark" not in page.text and "It uses RAG & friends." in page.text


def test_a_keyword_is_marked_across_any_dash_at_its_place_in_the_text() -> None:
    """A keyword's words may be joined by a hyphen, the Unicode hyphens or an en dash; in a
    text with other non-ASCII letters, the marked text is exactly what the summary says."""
    from digest.render.view import summary_segments

    for dash in ("-", "\u2010", "\u2011", "\u2013"):
        paper = Paper(
            id=f"x:{ord(dash)}",
            title="T",
            abstract=f"We propose Müller's multi{dash}agent planner and test multi agents.",
        )
        marked = [s["text"] for s in summary_segments(paper, terms=("multi agent",)) if s["hit"]]
        assert marked == [f"multi{dash}agent", "multi agents"], dash
        assert "".join(s["text"] for s in summary_segments(paper, terms=("multi agent",))) == (
            paper.abstract
        )
