"""`digest send` end to end: real papers in the store, a real SMTP server on 127.0.0.1, the CLI
as a user runs it, and a sender killed with SIGKILL in the middle of its run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest
import time_machine
from click.testing import CliRunner, Result
from sqlalchemy import func, select

from digest.cli import cli
from digest.config import load_config
from digest.mail.tokens import read_token
from digest.sources.arxiv import parse_api
from digest.store import open_store, utcnow
from digest.store.schema import deliveries
from tests.smtp_server import FaultySmtp

RECORDED = "arxiv_api/query_all-testing_start0_max100.xml"


@pytest.fixture
def smtp() -> Iterator[FaultySmtp]:
    server = FaultySmtp().start()
    yield server
    server.stop()


def write_world(
    tmp_path: Path,
    real: Path,
    *,
    readers: int,
    smtp: FaultySmtp | int | None,
    extra_smtp: str = "",
    max_connections: int = 4,
    retry_backoff: float = 0.1,
    retry_wait: float = 10,
    security: str = "none",
    timeout: float = 1,
) -> Path:
    """A config with `readers` subscribers, and a store holding 100 recorded arXiv papers.
    `smtp` is the server, or a port (nothing listening)."""
    lines = ["data_dir: ./data", "base_url: https://digest.example.org"]
    if smtp is not None:
        lines += [
            "smtp:",
            "  host: 127.0.0.1",
            f"  port: {smtp if isinstance(smtp, int) else smtp.port}",
            f"  security: {security}",
            '  from: "Paper Digest <digest@example.org>"',
            f"  timeout: {timeout}",
            f"  max_connections: {max_connections}",
            f"  retry_backoff: {retry_backoff}",
            f"  retry_wait: {retry_wait}",
            *[f"  {line}" for line in extra_smtp.splitlines() if line],
        ]
    lines.append("subscribers:")
    for i in range(readers):
        lines += [
            f"  - name: Reader {i}",
            f"    email: r{i:03d}@example.org",
            "    max_papers: 5",
            "    topics:",
            "      - name: Software testing",
            '        keywords: ["group testing", "metamorphic testing", "software testing"]',
        ]
    lines += [
        "  - name: Nobody Interested",
        "    email: quiet@example.org",
        "    topics:",
        "      - name: Nothing today",
        "        keywords: [zzqxjv]",
    ]
    path = tmp_path / "config.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    config = load_config(path)
    papers, _ = parse_api((real / RECORDED).read_bytes())
    store = open_store(config.store_url)
    store.save_papers(papers, now=utcnow())
    store.close()
    return path


def run(path: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--config", str(path), "send", *args])


def ledger_rows(path: Path) -> int:
    store = open_store(load_config(path).store_url)
    try:
        with store.engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(deliveries)) or 0)
    finally:
        store.close()


def copied(path: Path) -> set[str]:
    """Whose digests have a web copy kept."""
    from digest.store.schema import digest_copies

    store = open_store(load_config(path).store_url)
    try:
        with store.engine.connect() as conn:
            return set(conn.scalars(select(digest_copies.c.email)))
    finally:
        store.close()


def statuses(path: Path) -> dict[str, int]:
    store = open_store(load_config(path).store_url)
    try:
        with store.engine.connect() as conn:
            query = select(deliveries.c.status, func.count()).group_by(deliveries.c.status)
            return {status: int(n) for status, n in conn.execute(query)}
    finally:
        store.close()


def test_digest_send_delivers_once_with_every_header_and_a_second_run_sends_nothing(
    tmp_path: Path, real: Path, smtp: FaultySmtp
) -> None:
    path = write_world(tmp_path, real, readers=6, smtp=smtp)
    day = utcnow().date().isoformat()  # both runs on one day, even if midnight falls between
    first = run(path, "--date", day)
    assert first.exit_code == 0, first.output
    assert "sent 6, skipped 1, retried 0, failed 0" in first.output
    assert sorted(smtp.handler.per_recipient().values()) == [1] * 6
    assert "quiet@example.org" not in smtp.handler.per_recipient()  # empty digest: no email

    got = smtp.received[0]
    msg = message_from_bytes(got.data, policy=policy.default)
    assert got.sender == "digest@example.org"
    assert msg["From"] == "Paper Digest <digest@example.org>"
    assert msg["To"].addresses[0].display_name.startswith("Reader ")
    assert msg["To"].addresses[0].addr_spec == got.recipient
    assert "23" in msg["Subject"] or any(ch.isdigit() for ch in msg["Subject"])
    assert "and 4 more" in msg["Subject"]  # the best paper, then the count
    assert msg["Date"].datetime.tzinfo is not None
    assert msg["Message-ID"].endswith("@example.org>")
    assert msg["List-Id"] == "Paper Digest <paper-digest.example.org>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # https one-click only: no mailto: to a mailbox nothing reads (mail.unsubscribe_mailto)
    https = msg["List-Unsubscribe"].strip("<>")
    assert https.startswith("https://digest.example.org/unsubscribe?token=")
    key = (tmp_path / "data" / "secret_key").read_text().strip()
    assert read_token(key, "unsubscribe", https.split("token=", 1)[1]) == got.recipient
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    assert msg.get_body(("html",)).get_content_charset() == "utf-8"  # type: ignore[union-attr]
    assert len({r.message["Message-ID"] for r in smtp.received}) == 6

    second = run(path, "--date", day)
    assert second.exit_code == 0, second.output
    assert "sent 0" in second.output and "7 already done" in second.output
    assert len(smtp.received) == 6


def test_a_dry_run_shows_who_would_get_what_and_writes_nothing(
    tmp_path: Path, real: Path, smtp: FaultySmtp
) -> None:
    path = write_world(tmp_path, real, readers=3, smtp=smtp)
    result = run(path, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "Reader 0 <r000@example.org>" in result.output and "would send 5 papers" in result.output
    assert "quiet@example.org" in result.output and "not sent (nothing new)" in result.output
    assert not smtp.received
    assert ledger_rows(path) == 0
    assert not (tmp_path / "data" / "outbox").exists()
    assert not (tmp_path / "data" / "secret_key").exists()


def test_without_smtp_digests_go_to_the_outbox(tmp_path: Path, real: Path) -> None:
    path = write_world(tmp_path, real, readers=2, smtp=None)
    result = run(path)
    assert result.exit_code == 0, result.output
    files = sorted((tmp_path / "data" / "outbox").glob("*.eml"))
    assert [f.name.split("--")[0] for f in files] == ["r000@example.org", "r001@example.org"]
    msg = message_from_bytes(files[0].read_bytes(), policy=policy.default)
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_one_refused_recipient_is_reported_and_the_exit_status_says_so(
    tmp_path: Path, real: Path, smtp: FaultySmtp
) -> None:
    path = write_world(tmp_path, real, readers=4, smtp=smtp)
    smtp.handler.permanent = {"r002@example.org"}
    smtp.handler.temporary = {"r001@example.org": 1}
    result = run(path)
    assert result.exit_code == 1
    assert "sent 3, skipped 1, retried 1, failed 1" in result.output
    assert "1 failed: 550 5.1.1 No such user here (r002@example.org)" in result.output
    assert "1 deferred: 451 4.7.1 Greylisted, try again later at RCPT TO (r001@example.org)" in (
        result.output
    )
    # A web copy is kept with each "sent" in one transaction: none for the refused digest.
    assert copied(path) == {"r000@example.org", "r001@example.org", "r003@example.org"}


def test_a_refused_login_stops_with_one_clear_line_and_the_next_run_sends_the_rest(
    tmp_path: Path, real: Path, smtp: FaultySmtp, monkeypatch: pytest.MonkeyPatch
) -> None:
    smtp.handler.password = "right"
    extra = "username: digest\npassword: ${SMTP_PASSWORD}\nallow_insecure_auth: true\n"
    monkeypatch.setenv("SMTP_PASSWORD", "wrong-password")
    path = write_world(tmp_path, real, readers=3, smtp=smtp, extra_smtp=extra)
    result = run(path)
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "535" in errors[0] and "check smtp.username" in errors[0]
    assert "wrong-password" not in result.output
    assert not smtp.received
    monkeypatch.setenv("SMTP_PASSWORD", "right")
    result = run(path)
    assert result.exit_code == 0, result.output
    assert sorted(smtp.handler.per_recipient().values()) == [1] * 3


def test_sigkill_mid_run_then_restart_everyone_gets_it_at_most_max_connections_twice(
    tmp_path: Path, real: Path, smtp: FaultySmtp
) -> None:
    readers = 40
    path = write_world(tmp_path, real, readers=readers, smtp=smtp)
    smtp.handler.latency = 0.1  # slow enough for the kill to land mid-run
    day = utcnow().date().isoformat()  # the restart finishes this day's run, past midnight too
    command = [sys.executable, "-m", "digest", "--config", str(path), "send", "--date", day]
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    sender = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while len(smtp.received) < 8 and time.monotonic() < deadline and sender.poll() is None:
        time.sleep(0.01)
    assert sender.poll() is None, "the sender finished before it could be killed"
    sender.send_signal(signal.SIGKILL)
    sender.communicate(timeout=10)  # reaps it and closes the pipes
    killed_at = len(smtp.received)
    assert killed_at < readers

    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr + done.stdout
    counts = smtp.handler.per_recipient()
    emails = [f"r{i:03d}@example.org" for i in range(readers)]
    assert all(counts[e] >= 1 for e in emails), counts  # none missed
    duplicates = sum(counts[e] - 1 for e in emails)
    print(f"killed after {killed_at} messages; {duplicates} duplicates")
    assert duplicates <= 4  # max_connections
    assert statuses(path) == {"sent": readers, "skipped": 1}
    assert "sent" in done.stdout and "already done by an earlier run" in done.stdout


def test_no_header_is_injected_through_a_topic_name_or_a_paper_title(
    tmp_path: Path, real: Path
) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        "data_dir: ./data\n"
        "subscribers:\n"
        "  - name: Eve\n"
        "    email: eve@example.org\n"
        "    topics:\n"
        '      - name: "Testing\\r\\nBcc: victim@example.org\\nX-Evil: 1"\n'
        '        keywords: ["group testing", "metamorphic testing"]\n',
        encoding="utf-8",
    )
    papers, _ = parse_api((real / RECORDED).read_bytes())
    evil = replace(
        papers[0],
        title="Group testing\r\nBcc: victim2@example.org\r\n\r\n<b>body</b> metamorphic testing",
    )
    store = open_store(load_config(path).store_url)
    store.save_papers([evil, *papers[1:]], now=utcnow())
    store.close()
    result = run(path)
    assert result.exit_code == 0, result.output
    [eml] = (tmp_path / "data" / "outbox").glob("*.eml")
    raw = eml.read_bytes()
    head, _, _ = raw.partition(b"\r\n\r\n")
    names = [line.split(b":")[0] for line in head.split(b"\r\n") if not line.startswith(b" ")]
    assert b"Bcc" not in names and b"X-Evil" not in names
    msg = message_from_bytes(raw, policy=policy.default)
    assert [a.addr_spec for a in msg["To"].addresses] == ["eve@example.org"]
    html = msg.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "Bcc: victim2@example.org &lt;b&gt;body&lt;/b&gt;" in html  # a title, as text
    assert "\n" not in msg["Subject"]


@pytest.mark.parametrize(
    "later",
    [
        pytest.param(timedelta(hours=12), id="fetched-that-evening"),
        # A fetch that ran meanwhile saved its papers after the ranking and before the digest
        # was marked sent: they were not in that digest, so they belong to the next one.
        pytest.param(timedelta(microseconds=1), id="fetched-while-the-digest-was-sent"),
    ],
)
def test_the_next_digest_holds_only_papers_first_seen_since_the_last_one(
    tmp_path: Path, real: Path, later: timedelta
) -> None:
    from digest.pipeline import candidate_papers, send_digests

    # Day and clock are both pinned (the ledger stamps its times from the clock): the papers
    # are first seen at 06:00 on Monday the 23rd and the digest is ranked and sent from 07:00.
    stored = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
    day1 = stored + timedelta(hours=1)
    with time_machine.travel(stored, tick=False):
        path = write_world(tmp_path, real, readers=1, smtp=None)  # the outbox transport
    config = load_config(path)
    store = open_store(config.store_url)
    reader = config.subscriber("Reader 0")
    with time_machine.travel(day1, tick=True):
        report = send_digests(config, store, subscriber=reader.email, day=day1.date())
    assert report.delivery.sent == 1
    more, _ = parse_api(
        (real / "arxiv_api/legacy2016_search_query_au-del_maestro.xml").read_bytes()
    )
    store.save_papers(more, now=day1 + later)
    next_day = day1 + timedelta(days=1)
    fresh = candidate_papers(store, reader, next_day, next_day.date())
    assert fresh and {p.id for p in fresh} == {p.id for p in more}
    # A digest for a past day looks no further than the end of that day.
    assert candidate_papers(store, reader, next_day, (day1 - timedelta(days=5)).date()) == []
    store.close()


def test_a_send_to_one_address_reads_that_person_alone(
    tmp_path: Path, real: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`digest send ADDRESS` with 10,000 subscribers took 6.4 s, most of it reading and
    checking everyone's profile; it reads the one row now (a name still reads everyone)."""
    from digest.pipeline import send_digests
    from digest.store.subscribers import SubscriberStore

    path = write_world(tmp_path, real, readers=3, smtp=None)  # the outbox transport
    config = load_config(path)
    store = open_store(config.store_url)

    def everyone(_: SubscriberStore) -> list[object]:
        raise AssertionError("every subscriber was read for one address")

    monkeypatch.setattr(SubscriberStore, "all", everyone)
    report = send_digests(config, store, subscriber="R001@example.org")
    assert report.delivery.sent == 1
    with pytest.raises(AssertionError, match="every subscriber"):
        send_digests(config, store, subscriber="Reader 2")
    store.close()


