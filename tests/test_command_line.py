"""The command line as a new user meets it in the first hour: `rank` shows a digest's worth and
says how many more there are, names are any case, a command that cannot do what was asked says
why in one line, and output that went to a file says where."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from digest.cli import main
from digest.config import load_config
from digest.papers_file import read_papers
from digest.pipeline import open_configured_store

CONFIG = """
data_dir: ./data
base_url: http://127.0.0.1:8025
allow_http_base_url: true
subscribers:
  - name: Ada
    email: ada@example.org
    max_papers: 3
    topics:
      - name: Retrieval
        keywords: [retrieval]
"""


def write_papers(folder: Path, count: int = 12) -> Path:
    """`count` papers on retrieval, and as many on other things: a day to rank."""
    path = folder / "papers.jsonl"
    rows = []
    for i in range(count):
        rows.append(
            {
                "arxiv_id": f"2601.{i:05d}",
                "title": f"Dense retrieval study number {i}",
                "abstract": "We study retrieval " * (i + 1) + "for question answering.",
            }
        )
        rows.append(
            {
                "arxiv_id": f"2601.{100 + i:05d}",
                "title": f"Galaxy survey {i}",
                "abstract": "Stars and gas in nearby galaxies.",
            }
        )
    path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """`digest --config CONFIG ARGS…` as the console script runs it: (exit code, stdout+stderr)."""

    def digest(config: Path, *args: str) -> tuple[int, str]:
        try:
            main(["--config", str(config), *args])
            code = 0
        except SystemExit as e:
            code = int(e.code or 0)
        out = capsys.readouterr()
        return code, out.out + out.err

    return digest


def test_rank_shows_a_digests_worth_by_any_case_of_the_name_and_says_how_many_more(
    write_config, tmp_path: Path, run
) -> None:  # type: ignore[no-untyped-def]
    path = write_config(CONFIG)
    papers = write_papers(tmp_path)
    code, out = run(path, "rank", "ada", "--papers", str(papers))  # configured as "Ada"
    assert code == 0, out
    numbered = [line for line in out.splitlines() if line.split(".")[0].strip().isdigit()]
    assert len(numbered) == 3  # max_papers
    assert out.splitlines()[-1] == "… and 9 more below (--top N shows more, --all shows all 12)"

    code, out = run(path, "rank", "ADA", "--papers", str(papers), "--all")
    assert code == 0 and "more below" not in out
    assert len([line for line in out.splitlines() if "  2601." in line]) == 12  # the matches
    code, out = run(path, "rank", "ada", "--papers", str(papers), "--top", "5")
    assert out.splitlines()[-1] == "… and 7 more below (--top N shows more, --all shows all 12)"


def test_two_people_whose_names_differ_only_in_case_are_told_apart_or_refused(
    write_config, tmp_path: Path, run
) -> None:  # type: ignore[no-untyped-def]
    two = CONFIG + (
        "  - name: ADA\n    email: other@example.org\n"
        "    topics: [{name: Stars, keywords: [galaxy]}]\n"
    )
    path = write_config(two)
    papers = write_papers(tmp_path, 2)
    assert "[Stars]" in run(path, "rank", "ADA", "--papers", str(papers))[1]  # exact wins
    code, out = run(path, "rank", "aDa", "--papers", str(papers))
    assert code == 1
    assert "2 subscribers are named 'aDa' (ada@example.org, other@example.org)" in out


def test_reactivate_of_an_unknown_address_says_there_is_no_such_subscriber(
    write_config, run
) -> None:  # type: ignore[no-untyped-def]
    path = write_config(CONFIG)
    code, out = run(path, "reactivate", "nobody@example.org")
    assert code == 1
    assert out == "nobody@example.org: no such subscriber (see `digest subscribers`)\n"
    code, out = run(path, "reactivate", "ADA@example.org")  # known, and not suspended
    assert code == 1 and "mail is not suspended" in out


def test_a_config_yaml_persons_profile_is_changed_in_the_file_or_reset_to_it(
    write_config, run
) -> None:  # type: ignore[no-untyped-def]
    path = write_config(CONFIG)
    code, out = run(path, "subscribe", "ada@example.org", "--topic", "x: y")
    assert code == 1
    assert "ada@example.org is in config.yaml: change their topics, name or schedule there" in out
    assert run(path, "subscribers")[1].endswith("[Retrieval]\n")  # nothing changed

    # What Ada saved on the web hides the file's topics until the operator resets it.
    config = load_config(path)
    with open_configured_store(config) as store:
        from digest.subscribe import Changes, topic_from_spec, update_subscription

        changes = Changes(topics=(topic_from_spec("Web: graphs"),))
        update_subscription(config, store, "ada@example.org", changes)
    assert run(path, "subscribers")[1].endswith("[Web]\n")
    code, out = run(path, "subscribe", "ada@example.org", "--reset")
    assert (code, out) == (0, "ada@example.org: active (topics: Retrieval, from config.yaml)\n")
    assert run(path, "subscribers")[1].endswith("[Retrieval]\n")
    code, out = run(path, "subscribe", "cy@example.org", "--reset")
    assert code == 1 and "cy@example.org is not in config.yaml" in out


def test_send_without_smtp_says_where_the_eml_files_went(write_config, tmp_path: Path, run) -> None:  # type: ignore[no-untyped-def]
    path = write_config(CONFIG)
    config = load_config(path)
    with open_configured_store(config) as store:
        store.save_papers(read_papers(write_papers(tmp_path)))
    code, out = run(path, "send")
    assert code == 0, out
    outbox = (tmp_path / "data" / "outbox").resolve()
    assert out.splitlines()[-1] == (
        f"no smtp: in the config, so the digests were written as .eml files to {outbox} "
        "(open them in a mail program)"
    )
    assert len(list(outbox.glob("*.eml"))) == 1


@pytest.mark.skipif(sys.platform != "linux", reason="$BROWSER and $DISPLAY are Linux's")
def test_preview_open_without_a_browser_says_where_the_page_is(
    write_config, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    path = write_config(CONFIG)
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["BROWSER"] = str(tmp_path / "no-such-browser")
    papers = write_papers(tmp_path, 3)
    argv = ["--config", str(path), "preview", "--open", "--papers", str(papers)]
    result = subprocess.run(
        [sys.executable, "-m", "digest", *argv],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    page = next(line.strip() for line in result.stdout.splitlines() if line.endswith(".html"))
    assert result.stderr == (
        f"no web browser could be started: open {(tmp_path / page).resolve()} yourself "
        "(or set $BROWSER)\n"
    )
