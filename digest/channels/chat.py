"""A digest as a chat message: Slack and Discord incoming-webhook bodies, and the generic JSON
webhook's body with its signature. Pure: takes the payload (`payload.digest_payload`).

Size limits are kept by trimming, never by splitting (one message per channel and digest, so
"sent once" means one message): Slack allows 50 blocks and 3,000 characters per section;
Discord 2,000 characters of content. What does not fit ends with "N more papers on the web"
linking the web copy.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

SLACK_MAX_BLOCKS = 50
SLACK_SECTION_CHARS = 3000
SLACK_TEXT_CHARS = 3000  # the notification text (Slack allows more; it is a preview)
DISCORD_CONTENT_CHARS = 2000
SIGNATURE_HEADER = "X-Paper-Digest-Signature"  # sha256=<hex HMAC of the body, key: secret>
DELIVERY_HEADER = "X-Paper-Digest-Delivery"  # one id per (subscriber, day, channel): dedupe


def slack_message(payload: dict[str, Any]) -> dict[str, Any]:
    """A Slack incoming-webhook body: a header, one section per paper, a closing line."""
    papers = payload["papers"]
    head = _heading(payload)
    blocks: list[dict[str, Any]] = [_section(f"*{_slack(head)}*")]
    # Room for the heading, the papers, and a closing "more" line.
    room = SLACK_MAX_BLOCKS - 2
    for paper in papers[:room]:
        blocks.append(_section(_slack_paper(paper)))
    left = len(papers) - min(len(papers), room)
    closing = _more(left, payload.get("web_url"), slack=True)
    if closing:
        blocks.append(_section(closing))
    return {"text": _cut(head, SLACK_TEXT_CHARS), "blocks": blocks}


def discord_message(payload: dict[str, Any]) -> dict[str, Any]:
    """A Discord webhook body: one message of at most 2,000 characters; papers that do not fit
    are counted in a last line that links the web copy. Mentions are switched off."""
    papers = payload["papers"]
    web_url = payload.get("web_url")
    lines = [f"**{_discord(_heading(payload))}**"]
    shown = 0
    for paper in papers:
        line = _discord_paper(paper)
        closing = _more(len(papers) - shown - 1, web_url, slack=False)
        if len("\n".join([*lines, line, closing])) > DISCORD_CONTENT_CHARS:
            break
        lines.append(line)
        shown += 1
    closing = _more(len(papers) - shown, web_url, slack=False)
    content = "\n".join([*lines, closing] if closing else lines)
    return {"content": _cut(content, DISCORD_CONTENT_CHARS), "allowed_mentions": {"parse": []}}


def webhook_body(payload: dict[str, Any]) -> bytes:
    """The generic webhook's body: the payload as compact UTF-8 JSON (what is signed)."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def signature(secret: str, body: bytes) -> str:
    """The signature header's value: `sha256=` and the hex HMAC-SHA256 of the body."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def _heading(payload: dict[str, Any]) -> str:
    return str(payload.get("subject") or "Paper digest")


def _slack_paper(paper: dict[str, Any]) -> str:
    title = _slack(paper["title"])
    link = f"<{paper['url']}|{title}>" if paper.get("url") else title
    parts = [f"*{link}*"]
    authors = paper.get("authors") or []
    if authors:
        more = " et al." if len(authors) > 3 else ""
        parts.append(_slack(", ".join(authors[:3])) + more)
    if paper.get("reasons"):
        parts.append("_Why:_ " + _slack(" · ".join(paper["reasons"])))
    if paper.get("summary"):
        parts.append(_slack(paper["summary"]))
    return _cut("\n".join(parts), SLACK_SECTION_CHARS)


def _discord_paper(paper: dict[str, Any]) -> str:
    title = _discord(paper["title"])
    # <…> keeps Discord from unfurling a preview per paper.
    head = f"• [{title}](<{paper['url']}>)" if paper.get("url") else f"• {title}"
    why = " · ".join(paper.get("reasons") or [])
    return f"{head}\n  {_discord(why)}" if why else head


def _more(left: int, web_url: Any, *, slack: bool) -> str:
    if left <= 0:
        return (
            f"<{web_url}|View in your browser>"
            if slack and web_url
            else (f"View in your browser: <{web_url}>" if web_url else "")
        )
    what = f"{left} more paper{'s' if left != 1 else ''} on the web"
    if not web_url:
        return f"{left} more paper{'s' if left != 1 else ''} not shown"
    return f"<{web_url}|{what}>" if slack else f"[{what}](<{web_url}>)"


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _slack(text: str) -> str:
    """Slack's mrkdwn escapes: &, < and > only."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _discord(text: str) -> str:
    """Markdown characters and mentions made inert."""
    for ch in "\\*_~`|[]()<>#@":
        text = text.replace(ch, f"\\{ch}")
    return text


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