def test_a_suspended_address_is_shown_skipped_and_sent_again_once_reactivated(
    tmp_path: Path, real: Path, smtp: FaultySmtp
) -> None:
    path = write_world(tmp_path, real, readers=2, smtp=smtp, extra_smtp="max_permanent_failures: 1")
    smtp.handler.permanent = {"r001@example.org"}
    today = utcnow().date()
    days = [(today + timedelta(days=n)).isoformat() for n in range(3)]
    assert run(path, "--date", days[0]).exit_code == 1  # refused once: suspended

    def cli_run(*args: str) -> Result:
        return CliRunner().invoke(cli, ["--config", str(path), *args])

    listed = cli_run("subscribers").output
    assert (
        "mail suspended after repeated refusals (last: 550 5.1.1 No such user here); "
        "once the address is fixed: digest reactivate r001@example.org" in listed
    )
    rows = {r["email"]: r for r in json.loads(cli_run("subscribers", "--json").output)}
    assert rows["r000@example.org"]["mail_suspended"] is None
    assert rows["r001@example.org"]["mail_suspended"].startswith("550")

    smtp.handler.permanent = set()  # the mailbox is fixed, but nobody said so yet
    result = run(path, "--date", days[1])
    assert "r001@example.org" not in smtp.handler.per_recipient()
    assert (
        "not sent: r001@example.org: mail suspended after repeated refusals "
        "(once the address is fixed: digest reactivate r001@example.org)" in result.output
    )

    again = cli_run("reactivate", "R001@example.org")
    assert again.exit_code == 0, again.output
    assert "r001@example.org: mail reactivated" in again.output
    assert run(path, "--date", days[2]).exit_code == 0
    assert smtp.handler.per_recipient()["r001@example.org"] == 1
    assert "mail suspended" not in cli_run("subscribers").output

    unknown = cli_run("reactivate", "r000@example.org")
    assert unknown.exit_code == 1
    assert "r000@example.org: mail is not suspended" in unknown.output


