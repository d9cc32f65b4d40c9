# The README's commands. `make run` sets up and runs the main job; `make test` sets up and
# runs every check CI runs.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: install install-test run test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# pip runs again only when pyproject.toml is newer than the stamp of the last install, not on
# every `make run` or `make test`. The test extras include the package, so they stamp both.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	@touch $@
	@echo "installed: the digest command is $(BIN)/digest (or '. $(BIN)/activate', then digest)"

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@ $(VENV)/.installed
	@echo "installed: the digest command is $(BIN)/digest (or '. $(BIN)/activate', then digest)"

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

# The main job with config.yaml: fetch today's papers, then send today's digests (to
# data/outbox as .eml files while no smtp: is configured). A failed source does not hold the
# digests back; the exit status still says it failed (`digest daily --help`).
run: install
	$(BIN)/digest daily

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy --strict digest/

# The suite runs on two worker processes (pytest-xdist; CI has 2 cores, and most tests wait on
# subprocesses, servers and Chromium). `--dist loadfile` keeps each test file on one worker, so
# a file's module-scoped fixtures (the sentence model, a day's vectors) are built once, not once
# per worker. Every test keeps to its own tmp_path, free ports and PostgreSQL database.
# The date-sensitive stories run a second time on a faked clock that restarts for every test
# half a second before midnight UTC on a leap day, so each of them crosses midnight: a test that
# mixes fixed dates with today's clock, or reads the clock twice, fails here, not on the day.
PYTEST_WORKERS ?= -n 2 --dist loadfile

test: lint
	$(BIN)/pytest -q $(PYTEST_WORKERS)
	$(BIN)/pytest -q -p no:cacheprovider $(PYTEST_WORKERS) \
		--fake-now 2028-02-29T23:59:59.5+00:00 --fake-now-each \
		tests/test_send.py tests/test_mail.py tests/test_schedule.py tests/test_daemon.py

bench: install-test
	$(BIN)/pip install --quiet -e '.[test,bench]'
	for script in benchmarks/*.py; do $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
