"""The mail stage on its own: the message, its headers, tokens, the outbox, and delivery through
a real SMTP server on 127.0.0.1 that greylists, refuses, drops, hangs and refuses logins."""

from __future__ import annotations

import binascii
import io
import os
import random
import re
import shutil
import socket
import ssl
import stat
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes, policy
from email.utils import format_datetime
from pathlib import Path

import pytest

from digest.config import parse_config
from digest.errors import ConfigError, MailError
from digest.mail.deliver import Outcome, Outgoing, Policy, deliver_digests
from digest.mail.ledger import Delivery, Ledger
from digest.mail.letterhead import Letterhead, digest_email, letterhead
from digest.mail.message import (
    Links,
    build_message,
    make_address,
    one_line,
    parse_address,
    quoted_printable,
)
from digest.mail.report import ProgressBar
from digest.mail.smtp import RateLimiter, SmtpTransport
from digest.mail.tokens import TokenError, load_secret_key, make_token, read_token
from digest.mail.transport import OutboxTransport
from digest.models import Subscriber
from digest.store import Store, open_store, utcnow
from tests.smtp_server import FaultySmtp

DAY = date(2026, 11, 23)
NOW = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
SECRET = "test-secret-key-0123456789"


def head() -> Letterhead:
    return Letterhead(
        sender=parse_address("Paper Digest <digest@example.org>", "from"),
        list_id="Paper Digest <paper-digest.example.org>",
        mailto=parse_address("digest@example.org", "mailto"),
        base_url="https://digest.example.org",
        secret=SECRET,
    )


def people(n: int) -> list[Subscriber]:
    return [Subscriber(name=f"Reader {i}", email=f"r{i:03d}@example.org") for i in range(n)]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = open_store(f"sqlite:///{tmp_path / 'digest.sqlite3'}")
    yield s
    s.close()


@pytest.fixture
def smtp() -> Iterator[FaultySmtp]:
    server = FaultySmtp().start()
    yield server
    server.stop()


def plan(ledger: Ledger, subscribers: list[Subscriber]) -> list[Delivery]:
    ledger.plan([(s.email, s.name) for s in subscribers], DAY, NOW)
    return list(ledger.for_day(DAY).values())


def composer(subscribers: list[Subscriber]):  # type: ignore[no-untyped-def]
    by_email = {s.email: s for s in subscribers}

    def compose(row: Delivery) -> Outgoing:
        assert row.message_id is not None
        message = digest_email(
            head(),
            by_email[row.email],
            subject="Your paper digest for 23 Nov 2026: 3 papers",
            text="Three papers today.\n",
            html="<p>Three papers today.</p>",
            message_id=row.message_id,
            now=NOW,
        )
        return Outgoing(message, papers=3)

    return compose


def send(  # type: ignore[no-untyped-def]
    store: Store,
    subscribers: list[Subscriber],
    transport,
    policy: Policy | None = None,
    *,
    ledger: Ledger | None = None,
    stop: threading.Event | None = None,
):
    ledger = ledger or Ledger(store)
    rows = plan(ledger, subscribers)
    return deliver_digests(
        rows,
        composer(subscribers),
        transport,
        ledger,
        sender="digest@example.org",
        message_id=head().new_message_id,
        policy=policy or Policy(retry_backoff=0.05, retry_wait=10.0, lease=30.0),
        stop=stop,
    )


def transport_for(server: FaultySmtp, **kw) -> SmtpTransport:  # type: ignore[no-untyped-def]
    options = {"security": "none", "timeout": 1.0, "max_connections": 4}
    options |= {"allow_insecure_auth": True} | kw
    return SmtpTransport("127.0.0.1", server.port, **options)


# ---------------------------------------------------------------- the message


