"""A digest as a mail server's spam filter meets it: real digests of recorded days written to the
outbox, each checked by SpamAssassin's local rules (`spamassassin -t -L`, the Debian package
`spamassassin`, which CI installs) to score 0, and with quoted-printable lines of at most 76
characters."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from digest.cli import cli
from digest.config import load_config
from digest.sources.arxiv import parse_listing
from digest.sources.biorxiv import parse_details
from digest.sources.hf import parse_daily
from digest.store import open_store

CONFIG = """
data_dir: ./data
base_url: https://digest.example.org
subscribers:
  - name: ada
    email: ada@example.org
    max_papers: {max_papers}
    topics:
      - name: Agents
        keywords: ["multi-agent", "tool use", agentic, agent]
      - name: Medicine
        keywords: [clinical, medical, patients]
      - name: Reasoning
        keywords: [reasoning, "reinforcement learning", "language model"]
"""


def outbox_digests(
    write_config: Callable[..., Path], real: Path, tmp_path: Path, max_papers: int
) -> list[bytes]:
    path = write_config(CONFIG.format(max_papers=max_papers))
    store = open_store(load_config(path).store_url)
    now = datetime.now(UTC)
    store.save_papers(
        parse_listing(
            (real / "arxiv_rss/rss.arxiv.org_atom_cs.AI_2025-08-20_86entries.xml").read_bytes()
        ),
        now=now,
    )
    for day in ("2025-06-17", "2026-08-18"):
        body = (real / f"hf_daily_papers/daily_papers_{day}.json").read_bytes()
        store.save_papers(parse_daily(body), now=now)
    medrxiv = (real / "biorxiv_medrxiv/medrxiv_api_details_2026-09-15_excerpt.json").read_bytes()
    store.save_papers(parse_details(medrxiv, "medrxiv"), now=now)
    store.close()
    result = CliRunner().invoke(cli, ["--config", str(path), "send"])
    assert result.exit_code == 0, result.output
    return [p.read_bytes() for p in sorted((tmp_path / "data" / "outbox").glob("*.eml"))]


def quoted_printable_lines(raw: bytes) -> list[bytes]:
    lines, inside = [], False
    for line in raw.split(b"\n"):
        line = line.rstrip(b"\r")
        if line.startswith(b"Content-Transfer-Encoding: quoted-printable"):
            inside = True
        elif line.startswith(b"--=_digest_"):
            inside = False
        elif inside:
            lines.append(line)
    return lines


@pytest.mark.parametrize("max_papers", [5, 60])
def test_digests_have_short_quoted_printable_lines(
    write_config: Callable[..., Path], real: Path, tmp_path: Path, max_papers: int
) -> None:
    [raw] = outbox_digests(write_config, real, tmp_path, max_papers)
    lines = quoted_printable_lines(raw)
    assert lines and max(len(line) for line in lines) <= 76


@pytest.mark.skipif(
    shutil.which("spamassassin") is None, reason="needs spamassassin (apt install spamassassin)"
)
@pytest.mark.parametrize("max_papers", [5, 60])
def test_spamassassin_scores_every_digest_0(
    write_config: Callable[..., Path], real: Path, tmp_path: Path, max_papers: int
) -> None:
    [raw] = outbox_digests(write_config, real, tmp_path, max_papers)
    checked = subprocess.run(
        ["spamassassin", "-t", "-L"], input=raw, capture_output=True, timeout=120, check=False
    )
    report = checked.stdout.decode("utf-8", "replace")
    status = re.search(r"^X-Spam-Status: (\w+), score=(-?[\d.]+)", report, re.MULTILINE)
    assert status is not None, checked.stderr.decode()[-2000:]
    tests = re.search(r"tests=([^\n]*(?:\n\t[^\n]*)*)", report)
    assert float(status.group(2)) <= 0.0, tests.group(1) if tests else report[-3000:]
