"""`digest fetch` against servers on 127.0.0.1 that misbehave on purpose: a body that names a
local file, a gzip bomb, an endless body, a trickle, query strings, redirects across origins,
bad items, a bad arXiv category, and hostile text and links. Each test runs the real CLI in a
child process and asserts the bound: memory (the child's peak RSS from wait4), time, what was
stored and what was printed."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.hostile_server import HostileServer, rss

ADDRESS_SPACE = 3 << 30  # the child can never take the machine down, even on a regression
# The CLI alone (Python, numpy, SQLAlchemy, lxml) peaks near 100 MB; a capped fetch adds at most
# the cap (5 MB in these configs) and a bounded decompression window.
MEMORY_BOUND_MB = 250


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    peak_mb: float


def run_fetch(config: Path, *args: str, timeout: float = 60.0) -> Run:
    """`digest fetch` in a child with a capped address space, and its own peak RSS: VmHWM,
    which the kernel keeps per address space and so starts afresh at exec (wait4's ru_maxrss
    would count the pages the child shared with pytest before its exec)."""
    code = (
        "import atexit, resource, sys\n"
        f"resource.setrlimit(resource.RLIMIT_AS, ({ADDRESS_SPACE}, {ADDRESS_SPACE}))\n"
        "def peak():\n"
        "    with open('/proc/self/status') as status:\n"
        "        kb = next(x for x in status if x.startswith('VmHWM:')).split()[1]\n"
        "    sys.stderr.write('\\nPEAK_KB ' + kb + '\\n')\n"
        "atexit.register(peak)\n"
        "from digest.cli import main\n"
        "main(sys.argv[1:])\n"
    )
    started = time.monotonic()
    child = subprocess.Popen(
        [sys.executable, "-c", code, "--config", str(config), "fetch", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )
    out: list[bytes] = []
    err: list[bytes] = []
    readers = [
        threading.Thread(target=lambda: out.append(child.stdout.read())),  # type: ignore[union-attr]
        threading.Thread(target=lambda: err.append(child.stderr.read())),  # type: ignore[union-attr]
    ]
    for reader in readers:
        reader.start()
    killer = threading.Timer(timeout, lambda: os.kill(child.pid, signal.SIGKILL))
    killer.start()
    try:
        _, status, usage = os.wait4(child.pid, 0)
    finally:
        killer.cancel()
    child.returncode = os.waitstatus_to_exitcode(status)
    for reader in readers:
        reader.join()
    child.stdout.close()  # type: ignore[union-attr]
    child.stderr.close()  # type: ignore[union-attr]
    errors, _, peak = b"".join(err).decode(errors="replace").partition("\nPEAK_KB ")
    return Run(
        child.returncode,
        b"".join(out).decode(errors="replace"),
        errors,
        time.monotonic() - started,
        int(peak.split()[0]) / 1024 if peak.strip() else usage.ru_maxrss / 1024,
    )


def stored_titles(tmp_path: Path) -> list[str]:
    database = tmp_path / "data" / "digest.sqlite3"
    if not database.exists():
        return []
    with sqlite3.connect(database) as conn:
        return [row[0] for row in conn.execute("select title from papers order by title")]


@pytest.fixture
def hostile() -> Iterator[HostileServer]:
    with HostileServer(bomb_mb=1024, trickle_every=0.5) as server:
        yield server


def feed_config(write_config, sources: str, fetch: str = "") -> Path:  # type: ignore[no-untyped-def]
    return write_config(f"""
data_dir: ./data
fetch: {{timeout: 2, retries: 0, max_bytes: 5MB{", " + fetch if fetch else ""}}}
sources:
{sources}""")


# ---------------------------------------------------------------- bytes are never a path


def test_a_body_naming_a_local_file_is_not_read(
    hostile: HostileServer,
    write_config,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    secret = tmp_path / "secret.xml"
    secret.write_bytes(rss("SECRET from a local file"))
    hostile.bodies["secret"] = str(secret).encode()
    config = feed_config(
        write_config,
        f"""  - type: feed
    name: names-a-file
    url: {hostile.url}/body/secret
""",
    )
    run = run_fetch(config)
    assert run.returncode == 1
    assert "names-a-file: error:" in run.stdout and "feed" in run.stdout
    assert stored_titles(tmp_path) == []
    assert "Traceback" not in run.stderr


def test_a_body_of_dev_zero_is_not_read(
    hostile: HostileServer,
    write_config,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    hostile.bodies["zero"] = b"/dev/zero"
    config = feed_config(
        write_config,
        f"""  - type: feed
    name: zero
    url: {hostile.url}/body/zero
