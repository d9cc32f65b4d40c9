"""The two emails the web app sends: "confirm your subscription" and "you are already
subscribed". `notice_email` builds one (pure); `send_email` hands it to the configured transport
(SMTP, or the outbox folder when none is configured).

Neither is a digest: they carry no List-Unsubscribe (there is no list to leave yet), and they say
`Auto-Submitted: auto-generated` so that auto-responders stay quiet.
"""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime

from digest.mail.letterhead import Letterhead
from digest.mail.message import POLICY, make_address, one_line
from digest.mail.transport import Transport


def notice_email(
    head: Letterhead,
    *,
    to_name: str,
    to_email: str,
    subject: str,
    text: str,
    html: str,
    now: datetime,
) -> EmailMessage:
    msg = EmailMessage(policy=POLICY)
    msg["From"] = head.sender
    msg["To"] = make_address(to_name, to_email, "email")
    msg["Subject"] = one_line(subject)
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = head.new_message_id()
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    msg.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    return msg


def send_email(transport: Transport, message: EmailMessage, sender: str, recipient: str) -> str:
    """Send one message over a connection of its own; the transport's errors go through."""
    connection = transport.connect()
    try:
        return connection.send(message, sender, recipient)
    finally:
        connection.close()
