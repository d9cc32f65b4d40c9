"""`digest run`: catch-up with an injected clock, the one-daemon lock, reload with a broken
config, and a real daemon process stopped by SIGTERM mid-send against a real SMTP server."""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from digest.config import load_config
from digest.mail.ledger import Ledger
from digest.schedule.daemon import Daemon
from digest.sources.arxiv import parse_listing
from digest.store import open_store
from tests.smtp_server import FaultyHandler, FaultySmtp, free_port

LISTING = "arxiv_rss/rss.arxiv.org_atom_cs.AI_2025-08-20_86entries.xml"


def people(count: int, send_at: str, tz: str = "UTC") -> str:
    return "".join(
        f"""
  - name: p{n:02d}
    email: p{n:02d}@example.org
    timezone: {tz}
    send_at: "{send_at}"
    max_papers: 3
    topics: [{{name: Agents, keywords: [agent, "multi-agent", reasoning]}}]"""
        for n in range(count)
    )


def make_config(write_config: Callable[..., Path], real: Path, body: str, now: datetime) -> Path:
    config = write_config(body)
    store = open_store(load_config(config).store_url)
    store.save_papers(parse_listing((real / LISTING).read_bytes()), now=now - timedelta(hours=1))
    store.close()
    return config


def test_catch_up_sends_what_is_due_and_skips_what_is_too_old(
    real: Path, write_config, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    now = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
    config = make_config(
        write_config,
        real,
        f"""
data_dir: ./data
schedule: {{fetch: [], catch_up_hours: 12}}
subscribers:{people(1, "07:00")}
""",
        now,
    )
    daemon = Daemon(config, clock=lambda: now)
    daemon.catch_up(now, since=now - timedelta(days=2))
    outbox = sorted((tmp_path / "data/outbox").glob("*.eml"))
    assert len(outbox) == 1 and "p00@example.org" in outbox[0].read_text()
    ledger = Ledger(daemon.store)
    assert ledger.get("p00@example.org", date(2026, 11, 23)).status == "sent"  # type: ignore[union-attr]
    missed = ledger.get("p00@example.org", date(2026, 11, 22))
    assert missed is not None and missed.status == "skipped" and "missed" in (missed.reply or "")
    # Starting again sends nothing more and skips nothing more.
    daemon.catch_up(now + timedelta(minutes=5), since=now)
    assert len(list((tmp_path / "data/outbox").glob("*.eml"))) == 1
    daemon.store.close()


def test_reload_keeps_the_old_config_when_the_new_one_is_broken(
    real: Path, write_config, caplog: pytest.LogCaptureFixture
) -> None:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    body = f"data_dir: ./data\nschedule: {{fetch: []}}\nsubscribers:{people(1, '06:00')}\n"
    config = make_config(write_config, real, body, now)
    daemon = Daemon(config, poll_seconds=0.05)
    thread = threading.Thread(target=daemon.run)
    caplog.set_level(logging.INFO, logger="digest.daemon")
    thread.start()
    try:
        _wait(lambda: daemon.scheduler.running)
        assert daemon.send_job_for("p00@example.org") is not None
        config.write_text("subscribers: [{name: x, email: nope}]\n")
        _wait(lambda: "reload-failed" in caplog.text)
        assert "subscribers.0.email: is not an email address" in caplog.text
        assert daemon.config.subscribers[0].name == "p00"
        assert daemon.send_job_for("p00@example.org") is not None
        config.write_text(
            f"data_dir: ./data\nschedule: {{fetch: []}}\nsubscribers:{people(2, '06:00')}\n"
        )
        _wait(lambda: daemon.send_job_for("p01@example.org") is not None)
        # Both are due at 06:00 in the same zone: one batch job sends to both.
        both = daemon.send_job_for("p00@example.org")
        assert both.id == daemon.send_job_for("p01@example.org").id
        assert set(both.args[0]) == {"p00@example.org", "p01@example.org"}
        assert len([j for j in daemon.scheduler.get_jobs() if j.id.startswith("send:")]) == 1
    finally:
        daemon.request_stop()
        thread.join(timeout=10)
    assert not thread.is_alive()


def _wait(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


@pytest.fixture
def slow_smtp() -> Iterator[FaultySmtp]:
    server = FaultySmtp(FaultyHandler(latency=0.3)).start()
    yield server
    server.stop()


def start_daemon(config: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "digest", "--config", str(config), "run", "--log-format", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )


def test_sigterm_mid_send_loses_nothing_and_a_restart_finishes(
    real: Path, write_config, slow_smtp: FaultySmtp
) -> None:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    send_at = (now - timedelta(hours=1)).strftime("%H:%M")
    config = make_config(
        write_config,
        real,
        f"""
data_dir: ./data
schedule: {{fetch: [], catch_up_hours: 12}}
smtp: {{host: 127.0.0.1, port: {slow_smtp.port}, security: none, from: "Digest <digest@example.org>", max_connections: 1, timeout: 5}}
subscribers:{people(12, send_at)}
""",
        now,
    )
    first = start_daemon(config)
    _wait(lambda: len(slow_smtp.received) >= 3, timeout=60)
    first.send_signal(signal.SIGTERM)
    stopped = time.monotonic()
    _, log = first.communicate(timeout=15)
    assert first.returncode == 0, log
    assert time.monotonic() - stopped < 10
    assert '"event": "signal"' in log and '"event": "stop"' in log
    after_stop = slow_smtp.handler.per_recipient()
    assert 3 <= sum(after_stop.values()) < 12
    assert max(after_stop.values()) == 1

    # A second daemon on the same store while the first is gone: starts, finishes the rest.
    second = start_daemon(config)
    _wait(lambda: len(slow_smtp.received) >= 12, timeout=60)
    time.sleep(0.5)
    second.send_signal(signal.SIGTERM)
    _, log = second.communicate(timeout=15)
    assert second.returncode == 0, log
    counts = slow_smtp.handler.per_recipient()
    assert counts == {f"p{n:02d}@example.org": 1 for n in range(12)}


def test_a_second_daemon_refuses_to_start(real: Path, write_config) -> None:  # type: ignore[no-untyped-def]
    config = make_config(
        write_config, real, "data_dir: ./data\nschedule: {fetch: []}\n", datetime.now(UTC)
    )
    first = start_daemon(config)
    try:
        _wait(
            lambda: (
                open_store(load_config(config).store_url).engine is not None and _locked(config)
            ),
            timeout=20,
        )
        second = subprocess.run(
            [sys.executable, "-m", "digest", "--config", str(config), "run"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert second.returncode == 1
        assert second.stderr.startswith("error: another digest daemon (")
        assert "is running on this store" in second.stderr and "Traceback" not in second.stderr
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=15)
    assert first.returncode == 0


def _locked(config: Path) -> bool:
    from sqlalchemy import select

    from digest.store.schema import locks

    store = open_store(load_config(config).store_url)
    with store.engine.connect() as conn:
        holder = conn.scalar(select(locks.c.holder).where(locks.c.name == "scheduler"))
    store.close()
    return holder is not None


def test_sighup_reloads_and_a_broken_config_is_reported_and_kept_out(
    real: Path, write_config, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    body = "data_dir: ./data\nschedule: {{fetch: [], watch_config: false}}\nsubscribers:{}\n"
    config = make_config(write_config, real, body.format(people(1, "06:00")), datetime.now(UTC))
    log_file = (tmp_path / "daemon.log").open("w")
    daemon = subprocess.Popen(
        [sys.executable, "-m", "digest", "--config", str(config), "run", "--log-format", "json"],
        stdout=subprocess.DEVNULL,
        stderr=log_file,
        text=True,
    )
    log = tmp_path / "daemon.log"
    try:
        _wait(lambda: '"event": "start"' in log.read_text(), timeout=20)
        config.write_text(
            "subscribers: [{name: x, email: nope, topics: [{name: t, keywords: [a]}]}]\n"
        )
        daemon.send_signal(signal.SIGHUP)
        _wait(lambda: '"event": "reload-failed"' in log.read_text())
        assert "subscribers.0.email: is not an email address" in log.read_text()
        config.write_text(body.format(people(3, "06:00")))
        daemon.send_signal(signal.SIGHUP)
        _wait(lambda: '"event": "reloaded"' in log.read_text())
        assert '"subscribers": 3' in log.read_text()
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=15)
        log_file.close()
    assert daemon.returncode == 0


def test_digest_schedule_prints_next_sends_in_both_zones(write_config) -> None:  # type: ignore[no-untyped-def]
    from click.testing import CliRunner

    from digest.cli import cli

    config = write_config(f"data_dir: ./data\nsubscribers:{people(1, '07:30', 'Europe/Berlin')}\n")
    result = CliRunner().invoke(cli, ["--config", str(config), "schedule"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "next digests:"
    assert lines[1].split()[0] == "p00" and "07:30 Europe/Berlin" in lines[1]
    assert "06:30 UTC" in lines[1] or "05:30 UTC" in lines[1]  # CET or CEST
    fetches = lines[lines.index("next fetches:") + 1 :]
    assert len(fetches) == 4
    pattern = re.compile(
        r"^  \S+ +\w{3} \d{4}-\d\d-\d\d \d\d:\d\d \S+  \(\d{4}-\d\d-\d\d \d\d:\d\d UTC\)$"
    )
    assert all(pattern.match(f) for f in fetches), fetches


def test_a_new_subscription_is_scheduled_while_the_daemon_runs(real: Path, write_config) -> None:  # type: ignore[no-untyped-def]
    from click.testing import CliRunner

    from digest.cli import cli

    body = f"data_dir: ./data\nschedule: {{fetch: []}}\nsubscribers:{people(1, '06:00')}\n"
    config = make_config(write_config, real, body, datetime.now(UTC))
    daemon = Daemon(config, poll_seconds=0.05)
    thread = threading.Thread(target=daemon.run)
    thread.start()
    try:
        _wait(lambda: daemon.scheduler.running)
        assert daemon.send_job_for("new@example.org") is None
        added = CliRunner().invoke(
            cli,
            ["--config", str(config), "subscribe", "new@example.org", "--topic", "Agents: agent"],
        )
        assert added.exit_code == 0, added.output
        _wait(lambda: daemon.send_job_for("new@example.org") is not None)
        gone = CliRunner().invoke(cli, ["--config", str(config), "unsubscribe", "new@example.org"])
        assert gone.exit_code == 0, gone.output
        _wait(lambda: daemon.send_job_for("new@example.org") is None)
    finally:
        daemon.request_stop()
        thread.join(timeout=10)


def test_a_digest_another_sender_delivered_meanwhile_is_not_logged_as_a_warning(
    real: Path, write_config, caplog: pytest.LogCaptureFixture
) -> None:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    body = f"data_dir: ./data\nschedule: {{fetch: []}}\nsubscribers:{people(1, '06:00')}\n"
    # The daemon's clock stands at the test's `now`: a run that crossed midnight would plan
    # the next day's digest, not the one the other sender holds.
    daemon = Daemon(make_config(write_config, real, body, now), clock=lambda: now)
    person = daemon.subscribers()[0]
    ledger = Ledger(daemon.store)
    ledger.plan([(person.email, person.name)], person.local_date(now), now)
    row = ledger.get(person.email, person.local_date(now))
    assert row is not None
    held = ledger.claim(
        row.id, "other-host:1:cafe", now=now, lease=timedelta(minutes=5), message_id="<a@x.org>"
    )
    assert held is not None  # a sender on another machine has it, and finishes 1.5 s later
    finish = threading.Timer(1.5, lambda: ledger.mark_sent(row.id, "250 OK", now, 3))
    caplog.set_level(logging.INFO, logger="digest.daemon")
    finish.start()
    try:
        daemon.send_job((person.email,))
    finally:
        finish.join()
        daemon.store.close()
    sends = [r for r in caplog.records if r.getMessage().startswith("send ")]
    assert len(sends) == 1 and "sent=0" in sends[0].getMessage()
    assert sends[0].levelno == logging.INFO, sends[0].getMessage()
    assert "by_others=1" in sends[0].getMessage()


def test_a_send_the_smtp_server_never_answered_is_logged_with_its_reason(
    real: Path, write_config, caplog: pytest.LogCaptureFixture
) -> None:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    port = free_port()  # nothing listens there
    body = (
        f"data_dir: ./data\nschedule: {{fetch: []}}\n"
        f'smtp: {{host: 127.0.0.1, port: {port}, security: none, from: "D <d@example.org>"}}\n'
        f"subscribers:{people(1, '06:00')}\n"
    )
    daemon = Daemon(make_config(write_config, real, body, now))
    caplog.set_level(logging.INFO, logger="digest.daemon")
    started = time.monotonic()
    try:
        daemon.send_job(("p00@example.org",))
    finally:
        daemon.store.close()
    assert time.monotonic() - started < 10  # not retry_wait (300 s)
    [send] = [r for r in caplog.records if r.getMessage().startswith("send ")]
    assert send.levelno == logging.WARNING
    text = send.getMessage()
    assert f"problems=1 deferred: connection refused by 127.0.0.1:{port}" in text, text
    assert "stopped=cannot reach the SMTP server" in text


def test_a_signal_that_lands_inside_the_stop_event_s_own_wait_still_stops_the_daemon() -> None:
    """SIGTERM's handler runs on the main thread, which spends its time inside `stop.wait()`:
    the handler may land while that thread holds the event's lock. Setting the event right
    there waits for the lock forever (a daemon seen hung after SIGTERM); it is set from
    another thread instead. Here the lock is held the same way, on a thread of its own so a
    regression fails the test instead of hanging it."""
    import threading

    from digest.signals import set_from_signal

    event = threading.Event()

    def handler_inside_wait() -> None:
        with event._cond:  # type: ignore[attr-defined]  # where Event.wait holds it
            set_from_signal(event)

    landed = threading.Thread(target=handler_inside_wait, daemon=True)
    landed.start()
    landed.join(5)
    assert not landed.is_alive(), "the handler blocked on the event's own lock"
    assert event.wait(5)
