"""`digest check` and config errors a new user meets: secrets never echoed, one line with the fix
for each mistake, and the checks a daily run depends on (base_url, library files, the semantic
extra, the store itself)."""

from __future__ import annotations

import importlib.util
import logging
import subprocess
import sys
from itertools import islice
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from digest.cli import cli
from digest.config import load_config
from digest.errors import ConfigError
from digest.papers_file import iter_papers
from digest.store import open_store
from tests.conftest import LABELLED
from tests.feedserver import FeedServer

REPO = Path(__file__).resolve().parents[1]
SECRET = "Tr0ub4dor&3-very-secret"
PERSON = """
subscribers:
  - name: ada
    email: ada@example.org
    topics: [{name: Retrieval, keywords: [retrieval]}]
"""


def check(path: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--config", str(path), "check", *args])


@pytest.fixture
def secret_env(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("SMTP_PASSWORD", SECRET)
    return SECRET


@pytest.mark.parametrize(
    "smtp",
    [
        'pasword: "${SMTP_PASSWORD}"',  # a misspelt key: its value is never shown
        'port: "${SMTP_PASSWORD}"',  # a secret in the wrong place: not shown either
        'security: "${SMTP_PASSWORD}"',
        'username: {nested: "${SMTP_PASSWORD}"}',
        'timeout: "${SMTP_PASSWORD}"',
    ],
)
def test_a_config_error_never_shows_a_value_from_the_environment(
    write_config, secret_env: str, smtp: str
) -> None:  # type: ignore[no-untyped-def]
    path = write_config(f"smtp:\n  host: h.example.org\n  from: d@example.org\n  {smtp}\n")
    result = check(path)
    assert result.exit_code == 1
    assert "smtp." in result.output
    assert secret_env not in result.output and "Tr0ub4dor" not in result.output


def test_an_unknown_key_never_shows_its_value(write_config) -> None:  # type: ignore[no-untyped-def]
    path = write_config(
        "smtp: {host: h.example.org, from: d@example.org, pasword: hunter2hunter}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.problems == [
        "smtp.pasword: unknown key (check its spelling and where it is indented)"
    ]
    assert "hunter2" not in str(caught.value)


def test_the_daemons_reload_failed_line_does_not_show_the_secret(
    write_config, secret_env: str, caplog: pytest.LogCaptureFixture
) -> None:  # type: ignore[no-untyped-def]
    from digest.schedule.daemon import Daemon

    path = write_config("data_dir: ./data\n" + PERSON)
    daemon = Daemon(path)
    try:
        path.write_text(
            path.read_text() + 'smtp: {host: h, from: d@example.org, port: "${SMTP_PASSWORD}"}\n'
        )
        with caplog.at_level(logging.INFO, logger="digest.daemon"):
            assert daemon.reload() is False
    finally:
        daemon.store.close()
    assert "reload-failed" in caplog.text and "smtp.port" in caplog.text
    assert secret_env not in caplog.text


def test_each_common_mistake_is_one_line_with_the_fix(write_config, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    base60 = write_config(
        "subscribers:\n  - name: ada\n    email: ada@example.org\n    send_at: 17:30\n"
        "    topics: [{name: t, keywords: [x]}]\n",
        "base60.yaml",
    )
    blank = write_config(
        "subscribers:\n  - name: ada\n    email: ada@example.org\n"
        "    topics: [{name: t, keywords: [rag, '  ']}]\n",
        "blank.yaml",
    )
    cases = {
        base60: 'subscribers.0.send_at: write the time in quotes, "17:30" (YAML reads an '
        "unquoted 17:30 as the number 1050)",
        blank: "subscribers.0.topics.0.keywords: item 2 is blank (remove it, or write the term) "
        "(got a list)",
    }
    for path, expected in cases.items():
        result = check(path)
        assert result.exit_code == 1
        assert result.output.strip().splitlines() == [f"{path}: {expected}"]

    twice = write_config(
        "subscribers:\n  - name: ada\n    email: ada@example.org\n    topics:\n"
        "      - {name: RAG, keywords: [rag]}\n      - {name: rag, keywords: [retrieval]}\n"
    )
    result = check(twice)
    assert result.exit_code == 1
    assert "subscribers.0: two topics share the name RAG, rag: rename one" in result.output

    duplicate = write_config("data_dir: ./a\ndata_dir: ./b\n" + PERSON)
    result = check(duplicate)
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"{duplicate}: line 2, column 1: invalid YAML: the key 'data_dir' is given twice "
        "in one mapping (keep one)"
    ]

    empty = write_config("# nothing here yet\n")
    result = check(empty)
    assert result.exit_code == 1
    assert "the file is empty" in result.output

    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes(
        ("data_dir: ./data\n" + PERSON.replace("ada\n", "Ad\u00e9le\n", 1)).encode("latin-1")
    )
    result = CliRunner().invoke(cli, ["--config", str(latin1), "check"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "is not UTF-8" in lines[0] and "save the file as UTF-8" in lines[0]
    assert isinstance(result.exception, SystemExit)


def test_check_wants_an_https_base_url_when_mail_goes_out(write_config) -> None:  # type: ignore[no-untyped-def]
    smtp = "smtp: {host: smtp.example.org, from: d@example.org}\n"
    result = check(write_config(smtp + PERSON))
    assert result.exit_code == 1
    assert "base_url: is required when smtp: is set" in result.output

    result = check(write_config(smtp + "base_url: http://digest.example.org\n" + PERSON))
    assert result.exit_code == 1
    assert "base_url: must start with https://" in result.output
    assert "allow_http_base_url: true" in result.output

    allowed = "base_url: http://127.0.0.1:8025\nallow_http_base_url: true\n"
    assert check(write_config(smtp + allowed + PERSON)).exit_code == 0
    result = check(write_config(smtp + "base_url: https://digest.example.org\n" + PERSON))
    assert result.exit_code == 0, result.output


def test_check_reads_each_library_and_looks_for_the_semantic_extra(
    write_config, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "notes.bib").write_text("just some notes, not BibTeX\n", encoding="utf-8")
    path = write_config(
        "subscribers:\n  - name: ada\n    email: ada@example.org\n    topics:\n"
        "      - {name: Missing, library: nowhere.bib}\n"
        "      - {name: Notes, library: notes.bib}\n"
        "ranking: {semantic: true}\n"
    )
    result = check(path)
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert any(
        "subscribers.0.topics.0.library: cannot read the library" in line and "nowhere.bib" in line
        for line in lines
    )
    assert any(
        "subscribers.0.topics.1.library:" in line and "no BibTeX entries" in line for line in lines
    )
    has_extra = importlib.util.find_spec("sentence_transformers") is not None
    assert any("ranking.semantic: needs the semantic extra" in line for line in lines) != has_extra


def test_the_shipped_config_and_the_readme_main_command_pass_check() -> None:
    result = check(REPO / "config.yaml")
    assert result.exit_code == 0, result.output
    assert "ok (4 sources, 1 subscribers)" in result.output


def _damage(file: Path) -> None:
    with file.open("r+b") as f:
        f.seek(4096 * 3)
        f.write(b"\xff" * 4096 * 60)


@pytest.fixture
def damaged_store(write_config, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    path = write_config("data_dir: ./data\n" + PERSON)
    with open_store(load_config(path).store_url) as store:
        store.save_papers(list(islice(iter_papers(LABELLED), 800)))  # the file's first 800
    _damage(tmp_path / "data" / "digest.sqlite3")
    return path


def test_a_damaged_store_is_one_line_naming_the_file_and_how_to_restore_it(
    damaged_store: Path, tmp_path: Path, real: Path
) -> None:
    file = tmp_path / "data" / "digest.sqlite3"
    with FeedServer(real) as server:
        damaged_store.write_text(
            damaged_store.read_text()
            + f"sources:\n  - {{type: arxiv_rss, categories: [cs.AI], url: '{server.url}/atom/{{category}}'}}\n"
            + f"  - {{type: arxiv_api, query: testing, url: '{server.url}/api/query'}}\n",
            encoding="utf-8",
        )
        commands = [["fetch"], ["rank", "ada"], ["send"], ["preview"]]
        for command in commands:
            done = subprocess.run(
                [sys.executable, "-m", "digest", "--config", str(damaged_store), *command],
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert done.returncode == 1, (command, done.stdout, done.stderr)
            lines = (done.stdout + done.stderr).strip().splitlines()
            assert len(lines) == 1, (command, lines)
            assert f"the store {file} is damaged" in lines[0]
            assert "restore it from a backup" in lines[0]

    result = check(damaged_store, "--store")
    assert result.exit_code == 1
    assert f"store: the store {file} is damaged" in result.output
    assert "Traceback" not in result.output


def test_yaml_merge_keys_still_override_without_counting_as_duplicates(write_config) -> None:  # type: ignore[no-untyped-def]
    path = write_config(
        "subscribers:\n  - name: ada\n    email: ada@example.org\n    topics:\n"
        "      - &base {name: RAG, keywords: [rag], categories: [cs.IR]}\n"
        "      - <<: *base\n        name: Dense retrieval\n        keywords: [dense retrieval]\n"
    )
    topics = load_config(path).subscribers[0].topics
    assert [(t.name, t.keywords, t.categories) for t in topics] == [
        ("RAG", ["rag"], ["cs.IR"]),
        ("Dense retrieval", ["dense retrieval"], ["cs.IR"]),
    ]


def test_check_reads_the_secret_files_without_showing_them(write_config, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "key").write_text("tiny\n")
    path = write_config(
        "base_url: https://digest.example.org\nsecret_key_file: key\n"
        "smtp: {host: h.example.org, from: d@example.org, password_file: missing.secret}\n" + PERSON
    )
    result = check(path)
    assert result.exit_code == 1
    assert "smtp.password_file: cannot read" in result.output and "missing.secret" in result.output
    assert "secret key from file is too short" in result.output
    assert "tiny" not in result.output