def test_a_digest_email_has_every_header_a_mailbox_provider_asks_for() -> None:
    reader = Subscriber(name="Zoë Ünicode, PhD", email="zoe@example.org")
    msg = digest_email(
        head(),
        reader,
        subject="Your paper digest for 23 Nov 2026: 3 papers",
        text="Plain text, café.\n",
        html="<p>HTML, café.</p>",
        message_id="<abc.123@example.org>",
        now=NOW,
    )
    parsed = message_from_bytes(msg.as_bytes(), policy=policy.default)
    assert parsed["From"] == "Paper Digest <digest@example.org>"
    assert parsed["To"].addresses[0].display_name == "Zoë Ünicode, PhD"
    assert parsed["To"].addresses[0].addr_spec == "zoe@example.org"
    assert parsed["Subject"] == "Your paper digest for 23 Nov 2026: 3 papers"
    assert parsed["Message-ID"] == "<abc.123@example.org>"
    assert parsed["Date"].datetime == NOW
    assert parsed["List-Id"] == "Paper Digest <paper-digest.example.org>"
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    https, mailto = [p.strip().strip("<>") for p in parsed["List-Unsubscribe"].split(",")]
    assert https.startswith("https://digest.example.org/unsubscribe?token=")
    assert read_token(SECRET, "unsubscribe", https.split("token=")[1]) == "zoe@example.org"
    assert mailto.startswith("mailto:digest@example.org?subject=unsubscribe")
    assert parsed.get_content_type() == "multipart/alternative"
    parts = list(parsed.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert all(p.get_content_charset() == "utf-8" for p in parts)
    assert "café" in parts[0].get_content() and "café" in parts[1].get_content()
    raw = msg.as_bytes()
    assert b"\r\n" in raw and max(len(line) for line in raw.split(b"\r\n")) <= 998
    assert raw.isascii()  # names and subject are RFC 2047 encoded


def email_package_message(**given: object) -> bytes:
    """The same digest email built the textbook way, through `EmailMessage` (what
    `build_message` did before it wrote the bytes itself): the reference it must match."""
    from email.message import EmailMessage

    from digest.mail.message import POLICY, one_line

    links = given["links"]
    assert isinstance(links, Links)
    msg = EmailMessage(policy=POLICY)
    msg["From"] = given["sender"]
    msg["To"] = given["recipient"]
    msg["Subject"] = one_line(str(given["subject"]))[:200]
    msg["Date"] = format_datetime(given["date"])  # type: ignore[arg-type]
    msg["Message-ID"] = given["message_id"]
    msg["List-Id"] = given["list_id"]
    unsubscribe = f"<{links.unsubscribe_url}>"
    if links.unsubscribe_mailto:
        unsubscribe += f", <{links.unsubscribe_mailto}>"
    msg["List-Unsubscribe"] = unsubscribe
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg["MIME-Version"] = "1.0"
    msg.make_alternative()
    for body, subtype in ((given["text"], "plain"), (given["html"], "html")):
        part = EmailMessage(policy=POLICY.clone(max_line_length=76))
        part.set_content(body, subtype=subtype, charset="utf-8", cte="quoted-printable")
        del part["MIME-Version"]
        msg.attach(part)
    msg.set_boundary("=_digest_reference")
    return msg.as_bytes()


def without_subject(message: bytes) -> bytes:
    head = message.split(b"\r\n\r\n")[0]
    return re.sub(rb"\r\nSubject: .*?(?=\r\n[^ ])", b"", head, flags=re.S)


SUBJECTS = [
    "Paper digest, Tue 1 Dec: Agentic Transaction: ACID-Compliant Multi-Agent Systems for Rel… "
    "and 7 more",
    "Ünïcode " * 30,
    "a=b ?q? _x_ =?utf-8?q?x?= =?iso-8859-1?b?QUJD?=",
    "日本語のタイトル" * 30,
    "émoji 🎉 test — dash, \u2018quotes\u2019 and a\u00a0no-break space",
    "x" * 300,
    "word " * 60,
    "Plain",
    "Ω",
    "tab\tand\x00nul and\u2028line separator",
]


@pytest.mark.parametrize("subject", SUBJECTS)
def test_a_subject_reads_back_as_written_in_encoded_words_and_short_lines(subject: str) -> None:
    """What a mail client shows is the subject as given (made one line, cut at 200); each
    encoded word is at most 75 characters (RFC 2047), each line at most 78 where words allow
    and never past 998 (RFC 5322); only ASCII goes on the wire."""
    msg = build_message(
        subject=subject,
        text="t",
        html="<p>h</p>",
        sender=parse_address("Paper Digest <digest@example.org>", "from"),
        recipient=make_address("Ada", "ada@example.org", "to"),
        message_id="<m@example.org>",
        date=NOW,
        list_id="Paper Digest <paper-digest.example.org>",
        links=Links("https://d/u?t=1", "m"),
    ).as_bytes()
    assert msg.isascii()
    head = msg.split(b"\r\n\r\n")[0].decode("ascii")
    subject_lines = re.search(r"\r\n(Subject: .*?)\r\n(?=[^ ])", head, re.S)
    assert subject_lines is not None
    lines = subject_lines.group(1).split("\r\n")
    words = re.findall(r"=\?[^?]*\?[qQbB]\?[^?]*\?=", subject_lines.group(1))
    assert all(len(w) <= 75 for w in words)
    assert all(len(line) <= 998 for line in lines)
    # Past 78 only where one word alone would not fit.
    assert all(
        len(line) <= 78 or " " not in line.removeprefix("Subject:").strip() for line in lines
    )
    parsed = message_from_bytes(msg, policy=policy.default)
    assert parsed["Subject"] == one_line(subject)[:200]


def test_a_digest_email_is_what_the_email_package_writes_with_short_lines() -> None:
    """Names and subjects plain, quoted, accented, too long; bodies with trailing spaces, "=",
    lone dots, CRLF, long lines and accents: the same header lines, byte for byte, and the same
    bodies once decoded, in quoted-printable lines of at most 76 characters."""
    names = ["Reader 7", "Ada L. Smith", 'Eve "Q" Doe', "A  B", "O'Brien", "Zoë Ünicode, PhD"]
    names += ["x" * 120, "é" * 80, "(c) Org", ""]
    subjects = ["Paper digest, Tue 1 Dec: Agents and 7 more", "Café… and 2 more", "s" * 300]
    subjects += ["Ünïcode " * 30, "a=b ?q? _x_ =?utf-8?q?x?="]
    texts = ["Plain.\n", "trailing  \n=3D x\r\n.\n" + "y" * 200 + "\n", "é" * 100 + " \t"]
    texts += ["<p>" + "“quoted” " * 40 + "</p>", "line\rcr\n\nlast"]
    for i, name in enumerate(names * 2):
        given: dict[str, object] = {
            "subject": subjects[i % len(subjects)],
            "text": texts[i % len(texts)],
            "html": texts[(i + 2) % len(texts)],
            "sender": parse_address("Paper Digest <digest@example.org>", "from"),
            "recipient": make_address(name, f"r{i}@example.org", "to"),
            "message_id": f"<m{i}@example.org>",
            "date": NOW + timedelta(minutes=i),
            "list_id": "Paper Digest <paper-digest.example.org>",
            "links": head().links(f"r{i}@example.org") if i % 2 else Links("https://d/u?t=1", "m"),
        }
        ours = build_message(**given).as_bytes()  # type: ignore[arg-type]
        boundary = ours.split(b'boundary="', 1)[1].split(b'"', 1)[0]
        ours = ours.replace(boundary, b"=_digest_reference")
        reference = email_package_message(**given)
        parsed, expected = (
            message_from_bytes(ours, policy=policy.default),
            message_from_bytes(reference, policy=policy.default),
        )
        # The subject is encoded and folded our own way, and reads back as given (the email
        # package takes a literal "=?utf-8?q?x?=" in it for an encoded word: "x").
        assert without_subject(ours) == without_subject(reference), name
        assert parsed["Subject"] == one_line(str(given["subject"]))[:200]
        assert [p.get_content() for p in parsed.iter_parts()] == [  # type: ignore[attr-defined]
            p.get_content()
            for p in expected.iter_parts()  # type: ignore[attr-defined]
        ]
        assert [dict(p.items()) for p in parsed.iter_parts()] == [  # type: ignore[attr-defined]
            dict(p.items())
            for p in expected.iter_parts()  # type: ignore[attr-defined]
        ]
        assert max(len(line) for line in ours.split(b"\r\n\r\n", 1)[1].split(b"\r\n")) <= 76
        assert b"\n" not in ours.replace(b"\r\n", b"")  # every line ends CRLF


def test_quoted_printable_bodies_read_back_as_binascii_reads_its_own() -> None:
    """Our encoder against the standard library's on bodies made to hit its edges: "=" and
    accents at every place around the 73rd and 76th character, spaces and tabs ending lines,
    lone dots, control characters, CR, CRLF and empty lines. Decoded, both give the same
    bytes; ours keeps to short ASCII lines and leaves no line for SMTP to misread."""
    rng = random.Random(7)
    alphabet = ["a", "b", " ", "\t", "=", ".", "é", "“", "😀", "\x01", "\x7f", "\r", "\n", "\r\n"]
    bodies = ["", ".", "a .", ".\n.", " ", "\t\n", "=" * 200, "é" * 90, "a" * 76, "a" * 77]
    bodies += ["x" * n + "=" + "y" * 10 for n in range(68, 80)]
    bodies += ["x" * n + "é" + "." for n in range(68, 80)]
    bodies += ["x" * n + " " for n in range(70, 80)]
    bodies += ["x" * n + "\n." for n in range(70, 80)]
    for _ in range(400):
        bodies.append("".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 400))))
    for body in bodies:
        ours = quoted_printable(body)
        lines = body.encode("utf-8").splitlines()
        reference = binascii.b2a_qp(b"\n".join(lines) + b"\n", quotetabs=False, istext=True)
        reference = reference.replace(b"\n", b"\r\n")
        assert binascii.a2b_qp(ours) == binascii.a2b_qp(reference), repr(body)
        assert ours.endswith(b"\r\n") and b"\n" not in ours.replace(b"\r\n", b"")
        written = ours.split(b"\r\n")[:-1]
        assert all(len(line) <= 76 and line.isascii() for line in written), repr(body)
        assert all(line[-1:] not in (b" ", b"\t") for line in written), repr(body)
        assert b"." not in written, repr(body)
        assert all(c == 9 or 32 <= c < 127 for line in written for c in line), repr(body)


