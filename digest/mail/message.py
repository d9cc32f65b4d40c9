"""Build one digest email: pure, no I/O.

`build_message` turns a rendered digest (subject, text, HTML) and its recipient into the bytes of
a multipart/alternative message (text first, then HTML, UTF-8, quoted-printable in lines of at
most 76 characters) with From/To names encoded safely, a Message-ID on the sender's domain,
Date, List-Id and RFC 8058 one-click unsubscribe headers. A CR or LF in a name or subject is
folded to a space, never passed on as a new header; an address that cannot be written safely is
refused with a MailError.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from email import message_from_bytes
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP, default
from email.utils import format_datetime, make_msgid, parseaddr
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from digest.errors import MailError

if TYPE_CHECKING:
    from digest.mail.tokens import FeedbackLinks

# Fold long headers only at whitespace, and never below the RFC 5322 hard limit: a long
# List-Unsubscribe URL must stay one unbroken token.
MAX_LINE = 998
POLICY = SMTP.clone(max_line_length=MAX_LINE)
MAX_SUBJECT = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\x85]+")
_ADDR = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")


@dataclass(frozen=True)
class Links:
    """The per-recipient links a digest carries."""

    unsubscribe_url: str  # https URL; GET shows a confirm page, POST unsubscribes (RFC 8058)
    manage_url: str
    unsubscribe_mailto: str | None = None  # mailto:…, the fallback for mail clients
    web_url: str = ""  # the digest's web copy ("view in your browser"); "" when there is none
    feed_url: str = ""  # the subscriber's private Atom feed
    feedback: FeedbackLinks | None = None  # "more like this" / "not for me" beside each paper


def one_line(value: str) -> str:
    """Any control character (CR, LF, tab, NUL, …) becomes a space; runs of spaces collapse."""
    return " ".join(_CONTROL.sub(" ", value).split())


def parse_address(value: str, what: str) -> Address:
    """An `Address` from `Name <addr@domain>` or a bare address; MailError when unsafe."""
    if _CONTROL.search(value):
        raise MailError(f"{what}: an address may not contain line breaks or control characters")
    name, addr = parseaddr(value)
    if not addr or not _ADDR.match(addr):
        raise MailError(f"{what}: {value!r} is not an email address like name@example.org")
    username, domain = addr.rsplit("@", 1)
    return Address(display_name=one_line(name), username=username, domain=domain)


def make_address(name: str, email: str, what: str) -> Address:
    """A recipient's `Address`: the name made one line, the address checked."""
    if _CONTROL.search(email) or not _ADDR.match(email):
        raise MailError(f"{what}: {email!r} is not an email address like name@example.org")
    username, domain = email.rsplit("@", 1)
    return Address(display_name=one_line(name), username=username, domain=domain)


def make_message_id(sender: Address) -> str:
    """A globally unique Message-ID on the sender's domain."""
    return make_msgid(idstring="digest", domain=sender.domain)


def default_list_id(sender: Address) -> str:
    return f"Paper Digest <paper-digest.{sender.domain}>"


class DigestMessage:
    """A built email: its bytes, ready for SMTP (CRLF line ends), and its headers on demand.

    Transports need only `as_bytes()` and a header or two (`message["Message-ID"]`); the parsed
    `EmailMessage` is made only when asked for (`email()`), so a send never pays for it.
    """

    __slots__ = ("_data", "_parsed")

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._parsed: EmailMessage | None = None

    def as_bytes(self) -> bytes:
        return self._data

    def email(self) -> EmailMessage:
        """The message parsed back (as a mail client would read it)."""
        if self._parsed is None:
            parsed = message_from_bytes(self._data, policy=default)
            assert isinstance(parsed, EmailMessage)
            self._parsed = parsed
        return self._parsed

    def __getitem__(self, name: str) -> Any:
        return self.email()[name]


