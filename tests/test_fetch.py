"""`digest fetch` end to end: the real CLI, a real HTTP server on 127.0.0.1 serving the recorded
feeds (ETag / 304), one source answering 500 and one that hangs, and a SQLite store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from digest.config import load_config
from digest.store import open_store
from tests.feedserver import FeedServer


@pytest.fixture
def server(real: Path) -> Iterator[FeedServer]:
    with FeedServer(real, hang_seconds=3.0) as running:
        yield running


def _config(server: FeedServer, write_config, broken: bool = True) -> Path:  # type: ignore[no-untyped-def]
    url = server.url
    failing = (
        f"""
  - type: feed
    name: broken
    url: {url}/status/500
  - type: feed
    name: hanging
    url: {url}/hang
"""
        if broken
        else ""
    )
    return write_config(f"""
data_dir: ./data
fetch: {{timeout: 0.5, retries: 1, backoff: 0.01}}
sources:
  - type: arxiv_rss
    name: arxiv-atom
    categories: [cs.AI]
    url: {url}/atom/{{category}}
  - type: arxiv_rss
    name: arxiv-rss
    categories: [cs.CL, cs.LG]
    url: {url}/rss/{{category}}
  - type: arxiv_api
    name: arxiv-api
    query: all:testing
    max_results: 300
    url: {url}/api/query
  - type: hf_daily
    name: hf
    days: 1
    url: {url}/api/daily_papers
  - type: medrxiv
    name: medrxiv
    days: 1
    url: {url}/details/medrxiv
{failing}""")


def run_digest(*args: str, config: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    return subprocess.run(
        [sys.executable, "-m", "digest", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


def test_fetch_twice_stores_everything_once_and_survives_bad_sources(
    server: FeedServer, write_config
) -> None:  # type: ignore[no-untyped-def]
    config = _config(server, write_config)

    first = run_digest("fetch", "--json", "--date", "2026-08-18", config=config)
    assert first.returncode == 1, first.stderr
    report = json.loads(first.stdout)
    clean = {"skipped": 0, "skipped_reasons": []}  # the recorded feeds have no bad items
    assert report["arxiv-atom"] == {"fetched": 86, "new": 86, "updated": 0, "error": None, **clean}
    assert report["arxiv-rss"] == {"fetched": 6, "new": 6, "updated": 0, "error": None, **clean}
    assert report["arxiv-api"] == {"fetched": 100, "new": 100, "updated": 0, "error": None, **clean}
    assert report["hf"] == {"fetched": 29, "new": 29, "updated": 0, "error": None, **clean}
    assert report["medrxiv"] == {"fetched": 3, "new": 3, "updated": 0, "error": None, **clean}
    assert "HTTP 500" in report["broken"]["error"] and report["broken"]["fetched"] == 0
    assert "did not answer within 0.5 s" in report["hanging"]["error"]
    assert "2 of 7 sources failed: broken, hanging" in first.stderr
    assert "Traceback" not in first.stderr
    assert server.hits["/status/500"] == 2  # one retry, then reported
    # Paged: the recorded page holds 100 of 214,881; the second page (start=100) comes back
    # empty, which ends the query, 3 s after the first (arXiv's terms of use).
    assert server.hits["/api/query"] == 2

    second = run_digest("fetch", "--date", "2026-08-18", config=config)
    assert second.returncode == 1
    lines = second.stdout.splitlines()
    assert "arxiv-atom: fetched 0, new 0, updated 0" in lines  # 304: costs nothing
    assert "arxiv-rss: fetched 0, new 0, updated 0" in lines
    assert "arxiv-api: fetched 100, new 0, updated 0" in lines
    assert "hf: fetched 0, new 0, updated 0" in lines
    assert "medrxiv: fetched 3, new 0, updated 0" in lines
    assert any(line.startswith("broken: error: HTTP 500") for line in lines)
    assert server.not_modified["/atom/cs.AI"] == 1 and server.not_modified["/api/daily_papers"] == 1

    store = open_store(load_config(config).store_url)
    assert store.count_papers() == 86 + 6 + 100 + 29 + 3
    state = store.fetch_state()
    assert state["broken"]["last_error"] and state["broken"]["last_success"] is None
    assert state["hf"]["last_success"] is not None and state["hf"]["last_error"] is None


def test_fetch_merges_hf_signals_onto_arxiv_records(server: FeedServer, write_config) -> None:  # type: ignore[no-untyped-def]
    config = _config(server, write_config, broken=False)
    # The API search holds 2202.12139; HF on 2026-08-18 does not, so check a paper HF shares
    # with an id_list query instead: fetch HF first, then the same paper from the API by id.
    config.write_text(
        config.read_text()
        + f"""
  - type: arxiv_api
    name: by-id
    id_list: ["1605.08386"]
    url: {server.url}/api/query
"""
    )
    assert run_digest("fetch", "--date", "2026-08-18", config=config).returncode == 0
    store = open_store(load_config(config).store_url)
    hf_paper = store.get_papers(["arxiv:2608.15265"])["arxiv:2608.15265"]
    assert hf_paper.upvotes == 39 and hf_paper.sources == ("hf",)
    by_id = store.get_papers(["arxiv:1605.08386"])["arxiv:1605.08386"]
    assert by_id.title == "Heat-bath random walks with Markov bases"


def test_unreachable_sources_end_with_one_clear_line(write_config) -> None:  # type: ignore[no-untyped-def]
    config = write_config("""
fetch: {timeout: 2, retries: 0}
sources:
  - type: hf_daily
    name: hf
    url: http://127.0.0.1:9/api/daily_papers
""")
    result = run_digest("fetch", config=config)
    assert result.returncode == 1
    assert result.stdout.strip().startswith(
        "hf: error: cannot reach 127.0.0.1:9 (connection refused)"
    )
    assert result.stderr.strip() == "error: 1 of 1 sources failed: hf"


def test_html_page_and_wrong_json_are_reported_per_source(server: FeedServer, write_config) -> None:  # type: ignore[no-untyped-def]
    config = write_config(f"""
fetch: {{timeout: 2, retries: 0}}
sources:
  - type: feed
    name: html
    url: {server.url}/html
  - type: arxiv_rss
    name: cut
    categories: [x]
    url: {server.url}/malformed?c={{category}}
  - type: hf_daily
    name: json
    days: 1
    url: {server.url}/wrong-json
  - type: arxiv_api
    name: bad-id
    id_list: [abc]
    url: {server.url}/api/query
  - type: medrxiv
    name: medrxiv
    url: {server.url}/details/medrxiv
""")
    result = run_digest("fetch", "--json", config=config)
    report = json.loads(result.stdout)
    assert "not an RSS/Atom feed" in report["html"]["error"]
    assert "malformed XML" in report["cut"]["error"]
    assert "expected a JSON list of papers" in report["json"]["error"]
    assert "incorrect id format for abc" in report["bad-id"]["error"]
    assert report["medrxiv"]["error"] is None and report["medrxiv"]["new"] == 3
    assert result.returncode == 1
