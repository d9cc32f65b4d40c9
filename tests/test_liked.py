"""Liked papers (`papers:` ids) that cannot be resolved never cost a subscriber the day's digest,
and the ways people add liked ids (`digest subscribe --topic`, the web form) look them up when
saved: the title is shown, an id arXiv does not know is refused."""

from __future__ import annotations

import socket
import subprocess
import sys
from email import message_from_bytes, policy
from pathlib import Path

from digest.config import load_config
from digest.sources.arxiv import parse_api
from digest.store import open_store, utcnow
from tests.feedserver import FeedServer

RECORDED = "arxiv_api/query_all-testing_start0_max100.xml"
DIGEST = [sys.executable, "-m", "digest"]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_world(tmp_path: Path, real: Path, api_url: str, liked: str) -> Path:
    """A config whose arXiv API is `api_url`, one reader who likes `liked`, and a store holding
    100 recorded arXiv papers first seen now; no smtp: digests go to data/outbox."""
    path = tmp_path / "config.yaml"
    path.write_text(
        f"""
data_dir: ./data
fetch: {{retries: 0, timeout: 2}}
sources:
  - {{type: arxiv_api, query: testing, url: "{api_url}"}}
subscribers:
  - name: ada
    email: ada@example.org
    topics:
      - name: Software testing
        keywords: ["group testing", "metamorphic testing", "software testing"]
        papers: ["{liked}"]
""",
        encoding="utf-8",
    )
    papers, _ = parse_api((real / RECORDED).read_bytes())
    with open_store(load_config(path).store_url) as store:
        store.save_papers(papers, now=utcnow())
    return path


def send(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "digest", "--config", str(path), "send"],
        capture_output=True,
        text=True,
        timeout=120,
    )


def outbox(tmp_path: Path) -> list[str]:
    mails = sorted((tmp_path / "data" / "outbox").rglob("*.eml"))
    return [str(message_from_bytes(m.read_bytes(), policy=policy.default)["To"]) for m in mails]


def test_an_unreachable_arxiv_api_leaves_the_liked_paper_out_and_the_digest_goes(
    tmp_path: Path, real: Path
) -> None:
    path = write_world(tmp_path, real, f"http://127.0.0.1:{closed_port()}/api/query", "2005.11401")
    done = send(path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "sent 1" in done.stdout
    assert "2005.11401" in done.stderr and "left out" in done.stderr
    assert outbox(tmp_path) == ["ada <ada@example.org>"]


def test_an_id_the_arxiv_api_does_not_know_is_left_out_and_the_digest_goes(
    tmp_path: Path, real: Path
) -> None:
    with FeedServer(real) as server:
        path = write_world(tmp_path, real, f"{server.url}/api/query", "0000.0000")
        done = send(path)
        assert server.hits  # the API was asked, and answered with no entry
    assert done.returncode == 0, done.stdout + done.stderr
    assert "sent 1" in done.stdout
    assert "liked paper '0000.0000' is left out" in done.stderr
    assert outbox(tmp_path) == ["ada <ada@example.org>"]


def test_digest_subscribe_shows_the_liked_papers_title_and_refuses_an_unknown_id(
    tmp_path: Path, real: Path
) -> None:
    with FeedServer(real) as server:
        path = write_world(tmp_path, real, f"{server.url}/api/query", "1605.08386")

        def subscribe(topic: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [*DIGEST, "--config", str(path), "subscribe", "cy@example.org", "--topic", topic],
                capture_output=True,
                text=True,
                timeout=60,
            )

        refused = subscribe("Walks: random walks, 0000.0000")
        assert refused.returncode == 1
        assert refused.stdout == ""
        assert refused.stderr.strip().splitlines() == [
            "error: Walks: arXiv has no paper 0000.0000 (check the id, e.g. 2005.11401)"
        ]
        listed = subprocess.run(
            [sys.executable, "-m", "digest", "--config", str(path), "subscribers", "--json"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert "cy@example.org" not in listed.stdout  # nothing was saved

        done = subscribe("Walks: random walks, 1605.08386")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "cy@example.org: active (topics: Walks)",
        "  liked 1605.08386: Heat-bath random walks with Markov bases",
    ]


def test_digest_subscribe_keeps_an_id_unchecked_when_the_arxiv_api_is_down(
    tmp_path: Path, real: Path
) -> None:
    path = write_world(tmp_path, real, f"http://127.0.0.1:{closed_port()}/api/query", "1605.08386")
    done = subprocess.run(
        [*DIGEST, "--config", str(path), "subscribe", "cy@example.org", "--topic", "W: 2005.11401"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "cy@example.org: active (topics: W)",
        "  liked 2005.11401: not checked: the arXiv API could not be reached",
    ]