""",
    )
    run = run_fetch(config, timeout=30)
    assert run.returncode == 1, run.stderr
    assert run.stdout.startswith("zero: error:")
    assert "MemoryError" not in run.stdout + run.stderr
    assert run.peak_mb < MEMORY_BOUND_MB, run.peak_mb
    assert stored_titles(tmp_path) == []


# ---------------------------------------------------------------- size and time limits


def test_a_gzip_bomb_stops_at_the_cap_on_the_decompressed_bytes(
    hostile: HostileServer,
    write_config,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    hostile.bomb()  # build it before the clock starts
    config = feed_config(write_config, f"  - {{type: feed, name: bomb, url: {hostile.url}/bomb}}\n")
    run = run_fetch(config)
    assert run.returncode == 1
    line = run.stdout.strip()
    assert line.startswith("bomb: error:") and "5 MB" in line and "fetch.max_bytes" in line, line
    assert len(run.stdout.splitlines()) == 1
    assert run.peak_mb < MEMORY_BOUND_MB, run.peak_mb
    assert run.seconds < 20


def test_an_endless_body_stops_at_the_cap(
    hostile: HostileServer,
    write_config,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    config = feed_config(
        write_config, f"  - {{type: feed, name: endless, url: {hostile.url}/endless}}\n"
    )
    run = run_fetch(config)
    assert run.returncode == 1
    assert "endless: error:" in run.stdout and "fetch.max_bytes" in run.stdout, run.stdout
    assert run.peak_mb < MEMORY_BOUND_MB, run.peak_mb
    assert run.seconds < 20


def test_a_trickling_server_is_cut_off_at_the_request_deadline(
    hostile: HostileServer,
    write_config,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    # One byte every 0.5 s never trips the 2 s read timeout; the 3 s deadline stops it.
    config = feed_config(
        write_config,
        f"  - {{type: feed, name: slow, url: {hostile.url}/trickle}}\n"
        f"  - {{type: feed, name: fine, url: {hostile.url}/feed}}\n",
        fetch="request_deadline: 3",
    )
    run = run_fetch(config, timeout=40)
    assert run.returncode == 1
    assert "slow: error:" in run.stdout and "fetch.request_deadline" in run.stdout, run.stdout
    assert "fine: fetched 1" in run.stdout
    assert run.seconds < 3 + 8  # the deadline, plus starting Python twice over on a busy box


def test_a_source_deadline_bounds_all_of_a_sources_requests(
    hostile: HostileServer,
    write_config,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    config = feed_config(
        write_config,
        f"""  - type: arxiv_rss
    name: slow-arxiv
    categories: [cs.AI, cs.LG, cs.CL, cs.CV]
    url: {hostile.url}/trickle?c={{category}}
""",
        fetch="request_deadline: 2, source_deadline: 3",
    )
    run = run_fetch(config, timeout=40)
    assert run.returncode == 1
    assert "fetch.source_deadline" in run.stdout, run.stdout
    assert run.seconds < 3 + 8


# ---------------------------------------------------------------- query strings


def test_query_strings_are_kept_in_the_request_and_the_cache_key(
    hostile: HostileServer,
    write_config,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    config = feed_config(
        write_config, f"  - {{type: feed, name: q, url: '{hostile.url}/feed?topic=ai&x=1'}}\n"
    )
    run = run_fetch(config)
    assert run.returncode == 0, run.stdout + run.stderr
    assert stored_titles(tmp_path) == ["Asked with topic=ai&x=1"]
    assert hostile.queries == ["topic=ai&x=1"]


# ---------------------------------------------------------------- the address guard


def test_an_allowance_is_for_its_own_source_and_port_only(
    hostile: HostileServer,
    write_config,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    with HostileServer() as other:
        hostile.redirects["away"] = f"{other.url}/feed?via=redirect"
        config = feed_config(
            write_config,
            f"""  - type: feed
    name: redirector
    url: {hostile.url}/redirect/away
  - type: feed
    name: other
    url: {other.url}/feed?direct=1
