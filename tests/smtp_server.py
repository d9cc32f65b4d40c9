"""A real SMTP server on 127.0.0.1 (aiosmtpd) whose handler injects faults on demand.

    server = FaultySmtp(); server.start()
    server.handler.temporary["bob@example.org"] = 1   # one 451 at RCPT, then accepted
    server.handler.permanent.add("eve@example.org")   # 550 at RCPT, always
    server.handler.drop.add("dan@example.org")        # connection dropped at RCPT, once
    server.handler.hang.add("hal@example.org")        # no answer to the message, once
    server.handler.password = "right"                 # AUTH required; anything else gets 535
    server.handler.latency = 0.02                      # seconds before each 250 to the message
    server.handler.lose_reply["ann@example.org"] = 1   # message kept, connection dropped before
                                                      # its 250, once
    server.handler.too_big.add("max@example.org")      # 552 5.3.4 to the message, always

`received` holds every message the server answered 250 to, in order.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


@dataclass(frozen=True)
class Received:
    sender: str
    recipient: str
    data: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = message_from_bytes(self.data, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class FaultyHandler:
    temporary: dict[str, int] = field(default_factory=dict)
    permanent: set[str] = field(default_factory=set)
    drop: set[str] = field(default_factory=set)
    hang: set[str] = field(default_factory=set)
    hang_seconds: float = 3.0
    lose_reply: dict[str, int] = field(default_factory=dict)
    too_big: set[str] = field(default_factory=set)
    latency: float = 0.0
    on_message: Callable[[], None] | None = None  # called as each message is taken, before its 250
    username: str = "digest"
    password: str | None = None  # None: no AUTH needed
    received: list[Received] = field(default_factory=list)
    sessions: int = 0
    logins: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def per_recipient(self) -> Counter[str]:
        with self.lock:
            return Counter(r.recipient for r in self.received)

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        with self.lock:
            self.sessions += 1
        return responses

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if self.password is not None and not session.authenticated:
            return "530 5.7.0 Authentication required"
        with self.lock:
            if address in self.permanent:
                return "550 5.1.1 No such user here"
            if self.temporary.get(address, 0) > 0:
                self.temporary[address] -= 1
                return "451 4.7.1 Greylisted, try again later"
            if address in self.drop:
                self.drop.discard(address)
                server.transport.close()
                return "421 4.4.2 Connection dropped"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        recipient = envelope.rcpt_tos[0]
        with self.lock:
            hang = recipient in self.hang
            self.hang.discard(recipient)
        if hang:
            await asyncio.sleep(self.hang_seconds)
            return "451 4.3.0 Too late"  # the client has given up by now: nothing accepted
        if recipient in self.too_big:
            return "552 5.3.4 Message too big for system"
        if self.latency:
            await asyncio.sleep(self.latency)
        if server.transport is None or server.transport.is_closing():
            return "451 4.3.0 Gone"
        with self.lock:
            self.received.append(Received(envelope.mail_from, recipient, envelope.content))
            n = len(self.received)
            lose = self.lose_reply.get(recipient, 0) > 0
            if lose:
                self.lose_reply[recipient] -= 1
        if self.on_message is not None:
            self.on_message()
        if lose:  # kept, but the client never hears so
            server.transport.close()
        return f"250 2.0.0 OK queued as {n}"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == self.username
            and auth_data.password.decode() == self.password
        )
        if ok:
            with self.lock:
                self.logins += 1
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd replies 535


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class FaultySmtp:
    """The server, started in a thread of the test process."""

    def __init__(
        self, handler: FaultyHandler | None = None, tls_context: ssl.SSLContext | None = None
    ) -> None:
        self.handler = handler or FaultyHandler()
        self.port = free_port()
        self.controller = Controller(
            self.handler,
            hostname="127.0.0.1",
            port=self.port,
            authenticator=self.handler.authenticate,
            auth_require_tls=False,
            tls_context=tls_context,  # offers STARTTLS when given
            ready_timeout=5.0,
        )

    def start(self) -> FaultySmtp:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    @property
    def received(self) -> list[Received]:
        with self.handler.lock:
            return list(self.handler.received)
