"""Post sent digests to each subscriber's chat channels (Slack, Discord, a JSON webhook),
exactly once per channel, through the chat ledger (digest.channels.ledger).

A channel gets a digest once the email ledger says that (email, day) was sent (for a reader
with no email, once it was recorded as delivered), made from what was recorded then. Requests
go through the fetch address guard with the channel URL's own origin allowed, and follow no
redirect. 429 (honouring Retry-After up to `fetch.max_retry_after`), 5xx, timeouts and dropped
connections are retried `fetch.retries` times, then left for the next run (failed after
MAX_ATTEMPTS runs' worth); any other 4xx, a redirect or a refused address fails at once with
one line. The URL and the webhook secret never appear in a message or a log.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from email.utils import parsedate_to_datetime

import httpx

from digest.channels.chat import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    discord_message,
    signature,
    slack_message,
    webhook_body,
)
from digest.channels.ledger import DONE, FAILED, PLANNED, SENT, ChannelLedger, channel_key
from digest.channels.payload import digest_payload
from digest.channels.record import digest_from_record, recorded_ids
from digest.config import Config
from digest.config.sources import FetchSettings, origin_of
from digest.errors import DigestError
from digest.mail.ledger import new_worker_id
from digest.mail.tokens import make_copy_token
from digest.models import Channel, Subscriber
from digest.sources.http import make_client
from digest.store import Store, utcnow
from digest.store.copies import CopyStore

log = logging.getLogger(__name__)


class _Redacted(logging.Filter):
    """Takes channel URLs out of httpx's own log lines ("HTTP Request: POST <url>")."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            message = record.getMessage()
            for secret in sorted(self.secrets, key=len, reverse=True):
                message = message.replace(secret, "<the channel URL>")
            record.msg, record.args = message, ()
        return True


_REDACTED = _Redacted()
logging.getLogger("httpx").addFilter(_REDACTED)
MAX_ATTEMPTS = 6  # runs' worth of tries before a channel's digest is given up
LEASE = timedelta(minutes=10)

# (client for one channel's URL) -- tests hand in their own
ClientFor = Callable[[Channel], httpx.Client]


@dataclass
class ChannelReport:
    """What the chat deliveries of a run did."""

    sent: int = 0
    failed: list[str] = field(default_factory=list)  # one line each
    pending: list[str] = field(default_factory=list)  # left for a later run, one line each

    @property
    def ok(self) -> bool:
        return not self.failed and not self.pending


@dataclass(frozen=True)
class _Answer:
    status: str  # sent / retry / failed
    reply: str
    wait: float = 0.0


def channel_body(channel: Channel, payload: dict[str, object]) -> tuple[bytes, dict[str, str]]:
    """What is posted to `channel`: the body and its headers (without the delivery id)."""
    if channel.type == "slack":
        body = json.dumps(slack_message(payload), ensure_ascii=False).encode("utf-8")
    elif channel.type == "discord":
        body = json.dumps(discord_message(payload), ensure_ascii=False).encode("utf-8")
    else:
        body = webhook_body(payload)
    headers = {"Content-Type": "application/json; charset=utf-8"}
    if channel.type == "webhook" and channel.secret:
        headers[SIGNATURE_HEADER] = signature(channel.secret, body)
    return body, headers


def deliver_channels(
    config: Config,
    store: Store,
    people: Iterable[Subscriber],
    days: Mapping[str, date],
    *,
    secret: str,
    client_for: ClientFor | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], datetime] = utcnow,
) -> ChannelReport:
    """Post each person's digest for their day (`days`: email -> day) to their channels."""
    report = ChannelReport()
    ledger, copies = ChannelLedger(store), CopyStore(store)
    worker = new_worker_id()
    root = config.base_url.rstrip("/")
    for person in people:
        if not person.channels or person.email not in days:
            continue
        day = days[person.email]
        copy = copies.sent(person.email, day)
        if copy is None:  # no digest went out that day (nothing new, or not yet)
            continue
        digest = digest_from_record(
            copy.content,
            name=person.name,
            email=person.email,
            day=day,
            papers=store.get_papers(recorded_ids(copy.content)),
        )
        web_url = f"{root}/d/{make_copy_token(secret, person.email, day)}"
        payload = digest_payload(digest, web_url=web_url)
        for channel in person.channels:
            _REDACTED.secrets.update(_secret_parts(channel))
            who = f"{person.name}'s {channel.type}"
            row = ledger.plan(person.email, day, channel_key(channel), person.name, clock())
            if row.status in DONE:
                continue
            claimed = ledger.claim(row, worker, clock(), LEASE)
            if claimed is None:
                report.pending.append(f"{who}: not due yet or being sent by another sender")
                continue
            body, headers = channel_body(channel, payload)
            headers[DELIVERY_HEADER] = claimed.delivery_key
            make = client_for or (lambda c: _client(config.fetch, c))
            with make(channel) as client:
                answer = _post(client, channel, body, headers, config.fetch, sleep)
            now = clock()
            if answer.status == SENT:
                ledger.finish(claimed, worker, SENT, answer.reply, now)
                report.sent += 1
            elif answer.status == FAILED:
                ledger.finish(claimed, worker, FAILED, answer.reply, now)
                report.failed.append(f"{who}: {answer.reply}")
            elif claimed.attempts >= MAX_ATTEMPTS:
                reason = f"gave up after {claimed.attempts} attempts: {answer.reply}"
                ledger.finish(claimed, worker, FAILED, reason, now)
                report.failed.append(f"{who}: {reason}")
            else:
                until = now + timedelta(seconds=max(answer.wait, config.fetch.backoff))
                ledger.finish(claimed, worker, PLANNED, answer.reply, now, until)
                report.pending.append(f"{who}: {answer.reply} (tried again by the next run)")
    for line in report.failed:
        log.warning("chat delivery failed: %s", line)
    return report