@pytest.mark.parametrize(
    "name",
    ["Eve\r\nBcc: victim@example.org", "Eve\nBcc: victim@example.org", "Eve\rBcc: x@example.org"],
)
def test_no_header_can_be_injected_through_a_name_a_topic_or_a_title(name: str) -> None:
    reader = Subscriber(name=name, email="eve@example.org")
    msg = digest_email(
        head(),
        reader,
        # A subject made from a topic name and a paper title, each carrying a line break.
        subject="Digest: Topic\r\nBcc: a@example.org — A title\nX-Evil: 1",
        text="t",
        html="<p>h</p>",
        message_id="<x@example.org>",
        now=NOW,
    )
    parsed = message_from_bytes(msg.as_bytes(), policy=policy.default)
    assert parsed["Bcc"] is None and parsed["X-Evil"] is None
    assert "\n" not in parsed["Subject"] and "\r" not in parsed["Subject"]
    assert parsed["To"].addresses[0].addr_spec == "eve@example.org"
    assert len(parsed["To"].addresses) == 1


@pytest.mark.parametrize(
    "email", ["eve@example.org\r\nBcc: x@example.org", "eve@exa mple.org", "<eve@example.org>"]
)
def test_an_address_that_cannot_be_written_safely_is_refused(email: str) -> None:
    with pytest.raises(MailError):
        make_address("Eve", email, "subscriber eve")
    with pytest.raises(MailError):
        parse_address(f"Eve <{email}>\nBcc: x@example.org", "mail.from")


