"""Send 2,000 digests to a local SMTP sink that takes 20 ms to accept each message: this
project's sender (reused connections in parallel, every message recorded in the delivery ledger)
against smtplib with a new connection per message, side by side in one run.

The naive side is sampled (default 300 messages) and its rate extrapolated: at ~35 msg/s the
full 2,000 would only add a minute of waiting. Both sides send the same pre-built messages, so
the comparison is of delivery, not of ranking or rendering.

Run: `python benchmarks/send.py [--messages 2000] [--naive-sample 300] [--connections 4]`.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import smtplib
import socket
import tempfile
import time
from datetime import UTC, date, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from digest.mail.deliver import Outgoing, Policy, deliver_digests
from digest.mail.ledger import Delivery, Ledger
from digest.mail.letterhead import Letterhead, digest_email
from digest.mail.message import parse_address
from digest.mail.smtp import SmtpTransport
from digest.models import Subscriber
from digest.store import open_store

DAY = date(2026, 11, 23)
BODY = "<p>" + "A paper title, its authors, why it was picked, and a summary. " * 150 + "</p>"


class Sink:
    """Accepts everything, after `latency` seconds per message."""

    def __init__(self, latency: float, count: Any) -> None:
        self.latency = latency
        self.count = count  # a multiprocessing.Value shared with the benchmark

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(self.latency)
        with self.count.get_lock():
            self.count.value += 1
        return "250 2.0.0 OK"


def serve_sink(port: int, latency: float, count: Any, ready: Any, stop: Any) -> None:
    """The sink runs in its own process, as a real server would: it must not share our GIL."""
    controller = Controller(Sink(latency, count), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    stop.wait()
    controller.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def build_messages(n: int) -> tuple[list[Subscriber], dict[str, EmailMessage], Letterhead]:
    head = Letterhead(
        sender=parse_address("Paper Digest <digest@example.org>", "from"),
        list_id="Paper Digest <paper-digest.example.org>",
        mailto=None,
        base_url="https://digest.example.org",
        secret="benchmark-secret-0123456789",
    )
    people = [Subscriber(name=f"Reader {i}", email=f"r{i:05d}@example.org") for i in range(n)]
    now = datetime.now(UTC)
    messages = {
        p.email: digest_email(
            head,
            p,
            subject="Paper digest, Mon 23 Nov: 20 new papers",
            text=BODY,
            html=BODY,
            message_id=head.new_message_id(),
            now=now,
        )
        for p in people
    }
    return people, messages, head


def ours(port: int, n: int, connections: int) -> tuple[float, int]:
    people, messages, head = build_messages(n)
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(f"sqlite:///{Path(tmp) / 'digest.sqlite3'}")
        ledger = Ledger(store)
        start = time.perf_counter()
        ledger.plan([(p.email, p.name) for p in people], DAY, datetime.now(UTC))
        rows = list(ledger.for_day(DAY).values())

        def compose(row: Delivery) -> Outgoing:
            return Outgoing(messages[row.email], papers=20)

        transport = SmtpTransport("127.0.0.1", port, security="none", max_connections=connections)
        report = deliver_digests(
            rows,
            compose,
            transport,
            ledger,
            sender=head.sender.addr_spec,
            message_id=head.new_message_id,
            policy=Policy(),
        )
        elapsed = time.perf_counter() - start
        store.close()
    assert report.sent == n, report
    return elapsed, report.logins


def naive(port: int, n: int) -> float:
    people, messages, _ = build_messages(n)
    start = time.perf_counter()
    for p in people:
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            smtp.sendmail("digest@example.org", [p.email], messages[p.email].as_bytes())
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--naive-sample", type=int, default=300)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--latency", type=float, default=0.020)
    args = parser.parse_args()

    port = free_port()
    count = multiprocessing.Value("i", 0)
    ready, stop = multiprocessing.Event(), multiprocessing.Event()
    sink = multiprocessing.Process(
        target=serve_sink, args=(port, args.latency, count, ready, stop), daemon=True
    )
    sink.start()
    ready.wait(10)
    try:
        ours_time, logins = ours(port, args.messages, args.connections)
        received_ours = count.value
        naive_time = naive(port, args.naive_sample)
        received_naive = count.value - received_ours
    finally:
        stop.set()
        sink.join(10)

    ours_rate = args.messages / ours_time
    naive_rate = args.naive_sample / naive_time
    print(f"SMTP sink on 127.0.0.1, {args.latency * 1000:.0f} ms per message")
    print(
        f"ours:  {args.messages} messages in {ours_time:6.2f} s = {ours_rate:7.1f} msg/s "
        f"({args.connections} connections, {logins} logins, ledger in SQLite; "
        f"sink received {received_ours})"
    )
    print(
        f"naive: {args.naive_sample} messages in {naive_time:6.2f} s = {naive_rate:7.1f} msg/s "
        f"(smtplib, new connection per message; sampled {args.naive_sample} of "
        f"{args.messages}, rate extrapolated; sink received {received_naive})"
    )
    print(f"speed-up: {ours_rate / naive_rate:.1f}x (target >= 3x)")


if __name__ == "__main__":
    main()