def build_message(
    *,
    subject: str,
    text: str,
    html: str,
    sender: Address,
    recipient: Address,
    message_id: str,
    date: datetime,
    list_id: str,
    links: Links,
) -> DigestMessage:
    """The complete email for one recipient. Only the caller's values go in; nothing is read.

    Written out directly rather than through `EmailMessage` (whose pure-Python header parsing,
    folding and quoted-printable cost more than ranking and rendering the digest together). The
    subject is encoded here (`_subject`); any other header that is not plain ASCII (a name with
    accents) goes through the email package's own folding, byte for byte as `EmailMessage`
    would write it."""
    unsubscribe = f"<{_one_token(links.unsubscribe_url, 'unsubscribe URL')}>"
    if links.unsubscribe_mailto:
        unsubscribe += f", <{_one_token(links.unsubscribe_mailto, 'unsubscribe mailto')}>"
    # "=_" never occurs in quoted-printable text, so this boundary cannot clash with a body.
    boundary = f"=_digest_{secrets.token_hex(12)}"
    head = b"".join(
        (
            _header("From", sender),
            _header("To", recipient),
            _subject(one_line(subject)[:MAX_SUBJECT]),
            _header("Date", format_datetime(date)),
            _header("Message-ID", f"<{_one_token(message_id.strip('<>'), 'Message-ID')}>"),
            _header("List-Id", one_line(list_id)),
            _header("List-Unsubscribe", unsubscribe),
            b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n",
            b"MIME-Version: 1.0\r\n",
            f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n'.encode("ascii"),
        )
    )
    delimiter = f"\r\n--{boundary}\r\n".encode("ascii")
    return DigestMessage(
        b"".join(
            (
                head,
                delimiter,
                _TEXT_PART,
                quoted_printable(text),
                delimiter,
                _HTML_PART,
                quoted_printable(html),
                f"\r\n--{boundary}--\r\n".encode("ascii"),
            )
        )
    )


_TEXT_PART = (
    b'Content-Type: text/plain; charset="utf-8"\r\n'
    b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
)
_HTML_PART = _TEXT_PART.replace(b"text/plain", b"text/html")
_PLAIN_HEADER = re.compile(r"[\x20-\x7e]*")


def _header(name: str, value: str | Address) -> bytes:
    """One header line (CRLF): printable ASCII as it is, anything else (a name or subject with
    accents) RFC 2047-encoded and folded by the email package, as `EmailMessage` does."""
    given = str(value)
    # "=?" could start an encoded word, which the email package decodes and writes anew.
    plain = len(name) + 2 + len(given) <= MAX_LINE and "=?" not in given
    if plain and _PLAIN_HEADER.fullmatch(given) and _plain_address(value):
        return f"{name}: {given}\r\n".encode("ascii")
    if isinstance(value, str):
        return _folded(name, value)
    return POLICY.fold_binary(*POLICY.header_store_parse(name, value))


@lru_cache(maxsize=4096)  # a List-Id that is not plain ASCII is the same for every reader
def _folded(name: str, value: str) -> bytes:
    return POLICY.fold_binary(*POLICY.header_store_parse(name, value))


FOLD_AT = 78  # RFC 5322's recommended line length; encoded words are at most 75 (RFC 2047)
_ENCODED_WORD = 75 - len("=?utf-8?q??=")
_Q_LITERAL = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!*+-/")


def _subject(value: str) -> bytes:
    """The Subject line (CRLF, folded at FOLD_AT): printable ASCII words as they are, each run
    of other words (accents, "…", a literal "=?") as RFC 2047 Q-encoded words of UTF-8.

    Written here rather than by the email package (~0.23 ms a subject, and nearly every
    subject is new: it names the reader's best paper); a reader's mail client decodes it to the
    same text (tested against the email package's parser)."""
    tokens: list[str] = []
    run: list[str] = []  # words to encode together: the spaces between them are kept in them
    for word in value.split(" "):
        if word.isascii() and word.isprintable() and "=?" not in word:
            if run:
                tokens.extend(_q_words(" ".join(run)))
                run = []
            tokens.append(word)
        else:
            run.append(word)
    if run:
        tokens.extend(_q_words(" ".join(run)))
    lines, line = [], "Subject:"
    for token in tokens:
        if len(line) + 1 + len(token) > FOLD_AT and line != "Subject:":
            lines.append(line)
            line = ""
        line += " " + token
    lines.append(line)
    return ("\r\n".join(lines) + "\r\n").encode("ascii")


