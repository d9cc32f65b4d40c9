"""What a reader sees on a thin day and on a 100-paper day, in a real headless Chromium, on a
phone (light and dark) and a desktop: headings to jump from topic to paper, links tall enough
to tap, nothing clipped. Screenshots go to $DIGEST_SCREENSHOTS (else a temporary folder)."""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import date
from pathlib import Path

from click.testing import CliRunner

from digest.cli import cli
from digest.config import load_config
from digest.models import Digest, Keyword, RankedPaper, Reason, Subscriber, Topic, TopicGroup
from digest.render import SIZE_BUDGET, render_digest
from digest.sources.arxiv import parse_listing
from digest.sources.hf import parse_daily
from digest.store import open_store

from .test_preview import BROWSER_ARGS, chromium

THIN = """
data_dir: ./data
base_url: https://digest.example.org
subscribers:
  - name: ada
    email: ada@example.org
    topics:
      - name: Robots
        keywords: [robot, robotic, manipulation]
      - name: Ontologies
        keywords: [ontologies, "description logics"]
"""

MEASURE = """() => {
    const tall = (sel) => [...document.querySelectorAll(sel)].map(e => e.getBoundingClientRect().height);
    return {
        scroll: document.documentElement.scrollWidth,
        client: document.documentElement.clientWidth,
        h2: [...document.querySelectorAll('h2')].map(e => e.textContent.trim()),
        h3: document.querySelectorAll('h3').length,
        links: tall('td.pe .acts a'),
        titles: tall('td.ph h3 a'),
        footer: tall('td.ftr a'),
    };
}"""


def shoot(page_file: Path, name: str, shots: Path) -> dict[tuple[int, str], dict[str, object]]:
    from playwright.sync_api import sync_playwright

    seen = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=BROWSER_ARGS, headless=True)
        try:
            for width, scheme in ((375, "light"), (375, "dark"), (800, "light")):
                page = browser.new_page(
                    viewport={"width": width, "height": 900}, color_scheme=scheme
                )
                page.goto(page_file.as_uri())
                seen[width, scheme] = page.evaluate(MEASURE)
                page.screenshot(path=str(shots / f"{name}-{width}-{scheme}.png"), full_page=True)
                page.close()
        finally:
            browser.close()
    return seen


def screenshots(tmp_path: Path) -> Path:
    shots = Path(os.environ.get("DIGEST_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    return shots


def test_a_thin_day_is_short_with_headings_and_tall_links(
    write_config, real: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    config = write_config(THIN)
    store = open_store(load_config(config).store_url)
    feed = real / "arxiv_rss/rss.arxiv.org_atom_cs.AI_2025-08-20_86entries.xml"
    store.save_papers(parse_listing(feed.read_bytes()))
    store.close()
    out = tmp_path / "thin.html"
    result = CliRunner().invoke(cli, ["--config", str(config), "preview", "--out", str(out)])
    assert result.exit_code == 0, result.output
    seen = shoot(out, "thin", screenshots(tmp_path))
    phone = seen[375, "light"]
    assert 1 <= phone["h3"] <= 6  # a thin day: a few papers, not 20
    assert phone["h2"] and all(not h.endswith("· 0 papers") for h in phone["h2"])
    assert phone["scroll"] <= phone["client"]
    for key in ("links", "titles", "footer"):
        assert phone[key] and min(phone[key]) >= 44, (key, phone[key])  # tap targets
    assert seen[800, "light"]["h3"] == phone["h3"]


def test_a_100_paper_day_stays_under_the_clipping_size_and_reads_on_a_phone(
    real: Path, tmp_path: Path
) -> None:
    papers = parse_daily((real / "hf_daily_papers/daily_papers_2026-08-18.json").read_bytes())
    papers += parse_listing(
        (real / "arxiv_rss/rss.arxiv.org_atom_cs.AI_2025-08-20_86entries.xml").read_bytes()
    )
    papers = papers[:100]
    person = Subscriber(
        "ada",
        "ada@example.org",
        max_papers=100,
        topics=(Topic("LLM agents", keywords=(Keyword("agent"),)),),
    )
    why = (Reason("keyword", "matches agent", ("agent",)),)
    ranked = tuple(RankedPaper(p, 1.0 - i / 200, "LLM agents", why) for i, p in enumerate(papers))
    digest = Digest(person, date(2026, 8, 18), (TopicGroup("LLM agents", ranked),))
    rendered = render_digest(
        digest, base_url="https://digest.example.org", web_url="https://digest.example.org/d/1"
    )
    assert rendered is not None
    assert len(rendered.html.encode()) < SIZE_BUDGET
    out = tmp_path / "hundred.html"
    out.write_text(rendered.html, encoding="utf-8")
    seen = shoot(out, "hundred", screenshots(tmp_path))
    phone = seen[375, "light"]
    shown = phone["h3"]
    assert 30 <= shown < 100 and f"{100 - shown} more papers on the web" in rendered.html
    assert phone["scroll"] <= phone["client"] and min(phone["footer"]) >= 44
    assert replace(digest).count == 100 and "100 new papers" in rendered.html
