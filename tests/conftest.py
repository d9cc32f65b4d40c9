"""Shared test fixtures: the recorded data in ../shared, a config in a temporary folder, and an
isolated environment (no $DIGEST_CONFIG leaking in from the shell)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine

REAL = Path(
    os.environ.get("DIGEST_REAL_DATA", Path(__file__).resolve().parents[2] / "shared/data/real")
)
LABELLED = REAL / "labelled" / "arxiv_staeiou_2016-2018_stratified_250_per_primary.jsonl.gz"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        help="Rewrite the golden files under tests/golden/ instead of comparing against them.",
    )
    parser.addoption(
        "--fake-now",
        metavar="ISO",
        help="Start the clock at this time (e.g. 2028-02-29T23:59:30+00:00) and let it tick, to "
        "find tests that mix fixed dates with the real clock. The `digest` subprocesses that "
        "tests start run on the same faked clock.",
    )
    parser.addoption(
        "--fake-now-each",
        action="store_true",
        help="With --fake-now: restart the faked clock at that time for every test, so each "
        "test (not only the one running when the clock gets there) meets it, e.g. midnight.",
    )


def _fake_start(config: pytest.Config) -> datetime | None:
    when = config.getoption("--fake-now")
    if not when:
        return None
    start = datetime.fromisoformat(when)
    return start if start.tzinfo else start.replace(tzinfo=UTC)


def _travel(start: datetime) -> Callable[[], None]:
    """Start the faked clock at `start` (ticking), here and in the subprocesses tests start;
    return what stops it."""
    # Subprocesses pick the offset up through tests/fakeclock/sitecustomize.py.
    os.environ["DIGEST_TEST_CLOCK_OFFSET"] = str(start.timestamp() - time.time())
    traveller = time_machine.travel(start)
    traveller.start()
    return traveller.stop


def pytest_configure(config: pytest.Config) -> None:
    start = _fake_start(config)
    if start is not None:
        path = [str(Path(__file__).parent / "fakeclock"), os.environ.get("PYTHONPATH", "")]
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in path if p)
        if not config.getoption("--fake-now-each"):
            config.add_cleanup(_travel(start))


@pytest.fixture(autouse=True)
def _fake_clock_each(request: pytest.FixtureRequest) -> Iterator[None]:
    start = _fake_start(request.config)
    if start is None or not request.config.getoption("--fake-now-each"):
        yield
        return
    stop = _travel(start)
    yield
    stop()


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    """True when the run was asked to rewrite golden files (`pytest --update-golden`)."""
    return bool(request.config.getoption("--update-golden"))


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    monkeypatch.delenv("DIGEST_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    yield


@pytest.fixture(scope="session")
def real() -> Path:
    """The recorded real data (read ../shared/data/real/SOURCES.md)."""
    if not REAL.is_dir():
        pytest.fail(f"recorded data not found at {REAL}: the tests need ../shared beside the repo")
    return REAL


@pytest.fixture
def write_config(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Write a config.yaml into the test's folder and return its path."""

    def write(text: str, name: str = "config.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write
