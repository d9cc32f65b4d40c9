"""An unattended daily run (cron, systemd) must never fail silently and never send twice.

Real `digest send` processes against a real SMTP server on 127.0.0.1 with faults injected: a
server that is not there, a TLS mismatch, concurrent senders, a slow rate-limited sender, a
connection lost after the message, and SIGKILLs in the middle of runs."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from digest.config import load_config
from digest.mail.deliver import CLAIM_BATCH
from digest.store import open_store
from digest.store.schema import deliveries
from tests.smtp_server import FaultySmtp, free_port
from tests.test_send import statuses, write_world

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def smtp() -> Iterator[FaultySmtp]:
    server = FaultySmtp().start()
    yield server
    server.stop()


def digest(path: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "digest", "--config", str(path), *args]


def env() -> dict[str, str]:
    """The environment of a `digest` child, read when it starts: PYTHONPATH keeps what is
    already there and the clock's offset comes along (`pytest --fake-now` shares its clock)."""
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "PYTHONPATH": path, "PYTHONWARNINGS": "error"}


def send(path: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            digest(path, "send"), env=env(), capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"digest send still running after {timeout} s: {e.stdout!r} {e.stderr!r}")


def start_send(path: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        digest(path, "send"), env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def rows(path: Path) -> dict[str, dict[str, object]]:
    store = open_store(load_config(path).store_url)
    try:
        with store.engine.connect() as conn:
            found = conn.execute(select(deliveries)).mappings().all()
        return {str(r["email"]): dict(r) for r in found}
    finally:
        store.close()


# ---------------------------------------------------------------- it says why, and stops soon


def test_an_smtp_server_that_is_not_running_is_named_at_once_not_after_retry_wait(
    tmp_path: Path, real: Path
) -> None:
    port = free_port()  # nothing listens there
    path = write_world(tmp_path, real, readers=3, smtp=port, retry_backoff=30, retry_wait=300)
    started = time.monotonic()
    result = send(path, timeout=30)
    took = time.monotonic() - started
    assert result.returncode == 1
    where = f"127.0.0.1:{port}"
    reason = f"connection refused by {where} (is the SMTP server running? check smtp.host/port)"
    assert f"3 deferred: {reason}" in result.stdout, result.stdout
    assert f"error: cannot reach the SMTP server: {reason}" in result.stderr, result.stderr
    assert "3 left for a later run" in result.stdout
    assert took < 15, f"took {took:.1f} s"
    assert statuses(path) == {"planned": 3, "skipped": 1}  # nobody lost: the next run sends


def test_a_tls_mismatch_is_named_at_once_with_the_settings_to_check(
    tmp_path: Path, real: Path, smtp: FaultySmtp
) -> None:
    # security: ssl against a server that speaks plain SMTP: every handshake fails.
    path = write_world(
        tmp_path, real, readers=2, smtp=smtp, security="ssl", retry_backoff=30, retry_wait=300
    )
    started = time.monotonic()
    result = send(path, timeout=30)
    assert result.returncode == 1
    assert f"2 deferred: TLS handshake with 127.0.0.1:{smtp.port} failed" in result.stdout
    assert "check smtp.security and smtp.port" in result.stdout
    assert "error: cannot reach the SMTP server" in result.stderr
    assert time.monotonic() - started < 15
    assert not smtp.received


# ---------------------------------------------------------------- concurrent senders


def test_concurrent_senders_each_exit_0_when_everything_was_sent_by_someone(
    tmp_path: Path, real: Path, smtp: FaultySmtp
) -> None:
    readers = 24
    path = write_world(tmp_path, real, readers=readers, smtp=smtp, timeout=5)
    smtp.handler.latency = 0.05
    senders = [start_send(path) for _ in range(3)]
    results = [(p.wait(timeout=90), *p.communicate()) for p in senders]
    for code, out, err in results:
        assert code == 0, out + err
        assert "left for a later run" not in out
    counts = smtp.handler.per_recipient()
    assert sorted(counts.values()) == [1] * readers, counts
    assert statuses(path) == {"sent": readers, "skipped": 1}


def test_a_slow_rate_limited_sender_keeps_its_claims_so_nobody_gets_two_copies(
    tmp_path: Path, real: Path, smtp: FaultySmtp
) -> None:
    # 4 messages a minute over 4 connections: the second digest waits 15 s for its turn while
    # its claim is held. The lease is 6 s, so it would run out twice over; only the heartbeat
    # keeps the claim from the second sender, started 5 s later.
    extra = "rate_limit_per_minute: 4\nclaim_lease_seconds: 6\n"
    path = write_world(
        tmp_path, real, readers=2, smtp=smtp, extra_smtp=extra, retry_wait=60, timeout=5
    )
    first = start_send(path)
    time.sleep(5)
    second = start_send(path)
    done = [(p.wait(timeout=90), *p.communicate()) for p in (first, second)]
    assert sorted(smtp.handler.per_recipient().values()) == [1, 1]
    for code, out, err in done:
        assert code == 0, out + err
    assert "finished by another sender during this run" in done[1][1]
    assert statuses(path) == {"sent": 2, "skipped": 1}


# ---------------------------------------------------------------- a reply lost after the message


def test_a_reply_lost_after_the_message_is_retried_once_and_reported_as_a_possible_duplicate(
    tmp_path: Path, real: Path, smtp: FaultySmtp
) -> None:
    path = write_world(tmp_path, real, readers=3, smtp=smtp, timeout=5)
    smtp.handler.lose_reply = {"r001@example.org": 99, "r002@example.org": 1}
    result = send(path)
    counts = smtp.handler.per_recipient()
    assert counts == Counter({"r000@example.org": 1, "r001@example.org": 2, "r002@example.org": 2})
    assert result.returncode == 1  # r001's digest was not confirmed: say so
    out = result.stdout
    [line] = [line for line in out.splitlines() if "possible duplicate" in line]
    assert line.startswith("2 possible duplicate(s)")
    assert "r001@example.org" in line and "r002@example.org" in line
    assert "1 failed: not sent again: connection lost after the message was sent" in out
    assert "2 deferred: connection lost after the message was sent" in out
    found = rows(path)
    assert found["r001@example.org"]["status"] == "failed"
    assert found["r002@example.org"]["status"] == "sent"
    assert found["r002@example.org"]["unconfirmed"] == 1
    again = send(path)
    assert again.returncode == 0, again.stdout + again.stderr
    assert smtp.handler.per_recipient() == counts  # nothing more for anyone


# ---------------------------------------------------------------- the soak


def test_soak_twelve_sigkills_against_a_slow_rate_limited_server_then_a_restart(
    tmp_path: Path, real: Path, smtp: FaultySmtp
) -> None:
    """12 `digest send` runs, two at a time, killed at random moments while they send; then
    one that is not killed. Nobody is missed; each kill costs at most max_connections
    duplicates, and only of digests a killed run held when it died; the run that was not
    killed sends no digest twice itself.

    A kill leaves at most one digest per connection that reached the server unrecorded. The
    run that sends it again is not always the next one: a run claims rows ahead of its
    connections and may itself be killed before it gets to them. So the duplicates are
    counted over all the kills so far, not wave by wave."""
    connections, waves, together = 2, 6, 2
    readers = 120
    extra = "rate_limit_per_minute: 1200\n"
    path = write_world(
        tmp_path,
        real,
        readers=readers,
        smtp=smtp,
        max_connections=connections,
        extra_smtp=extra,
        timeout=5,
    )
    smtp.handler.latency = 0.05
    rng = random.Random(15)
    seen: Counter[str] = Counter()
    held: set[str] = set()  # what the runs killed so far held when they died
    kills = 0
    started = time.monotonic()

    def check(before: int, kills_before: int) -> Counter[str]:
        """What was sent since `before`; every digest sent twice was held by a killed run,
        and there are no more duplicates in all than the kills before these sends allow."""
        run = Counter(r.recipient for r in smtp.received[before:])
        again = {e for e in run if seen[e] > 0 or run[e] > 1}
        assert again <= held, again
        seen.update(run)
        duplicates = sum(n - 1 for n in seen.values())
        assert duplicates <= connections * kills_before, (duplicates, kills_before)
        return run

    for _ in range(waves):
        before = len(smtp.received)
        senders = [start_send(path) for _ in range(together)]
        deadline = time.monotonic() + 30
        while len(smtp.received) < before + together and time.monotonic() < deadline:
            if any(s.poll() is not None for s in senders):
                break
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.4))
        assert all(s.poll() is None for s in senders), "a sender finished before its kill"
        for sender in senders:
            sender.send_signal(signal.SIGKILL)
        for sender in senders:
            sender.communicate(timeout=10)
        holding = {e for e, r in rows(path).items() if r["status"] == "sending"}
        # A run holds what its connections send, what waits for them, and the rows it
        # claimed to compose next (the next run on this host takes them back at once).
        assert len(holding) <= together * (2 * connections + 1 + CLAIM_BATCH)
        check(before, kills)  # duplicates here come from the waves killed before
        kills += together
        held |= holding
    assert kills == 12
    before = len(smtp.received)
    final = send(path, timeout=120)
    assert final.returncode == 0, final.stdout + final.stderr
    assert max(check(before, kills).values()) == 1  # nothing twice of its own
    emails = [f"r{i:03d}@example.org" for i in range(readers)]
    assert all(seen[e] >= 1 for e in emails), [e for e in emails if not seen[e]]  # none missed
    total = sum(seen[e] - 1 for e in emails)
    took = time.monotonic() - started
    print(f"{kills} kills, {len(smtp.received)} messages, {total} duplicates, {took:.1f} s")
    assert total <= connections * kills
    assert statuses(path) == {"sent": readers, "skipped": 1}
    again = send(path)  # and a run after that sends nothing at all
    assert again.returncode == 0 and len(smtp.received) == sum(seen.values())
