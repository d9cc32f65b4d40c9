"""config.yaml: validated once at load, every problem one line `path: problem (got …)`, secrets
from the environment, and the file found by --config, $DIGEST_CONFIG or ./config.yaml."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from digest.cli import cli
from digest.config import load_config
from digest.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]


def test_the_shipped_example_config_is_valid() -> None:
    config = load_config(REPO / "config.yaml")
    assert config.data_dir == REPO / "data"
    assert [s.type for s in config.sources] == ["arxiv_rss", "arxiv_api", "hf_daily", "medrxiv"]
    ada = config.subscriber(None)
    assert ada.email == "ada@example.org" and ada.topics[0].keywords[3].weight == 0.5
    assert config.smtp is None


def test_every_problem_is_reported_on_its_own_line(write_config) -> None:  # type: ignore[no-untyped-def]
    path = write_config("""
sources:
  - type: arxiv_rss
    categoris: [cs.AI]
  - type: arxiv_bogus
subscribers:
  - name: x
    email: not-an-address
    timezone: Mars/Olympus
    send_at: "7pm"
    topics: [{name: empty}]
colour: blue
""")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.problems == [
        "sources.0.categories: is required",
        "sources.0.categoris: unknown key (check its spelling and where it is indented)",
        "sources.1: unknown source type; use one of arxiv_rss, arxiv_api, hf_daily, biorxiv, medrxiv, feed (got 'arxiv_bogus')",
        "subscribers.0.email: is not an email address like name@example.org (got 'not-an-address')",
        "subscribers.0.timezone: is not an IANA time zone like Europe/London (got 'Mars/Olympus')",
        "subscribers.0.send_at: is not a time like \"07:00\" (got '7pm')",
        "subscribers.0.topics.0: a topic needs at least one of keywords, categories, authors, papers, library or description (got a mapping)",
        "colour: unknown key (check its spelling and where it is indented)",
    ]


def test_secrets_come_from_the_environment_and_never_show(
    write_config, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    path = write_config("""
smtp: {host: smtp.example.org, from: "Digest <d@example.org>", password: "${TEST_SMTP_PW}"}
""")
    with pytest.raises(
        ConfigError, match="smtp.password: environment variable TEST_SMTP_PW is not set"
    ):
        load_config(path)
    monkeypatch.setenv("TEST_SMTP_PW", "hunter2-secret")
    config = load_config(path)
    assert config.smtp is not None and config.smtp.secret() == "hunter2-secret"
    assert "hunter2" not in repr(config) and "hunter2" not in str(config.model_dump())


def test_a_secret_file_is_read_relative_to_the_config(write_config, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "smtp.secret").write_text("from-a-file\n")
    path = write_config(
        'smtp: {host: h.example.org, from: "d@example.org", password_file: smtp.secret}\n'
    )
    smtp = load_config(path).smtp
    assert smtp is not None and smtp.secret() == "from-a-file"


def test_broken_yaml_names_the_line(write_config) -> None:  # type: ignore[no-untyped-def]
    path = write_config("sources:\n  - type: feed\n    url: [unclosed\n")
    with pytest.raises(ConfigError, match=r"config.yaml: line \d+, column \d+: invalid YAML"):
        load_config(path)


def test_config_file_precedence(
    write_config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    write_config("data_dir: from-cwd\n")
    env_file = write_config("data_dir: from-env\n", name="env.yaml")
    flag_file = write_config("data_dir: from-flag\n", name="flag.yaml")
    assert load_config(None).data_dir.name == "from-cwd"
    monkeypatch.setenv("DIGEST_CONFIG", str(env_file))
    assert load_config(None).data_dir.name == "from-env"
    assert load_config(flag_file).data_dir.name == "from-flag"


def test_check_reports_every_problem_and_exits_non_zero(write_config) -> None:  # type: ignore[no-untyped-def]
    path = write_config(
        "sources: [{type: feed}]\nsubscribers: [{name: a, email: a@b.org, topics: []}]\n"
    )
    result = CliRunner().invoke(cli, ["--config", str(path), "check"])
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"{path}: sources.0.url: is required",
        f"{path}: subscribers.0.topics: needs at least one item (got a list)",
    ]


def test_the_cli_prints_one_line_and_debug_prints_the_traceback(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.yaml"
    plain = subprocess.run(
        [sys.executable, "-m", "digest", "--config", str(missing), "fetch"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert plain.returncode == 1
    assert (
        plain.stderr.strip()
        == f"error: {missing}: no such config file (copy config.yaml from the repo, or pass --config)"
    )
    debug = subprocess.run(
        [sys.executable, "-m", "digest", "--debug", "--config", str(missing), "fetch"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert debug.returncode == 1 and "Traceback" in debug.stderr and "ConfigError" in debug.stderr
