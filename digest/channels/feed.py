"""A subscriber's private Atom feed (RFC 4287): one entry per paper of their recent sent
digests, newest digest first, each with its title, authors, summary, the reasons it was
picked and its links. Pure: takes the digests (rebuilt from what the ledger recorded) and
returns the XML text; ElementTree escapes every value.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time
from xml.etree import ElementTree as ET

from digest.models import Digest, RankedPaper
from digest.render.latex import clean_text, latex_to_text
from digest.render.view import abs_url, paper_links, summarize

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
ATOM = "http://www.w3.org/2005/Atom"
_NAMESPACE = uuid.UUID("6f1c3b0e-8d2a-4c6e-9a57-2a1f9f0c5d11")  # paper digest's own


@dataclass(frozen=True)
class SentDigest:
    """One digest as it went out: what it held, when, and its web copy's address."""

    digest: Digest
    sent_at: datetime
    web_url: str = ""


def atom_feed(
    sent: Sequence[SentDigest], *, owner: str, title: str, feed_url: str, site_url: str
) -> str:
    """The Atom document. `owner` (their address) only seeds the ids, which never show it."""
    ET.register_namespace("", ATOM)
    feed = ET.Element(_q("feed"))
    _text(feed, "id", _urn(owner, "feed"))
    _text(feed, "title", title)
    _text(feed, "updated", _stamp(max((s.sent_at for s in sent), default=_EPOCH)))
    ET.SubElement(feed, _q("link"), rel="self", type="application/atom+xml", href=feed_url)
    ET.SubElement(feed, _q("link"), rel="alternate", type="text/html", href=site_url)
    _text(ET.SubElement(feed, _q("author")), "name", "Paper Digest")
    _text(feed, "generator", "paper digest")
    for one in sent:
        for group in one.digest.groups:
            for ranked in group.papers:
                feed.append(_entry(ranked, one, owner))
    ET.indent(feed)
    body: str = ET.tostring(feed, encoding="unicode")
    return '<?xml version="1.0" encoding="utf-8"?>\n' + body + "\n"


def _entry(ranked: RankedPaper, sent: SentDigest, owner: str) -> ET.Element:
    paper, day = ranked.paper, sent.digest.date
    entry = ET.Element(_q("entry"))
    _text(entry, "id", _urn(owner, f"{day.isoformat()}/{paper.id}"))
    _text(entry, "title", latex_to_text(paper.title) or paper.id)
    _text(entry, "updated", _stamp(sent.sent_at))
    published = paper.published or datetime.combine(day, time(), tzinfo=UTC)
    _text(entry, "published", _stamp(published))
    for name in [clean_text(a) for a in paper.authors if a.strip()] or ["Unknown"]:
        _text(ET.SubElement(entry, _q("author")), "name", name)
    url = abs_url(paper)
    if url:
        ET.SubElement(entry, _q("link"), rel="alternate", type="text/html", href=url)
    for link in paper_links(paper):
        ET.SubElement(entry, _q("link"), rel="related", title=link["label"], href=link["url"])
    if sent.web_url:
        ET.SubElement(entry, _q("link"), rel="via", type="text/html", href=sent.web_url)
    ET.SubElement(entry, _q("category"), term=clean_text(ranked.topic), label="topic")
    for category in paper.categories:
        ET.SubElement(entry, _q("category"), term=clean_text(category))
    reasons = [clean_text(r.text) for r in ranked.reasons if clean_text(r.text)]
    summary = summarize(paper)
    why = f"Why: {' · '.join(reasons)}" if reasons else ""
    _text(entry, "summary", "\n\n".join(part for part in (summary, why) if part), type="text")
    return entry


def _text(parent: ET.Element, tag: str, value: str, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, _q(tag), attrs)
    element.text = _NOT_XML.sub("", value)  # XML 1.0 cannot carry these, even escaped
    return element


def _q(tag: str) -> str:
    return f"{{{ATOM}}}{tag}"


def _urn(owner: str, what: str) -> str:
    return uuid.uuid5(_NAMESPACE, f"{owner.strip().lower()}|{what}").urn


def _stamp(moment: datetime) -> str:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