def send_in_processes(path: Path, day: str, workers: int) -> subprocess.CompletedProcess[str]:
    """`digest send --date DAY --workers N`, as a user runs it (a subprocess: it forks)."""
    command = [sys.executable, "-m", "digest", "--config", str(path), "send", "--date", day]
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    command += ["--workers", str(workers)]
    return subprocess.run(command, env=env, capture_output=True, text=True, check=False)


def test_two_worker_processes_split_the_day_and_each_reader_gets_one_email(
    tmp_path: Path, real: Path, smtp: FaultySmtp
) -> None:
    """`digest send --workers 2`: the run forks, each process plans the day for its half and
    sends it over its share of `max_connections: 2` (one each: two SMTP sessions, where two
    processes each opening the configured two would make four), a reader refused in the
    second half is reported, the counts of both add up, and each sent digest's web copy is
    kept by the process that sent it."""
    readers = 12
    path = write_world(tmp_path, real, readers=readers, smtp=smtp, max_connections=2)
    smtp.handler.permanent.add("r011@example.org")
    day = utcnow().date().isoformat()  # once: a run may end after midnight (a faked clock's)
    done = send_in_processes(path, day, 2)
    assert done.returncode == 1, done.stderr + done.stdout  # one reader refused
    assert "sent 11, skipped 1, retried 0, failed 1" in done.stdout, done.stdout
    assert "r011@example.org" in done.stdout
    counts = smtp.handler.per_recipient()
    assert counts == {f"r{i:03d}@example.org": 1 for i in range(readers - 1)}
    assert smtp.handler.sessions == 2  # one connection per process
    assert statuses(path) == {"sent": 11, "failed": 1, "skipped": 1}
    assert copied(path) == set(counts)
    again = send_in_processes(path, day, 2)
    assert "already done by an earlier run" in again.stdout, again.stdout + again.stderr
    assert len(smtp.received) == readers - 1


def test_a_run_never_opens_more_connections_than_configured_whatever_its_workers(
    tmp_path: Path, real: Path, smtp: FaultySmtp
) -> None:
    """`max_connections: 1` and `--workers 2`: one process sends, over one connection (two
    processes would each need one of their own)."""
    path = write_world(tmp_path, real, readers=6, smtp=smtp, max_connections=1)
    done = send_in_processes(path, utcnow().date().isoformat(), 2)
    assert done.returncode == 0, done.stderr + done.stdout
    assert "sent 6, skipped 1, retried 0, failed 0" in done.stdout, done.stdout
    assert smtp.handler.sessions == 1
    assert smtp.handler.per_recipient() == {f"r{i:03d}@example.org": 1 for i in range(6)}
