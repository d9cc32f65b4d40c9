"""The SMTP transport: one login per connection, many messages per connection.

Each sender thread holds one `SmtpConnection`, which connects (and logs in) at its first send,
reuses the session for every message after that, and reconnects after a drop. Replies are mapped
onto the failures of `digest.mail.transport`; a send that gets no answer within `timeout` seconds
is a TemporaryFailure. TLS certificates are verified unless `verify_tls` is false.
"""

from __future__ import annotations

import contextlib
import re
import smtplib
import socket
import ssl
import threading
import time
from collections.abc import Callable
from typing import Literal

from digest.config import SmtpConfig
from digest.mail.transport import (
    FatalError,
    Mail,
    PermanentFailure,
    TemporaryFailure,
    Unconfirmed,
    Unreachable,
)


class RateLimiter:
    """At most `per_minute` sends per minute, shared by every connection of a transport."""

    def __init__(
        self,
        per_minute: float | None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval = 60.0 / per_minute if per_minute else 0.0
        self._clock, self._sleep = clock, sleep
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        if not self.interval:
            return
        with self._lock:
            now = self._clock()
            slot = max(now, self._next)
            self._next = slot + self.interval
        if slot > now:
            self._sleep(slot - now)


class SmtpTransport:
    """Connections to one SMTP server, with its credentials and limits."""

    name = "smtp"

    def __init__(
        self,
        host: str,
        port: int,
        *,
        security: Literal["starttls", "ssl", "none"] = "starttls",
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
        verify_tls: bool = True,
        max_connections: int = 4,
        rate_limit_per_minute: float | None = None,
        allow_insecure_auth: bool = False,
    ) -> None:
        self.host, self.port, self.security = host, port, security
        self.username = username
        self.allow_insecure_auth = allow_insecure_auth
        self._password = password
        self.timeout = timeout
        self.verify_tls = verify_tls
        self.max_connections = max_connections
        self.limiter = RateLimiter(rate_limit_per_minute)

    @classmethod
    def from_config(cls, smtp: SmtpConfig, share: int = 1) -> SmtpTransport:
        """The configured server; `share`: how many processes of one run send at once, each
        with its part of `max_connections` and `rate_limit_per_minute` (the limits are the
        run's, over all its processes)."""
        rate = smtp.rate_limit_per_minute
        return cls(
            smtp.host,
            smtp.port,
            security=smtp.security,
            username=smtp.username,
            password=smtp.secret(),
            timeout=smtp.timeout,
            verify_tls=smtp.verify_tls,
            max_connections=max(1, smtp.max_connections // share),
            rate_limit_per_minute=rate / share if rate else None,
            allow_insecure_auth=smtp.allow_insecure_auth,
        )

    def __repr__(self) -> str:  # never shows the password
        return f"SmtpTransport({self.host}:{self.port}, {self.security}, user={self.username!r})"

    def connect(self) -> SmtpConnection:
        return SmtpConnection(self)

    def open_session(self) -> smtplib.SMTP:
        """A connected, greeted, encrypted and logged-in session; failures mapped."""
        where = f"{self.host}:{self.port}"
        context = ssl.create_default_context()
        if not self.verify_tls:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        session: smtplib.SMTP | None = None
        try:
            if self.security == "ssl":
                session = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=self.timeout, context=context
                )
            else:
                session = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            session.ehlo()
            if self.security == "starttls":
                session.starttls(context=context)
                session.ehlo()
            if self.username:
                if not isinstance(session.sock, ssl.SSLSocket) and not self.allow_insecure_auth:
                    raise FatalError(
                        f"refusing to send the SMTP password to {where} in cleartext: set "
                        "smtp.security to starttls or ssl (smtp.allow_insecure_auth: true only "
                        "for a relay on this machine)"
                    )
                session.login(self.username, self._password or "")
            return session
        except FatalError:
            _close(session)
            raise
        except smtplib.SMTPAuthenticationError as e:
            _close(session)
            raise FatalError(
                f"the SMTP server {where} refused the login ({_reply(e.smtp_code, e.smtp_error)}): "
                "check smtp.username and the password"
            ) from e
        except smtplib.SMTPNotSupportedError as e:
            _close(session)
            raise FatalError(
                f"the SMTP server {where} does not support {e}: check smtp.security and "
                "smtp.username"
            ) from e
        except ssl.SSLCertVerificationError as e:
            _close(session)
            raise FatalError(
                f"the TLS certificate of {where} could not be verified ({e.verify_message}): "
                "fix the server's certificate (smtp.verify_tls: false only for testing)"
            ) from e
        except ssl.SSLError as e:
            _close(session)
            raise Unreachable(
                f"TLS handshake with {where} failed ({e.reason or e}): check smtp.security and "
                "smtp.port (ssl is usually port 465, starttls 587)"
            ) from e
        except ConnectionRefusedError as e:
            _close(session)
            raise Unreachable(
                f"connection refused by {where} (is the SMTP server running? check smtp.host/port)"
            ) from e
        except socket.gaierror as e:
            _close(session)
            raise Unreachable(
                f"cannot resolve the SMTP host {self.host!r} ({e.strerror}): check smtp.host"
            ) from e
        except smtplib.SMTPResponseException as e:
            _close(session)
            failure = TemporaryFailure if 400 <= e.smtp_code < 500 else FatalError
            raise failure(
                f"the SMTP server {where} said {_reply(e.smtp_code, e.smtp_error)} on connect"
            ) from e
        except smtplib.SMTPServerDisconnected as e:
            _close(session)
            raise Unreachable(
                f"the SMTP server {where} closed the connection or said nothing ({e}): check "
                "smtp.security and smtp.port"
            ) from e
        except smtplib.SMTPException as e:  # before OSError, which it subclasses
            _close(session)
            raise TemporaryFailure(f"cannot connect to the SMTP server {where}: {e}") from e
        except OSError as e:  # no route, timeout, reset: the server is not there for us
            _close(session)
            raise Unreachable(f"cannot connect to the SMTP server {where}: {e}") from e


class SmtpConnection:
    """One SMTP session, opened at the first send and reused for the next ones."""

    def __init__(self, transport: SmtpTransport) -> None:
        self.transport = transport
        self._session: smtplib.SMTP | None = None
        self.logins = 0  # how many sessions were opened (one login each)

    def send(self, message: Mail, sender: str, recipient: str) -> str:
        """Deliver one message; return the server's 250 reply to the message's end."""
        self.transport.limiter.wait()
        data = message.as_bytes()
        reused = self._session is not None
        try:
            return self._transaction(data, sender, recipient)
        except _StaleSession:
            if not reused:
                raise TemporaryFailure("the SMTP server closed the connection") from None
        # The server dropped an idle session before we sent anything: reconnect and go again.
        try:
            return self._transaction(data, sender, recipient)
        except _StaleSession:
            raise TemporaryFailure("the SMTP server closed the connection") from None

    def _transaction(self, data: bytes, sender: str, recipient: str) -> str:
        if self._session is None:
            self._session = self.transport.open_session()
            self.logins += 1
        session = self._session
        stage = "MAIL FROM"
        try:
            code, text = session.mail(sender)
            if code != 250:
                self._fail(code, text, stage)
            stage = "RCPT TO"
            code, text = session.rcpt(recipient)
            if code not in (250, 251):
                self._fail(code, text, stage)
            stage = "DATA"
            code, text = session.docmd("DATA")
            if code != 354:
                self._fail(code, text, stage)
            session.send(_dot_stuffed(data))
            # The whole message is out: from here on a lost connection may have delivered it.
            stage = END_OF_DATA
            code, text = session.getreply()
            if code != 250:
                self._fail(code, text, stage)
            return _reply(code, text)
        except smtplib.SMTPServerDisconnected as e:
            self._drop()
            if stage == "MAIL FROM":
                raise _StaleSession from e
            if stage == END_OF_DATA:
                raise Unconfirmed(_UNCONFIRMED.format(e or "closed")) from e
            raise TemporaryFailure(f"connection lost at {stage}: {e or 'closed'}") from e
        except (TimeoutError, OSError) as e:
            self._drop()
            if stage == END_OF_DATA:
                raise Unconfirmed(_UNCONFIRMED.format(e or "timed out")) from e
            raise TemporaryFailure(f"no answer at {stage} ({e or 'timed out'})") from e

    def _fail(self, code: int, text: bytes | str, stage: str) -> None:
        reply = _reply(code, text)
        if code == 421:
            self._drop()
        else:
            self._reset()
        if code in (530, 535):
            raise FatalError(
                f"the SMTP server refused to relay ({reply}): check smtp.username and the password"
            )
        if 500 <= code < 600 and stage != "MAIL FROM":
            raise PermanentFailure(reply, about_recipient=_about_recipient(code, reply, stage))
        # A 4xx, or a 5xx for our own sender address (not this recipient's fault).
        raise TemporaryFailure(f"{reply} at {stage}")

    def _reset(self) -> None:
        if self._session is None:
            return
        try:
            self._session.rset()
        except (smtplib.SMTPException, OSError):
            self._drop()

    def _drop(self) -> None:
        _close(self._session)
        self._session = None

    def close(self) -> None:
        if self._session is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                self._session.quit()
            self._drop()


END_OF_DATA = "the end of the message"
_UNCONFIRMED = (
    "connection lost after the message was sent, before the server confirmed it ({}): "
    "it may have arrived"
)
_ENHANCED = re.compile(r"^\d{3} ([245])\.(\d{1,3})\.\d{1,3}\b")


def _about_recipient(code: int, reply: str, stage: str) -> bool:
    """Whether a 5xx says the address itself is bad: an enhanced status 5.1.x (bad mailbox or
    domain), else 550/551/553 to RCPT TO. A message too big (552), or one refused for its
    content, says nothing about the address."""
    enhanced = _ENHANCED.match(reply)
    if enhanced:
        return enhanced.group(2) == "1"
    return stage == "RCPT TO" and code in (550, 551, 553)


def _dot_stuffed(data: bytes) -> bytes:
    """The message as DATA carries it (as smtplib's `data` does): a leading dot doubled, CRLF
    at the end, then the lone dot."""
    quoted = data.replace(b"\n.", b"\n..")  # what re.sub(rb"(?m)^\.", b"..") does, faster
    if quoted.startswith(b"."):
        quoted = b"." + quoted
    if not quoted.endswith(b"\r\n"):
        quoted += b"\r\n"
    return quoted + b".\r\n"


class _StaleSession(Exception):
    """The session was gone before anything of the message was sent."""


def _close(session: smtplib.SMTP | None) -> None:
    if session is not None:
        with contextlib.suppress(OSError):
            session.close()


def _reply(code: int, text: bytes | str) -> str:
    message = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return f"{code} {' '.join(message.split())}"
