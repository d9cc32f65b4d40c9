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
    assert trending["summary"] == "We propose a thing that works."
