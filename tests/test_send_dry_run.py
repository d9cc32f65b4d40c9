"""`digest send --dry-run` as a user runs it: it goes on past a subscriber whose digest cannot be
built, as a real send does, and it neither creates nor migrates the store."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from digest.cli import cli
from digest.store import open_store
from tests.test_send import write_world


def test_a_dry_run_goes_on_past_a_broken_subscriber(tmp_path: Path, real: Path) -> None:
    path = write_world(tmp_path, real, readers=2, smtp=None)
    broken = path.read_text(encoding="utf-8").replace(
        "  - name: Reader 0\n    email: r000@example.org\n    max_papers: 5\n    topics:\n"
        "      - name: Software testing\n"
        '        keywords: ["group testing", "metamorphic testing", "software testing"]\n',
        "  - name: Reader 0\n    email: r000@example.org\n    max_papers: 5\n    topics:\n"
        "      - name: Software testing\n        library: gone.bib\n",
    )
    assert broken != path.read_text(encoding="utf-8")
    path.write_text(broken, encoding="utf-8")
    store = tmp_path / "data" / "digest.sqlite3"
    before = store.stat().st_mtime_ns, store.stat().st_size

    result = CliRunner().invoke(cli, ["--config", str(path), "send", "--dry-run"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert lines[0].startswith("Reader 0 <r000@example.org>")
    assert "not sent (could not build the digest: cannot read the library" in lines[0]
    assert "gone.bib" in lines[0]
    assert lines[1].startswith("Reader 1 <r001@example.org>") and "would send 5 papers" in lines[1]
    assert lines[2].startswith("Nobody Interested") and "nothing new" in lines[2]
    assert (store.stat().st_mtime_ns, store.stat().st_size) == before
    assert not (tmp_path / "data" / "outbox").exists()


def test_a_dry_run_says_a_feed_only_reader_gets_no_email(tmp_path: Path, real: Path) -> None:
    """It said "would send" for a reader who reads the digest on the web and in the feed."""
    path = write_world(tmp_path, real, readers=2, smtp=None)
    text = path.read_text(encoding="utf-8").replace(
        "    email: r001@example.org\n", "    email: r001@example.org\n    feed_only: true\n"
    )
    path.write_text(text, encoding="utf-8")

    result = CliRunner().invoke(cli, ["--config", str(path), "send", "--dry-run"])
    lines = result.output.strip().splitlines()
    assert lines[0].startswith("Reader 0 <r000@example.org>") and "would send 5 papers" in lines[0]
    assert lines[1].startswith("Reader 1 <r001@example.org>")
    assert (
        "would publish 5 papers, feed only: on the web and in the Atom feed, no email" in lines[1]
    )
    assert "would send" not in lines[1]


def test_a_dry_run_creates_no_store(write_config, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = write_config(
        "data_dir: ./data\nsubscribers:\n  - name: ada\n    email: ada@example.org\n"
        "    topics: [{name: t, keywords: [x]}]\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "digest", "--config", str(path), "send", "--dry-run"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith("error: there is no store at") and "run `digest fetch` first" in line
    assert not (tmp_path / "data").exists()


def test_the_store_is_private_to_its_owner(write_config, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    old = os.umask(0o022)  # the usual umask, which made the file 0644
    try:
        with open_store(f"sqlite:///{tmp_path / 'data' / 'digest.sqlite3'}") as store:
            store.save_papers([])
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "data").stat().st_mode) == 0o700
    for file in (tmp_path / "data").iterdir():
        assert stat.S_IMODE(file.stat().st_mode) == 0o600, file.name
