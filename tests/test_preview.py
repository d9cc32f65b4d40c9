"""`digest preview`: the first thing a new user runs. It writes the digest to an HTML file and a
.txt beside it, sends nothing and records nothing; a real headless Chromium then looks at the
page on a phone and on a desktop."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
import webbrowser
from pathlib import Path

import pytest
from click.testing import CliRunner

from digest.cli import cli
from digest.papers_file import iter_papers
from digest.sources.hf import parse_daily
from digest.store import open_store

from .conftest import LABELLED

CONFIG = """
data_dir: ./data
base_url: https://digest.example.org
sources: []
subscribers:
  - name: ada
    email: ada@example.org
    max_papers: 12
    topics:
      - name: Reasoning models
        keywords: [reasoning, "reinforcement learning", "language model"]
      - name: Agents
        keywords: [agent, agents, "tool use"]
  - name: grace
    email: grace@example.org
    topics:
      - name: Galaxies
        keywords: [galaxy, galaxies, "dark matter"]
"""


@pytest.fixture
def papers_file(real: Path, tmp_path: Path) -> Path:
    """A papers JSONL: a day of Hugging Face Daily Papers and some arXiv abstracts."""
    hf = parse_daily((real / "hf_daily_papers" / "daily_papers_2025-06-17.json").read_bytes())
    lines = [
        {
            "arxiv_id": p.arxiv_id,
            "title": p.title,
            "abstract": p.abstract,
            "authors": list(p.authors),
            "upvotes": p.upvotes,
        }
        for p in hf
    ]
    for p in itertools.islice(iter_papers(LABELLED), 300):
        lines.append(
            {
                "arxiv_id": p.arxiv_id,
                "title": p.title,
                "abstract": p.abstract,
                "authors": list(p.authors),
                "categories": list(p.categories),
            }
        )
    path = tmp_path / "papers.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


def run_digest(*args: str, config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "digest", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_preview_writes_the_first_subscribers_digest_and_records_nothing(
    write_config, papers_file: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    config = write_config(CONFIG)
    done = run_digest(
        "preview", "--papers", str(papers_file), "--date", "2025-06-17", config=config
    )
    assert done.returncode == 0, done.stderr
    html = tmp_path / "data" / "preview" / "ada-2025-06-17.html"
    text = html.with_suffix(".txt")
    assert str(html) in done.stdout and str(text) in done.stdout
    assert "ada, 2025-06-17:" in done.stdout
    body = html.read_text(encoding="utf-8")
    assert "Tuesday 17 June 2025" in body and "Reasoning models" in body
    assert 'class="ph"' in body  # at least one paper card
    assert "https://digest.example.org/manage" in body
    plain = text.read_text(encoding="utf-8")
    assert plain.startswith("PAPER DIGEST · Tuesday 17 June 2025")
    # Nothing was sent or recorded: no outbox, and the store holds no papers.
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["digest.sqlite3", "preview"]
    store = open_store(f"sqlite:///{tmp_path / 'data' / 'digest.sqlite3'}")
    try:
        assert store.count_papers() == 0
    finally:
        store.close()


def test_preview_a_named_subscriber_to_a_chosen_file(
    write_config, papers_file: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    config = write_config(CONFIG)
    out = tmp_path / "look" / "grace.html"
    result = CliRunner().invoke(
        cli,
        [
            "--config",
            str(config),
            "preview",
            "grace",
            "--papers",
            str(papers_file),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert out.is_file() and out.with_suffix(".txt").is_file()
    assert "Galaxies" in out.read_text(encoding="utf-8")


def test_an_empty_day_previews_the_nothing_new_note_and_says_no_email_would_go(
    write_config, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    config = write_config(CONFIG)
    result = CliRunner().invoke(cli, ["--config", str(config), "preview", "--date", "2026-01-05"])
    assert result.exit_code == 0, result.output
    assert "0 papers" in result.output and "no email would be sent" in result.output
    html = tmp_path / "data" / "preview" / "ada-2026-01-05.html"
    assert "Nothing new matched your topics today." in html.read_text(encoding="utf-8")


def test_preview_open_hands_the_file_to_the_browser(
    write_config, papers_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    opened: list[str] = []
    monkeypatch.setattr(webbrowser, "open", lambda url, *a, **k: opened.append(url) or True)
    config = write_config(CONFIG)
    args = ["--config", str(config), "preview", "--papers", str(papers_file), "--open"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert len(opened) == 1 and opened[0].startswith("file://")
    assert Path(opened[0].removeprefix("file://")).is_file()


def test_an_unknown_subscriber_is_one_clear_line(write_config) -> None:  # type: ignore[no-untyped-def]
    done = run_digest("preview", "nobody", config=write_config(CONFIG))
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: no subscriber named 'nobody'")


# ---------------------------------------------------------------- a real browser


def chromium() -> str:
    """The Chromium to drive: $DIGEST_CHROMIUM, else chromium on PATH. In CI (CI=true) a missing
    browser fails the test: .ci/run installs it; locally the test is skipped."""
    found = os.environ.get("DIGEST_CHROMIUM") or shutil.which("chromium")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        found = None
    if not found:
        message = "needs Chromium (apt-get install chromium) and playwright (pip install '.[test]')"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return found


# playwright adds --headless and a fresh temporary --user-data-dir itself.
BROWSER_ARGS = [
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def test_the_preview_renders_in_chromium_on_a_phone_and_a_desktop(
    write_config, papers_file: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    executable = chromium()
    from playwright.sync_api import sync_playwright

    config = write_config(CONFIG)
    out = tmp_path / "preview.html"
    result = CliRunner().invoke(
        cli, ["--config", str(config), "preview", "--papers", str(papers_file), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    shots = Path(os.environ.get("DIGEST_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    measure = """() => {
        const sheet = document.querySelector('table.sheet').getBoundingClientRect();
        const title = document.querySelector('td.ph a').getBoundingClientRect();
        return {scroll: document.documentElement.scrollWidth,
                client: document.documentElement.clientWidth,
                sheet: sheet.width, sheetLeft: sheet.left, title: title.height,
                papers: document.querySelectorAll('td.ph').length,
                background: getComputedStyle(document.body).backgroundColor};
    }"""
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=executable,
            args=BROWSER_ARGS,
            headless=True,
        )
        try:
            seen = {}
            for width, scheme in ((375, "light"), (800, "light"), (375, "dark")):
                page = browser.new_page(
                    viewport={"width": width, "height": 900}, color_scheme=scheme
                )
                page.goto(out.as_uri())
                seen[width, scheme] = page.evaluate(measure)
                page.screenshot(path=str(shots / f"preview-{width}-{scheme}.png"), full_page=True)
                page.close()
        finally:
            browser.close()

    phone, desktop, dark = seen[375, "light"], seen[800, "light"], seen[375, "dark"]
    assert phone["papers"] >= 5
    assert phone["scroll"] <= phone["client"] == 375  # no horizontal scroll on a phone
    assert phone["sheet"] <= 375 and phone["title"] > 0
    assert desktop["sheet"] == 600 and desktop["sheetLeft"] == 100  # 600 px, centred
    assert desktop["scroll"] <= 800
    assert phone["background"] == "rgb(238, 240, 243)"
    assert dark["background"] == "rgb(15, 17, 21)"  # the dark-mode @media rule survived
    for name in ("preview-375-light.png", "preview-800-light.png", "preview-375-dark.png"):
        assert (shots / name).stat().st_size > 20_000  # a real page, not a blank image
