"""Every recorded feed in ../shared/data/real parses into papers with the real values in it."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from digest.errors import SourceError
from digest.sources.arxiv import parse_api, parse_listing
from digest.sources.biorxiv import parse_details
from digest.sources.clean import one_line, split_arxiv_id, split_authors, unwrap
from digest.sources.feed import parse_feed
from digest.sources.hf import parse_daily


def test_arxiv_atom_listing_keeps_announce_types_and_comma_joined_creators(real: Path) -> None:
    papers = parse_listing(
        (real / "arxiv_rss/rss.arxiv.org_atom_cs.AI_2025-08-20_86entries.xml").read_bytes()
    )
    assert len(papers) == 86
    kinds = [p.announce_type for p in papers]
    assert kinds.count("new") == 41 and kinds.count("cross") == 45
    first = papers[0]
    assert first.id == "arxiv:2508.13167" and first.version == 1
    assert first.title.startswith("Chain-of-Agents: End-to-End Agent Foundation Models")
    assert first.authors[:3] == ("Weizhen Li", "Jianbo Lin", "Zhuosong Jiang")
    assert len(first.authors) == 30 and first.authors[-1] == "Wangchunshu Zhou"
    assert first.categories == ("cs.AI", "cs.CL")
    assert first.announced == date(2025, 8, 20)
    assert first.abstract.startswith("Recent advances in large language models (LLMs)")
    assert "Announce Type" not in first.abstract
    assert first.abs_url == "https://arxiv.org/abs/2508.13167"


def test_arxiv_listing_keeps_latex_as_written(real: Path) -> None:
    papers = parse_listing(
        (real / "arxiv_rss/rss.arxiv.org_atom_cs.AI_2025-08-20_86entries.xml").read_bytes()
    )
    ontology = next(p for p in papers if r"$\mathcal{E\mkern-2mu L}$" in p.abstract)
    assert "description logics" in ontology.abstract


@pytest.mark.parametrize(
    ("name", "first_id", "first_categories", "authors"),
    [
        ("AI", "arxiv:2604.21935", ("cs.AI", "cs.LG"), ("Michael Cooper", "Samuel Cooper")),
        ("CL", "arxiv:2604.22002", ("cs.CL",), ("Anamta Khan", "Ratna Kandala", "Deepti")),
        ("LG", "arxiv:2604.21952", ("cs.LG", "cs.AI", "cs.AR", "cs.NE", "cs.RO"), None),
    ],
)
def test_arxiv_rss2_listings(
    real: Path,
    name: str,
    first_id: str,
    first_categories: tuple[str, ...],
    authors: tuple[str, ...] | None,
) -> None:
    papers = parse_listing(
        (real / f"arxiv_rss/rss.arxiv.org_rss_cs.{name}_2026-04-27_excerpt.xml").read_bytes()
    )
    assert len(papers) == 3
    assert papers[0].id == first_id and papers[0].categories == first_categories
    assert all(p.announce_type == "new" and p.announced == date(2026, 4, 27) for p in papers)
    if authors:
        assert papers[0].authors[: len(authors)] == authors


def test_latex_with_less_than_survives_the_rss_description() -> None:
    # feedparser's HTML handling turns "$a<b$ and more ... $x>y$" into "$a<b>y$"; we don't.
    rss = b"""<?xml version="1.0"?><rss version="2.0" xmlns:arxiv="http://arxiv.org/schemas/atom">
