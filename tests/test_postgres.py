"""The same code on PostgreSQL: fetch, send exactly once, and two senders at the same time
sharing one ledger (rows claimed with UPDATE … RETURNING), against a real PostgreSQL server.

The server comes from $DIGEST_TEST_POSTGRES_URL (`.ci/run` starts one); each test gets a new
database of its own.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.feedserver import FeedServer
from tests.smtp_server import FaultyHandler, FaultySmtp

SERVER = os.environ.get("DIGEST_TEST_POSTGRES_URL")


@pytest.fixture
def database() -> Iterator[str]:
    if not SERVER:
        message = "needs a PostgreSQL server in $DIGEST_TEST_POSTGRES_URL (.ci/run starts one)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    name = f"digest_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(SERVER, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(SERVER).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


def digest(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "digest", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_fetch_and_send_once_on_postgresql(
    database: str, real: Path, write_config, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    with FeedServer(real) as server:
        config = write_config(f"""
data_dir: ./data
database_url: {database}
sources:
  - type: arxiv_rss
    name: arxiv
    categories: [cs.AI]
    url: {server.url}/atom/{{category}}
  - type: hf_daily
    name: hf
    days: 1
    url: {server.url}/api/daily_papers
subscribers:
  - name: Ada
    email: ada@example.org
    topics: [{{name: Agents, keywords: ["multi-agent", agentic]}}]
""")
        first = digest(config, "fetch", "--json", "--date", "2026-08-18")
        assert first.returncode == 0, first.stderr
        assert '"new": 86' in first.stdout and '"new": 29' in first.stdout
        again = digest(config, "fetch", "--date", "2026-08-18")
        assert "arxiv: fetched 0, new 0, updated 0" in again.stdout  # 304 from the ETag kept in PG
    assert digest(config, "send").returncode == 0
    assert digest(config, "send").stdout.startswith("sent 0,")
    assert len(list((tmp_path / "data/outbox").glob("*.eml"))) == 1
    assert not (tmp_path / "data/digest.sqlite3").exists()


def test_two_senders_at_once_send_each_digest_once(database: str, real: Path, write_config) -> None:  # type: ignore[no-untyped-def]
    smtp = FaultySmtp(FaultyHandler(latency=0.05)).start()
    try:
        readers = "".join(
            f"""
  - name: r{n:02d}
    email: r{n:02d}@example.org
    topics: [{{name: Testing, keywords: ["group testing", "metamorphic testing"]}}]"""
            for n in range(30)
        )
        config = write_config(f"""
data_dir: ./data
database_url: {database}
smtp: {{host: 127.0.0.1, port: {smtp.port}, security: none, from: "Digest <d@example.org>", max_connections: 2, timeout: 5}}
subscribers:{readers}
""")
        from digest.config import load_config
        from digest.sources.arxiv import parse_api
        from digest.store import open_store

        store = open_store(load_config(config).store_url)
        store.save_papers(
            parse_api((real / "arxiv_api/query_all-testing_start0_max100.xml").read_bytes())[0]
        )
        store.close()
        command = [sys.executable, "-m", "digest", "--config", str(config), "send"]
        senders = [
            subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)
        ]
        outputs = [sender.communicate(timeout=120) for sender in senders]
        assert all(s.returncode == 0 for s in senders), outputs
        counts = smtp.handler.per_recipient()
        assert counts == {f"r{n:02d}@example.org": 1 for n in range(30)}
    finally:
        smtp.stop()


def test_a_web_copy_recorded_again_replaces_the_first_on_postgresql(database: str) -> None:
    from tests.test_store import record_a_copy_twice

    record_a_copy_twice(database)
