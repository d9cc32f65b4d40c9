"""`digest check` warns about keywords that can match nothing; `digest tune` says it ignores
them and suggests only distinctive words, never academic filler."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner

from digest.cli import cli
from digest.config import load_config
from digest.rank.generic import GENERIC
from digest.sources.arxiv import parse_listing
from digest.store import open_store

CONFIG = """
data_dir: ./data
subscribers:
  - name: ada
    email: ada@example.org
    topics:
      - name: Agents
        keywords: ["multi-agent", "the of", "tool use"]
        exclude: ["and"]
"""


def test_check_warns_about_stop_word_keywords_and_refuses_blank_ones(
    write_config: Callable[..., Path],
) -> None:
    path = write_config(CONFIG)
    result = CliRunner().invoke(cli, ["--config", str(path), "check"])
    assert result.exit_code == 0, result.output  # a warning, not a problem
    warnings = [line for line in result.output.splitlines() if "warning:" in line]
    assert warnings == [
        f"{path}: warning: subscribers.0.topics.0.keywords.1: 'the of' is made only of stop "
        "words and matches nothing (write the words that matter, e.g. a quoted phrase with a "
        "noun in it)",
        f"{path}: warning: subscribers.0.topics.0.exclude.0: 'and' is made only of stop words "
        "and matches nothing (write the words that matter, e.g. a quoted phrase with a noun in "
        "it)",
    ]
    blank = write_config(CONFIG.replace('"tool use"]', '"tool use", " "]'), name="blank.yaml")
    refused = CliRunner().invoke(cli, ["--config", str(blank), "check"])
    assert refused.exit_code == 1
    assert "subscribers.0.topics.0.keywords: item 4 is blank (remove it, or write the term)" in (
        refused.output
    )


def test_tune_ignores_them_and_suggests_no_filler(
    write_config: Callable[..., Path], real: Path
) -> None:
    path = write_config(CONFIG)
    store = open_store(load_config(path).store_url)
    store.save_papers(
        parse_listing(
            (real / "arxiv_rss/rss.arxiv.org_atom_cs.AI_2025-08-20_86entries.xml").read_bytes()
        )
    )
    store.close()
    result = CliRunner().invoke(cli, ["--config", str(path), "tune", "ada"])
    assert result.exit_code == 0, result.output
    assert "matched nothing: , " not in result.output and "matched nothing: the of" not in (
        result.output
    )
    assert "ignored (only stop words): the of" in result.output
    tried = [line for line in result.output.splitlines() if "try adding:" in line]
    for line in tried:
        for term in line.split("try adding:")[1].split(","):
            assert not all(w in GENERIC for w in term.split()), term
    assert {"across", "self", "capability"} <= GENERIC
