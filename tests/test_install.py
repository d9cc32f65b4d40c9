"""Set-up: `make run` and `make test` install the package once, and again only when
pyproject.toml changes (what make would do is read with `make --dry-run`, nothing runs)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def planned(folder: Path, target: str) -> list[str]:
    """The pip commands `make TARGET` would run in `folder`."""
    result = subprocess.run(
        ["make", "--dry-run", "-C", str(folder), target],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return [line for line in result.stdout.splitlines() if "pip install" in line]


def test_run_and_test_install_once_and_again_only_when_pyproject_changes(tmp_path: Path) -> None:
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy(REPO / name, tmp_path / name)
    python = tmp_path / ".venv" / "bin" / "python"  # a venv already made
    python.parent.mkdir(parents=True)
    python.touch()
    assert planned(tmp_path, "run"), "a fresh venv gets the package"

    # As after a first install: the stamps are newer than pyproject.toml.
    old = (tmp_path / "pyproject.toml").stat().st_mtime - 60
    os.utime(tmp_path / "pyproject.toml", (old, old))
    for stamp in (".installed", ".installed-test"):
        (tmp_path / ".venv" / stamp).touch()
    assert planned(tmp_path, "run") == []
    assert planned(tmp_path, "lint") == []  # `make test` runs lint first

    (tmp_path / "pyproject.toml").touch()  # a dependency was added
    assert planned(tmp_path, "run") == [".venv/bin/pip install --quiet -e ."]


TIDY_REAL = "test_the_store_holds_clean_names_titles_and_abstracts"


def run_tests_without_data(*tests: str, ci: bool) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["DIGEST_REAL_DATA"] = str(REPO / "no-such-folder")
    if ci:
        env["CI"] = "true"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rfEs", "-p", "no:cacheprovider", *tests],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=300,
    )


def test_a_clone_without_the_recorded_data_gets_one_reason_per_module_not_errors() -> None:
    # test_tidy has one test given the `real` fixture; test_papers_file reads the labelled
    # papers itself, so all of its tests need the data.
    result = run_tests_without_data("tests/test_papers_file.py", "tests/test_tidy.py", ci=False)
    assert result.returncode == 0, result.stdout[-3000:]
    reasons = [line for line in result.stdout.splitlines() if line.startswith("SKIPPED")]
    assert [r.split(": ", 1)[1].split(" needs ")[0].rsplit(" ", 1)[1] for r in reasons] == [
        "test_papers_file.py",
        "test_tidy.py",
    ]
    assert "needs ../shared/data/real beside the repo (or DIGEST_REAL_DATA)" in reasons[0]
    assert " error" not in result.stdout.splitlines()[-1]
    assert " passed" in result.stdout.splitlines()[-1]  # the tests that need no data ran

    # On a CI runner the same tests fail, so a runner without the data cannot pass.
    strict = run_tests_without_data("tests/test_tidy.py::" + TIDY_REAL, ci=True)
    assert strict.returncode == 1
    assert "recorded data not found" in strict.stdout


def test_the_github_workflow_runs_ci_run_as_root_with_the_data_beside_the_repo() -> None:
    workflow = yaml.safe_load((REPO / ".github/workflows/ci.yml").read_text(encoding="utf-8"))
    job = workflow["jobs"]["test"]
    assert job["container"]["image"].startswith("python:3.11")  # root, with apt-get
    paths = [s["with"]["path"] for s in job["steps"] if "checkout" in s.get("uses", "")]
    assert paths == ["main", "shared"]  # ../shared beside the repo
    assert job["steps"][-1] == {
        "name": ".ci/run (apt packages, PostgreSQL, .venv, make test)",
        "working-directory": "main",
        "run": ".ci/run",
    }
    assert "download.pytorch.org/whl/cpu" in job["env"]["TORCH_INDEX_URL"]
    assert "TORCH_INDEX_URL" in (REPO / ".ci/run").read_text(encoding="utf-8")
