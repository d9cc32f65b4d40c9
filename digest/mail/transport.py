"""What a transport is, how delivery fails, and the outbox transport.

A `Transport` opens `Connection`s (up to `max_connections` are used at once, one per sender
thread); `Connection.send` hands one message to the next hop and returns its reply, or raises:

    MailError
    └── DeliveryError          one message was not accepted; `reply` says what the server said
        ├── TemporaryFailure   4xx, dropped connection, timeout: retry later
        │   ├── Unreachable    refused, no such host, TLS handshake failed: nothing will get through
        │   └── Unconfirmed    lost after the whole message was sent: it may have arrived
        ├── PermanentFailure   5xx: do not retry (`about_recipient`: counts towards suspension)
        └── FatalError         535, bad TLS certificate, …: stop the run, nothing else will work

`OutboxTransport` writes `.eml` files; a message sent again (same Message-ID) overwrites its file,
so the outbox never holds a duplicate.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any, Protocol

from digest.errors import MailError


class DeliveryError(MailError):
    """One message was not delivered; `reply` is the server's answer (or what went wrong)."""

    def __init__(self, reply: str) -> None:
        super().__init__(reply)
        self.reply = reply


class TemporaryFailure(DeliveryError):
    """Worth retrying later: a 4xx reply, a dropped connection, a timeout."""


class Unreachable(TemporaryFailure):
    """The server could not be reached at all (connection refused, unknown host, TLS handshake
    failed): the next connection will very likely fail the same way."""


class Unconfirmed(TemporaryFailure):
    """The connection was lost after the whole message was sent and before the server's reply:
    the message may have been delivered, so a retry may be a duplicate."""


class PermanentFailure(DeliveryError):
    """The server refused this recipient or this message for good (5xx). `about_recipient` is
    True when the refusal is about the address itself (550/551/553 at RCPT, or 5.1.x), the
    only kind that counts towards suspending it; a message too big (552) or refused for its
    content does not."""

    def __init__(self, reply: str, *, about_recipient: bool = True) -> None:
        super().__init__(reply)
        self.about_recipient = about_recipient


class FatalError(DeliveryError):
    """Nothing will get through until someone fixes the setup (login refused, bad certificate)."""


class Mail(Protocol):
    """A message a transport can send: `EmailMessage`, or a built `DigestMessage`."""

    def as_bytes(self) -> bytes: ...
    def __getitem__(self, name: str) -> Any: ...


class Connection(Protocol):
    def send(self, message: Mail, sender: str, recipient: str) -> str:
        """Deliver one message to one recipient and return the server's reply."""
        ...

    def close(self) -> None: ...


class Transport(Protocol):
    name: str
    max_connections: int

    def connect(self) -> Connection:
        """A connection for one sender thread. It may connect lazily, at its first send."""
        ...


_UNSAFE = re.compile(r"[^A-Za-z0-9@._+-]+")


class OutboxTransport:
    """Writes each message as an .eml file under `folder`: the default when no SMTP is set."""

    name = "outbox"
    max_connections = 1

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def connect(self) -> OutboxTransport:
        return self

    def send(self, message: Mail, sender: str, recipient: str) -> str:
        msgid = _UNSAFE.sub("_", str(message["Message-ID"] or "").strip("<>")) or "no-id"
        path = self.folder / f"{_UNSAFE.sub('_', recipient)}--{msgid}.eml"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
            with os.fdopen(fd, "wb") as f:
                f.write(message.as_bytes())
            os.replace(tmp, path)
        except OSError as e:
            raise FatalError(f"cannot write to the outbox {self.folder} ({e.strerror})") from e
        return f"250 written to {path}"

    def close(self) -> None:
        pass