# ---------------------------------------------------------------- tokens and the key


def test_tokens_are_signed_per_purpose_and_refuse_tampering() -> None:
    token = make_token(SECRET, "unsubscribe", "ada@example.org")
    assert read_token(SECRET, "unsubscribe", token) == "ada@example.org"
    with pytest.raises(TokenError):
        read_token(SECRET, "manage", token)  # another purpose
    with pytest.raises(TokenError):
        read_token(SECRET, "unsubscribe", token[:-2] + ("AA" if token[-2:] != "AA" else "BB"))
    with pytest.raises(TokenError):
        read_token("another-secret-key-0123456789", "unsubscribe", token)
    old = make_token(SECRET, "confirm", "ada@example.org")
    time.sleep(1.1)
    with pytest.raises(TokenError, match="expired"):
        read_token(SECRET, "confirm", old, max_age=0)


@pytest.mark.parametrize(
    ("purpose", "value"),
    [
        ("unsubscribe", "ada@example.org"),
        ("manage", ["ada@example.org", 3]),
        ("feed", ["zoë.ünïcode@exämple.org", 12]),
        ("copy", {"email": "ada@example.org", "day": "2026-12-01"}),
    ],
)
def test_link_tokens_are_the_bytes_itsdangerous_writes(
    purpose: str, value: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Links are signed without itsdangerous's per-call work; links already sent, and the
    site that reads them, must see no difference."""
    from itsdangerous import URLSafeTimedSerializer

    from digest.mail.tokens import make_copy_token, read_copy_token, read_link_token

    monkeypatch.setattr(time, "time", lambda: 1_796_000_000.25)
    reference = URLSafeTimedSerializer(SECRET, salt=f"paper-digest/{purpose}").dumps(value)
    if purpose == "copy":
        assert isinstance(value, dict)
        token = make_copy_token(SECRET, value["email"], date.fromisoformat(value["day"]))
        assert read_copy_token(SECRET, token) == (value["email"], date(2026, 12, 1))
    else:
        email, generation = (value, 0) if isinstance(value, str) else value
        assert isinstance(email, str) and isinstance(generation, int)
        token = make_token(SECRET, purpose, email, generation)
        assert read_link_token(SECRET, purpose, token) == (email, generation)
    assert token == reference


def test_a_long_address_that_itsdangerous_would_compress_still_reads_back() -> None:
    email = "a" * 120 + "@example.org"
    token = make_token(SECRET, "unsubscribe", email)
    assert not token.startswith(".")  # written uncompressed; itsdangerous reads both
    assert read_token(SECRET, "unsubscribe", token) == email


def test_without_a_configured_key_one_is_generated_once_and_kept_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DIGEST_SECRET_KEY", raising=False)
    config = parse_config("data_dir: ./data\n", base_dir=tmp_path)
    first = load_secret_key(config)
    key_file = tmp_path / "data" / "secret_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert load_secret_key(config) == first
    monkeypatch.setenv("DIGEST_SECRET_KEY", "from-the-environment-0123456789")
    assert load_secret_key(config) == "from-the-environment-0123456789"
    assert "from-the-environment" not in repr(letterhead(config))


# ---------------------------------------------------------------- transports


def test_the_outbox_writes_one_eml_per_digest_and_a_resend_overwrites_it(
    tmp_path: Path, store: Store
) -> None:
    outbox = OutboxTransport(tmp_path / "outbox")
    readers = people(3)
    report = send(store, readers, outbox)
    assert report.sent == 3 and report.ok
    files = sorted((tmp_path / "outbox").glob("*.eml"))
    assert len(files) == 3
    msg = message_from_bytes(files[0].read_bytes(), policy=policy.default)
    assert msg["To"].addresses[0].addr_spec == "r000@example.org"
    # The same message again (same Message-ID) replaces its file.
    conn = outbox.connect()
    conn.send(msg, "digest@example.org", "r000@example.org")  # type: ignore[arg-type]
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 3


def test_the_rate_limit_spaces_sends_across_connections() -> None:
    slept: list[float] = []
    clock = [100.0]
    limiter = RateLimiter(120, clock=lambda: clock[0], sleep=slept.append)
    for _ in range(3):
        limiter.wait()
    assert slept == [0.5, 1.0]


def test_the_processes_of_one_run_share_the_connections_and_the_rate_out() -> None:
    """Each of a run's sender processes makes its transport with `share` = the processes: the
    run as a whole keeps to `max_connections` and `rate_limit_per_minute`."""
    smtp = parse_config(
        "smtp: {host: 127.0.0.1, port: 2525, security: none, from: d@example.org,\n"
        "       max_connections: 5, rate_limit_per_minute: 120}\n",
        base_dir=Path("."),
    ).smtp
    assert smtp is not None
    alone, halves = SmtpTransport.from_config(smtp), SmtpTransport.from_config(smtp, share=2)
    assert (alone.max_connections, alone.limiter.interval) == (5, 0.5)
    assert (halves.max_connections, halves.limiter.interval) == (2, 1.0)  # 2 x 2 <= 5, 2 x 60


# ---------------------------------------------------------------- delivery


def test_every_header_arrives_at_the_server_and_one_login_serves_many_messages(
    store: Store, smtp: FaultySmtp
) -> None:
    smtp.handler.password = "right"
    readers = people(12)
    report = send(store, readers, transport_for(smtp, username="digest", password="right"))
    assert report.ok and report.sent == 12
    assert smtp.handler.logins == report.logins <= 4  # one login per connection
    got = smtp.received[0].message
    for name in ("From", "To", "Subject", "Date", "Message-ID", "List-Id", "List-Unsubscribe"):
        assert got[name], name
    assert got["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert got["Message-ID"].endswith("@example.org>")
    ids = {r.message["Message-ID"] for r in smtp.received}
    assert len(ids) == 12
    ledger = Ledger(store)
    rows = ledger.for_day(DAY)
    assert {r.status for r in rows.values()} == {"sent"}
    assert all(r.reply and r.reply.startswith("250") for r in rows.values())
    assert {r.message_id for r in rows.values()} == ids
    assert ledger.previous_digest("r000@example.org", date(2026, 11, 24)) is not None


def test_faults_are_retried_refused_or_survived_and_everyone_else_gets_one_copy(
    store: Store, smtp: FaultySmtp
) -> None:
    readers = people(30)
    emails = [r.email for r in readers]
    h = smtp.handler
    h.temporary = {emails[1]: 1, emails[7]: 2, emails[13]: 1}  # 451 for ~10%
    h.permanent = {emails[20]}  # 550
    h.drop = {emails[5]}  # dropped connection
    h.hang = {emails[9]}  # accepts, then says nothing
    h.hang_seconds = 2.5
    started = time.monotonic()
    report = send(store, readers, transport_for(smtp))
    counts = smtp.handler.per_recipient()
    assert counts[emails[20]] == 0
    assert all(counts[e] == 1 for e in emails if e != emails[20]), counts
    assert report.sent == 29 and report.retried >= 6
    assert [f.email for f in report.failed] == [emails[20]]
    assert report.failed[0].reply.startswith("550")
    rows = Ledger(store).for_day(DAY)
    assert rows[emails[20]].status == "failed" and rows[emails[7]].attempts == 3
    assert rows[emails[9]].attempts == 2 and rows[emails[5]].attempts == 2  # hang, drop
    assert time.monotonic() - started < 10  # the hang cost one timeout, not the run


def test_a_permanent_failure_is_not_retried_and_three_suspend_the_address(
    store: Store, smtp: FaultySmtp
) -> None:
    ledger = Ledger(store)
    bad = Subscriber(name="Gone", email="gone@example.org")
    smtp.handler.permanent = {bad.email}
    for n, day in enumerate([date(2026, 11, 21), date(2026, 11, 22), DAY], start=1):
        ledger.plan([(bad.email, bad.name)], day, NOW)
        report = deliver_digests(
            [ledger.get(bad.email, day)],  # type: ignore[list-item]
            composer([bad]),
            transport_for(smtp),
            ledger,
            sender="digest@example.org",
            message_id=head().new_message_id,
            policy=Policy(retry_backoff=0.05, max_permanent_failures=3),
        )
        assert report.failed[0].status == ("suspended" if n == 3 else "failed")
        assert ledger.get(bad.email, day).attempts == 1  # type: ignore[union-attr]
    assert list(ledger.suspended()) == [bad.email]
    assert ledger.suspended()[bad.email].startswith("550")  # the refusal, to show the owner


def test_a_refused_login_stops_the_run_and_a_later_run_sends_the_rest(
    store: Store, smtp: FaultySmtp
) -> None:
    smtp.handler.password = "right"
    readers = people(8)
    report = send(store, readers, transport_for(smtp, username="digest", password="wrong"))
    assert report.stopped and "535" in report.stopped and "smtp.username" in report.stopped
    assert report.sent == 0 and report.pending == 8 and not smtp.received
    report = send(store, readers, transport_for(smtp, username="digest", password="right"))
    assert report.ok and report.sent == 8
    assert sorted(smtp.handler.per_recipient().values()) == [1] * 8


def test_too_many_errors_in_a_row_stop_the_run(store: Store, smtp: FaultySmtp) -> None:
    readers = people(20)
    smtp.handler.temporary = {r.email: 99 for r in readers}
    report = send(
        store,
        readers,
        transport_for(smtp, max_connections=1),
        Policy(retry_backoff=0.05, max_consecutive_errors=5),
    )
    assert report.stopped and "5 delivery errors in a row" in report.stopped
    assert report.sent == 0 and report.pending == 20


def test_sending_twice_the_same_day_sends_nothing_the_second_time(
    store: Store, smtp: FaultySmtp
) -> None:
    readers = people(5)
    assert send(store, readers, transport_for(smtp)).sent == 5
    again = send(store, readers, transport_for(smtp))
    assert again.sent == 0 and again.ok
    assert len(smtp.received) == 5


def test_a_server_that_is_down_leaves_everything_planned_for_a_later_run(
    store: Store, smtp: FaultySmtp
) -> None:
    dead = SmtpTransport("127.0.0.1", 9, security="none", timeout=0.5)  # discard: nothing listens
    report = send(store, people(3), dead, Policy(retry_backoff=0.5, retry_wait=0))
    assert report.sent == 0 and report.pending == 3 and report.retried == 3
    assert report.stopped and "cannot reach the SMTP server" in report.stopped
    refused = "connection refused by 127.0.0.1:9 (is the SMTP server running?"
    assert [status for status, reason in report.problems] == ["deferred"]
    assert all(reason.startswith(refused) for _, reason in report.problems)
    rows = Ledger(store).for_day(DAY).values()
    assert {r.status for r in rows} == {"planned"}
    assert all(r.next_attempt_at and refused in (r.reply or "") for r in rows)
    # The next run honours the backoff, then delivers.
    report = send(store, people(3), transport_for(smtp), Policy(retry_backoff=0.5, retry_wait=5))
    assert report.ok and report.sent == 3


def test_a_stop_request_lets_the_message_in_flight_finish_and_leaves_the_rest_planned(
    store: Store, smtp: FaultySmtp
) -> None:
    readers = people(6)
    ledger = Ledger(store)
    stop = threading.Event()
    smtp.handler.on_message = stop.set  # SIGTERM arrives during the first send
    report = send(store, readers, transport_for(smtp, max_connections=1), ledger=ledger, stop=stop)
    assert report.sent == 1 and report.pending == 5 and len(smtp.received) == 1
    statuses = sorted(r.status for r in ledger.for_day(DAY).values())
    assert statuses == ["planned"] * 5 + ["sent"]
    # Rows claimed and composed ahead of the senders are given back untried: no attempt counted.
    left = [r for r in ledger.for_day(DAY).values() if r.status == "planned"]
    assert all(r.attempts == 0 and r.claimed_by is None for r in left)


def test_a_ledger_that_cannot_record_a_send_stops_the_run_and_the_sent_are_not_lost(
    store: Store, smtp: FaultySmtp
) -> None:
    """Sends are marked a few at a time; when that write fails (a full disk), the run stops
    with the ledger's error, what was sent stays claimed (a later run sends it again, once its
    claim runs out), and what was not is planned as before."""
    from digest.errors import StoreError
    from digest.mail.ledger import SentMark

    class FullDisk(Ledger):
        def mark_sent_many(self, marks: Sequence[SentMark]) -> None:
            raise StoreError("cannot write the delivery ledger: database or disk is full")

    readers = people(12)
    ledger = FullDisk(store)
    report = send(
        store, readers, transport_for(smtp, max_connections=2), Policy(lease=0.5), ledger=ledger
    )
    assert report.stopped and "disk is full" in report.stopped and report.sent == 0
    received = {r.recipient for r in smtp.received}
    rows = ledger.for_day(DAY)
    assert received and {e for e, r in rows.items() if r.status == "sending"} == received
    assert all(
        r.status == "planned" and r.attempts == 0 for e, r in rows.items() if e not in received
    )
    time.sleep(0.6)  # the claims run out
    again = send(store, readers, transport_for(smtp))
    assert again.ok and again.sent == 12
    assert smtp.handler.per_recipient() == {r.email: 1 + (r.email in received) for r in readers}


def test_no_connection_sends_again_before_its_last_send_is_recorded(
    store: Store, smtp: FaultySmtp
) -> None:
    """However slowly the ledger records sends, at no moment has the server taken more digests
    than are marked sent plus one per connection: a run killed at any moment costs at most one
    duplicate per connection."""
    from digest.mail.ledger import SentMark

    marked: list[int] = []

    class SlowDisk(Ledger):
        def mark_sent_many(self, marks: Sequence[SentMark]) -> None:
            time.sleep(0.1)
            super().mark_sent_many(marks)
            marked.extend(m.delivery_id for m in marks)

    unrecorded: list[int] = []
    smtp.handler.on_message = lambda: unrecorded.append(len(smtp.received) - len(marked))
    connections = 3
    report = send(
        store, people(30), transport_for(smtp, max_connections=connections), ledger=SlowDisk(store)
    )
    assert report.ok and report.sent == 30 and len(marked) == 30
    assert len(unrecorded) == 30 and max(unrecorded) <= connections, unrecorded


def test_a_dead_senders_claim_is_taken_over_with_its_message_id_a_live_ones_is_left(
    store: Store, smtp: FaultySmtp
) -> None:
    readers = people(3)
    ledger = Ledger(store)
    rows = plan(ledger, readers)
    lease = timedelta(minutes=5)
    dead = f"{socket.gethostname()}:{2**22 + 12345}:deadbeef"  # above pid_max: not running
    crashed = ledger.claim(rows[0].id, dead, now=utcnow(), lease=lease, message_id="<a@x.org>")
    elsewhere = ledger.claim(
        rows[1].id, "other-host:1:cafe", now=utcnow(), lease=lease, message_id="<b@x.org>"
    )
    assert crashed and elsewhere and crashed.status == "sending"
    report = deliver_digests(
        rows,
        composer(readers),
        transport_for(smtp),
        ledger,
        sender="digest@example.org",
        message_id=head().new_message_id,
        policy=Policy(retry_wait=0),
    )
    # The live claim is waited for, not stolen, and is its holder's to report.
    assert report.sent == 2 and report.elsewhere == 1 and report.pending == 0 and report.ok
    taken = ledger.get(readers[0].email, DAY)
    assert taken is not None and taken.status == "sent" and taken.message_id == "<a@x.org>"
    assert taken.attempts == 2
    assert smtp.handler.per_recipient()[readers[1].email] == 0
    got = {r.recipient: r.message["Message-ID"] for r in smtp.received}
    assert got[readers[0].email] == "<a@x.org>"


@pytest.fixture
def tls_smtp(tmp_path: Path) -> Iterator[FaultySmtp]:
    """A STARTTLS server with a self-signed certificate (made by the openssl command)."""
    if shutil.which("openssl") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("needs the openssl command to make a certificate (apt-get install openssl)")
        pytest.skip("needs the openssl command to make a certificate")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"),
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server = FaultySmtp(tls_context=context).start()
    yield server
    server.stop()


def test_tls_certificates_are_verified_unless_the_config_says_not_to(
    store: Store, tls_smtp: FaultySmtp
) -> None:
    readers = people(2)
    checked = transport_for(tls_smtp, security="starttls")
    report = send(store, readers, checked)
    assert report.stopped and "could not be verified" in report.stopped
    assert "verify_tls" in report.stopped and not tls_smtp.received
    unchecked = transport_for(tls_smtp, security="starttls", verify_tls=False)
    report = send(store, readers, unchecked)
    assert report.ok and report.sent == 2


def test_a_password_is_never_sent_in_cleartext_unless_the_config_says_so(
    tmp_path: Path, store: Store, smtp: FaultySmtp, tls_smtp: FaultySmtp
) -> None:
    smtp_yaml = "smtp: {{host: 127.0.0.1, security: none, from: d@example.org, {}}}\n"
    with pytest.raises(ConfigError) as refused:
        parse_config(smtp_yaml.format("username: digest, password: right"), base_dir=tmp_path)
    assert "cleartext" in str(refused.value) and "allow_insecure_auth" in str(refused.value)
    allowed = "username: digest, password: right, allow_insecure_auth: true"
    assert parse_config(smtp_yaml.format(allowed), base_dir=tmp_path).smtp is not None
    # The transport refuses too, before the server sees any AUTH.
    smtp.handler.password = "right"
    plain = transport_for(smtp, username="digest", password="right", allow_insecure_auth=False)
    report = send(store, people(2), plain)
    assert report.stopped and "in cleartext" in report.stopped and "smtp.security" in report.stopped
    assert smtp.handler.logins == 0 and not smtp.received
    # Over STARTTLS the same login goes through.
    tls_smtp.handler.password = "right"
    encrypted = transport_for(
        tls_smtp,
        security="starttls",
        verify_tls=False,
        username="digest",
        password="right",
        allow_insecure_auth=False,
    )
    report = send(store, people(2), encrypted)
    assert report.ok and report.sent == 2 and tls_smtp.handler.logins >= 1


def test_only_a_refusal_of_the_address_counts_towards_suspension_not_a_message_too_big(
    store: Store, smtp: FaultySmtp
) -> None:
    ledger = Ledger(store)
    big = Subscriber(name="Big", email="big@example.org")
    gone = Subscriber(name="Gone", email="gone@example.org")
    smtp.handler.too_big = {big.email}
    smtp.handler.permanent = {gone.email}
    report = send(store, [big, gone], transport_for(smtp), Policy(max_permanent_failures=1))
    by_email = {f.email: f for f in report.failed}
    assert by_email[big.email].status == "failed"
    assert by_email[big.email].reply.startswith("552 5.3.4")
    assert by_email[gone.email].status == "suspended"
    assert list(ledger.suspended()) == [gone.email]
    assert ledger.failing() == {gone.email}  # the 552 was not counted at all


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_progress_bar_draws_on_a_terminal_only() -> None:
    for stream, drawn in ((_Terminal(), True), (io.StringIO(), False)):
        bar = ProgressBar(stream)
        bar.start(20)
        for i in range(20):
            bar.update(Outcome(f"r{i}@example.org", f"Reader {i}", "sent"))
        bar.stop()
        assert ("sending" in stream.getvalue()) is drawn


def test_a_delivered_digest_clears_the_count_of_permanent_failures(
    store: Store, smtp: FaultySmtp
) -> None:
    ledger = Ledger(store)
    reader = Subscriber(name="Flaky", email="flaky@example.org")
    outcomes = []
    for day, refuse in ((date(2026, 11, 20), True), (date(2026, 11, 21), True), (DAY, False)):
        smtp.handler.permanent = {reader.email} if refuse else set()
        ledger.plan([(reader.email, reader.name)], day, NOW)
        report = deliver_digests(
            [ledger.get(reader.email, day)],  # type: ignore[list-item]
            composer([reader]),
            transport_for(smtp),
            ledger,
            sender="digest@example.org",
            message_id=head().new_message_id,
        )
        outcomes.append(report.sent)
    assert outcomes == [0, 0, 1]
    assert ledger.failing() == set() and ledger.suspended() == {}


def test_list_unsubscribe_has_a_mailto_only_for_a_mailbox_the_operator_configured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIGEST_SECRET_KEY", SECRET)
    reader = Subscriber("Zoe", "zoe@example.org")
    smtp = 'smtp: {host: smtp.example.org, from: "Digest <digest@example.org>"}\n'
    for extra, expected in [
        ("", None),  # nothing reads the From mailbox: no mailto
        ("mail: {unsubscribe_mailto: leave@example.org}\n", "mailto:leave@example.org?"),
    ]:
        config = parse_config(
            "base_url: https://digest.example.org\n" + smtp + extra, base_dir=tmp_path
        )
        head = letterhead(config)
        msg = digest_email(
            head,
            reader,
            subject="s",
            text="t",
            html="<p>h</p>",
            message_id="<m@example.org>",
            now=NOW,
            links=head.links(reader.email),
        )
        parts = [p.strip().strip("<>") for p in str(msg["List-Unsubscribe"]).split(",")]
        assert parts[0].startswith("https://digest.example.org/unsubscribe?token=")
        if expected is None:
            assert len(parts) == 1
        else:
            assert len(parts) == 2 and parts[1].startswith(expected)


def test_a_run_takes_shorter_gil_turns_and_gives_the_interval_back(
    store: Store, smtp: FaultySmtp
) -> None:
    """While digests are made and sent, a sender thread back from the SMTP server gets the GIL
    within SWITCH_INTERVAL, not Python's 5 ms; after the run the process has its own again."""
    import sys

    from digest.mail.deliver import SWITCH_INTERVAL

    readers = people(3)
    compose = composer(readers)
    seen: list[float] = []

    def watching(row: Delivery) -> Outgoing:
        seen.append(sys.getswitchinterval())
        return compose(row)

    before = sys.getswitchinterval()
    ledger = Ledger(store)
    report = deliver_digests(
        plan(ledger, readers),
        watching,
        transport_for(smtp),
        ledger,
        sender="digest@example.org",
        message_id=head().new_message_id,
    )
    assert report.sent == 3 and seen == [SWITCH_INTERVAL] * 3 and before > SWITCH_INTERVAL
    assert sys.getswitchinterval() == before
