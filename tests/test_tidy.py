"""Clean text where papers enter: LaTeX in names and titles becomes Unicode in the store, the
email and the matching of followed authors; `--` becomes a dash; medRxiv's glued section heads
are split; control and bidi-override characters are removed."""

from __future__ import annotations

import json
from pathlib import Path

from digest.models import Keyword, Paper, Subscriber, Topic
from digest.papers_file import read_papers
from digest.rank import rank_subscriber
from digest.render.latex import latex_to_text
from digest.sources.arxiv import parse_listing
from digest.sources.biorxiv import parse_details
from digest.sources.tidy import tidy_name, tidy_paper, tidy_title
from digest.store import open_store

CS_AI = "arxiv_rss/rss.arxiv.org_atom_cs.AI_2025-08-20_86entries.xml"


def test_latex_names_become_unicode() -> None:
    assert tidy_name(r"Anders S{\o}gaard") == "Anders Søgaard"
    assert tidy_name(r"J\"org Hoffmann") == "Jörg Hoffmann"
    assert tidy_name(r"Alexander Rodr\'iguez") == "Alexander Rodríguez"
    assert tidy_name(r"Mikol\'a\v{s} Janota") == "Mikoláš Janota"
    assert tidy_name(r"Hendrik Kra{\ss}") == "Hendrik Kraß"
    assert tidy_name("Ada\u202e Lovelace\u200f") == "Ada Lovelace"


def test_dashes_math_kerning_and_bidi_in_titles() -> None:
    assert tidy_title("Memory -- An Empirical Study") == "Memory \u2013 An Empirical Study"
    assert tidy_title("Agents --- a survey") == "Agents — a survey"
    assert tidy_title("Evil\u202etxt.exe title") == "Eviltxt.exe title"
    kerned = latex_to_text(r"the description logics $\mathcal{E\mkern-2mu L}$ and $a\,b$")
    assert kerned == "the description logics \u2130\u2112 and a b"


def test_the_store_holds_clean_names_titles_and_abstracts(real: Path, tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'digest.db'}")
    listing = parse_listing((real / CS_AI).read_bytes())
    assert any("\\" in a for p in listing for a in p.authors)  # the feed writes LaTeX names
    medrxiv = parse_details(
        (real / "biorxiv_medrxiv/medrxiv_api_details_2026-09-15_excerpt.json").read_bytes(),
        "medrxiv",
    )
    assert any("BackgroundThe" in p.abstract for p in medrxiv)
    store.save_papers([*listing, *medrxiv])
    stored = store.get_papers([p.id for p in (*listing, *medrxiv)])
    store.close()
    assert not any("\\" in a or "{" in a for p in stored.values() for a in p.authors)
    names = {a for p in stored.values() for a in p.authors}
    assert {"Jörg Hoffmann", "Nikola Pižurica", "Jan Jakubův", "Hendrik Kraß"} <= names
    assert not any(" -- " in p.title for p in stored.values())
    assert any(" \u2013 " in p.title for p in stored.values())
    assert not any("BackgroundThe" in p.abstract for p in stored.values())
    assert any("Background: The" in p.abstract for p in stored.values())


def test_following_a_name_matches_its_latex_spelling(tmp_path: Path) -> None:
    """However the paper arrives (tidied or not), "Alexander Rodríguez" finds `Rodr\\'iguez`."""
    raw = Paper(id="arxiv:2501.00001", title="Forecasting", authors=(r"Alexander Rodr\'iguez",))
    follow = Subscriber(
        "ada",
        "ada@example.org",
        topics=(Topic("People", authors=("Alexander Rodríguez",), keywords=(Keyword("x"),)),),
    )
    for paper in (raw, tidy_paper(raw)):
        [ranked] = rank_subscriber([paper], follow)
        assert [r.text for r in ranked.reasons] == ["by Alexander Rodríguez"]
    papers = tmp_path / "papers.jsonl"
    papers.write_text(json.dumps({"id": "2501.00001", "title": "T", "authors": [raw.authors[0]]}))
    assert read_papers(papers)[0].authors == ("Alexander Rodríguez",)