def _client(settings: FetchSettings, channel: Channel) -> httpx.Client:
    """A guarded client for one channel: its URL's own host and port are allowed (a webhook on
    this machine in a test), nothing else private; redirects are not followed."""
    origin = origin_of(channel.url)
    client = make_client(settings, {origin} if origin else set())
    client.follow_redirects = False
    return client


def _post(
    client: httpx.Client,
    channel: Channel,
    body: bytes,
    headers: dict[str, str],
    settings: FetchSettings,
    sleep: Callable[[float], None],
) -> _Answer:
    """POST with retries in this run; the answer never holds the URL."""
    answer = _Answer("retry", "not tried")
    for attempt in range(settings.retries + 1):
        answer = _once(client, channel, body, headers, settings)
        if answer.status != "retry" or attempt == settings.retries:
            return answer
        wait = answer.wait or settings.backoff * 2**attempt
        if wait > settings.max_retry_after:
            return answer  # a long Retry-After: the next run, not this one
        sleep(wait)
    return answer


def _once(
    client: httpx.Client,
    channel: Channel,
    body: bytes,
    headers: dict[str, str],
    settings: FetchSettings,
) -> _Answer:
    try:
        response = client.post(channel.url, content=body, headers=headers)
    except httpx.TimeoutException:
        return _Answer("retry", f"no answer within fetch.timeout ({settings.timeout:g} s)")
    except DigestError as e:  # the address guard: a private address the URL does not name
        return _Answer(FAILED, _scrub(str(e), channel))
    except httpx.HTTPError as e:
        message = _scrub(str(e), channel) or type(e).__name__
        if "refusing" in message:
            return _Answer(FAILED, message)
        return _Answer("retry", f"connection failed: {message}")
    status = response.status_code
    if 200 <= status < 300:
        return _Answer(SENT, f"HTTP {status}")
    if 300 <= status < 400:
        return _Answer(FAILED, f"HTTP {status}: a redirect, not followed (check the URL)")
    if status == 429:
        return _Answer("retry", "HTTP 429 (rate limited)", _retry_after(response))
    if status >= 500:
        return _Answer("retry", f"HTTP {status}", _retry_after(response))
    return _Answer(FAILED, f"HTTP {status}: refused, not tried again (check the URL in deliver:)")


def _retry_after(response: httpx.Response) -> float:
    given = response.headers.get("Retry-After", "").strip()
    if not given:
        return 0.0
    if given.isdigit():
        return float(given)
    try:
        when = parsedate_to_datetime(given)
    except (TypeError, ValueError):
        return 0.0
    return max((when - utcnow()).total_seconds(), 0.0) if when.tzinfo else 0.0


def _secret_parts(channel: Channel) -> list[str]:
    """The channel's URL as given and as httpx writes it, and its path (which holds the token
    of a Slack or Discord webhook)."""
    url = httpx.URL(channel.url)
    parts = [channel.url, str(url), url.raw_path.decode("ascii", "replace")]
    return [p for p in parts if p and p != "/"]


def _scrub(message: str, channel: Channel) -> str:
    """A message with the channel's URL (and its path) taken out."""
    for secret in sorted(_secret_parts(channel), key=len, reverse=True):
        message = message.replace(secret, "<the channel URL>")
    return message.splitlines()[0] if message else message
