"""What the config says about sending: sender, list id, signing key, transport and policy.

`letterhead(config)` reads it once per run (the only I/O is the secret key); `digest_email` then
builds each subscriber's message from a rendered digest, purely.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from email.headerregistry import Address
from urllib.parse import urlsplit

from digest.config import Config
from digest.mail.deliver import Policy
from digest.mail.message import (
    DigestMessage,
    Links,
    build_message,
    default_list_id,
    links_for,
    make_address,
    make_message_id,
    parse_address,
)
from digest.mail.smtp import SmtpTransport
from digest.mail.tokens import FeedbackLinks, load_secret_key, make_copy_token, make_token
from digest.mail.transport import OutboxTransport, Transport
from digest.models import Subscriber

OUTBOX = "outbox"


@dataclass(frozen=True)
class Letterhead:
    """Everything every digest email shares."""

    sender: Address
    list_id: str
    mailto: Address | None
    base_url: str
    secret: str

    def __repr__(self) -> str:  # the secret never shows up in a log or a traceback
        return f"Letterhead(sender={self.sender}, list_id={self.list_id!r})"

    def links(
        self,
        email: str,
        generation: int = 0,
        *,
        day: date | None = None,
        feed_generation: int = 0,
    ) -> Links:
        """Fresh links for one email; `generation`: the subscriber's link generation. With the
        digest's `day`, also its web copy and the subscriber's feed (`feed_generation`: bumped
        by each feed reset)."""
        links = links_for(
            self.base_url,
            make_token(self.secret, "unsubscribe", email),
            make_token(self.secret, "manage", email, generation),
            self.mailto,
        )
        links = replace(
            links, feedback=FeedbackLinks(self.base_url, email, generation, self.secret)
        )
        if day is None:
            return links
        root = self.base_url.rstrip("/")
        return replace(
            links,
            web_url=f"{root}/d/{make_copy_token(self.secret, email, day)}",
            feed_url=f"{root}/feed/{make_token(self.secret, 'feed', email, feed_generation)}.xml",
        )

    def new_message_id(self) -> str:
        return make_message_id(self.sender)


def letterhead(config: Config) -> Letterhead:
    """The sender and links from config.yaml; mail.from, else smtp.from, else a local sender."""
    given = config.mail.from_ or (config.smtp.from_ if config.smtp else None)
    if given:
        field = "mail.from" if config.mail.from_ else "smtp.from"
        sender = parse_address(given, field)
    else:
        host = urlsplit(config.base_url).hostname or ""
        domain = host if "." in host and not host.replace(".", "").isdigit() else "localhost"
        sender = Address("Paper Digest", "digest", domain)
    # No mailto: unless configured: nothing here reads mail, so an unsubscribe sent to the From
    # address would be lost. The https one-click link (RFC 8058) is always there.
    mailto = (
        parse_address(config.mail.unsubscribe_mailto, "mail.unsubscribe_mailto")
        if config.mail.unsubscribe_mailto
        else None
    )
    list_id = config.mail.list_id or default_list_id(sender)
    if "<" not in list_id:
        list_id = f"Paper Digest <{list_id}>"
    return Letterhead(sender, list_id, mailto, config.base_url, load_secret_key(config))


def digest_email(
    head: Letterhead,
    subscriber: Subscriber,
    *,
    subject: str,
    text: str,
    html: str,
    message_id: str,
    now: datetime,
    links: Links | None = None,
) -> DigestMessage:
    """One subscriber's digest email (with `links` when the body already carries them)."""
    return build_message(
        subject=subject,
        text=text,
        html=html,
        sender=head.sender,
        recipient=make_address(subscriber.name, subscriber.email, f"subscriber {subscriber.name}"),
        message_id=message_id,
        date=now,
        list_id=head.list_id,
        links=links or head.links(subscriber.email),
    )


def make_transport(config: Config, share: int = 1) -> Transport:
    """SMTP when configured, else the outbox folder in data_dir. `share`: the processes of one
    run that send at once, which split the server's limits between them."""
    if config.smtp is None:
        return OutboxTransport(config.data_dir / OUTBOX)
    return SmtpTransport.from_config(config.smtp, share)


def make_policy(config: Config) -> Policy:
    smtp = config.smtp
    if smtp is None:
        return Policy(retry_backoff=1.0, retry_wait=10.0)
    return Policy(
        max_attempts=smtp.max_attempts,
        retry_backoff=smtp.retry_backoff,
        retry_wait=smtp.retry_wait,
        max_consecutive_errors=smtp.max_consecutive_errors,
        max_permanent_failures=smtp.max_permanent_failures,
        # A claim outlives the longest one message can take (its sender renews it meanwhile).
        lease=smtp.claim_lease_seconds or max(60.0, 4 * smtp.timeout + 30.0),
    )
