"""A topic-tuning session on a temporary config and the recorded cs.AI listing: add a keyword and
see a paper enter, add an exclude and see it leave, break the YAML and see one clear error while
watching goes on."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from digest.cli import cli
from digest.config import load_config
from digest.pipeline import watch_tuning
from digest.sources.arxiv import parse_listing
from digest.store import open_store

ONTOLOGY = "2508.13176"  # "Fitting Ontologies and Constraints to Relational Structures"

PROFILE = """
data_dir: ./data
subscribers:
  - name: ada
    email: ada@example.org
    max_papers: 3
    topics:
      - name: Agents
        keywords: ["multi-agent", "tool use", agentic]
{extra}"""


@pytest.fixture
def tuning(real: Path, write_config: Callable[..., Path]) -> Path:
    config = write_config(PROFILE.format(extra=""))
    store = open_store(load_config(config).store_url)
    listing = parse_listing(
        (real / "arxiv_rss/rss.arxiv.org_atom_cs.AI_2025-08-20_86entries.xml").read_bytes()
    )
    assert any(p.arxiv_id == ONTOLOGY and "ontolog" in p.abstract for p in listing)
    store.save_papers(listing)
    store.close()
    return config


class Watcher:
    def __init__(self, config: Path) -> None:
        self.outputs: list[str] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(
            target=watch_tuning,
            args=(config, "ada", self.outputs.append),
            kwargs={"poll": 0.05, "stop": self.stop},
        )

    def next_output(self, count: int, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while len(self.outputs) < count:
            assert time.monotonic() < deadline, f"no output #{count}; got {self.outputs}"
            time.sleep(0.02)
        return self.outputs[count - 1]


@pytest.fixture
def watcher(tuning: Path) -> Iterator[Watcher]:
    running = Watcher(tuning)
    running.thread.start()
    yield running
    running.stop.set()
    running.thread.join(timeout=10)


def edit(config: Path, text: str) -> None:
    before = config.stat().st_mtime_ns
    config.write_text(text)
    while config.stat().st_mtime_ns == before:  # coarse clocks: make the change visible
        time.sleep(0.01)
        config.write_text(text)


def digest_ids(output: str) -> list[str]:
    block = output.split("the digest:")[1].split("near misses")[0]
    return [
        line.split()[1]
        for line in block.splitlines()
        if line.startswith("  0.") or line.startswith("  1.")
    ]


def test_a_tuning_session(tuning: Path, watcher: Watcher) -> None:
    first = watcher.next_output(1)
    assert "ada: 3 papers make the digest, from 86 candidates" in first
    assert ONTOLOGY not in digest_ids(first)
    assert "topic Agents: 3 papers in the digest" in first
    assert "model capability" not in first  # filler is never suggested

    # Add a keyword: the ontology paper enters.
    edit(
        tuning,
        PROFILE.format(
            extra="""      - name: Logic
        keywords: [{term: "description logics", weight: 3}, ontologies]
"""
        ),
    )
    second = watcher.next_output(2)
    assert ONTOLOGY in digest_ids(second)
    assert f"  + {ONTOLOGY}" in second.split("the digest:")[0]  # listed as moved in
    assert "topic Logic: 1 papers in the digest" in second

    # Add an exclude: it leaves, and the report says what removed it.
    edit(
        tuning,
        PROFILE.format(
            extra="""      - name: Logic
        keywords: [{term: "description logics", weight: 3}, ontologies]
        exclude: [constraints]
"""
        ),
    )
    third = watcher.next_output(3)
    assert ONTOLOGY not in digest_ids(third)
    assert f"  - {ONTOLOGY}" in third.split("the digest:")[0]
    removed = third.split("removed by exclude:")[1]
    assert ONTOLOGY in removed and "[Logic: constraints;" in removed

    # Break the YAML: one clear error, and watching goes on.
    edit(tuning, "subscribers:\n  - name: ada\n    topics: [unclosed\n")
    fourth = watcher.next_output(4)
    assert fourth.splitlines()[0].startswith("error: ") and "invalid YAML" in fourth
    assert "still watching" in fourth
    edit(tuning, PROFILE.format(extra=""))
    fifth = watcher.next_output(5)
    assert ONTOLOGY not in digest_ids(fifth) and "ada: 3 papers make the digest" in fifth


def test_unmatched_keywords_and_overlapping_topics_are_reported(tuning: Path) -> None:
    tuning.write_text(
        PROFILE.format(
            extra="""      - name: Agents again
        keywords: ["multi-agent", "tool use", agentic, "quantum chromodynamics"]
"""
        )
    )
    result = CliRunner().invoke(cli, ["--config", str(tuning), "tune", "ada"])
    assert result.exit_code == 0, result.output
    assert "matched nothing: quantum chromodynamics" in result.output
    assert (
        "overlaps with Agents:" in result.output and "overlaps with Agents again:" in result.output
    )


def test_tune_refuses_date_and_days_together(tuning: Path) -> None:
    result = CliRunner().invoke(
        cli, ["--config", str(tuning), "tune", "--date", "2026-11-23", "--days", "2"]
    )
    assert result.exit_code == 2 and "give --date or --days, not both" in result.output


def test_tune_html_shows_the_digest_and_greys_the_near_misses(tuning: Path, tmp_path: Path) -> None:
    from lxml import html as lxml_html

    page = tmp_path / "tune.html"
    result = CliRunner().invoke(cli, ["--config", str(tuning), "tune", "ada", "--html", str(page)])
    assert result.exit_code == 0, result.output
    text = result.output
    picked = digest_ids(text)
    near = [
        line.split()[1]
        for line in text.split("near misses")[1].split("topic Agents")[0].splitlines()
        if line.startswith("  0.")
    ]
    assert len(picked) == 3 and len(near) == 10
    tree = lxml_html.fromstring(page.read_bytes())
    greyed = [a.get("href") for a in tree.xpath('//td[contains(@class, "nm")]//a')]
    cards = [a.get("href") for a in tree.xpath('//td[contains(@class, "ph")]//a')]
    assert [h.rsplit("/", 1)[-1] for h in cards] == picked
    assert [h.rsplit("/", 1)[-1] for h in greyed] == near
    assert "Just below the cut" in page.read_text() and "score 0." in page.read_text()
    # The tuning page says what the report says, beside the papers.
    sections = [td.text_content() for td in tree.xpath('//td[contains(@class, "nh")]')]
    assert sections[0] == "Topic Agents" and sections[-1] == "Just below the cut"
    assert "3 papers in the digest; today's bar: score 0." in page.read_text()
    assert "matched: tool use (12), agentic (8), multi-agent (7)" in page.read_text()
    assert page.with_suffix(".txt").read_text().count("score 0.") == 10 + 1  # + the bar