""",
        )
        run = run_fetch(config)
        assert other.queries == ["direct=1"]  # the redirect never reached the other port
    assert run.returncode == 1
    assert "redirector: error: refusing" in run.stdout, run.stdout
    assert stored_titles(tmp_path) == ["Asked with direct=1"]


# ---------------------------------------------------------------- bad items


def test_bad_hf_items_are_skipped_and_counted(
    hostile: HostileServer,
    write_config,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    def item(arxiv_id: str, title: str, **paper: object) -> dict[str, object]:
        return {"paper": {"id": arxiv_id, "title": title, "summary": "s", **paper}}

    hostile.bodies["hf"] = json.dumps(
        [
            item("2604.00001", "Good one", upvotes=3),
            item("2604.00002", "Authors is a number", authors=7),
            {"paper": {"id": "2604.00003", "title": "Huge upvotes", "upvotes": 10**30}},
            item("2604.00004", "", upvotes=1),
            item("2604.00005", "Good two", authors=[{"name": "A. B."}]),
        ]
    ).encode()
    hostile.bodies["deep"] = b"[" * 200_000 + b"]" * 200_000
    hostile.bodies["medrxiv"] = json.dumps(
        {
            "collection": [
                {"doi": ["10.1/x"], "title": "Doi as a list", "version": "1"},
                {"doi": "10.1101/2026.01.01.1", "title": "Fine preprint", "version": "2"},
            ]
        }
    ).encode()
    config = feed_config(
        write_config,
        f"""  - {{type: hf_daily, name: hf, days: 1, url: '{hostile.url}/body/hf'}}
  - {{type: hf_daily, name: deep, days: 1, url: '{hostile.url}/body/deep'}}
  - {{type: medrxiv, name: med, days: 1, url: '{hostile.url}/body/medrxiv'}}
""",
    )
    run = run_fetch(config, "--date", "2026-04-27")
    lines = run.stdout.splitlines()
    assert "Traceback" not in run.stderr and "[SQL" not in run.stdout + run.stderr
    hf = next(line for line in lines if line.startswith("hf:"))
    assert hf.startswith("hf: fetched 2, new 2, updated 0, skipped 3:"), hf
    assert "item 2" in hf and "authors" in hf, hf
    deep = next(line for line in lines if line.startswith("deep:"))
    assert deep.startswith("deep: error:") and "nested" in deep and len(deep) < 300, deep
    med = next(line for line in lines if line.startswith("med:"))
    assert med.startswith("med: fetched 1, new 1, updated 0, skipped 1: item 1"), med
    assert stored_titles(tmp_path) == ["Fine preprint", "Good one", "Good two"]


# ---------------------------------------------------------------- arXiv categories


def test_one_bad_arxiv_category_does_not_drop_the_others(
    hostile: HostileServer,
    write_config,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    config = feed_config(
        write_config,
        f"""  - type: arxiv_rss
    name: arxiv
    categories: [cs.AI, cs.XX, cs.LG]
    url: {hostile.url}/atom/{{category}}
""",
    )
    run = run_fetch(config)
    assert run.returncode == 1
    line = run.stdout.strip()
    assert line.startswith("arxiv: fetched 2, new 2, updated 0"), line
    assert "cs.XX" in line and "404" in line, line
    assert stored_titles(tmp_path) == ["A paper listed in cs.AI", "A paper listed in cs.LG"]


# ---------------------------------------------------------------- hostile text and links


def test_only_web_links_and_printable_text_are_stored(
    hostile: HostileServer,
    write_config,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    hostile.bodies["hf"] = json.dumps(
        [
            {
                "paper": {
                    "id": "2604.00001",
                    "title": "Bell\u0007 Esc\u001b[31m red\u202e evil\u0000",
                    "summary": "Back\u0008space and a\u2066 isolate",
                    "githubRepo": "javascript:alert(1)",
                    "projectPage": "data:text/html,<script>alert(1)</script>",
                    "authors": [{"name": "Ada\u202e Lovelace"}],
                }
            },
            {"paper": {"id": "2604.00002", "title": "  \u0007 ", "summary": "no title"}},
        ]
    ).encode()
    hostile.bodies["feed"] = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        b"<item><title>Script link</title><link>javascript:alert(1)</link>"
        b"<guid>tag:example.org,2026:1</guid><description>x</description></item>"
        b"<item><title>Only a script link</title><link>javascript:alert(2)</link></item>"
        b"</channel></rss>"
    )
    config = feed_config(
        write_config,
        f"""  - {{type: hf_daily, name: hf, days: 1, url: '{hostile.url}/body/hf'}}
  - {{type: feed, name: feed, url: '{hostile.url}/body/feed'}}
""",
    )
    run = run_fetch(config, "--date", "2026-04-27")
    assert "hf: fetched 1, new 1, updated 0, skipped 1: item 2 has no title" in run.stdout
    assert "feed: fetched 1, new 1, updated 0, skipped 1: item 2 has no http(s) link" in run.stdout
    with sqlite3.connect(tmp_path / "data" / "digest.sqlite3") as conn:
        rows = conn.execute(
            "select title, abstract, authors, code_url, project_url, abs_url from papers"
        ).fetchall()
    text = json.dumps(rows, ensure_ascii=False)
    assert "javascript:" not in text and "data:" not in text, text
    for bad in "\u0007\u001b\u0000\u0008\u202e\u2066":
        assert bad not in text, repr(bad)
    titles = sorted(r[0] for r in rows)
    assert titles == ["Bell Esc[31m red evil", "Script link"], titles
