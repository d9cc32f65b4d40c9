"""The mail stage: build each digest email, and deliver it exactly once.

message.py    the email itself (pure): MIME parts, headers, safe names
tokens.py     signed unsubscribe / manage / feedback tokens and the key that signs them
transport.py  what a transport is, how delivery fails, and the .eml outbox
smtp.py       the SMTP transport: reused, parallel, rate-limited connections
ledger.py     the delivery ledger in the store (planned → sending → sent / failed / skipped)
deliver.py    the send loop: claim, compose, send, record; retries and early stops
letterhead.py what config.yaml says about all of the above
"""

from __future__ import annotations

from digest.mail.deliver import DeliveryReport, Outcome, Outgoing, Policy, deliver_digests
from digest.mail.ledger import Delivery, Ledger
from digest.mail.letterhead import (
    Letterhead,
    digest_email,
    letterhead,
    make_policy,
    make_transport,
)
from digest.mail.message import build_message
from digest.mail.smtp import SmtpTransport
from digest.mail.transport import (
    DeliveryError,
    FatalError,
    OutboxTransport,
    PermanentFailure,
    TemporaryFailure,
    Transport,
)

__all__ = [
    "Delivery",
    "DeliveryError",
    "DeliveryReport",
    "FatalError",
    "Ledger",
    "Letterhead",
    "OutboxTransport",
    "Outcome",
    "Outgoing",
    "PermanentFailure",
    "Policy",
    "SmtpTransport",
    "TemporaryFailure",
    "Transport",
    "build_message",
    "deliver_digests",
    "digest_email",
    "letterhead",
    "make_policy",
    "make_transport",
]
