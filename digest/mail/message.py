"""Build one digest email: pure, no I/O.

`build_message` turns a rendered digest (subject, text, HTML) and its recipient into a
multipart/alternative `EmailMessage` (text first, then HTML, UTF-8) with From/To names encoded
safely, a Message-ID on the sender's domain, Date, List-Id and RFC 8058 one-click unsubscribe
headers. A CR or LF in a name or subject is folded to a space, never passed on as a new header;
an address that cannot be written safely is refused with a MailError.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid, parseaddr
from typing import TYPE_CHECKING
from urllib.parse import quote, urlencode

from digest.errors import MailError

if TYPE_CHECKING:
    from digest.mail.tokens import FeedbackLinks

# Fold long headers only at whitespace, and never below the RFC 5322 hard limit: a long
# List-Unsubscribe URL must stay one unbroken token.
POLICY = SMTP.clone(max_line_length=998)
# Bodies are quoted-printable in lines of at most 76 characters (RFC 2045): spam filters score
# longer lines (SpamAssassin's LONGLN_* rules), and some relays rewrap them.
BODY_POLICY = SMTP.clone(max_line_length=76)
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
) -> EmailMessage:
    """The complete email for one recipient. Only the caller's values go in; nothing is read."""
    msg = EmailMessage(policy=POLICY)
    msg["From"] = sender
    msg["To"] = recipient
    msg["Subject"] = one_line(subject)[:MAX_SUBJECT]
    msg["Date"] = format_datetime(date)
    msg["Message-ID"] = f"<{_one_token(message_id.strip('<>'), 'Message-ID')}>"
    msg["List-Id"] = one_line(list_id)
    unsubscribe = f"<{_one_token(links.unsubscribe_url, 'unsubscribe URL')}>"
    if links.unsubscribe_mailto:
        unsubscribe += f", <{_one_token(links.unsubscribe_mailto, 'unsubscribe mailto')}>"
    msg["List-Unsubscribe"] = unsubscribe
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg["MIME-Version"] = "1.0"
    msg.make_alternative()
    for body, subtype in ((text, "plain"), (html, "html")):
        part = EmailMessage(policy=BODY_POLICY)
        part.set_content(body, subtype=subtype, charset="utf-8", cte="quoted-printable")
        del part["MIME-Version"]  # once, on the message
        msg.attach(part)
    # "=_" never occurs in quoted-printable text, so this boundary cannot clash with a body; set
    # here, it also spares the generator from searching every body for a free one on each send.
    msg.set_boundary(f"=_digest_{secrets.token_hex(12)}")
    return msg


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
