"""A digest as one channel carries it, for `digest preview --format`: pure, no I/O."""

from __future__ import annotations

import json
from datetime import datetime

from digest.channels.chat import discord_message, slack_message
from digest.channels.feed import SentDigest, atom_feed
from digest.channels.payload import digest_payload
from digest.errors import DigestError
from digest.models import Digest
from digest.render import render_digest

FORMATS = ("html", "text", "atom", "json", "slack", "discord")


def channel_text(digest: Digest, fmt: str, *, base_url: str, now: datetime) -> str:
    """`text`: the email's plain part; `atom`: the feed's entries; `json`: the webhook payload;
    `slack` / `discord`: their webhook bodies. Links to the web copy point at a placeholder
    (`base_url/d/preview`): a preview has none."""
    root = base_url.rstrip("/")
    person = digest.subscriber
    if fmt == "text":
        rendered = render_digest(digest, base_url=base_url, always=True)
        assert rendered is not None  # always=True renders even an empty digest
        return rendered.text
    if fmt == "atom":
        return atom_feed(
            [SentDigest(digest, now)],
            owner=person.email,
            title=f"Paper digest for {person.name} (preview)",
            feed_url=f"{root}/feed/preview.xml",
            site_url=f"{root}/",
        )
    if fmt in ("json", "slack", "discord"):
        payload = digest_payload(digest, web_url=f"{root}/d/preview")
        if fmt == "slack":
            payload = slack_message(payload)
        elif fmt == "discord":
            payload = discord_message(payload)
        return json.dumps(payload, ensure_ascii=False, indent=2) + "\n"
    raise DigestError(f"--format: {fmt!r} is not one of {', '.join(FORMATS[1:])}")
