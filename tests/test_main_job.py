"""The README's main job, end to end through the CLI: `digest fetch` from a real HTTP server on
127.0.0.1 serving the recorded feeds, then `digest send` with no SMTP configured, which writes
each digest as an .eml file to data_dir/outbox — once."""

from __future__ import annotations

from collections.abc import Iterator
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from tests.feedserver import FeedServer
from tests.smtp_server import free_port
from tests.test_fetch import run_digest


@pytest.fixture
def server(real: Path) -> Iterator[FeedServer]:
    with FeedServer(real) as running:
        yield running


def test_fetch_then_send_writes_each_digest_to_the_outbox_once(
    server: FeedServer, write_config, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    config = write_config(f"""
data_dir: ./data
sources:
  - type: arxiv_rss
    name: arxiv
    categories: [cs.AI, cs.CL, cs.LG]
    url: {server.url}/rss/{{category}}
  - type: arxiv_rss
    name: arxiv-atom
    categories: [cs.AI]
    url: {server.url}/atom/{{category}}
  - type: hf_daily
    name: huggingface
    days: 1
    url: {server.url}/api/daily_papers
subscribers:
  - name: Ada Lovelace
    email: ada@example.org
    topics:
      - name: LLM agents
        keywords: ["multi-agent", "tool use", agentic]
  - name: Nobody
    email: nobody@example.org
    topics:
      - name: Nothing
        keywords: [zzqxjv]
""")
    fetched = run_digest("fetch", "--date", "2026-08-18", config=config)
    assert fetched.returncode == 0, fetched.stdout + fetched.stderr
    sent = run_digest("send", config=config)
    assert sent.returncode == 0, sent.stdout + sent.stderr
    outbox = sorted((tmp_path / "data/outbox").glob("*.eml"))
    assert len(outbox) == 1  # nobody@ had nothing new: no email
    message = message_from_bytes(outbox[0].read_bytes(), policy=policy.default)
    assert message["To"] == "Ada Lovelace <ada@example.org>"
    assert message["Subject"].startswith("Paper digest, ")
    assert "Chain-of-Agents" in message["Subject"] and " more" in message["Subject"]
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "Chain-of-Agents" in html and "https://arxiv.org/abs/2508.13167" in html
    again = run_digest("send", config=config)
    assert again.returncode == 0
    assert len(list((tmp_path / "data/outbox").glob("*.eml"))) == 1


def test_the_main_job_sends_from_the_sources_that_answered_and_names_the_ones_that_did_not(
    server: FeedServer, write_config, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    nothing_listens = free_port()
    config = write_config(f"""
data_dir: ./data
fetch: {{timeout: 1, retries: 1, backoff: 0.01}}
sources:
  - type: arxiv_rss
    name: arxiv
    categories: [cs.AI]
    url: {server.url}/atom/{{category}}
  - type: feed
    name: broken
    url: {server.url}/status/500
  - type: feed
    name: gone
    url: http://127.0.0.1:{nothing_listens}/feed.xml
subscribers:
  - name: Ada Lovelace
    email: ada@example.org
    topics:
      - name: Agents
        keywords: [agent, "multi-agent", reasoning]
""")
    result = run_digest("daily", config=config)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "arxiv: fetched" in result.stdout and "sent 1, skipped 0" in result.stdout
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: 2 of 3 sources failed: broken, gone"), result.stderr
    assert len(list((tmp_path / "data/outbox").glob("*.eml"))) == 1
    again = run_digest("daily", config=config)  # the next run sends nothing twice
    assert again.returncode == 1 and "already done by an earlier run" in again.stdout
    assert len(list((tmp_path / "data/outbox").glob("*.eml"))) == 1


def test_the_main_job_sends_nothing_when_no_source_answered(write_config, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = write_config(f"""
data_dir: ./data
fetch: {{timeout: 1, retries: 1, backoff: 0.01}}
sources:
  - type: feed
    name: gone
    url: http://127.0.0.1:{free_port()}/feed.xml
subscribers:
  - name: Ada Lovelace
    email: ada@example.org
    send_empty: true
    topics:
      - name: LLM agents
        keywords: [agentic]
""")
    result = run_digest("daily", config=config)
    assert result.returncode == 1
    assert "error: every source failed (gone): no digest was sent" in result.stderr
    assert not (tmp_path / "data/outbox").exists()