<channel><title>cs.LO updates on arXiv.org</title><pubDate>Mon, 27 Apr 2026 00:00:00 -0400</pubDate>
<item><title>Orders $a&lt;b$ in \\textbf{bold}</title><link>https://arxiv.org/abs/2604.00001</link>
<description>arXiv:2604.00001v2 Announce Type: replace
Abstract: We show $a&lt;b$ and then more text &amp; $x&gt;y$ at the end.</description>
<guid isPermaLink="false">oai:arXiv.org:2604.00001v2</guid><category>cs.LO</category>
<arxiv:announce_type>replace</arxiv:announce_type></item></channel></rss>"""
    (paper,) = parse_listing(rss)
    assert paper.abstract == "We show $a<b$ and then more text & $x>y$ at the end."
    assert paper.title == r"Orders $a<b$ in \textbf{bold}"
    assert paper.announce_type == "replace" and paper.version == 2


def test_arxiv_api_search_page_with_double_encoded_names(real: Path) -> None:
    papers, total = parse_api((real / "arxiv_api/query_all-testing_start0_max100.xml").read_bytes())
    assert len(papers) == 100 and total == 214881
    first = papers[0]
    assert first.id == "arxiv:2202.12139" and first.version == 1
    assert first.categories[0] == "cs.SE" and "cs.LG" in first.categories
    assert first.published == datetime(2022, 2, 24, 15, 5, 19, tzinfo=UTC)
    assert first.doi == "10.1109/ICSTW55395.2022.00035"
    assert first.pdf_url == "https://arxiv.org/pdf/2202.12139v1"
    names = {name for p in papers for name in p.authors}
    assert {"Aurora Ramírez", "José Raúl Romero", "Oliver Weißl", "Mika V. Mäntylä"} <= names
    assert not any("Ã" in name for name in names)


def test_arxiv_api_old_style_id_and_legacy_format(real: Path) -> None:
    (old,), _ = parse_api((real / "arxiv_api/id_list_astro-ph_0601001.xml").read_bytes())
    assert old.id == "arxiv:astro-ph/0601001" and old.version == 1
    assert old.arxiv_id == "astro-ph/0601001"
    assert old.authors[2] == "B. Scott Gaudi"
    (legacy,), _ = parse_api((real / "arxiv_api/legacy2016_id_list_1111.2011v2.xml").read_bytes())
    assert legacy.id == "arxiv:1111.2011" and legacy.version == 2
    many, total = parse_api(
        (real / "arxiv_api/legacy2016_search_query_au-del_maestro.xml").read_bytes()
    )
    assert len(many) == 10 and total == 31
    first = many[0]
    assert first.title == "A Luttinger Liquid Core Inside Helium-4 Filled Nanopores"
    assert "\n" not in first.abstract  # hard-wrapped summary joined
    assert first.abstract.startswith("As helium-4 is cooled below 2.17 K it undergoes a phase")


def test_arxiv_api_error_feed_and_empty_result(real: Path) -> None:
    with pytest.raises(SourceError, match="incorrect id format for abc"):
        parse_api((real / "arxiv_api/id_list_abc_http400_error.xml").read_bytes())
    assert parse_api((real / "arxiv_api/id_list_0000.0000_empty.xml").read_bytes()) == ([], 0)


@pytest.mark.parametrize(
    ("day", "count", "first_id", "upvotes"),
    [
        ("2024-05-27", 13, "arxiv:2405.15738", 32),
        ("2025-06-17", 24, "arxiv:2506.13585", 148),
        ("2025-10-15", 26, "arxiv:2510.12586", 67),
        ("2026-08-18", 29, "arxiv:2608.15265", 39),
    ],
)
def test_hf_daily_papers_every_shape(
    real: Path, day: str, count: int, first_id: str, upvotes: int
) -> None:
    papers = parse_daily((real / f"hf_daily_papers/daily_papers_{day}.json").read_bytes())
    assert len(papers) == count
    assert papers[0].id == first_id and papers[0].upvotes == upvotes
    assert all("\n" not in p.title for p in papers)
    assert all(p.hf_url and p.hf_url.startswith("https://huggingface.co/papers/") for p in papers)


def test_hf_daily_papers_signals(real: Path) -> None:
    old = parse_daily((real / "hf_daily_papers/daily_papers_2024-05-27.json").read_bytes())[0]
    assert (
        old.title
        == "ConvLLaVA: Hierarchical Backbones as Visual Encoder for Large Multimodal Models"
    )
    assert old.comments == 3 and old.ai_summary is None and old.authors[0] == "Chunjiang Ge"
    mid = parse_daily((real / "hf_daily_papers/daily_papers_2025-06-17.json").read_bytes())[0]
    assert mid.code_url == "https://github.com/MiniMax-AI/MiniMax-M1"
    assert mid.project_url == "https://huggingface.co/MiniMaxAI/MiniMax-M1-80k"
    assert mid.ai_keywords[0] == "Mixture-of-Experts (MoE)" and mid.ai_summary
    new = parse_daily((real / "hf_daily_papers/daily_papers_2026-08-18.json").read_bytes())[0]
    assert new.github_stars == 24 and new.organization == "Tencent" and new.comments == 1
    assert new.announced == date(2026, 8, 18)


def test_hf_daily_papers_wrong_shape_is_a_clear_error() -> None:
    with pytest.raises(SourceError, match="expected a JSON list"):
        parse_daily(b'{"error": "Invalid date"}')
    with pytest.raises(SourceError, match="expected JSON"):
        parse_daily(b"<html>502</html>")


def test_medrxiv_details_ignores_the_count_field(real: Path) -> None:
    body = (real / "biorxiv_medrxiv/medrxiv_api_details_2026-09-15_excerpt.json").read_bytes()
    papers = parse_details(body, "medrxiv")
    assert len(papers) == 3  # the page says count 72; the collection has 3
    first = papers[0]
    assert first.id == "doi:10.64898/2026.09.13.26362948" and first.version == 1
    assert first.authors == ("P. Kumar", "A. Aurange", "S. Keshari", "S. Nalwad")
    assert first.categories == ("nephrology",) and first.announced == date(2026, 9, 15)
    assert first.abs_url == "https://www.medrxiv.org/content/10.64898/2026.09.13.26362948v1"
    assert "\n\n" in first.abstract  # paragraphs kept


def test_generic_feed_reads_an_arxiv_rss_feed(real: Path) -> None:
    papers = parse_feed(
        (real / "arxiv_rss/rss.arxiv.org_rss_cs.AI_2026-04-27_excerpt.xml").read_bytes()
    )
    assert [p.id for p in papers][:1] == ["arxiv:2604.21935"]
    assert papers[0].authors == ("Michael Cooper", "Samuel Cooper")
    assert papers[0].abstract.startswith("Although language models demonstrate")


def test_broken_inputs_name_the_problem() -> None:
    with pytest.raises(SourceError, match="HTML page"):
        parse_listing(b"<!DOCTYPE html><html><body>Service Unavailable</body></html>")
    with pytest.raises(SourceError, match="malformed XML"):
        parse_listing(b"<?xml version='1.0'?><rss version='2.0'><channel><item><title>cut")
    with pytest.raises(SourceError, match="not an RSS/Atom feed|not a readable"):
        parse_feed(b"<!DOCTYPE html><html><body>oops</body></html>")


def test_cleaning_helpers() -> None:
    assert split_arxiv_id("oai:arXiv.org:2508.13167v1") == ("2508.13167", 1)
    assert split_arxiv_id("http://arxiv.org/abs/astro-ph/0601001v1") == ("astro-ph/0601001", 1)
    assert split_arxiv_id("https://arxiv.org/abs/math.GT/0309136") == ("math.GT/0309136", None)
    assert split_arxiv_id("no id here") is None
    assert one_line("A title\n  wrapped") == "A title wrapped"
    assert unwrap("one\ntwo\n\nthree") == "one two\n\nthree"
    assert split_authors("A. Smith, B. Jones and C. Wu") == ("A. Smith", "B. Jones", "C. Wu")


def test_the_parser_boundary_strips_controls_and_keeps_web_links_only() -> None:
    from digest.models import Paper
    from digest.sources.items import SkipItem, checked, safe_text, web_link

    assert safe_text("a\x07b\x1b[0m\u202ec\u2066d\x00 e\u2028f") == "ab[0mcd e f"
    assert safe_text("para one\n\npara\x0b two", keep_newlines=True) == "para one\n\npara two"
    assert web_link("https://github.com/x/y") == "https://github.com/x/y"
    for bad in ("javascript:alert(1)", "data:text/html,x", "file:///etc/passwd", "http://", "//x"):
        assert web_link(bad) is None, bad
    paper = checked(
        Paper(id="arxiv:2604.00001", title=" T\u202e ", code_url="JavaScript:x", upvotes=5)
    )
    assert paper.title == "T" and paper.code_url is None and paper.upvotes == 5
    with pytest.raises(SkipItem, match="has no title"):
        checked(Paper(id="arxiv:2604.00001", title="\x07"))
    with pytest.raises(SkipItem, match=r"has upvotes out of range \(1e\+30\)"):
        checked(Paper(id="arxiv:2604.00001", title="t", upvotes=10**30))
    with pytest.raises(SkipItem, match="has comments out of range"):
        checked(Paper(id="arxiv:2604.00001", title="t", comments=-1))


def test_a_bad_item_is_skipped_and_named_and_its_siblings_kept() -> None:
    from digest.sources.items import Tally

    body = (
        b'[{"paper": {"id": "2604.00001", "title": "One"}},'
        b' {"paper": {"id": "2604.00002", "title": ["not", "text"]}},'
        b' {"paper": {"id": "2604.00003", "title": "Three", "ai_keywords": "rag"}},'
        b' {"paper": {"id": "2604.00004", "title": "Four", "upvotes": 12.0}}]'
    )
    tally = Tally()
    papers = parse_daily(body, tally=tally)
    assert [p.title for p in papers] == ["One", "Four"] and papers[1].upvotes == 12
    assert tally.skipped == 2
    assert tally.reasons == [
        "item 2 has a title that is not text",
        "item 3 has ai_keywords that are not a list",
    ]
    with pytest.raises(SourceError, match="nested too deeply"):
        parse_daily(b"[" * 100_000 + b"]" * 100_000)