def _q_words(text: str) -> list[str]:
    """`text` as Q-encoded words of at most 75 characters, split between characters (a
    decoder joins adjacent encoded words without the space between them)."""
    words, current = [], ""
    for char in text:
        if char == " ":
            piece = "_"
        else:
            piece = "".join(
                chr(b) if b in _Q_LITERAL else f"={b:02X}" for b in char.encode("utf-8")
            )
        if len(current) + len(piece) > _ENCODED_WORD:
            words.append(f"=?utf-8?q?{current}?=")
            current = ""
        current += piece
    words.append(f"=?utf-8?q?{current}?=")
    return words


_ATOMS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~ -]*")


def _plain_address(value: str | Address) -> bool:
    """Not an address, or one the email package writes as `str(address)` does: a display name
    of atoms and spaces only (no quotes, dots or commas), without runs of spaces."""
    if not isinstance(value, Address):
        return True
    name = value.display_name
    return _ATOMS.fullmatch(name) is not None and "  " not in name and name == name.strip()


def quoted_printable(body: str) -> bytes:
    """A body as quoted-printable in CRLF lines of at most 76 characters (RFC 2045): any line
    break becomes CRLF, and the body ends with one, as the email package writes it.

    Written with bytes methods rather than `binascii.b2a_qp`, which looks at each byte in turn
    (~1.2 ms for an email, its largest single cost): "=" and every byte that is not printable
    ASCII or a tab become =XX, a space or tab ending a line too, and a line longer than 76 is
    cut every 73 characters (or up to two more, to keep an =XX whole), each cut a soft break.
    A line that is only "." is written =2E, as b2a_qp does (an SMTP server reads "." alone
    as the end of the message)."""
    data = body.encode("utf-8")
    if b"\r" in data:  # CRLF and a lone CR are line breaks too, as for bytes.splitlines
        data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    if b"=" in data:
        data = data.replace(b"=", b"=3D")
    for byte in set(data.translate(None, _QP_PLAIN)):
        data = data.replace(bytes((byte,)), _QP_HEX[byte])
    lines = data.split(b"\n")
    if not lines[-1]:
        lines.pop()  # the body's last line break ends its last line
    lines = [
        line
        if len(line) <= _QP_LINE and line[-1:] not in _QP_BLANKS and line != b"."
        else _qp_line(line)
        for line in lines
    ]
    return b"\r\n".join(lines) + b"\r\n"


def _qp_line(line: bytes) -> bytes:
    """A line of `quoted_printable` that needs more: a space or tab at its end, a lone ".", or
    more than 76 characters."""
    if line[-1:] in _QP_BLANKS:
        line = line[:-1] + _QP_HEX[line[-1]]
    if len(line) <= _QP_LINE:
        return b"=2E" if line == b"." else line
    pieces = _QP_PIECES.findall(line)
    if pieces[-1] == b".":
        pieces[-1] = b"=2E"
    return b"=\r\n".join(pieces)


_QP_LINE = 76
_QP_PLAIN = bytes(range(0x20, 0x7F)) + b"\t\n"  # as they are (but "=", and see above)
_QP_BLANKS = (b" ", b"\t")
_QP_HEX = [b"=%02X" % byte for byte in range(256)]
# 73 characters, and the rest of an =XX that starts in the last two; else what is left.
_QP_PIECES = re.compile(rb".{73}(?:(?<==)..|(?<==.).)?|.+", re.DOTALL)


def _one_token(value: str, what: str) -> str:
    if _CONTROL.search(value) or " " in value or "<" in value or ">" in value:
        raise MailError(f"{what}: {value!r} may not contain spaces, brackets or line breaks")
    return value


def links_for(
    base_url: str, unsubscribe_token: str, manage_token: str, mailto: Address | None
) -> Links:
    """The unsubscribe and manage URLs under `base_url`, as `digest serve` answers them."""
    root = base_url.rstrip("/")
    mailto_link = None
    if mailto is not None:
        mailto_link = f"mailto:{mailto.addr_spec}?" + urlencode(
            {"subject": f"unsubscribe {unsubscribe_token}"}, quote_via=quote
        )
    return Links(
        unsubscribe_url=f"{root}/unsubscribe?" + urlencode({"token": unsubscribe_token}),
        manage_url=f"{root}/manage?" + urlencode({"token": manage_token}),
        unsubscribe_mailto=mailto_link,
    )
