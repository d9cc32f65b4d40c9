"""Any RSS or Atom feed, read with feedparser (which copes with the many dialects in the wild).

An entry becomes a paper keyed by its arXiv id when its link or id names one, else by its DOI,
else by its link (`url:…`). HTML in descriptions is reduced to text.
"""

from __future__ import annotations

import html
import io
import re
from typing import Any

import feedparser

from digest.config import FeedSource
from digest.errors import SourceError
from digest.models import Paper
from digest.sources.arxiv import abs_url, pdf_url, split_listing_description
from digest.sources.clean import (
    arxiv_key,
    doi_key,
    find_doi,
    one_line,
    parse_date,
    split_arxiv_id,
    split_authors,
    unwrap,
)
from digest.sources.http import Fetcher
from digest.sources.items import SkipItem, Tally, read_items, web_link

_TAG = re.compile(r"<[^>]+>")


def parse_feed(body: bytes, source: str = "feed", tally: Tally | None = None) -> list[Paper]:
    """The papers of any RSS/Atom document; SourceError when it is not a feed."""
    # Given bytes or a str, feedparser first tries them as a file name or URL and reads that:
    # a body of "/etc/passwd" or "/dev/zero" would be opened. A file object is only ever read.
    parsed = feedparser.parse(io.BytesIO(body))
    if parsed.get("bozo") and not parsed.get("entries"):
        problem = parsed.get("bozo_exception")
        raise SourceError(f"not a readable RSS/Atom feed ({problem})")
    if not parsed.get("version") and not parsed.get("entries"):
        raise SourceError("not an RSS/Atom feed (an HTML page?)")
    return read_items(parsed.entries, lambda e: _paper(e, source), tally)


def _paper(entry: Any, source: str) -> Paper:
    link = str(entry.get("link") or "")
    ident = str(entry.get("id") or "")
    title = one_line(entry.get("title"))
    if not title:
        raise SkipItem("has no title")
    arxiv = next(
        (split_arxiv_id(t) for t in (link, ident) if "arxiv" in t.lower() and split_arxiv_id(t)),
        None,
    )
    doi = entry.get("prism_doi") or entry.get("dc_identifier") or find_doi(f"{link} {ident}")
    doi = find_doi(str(doi)) if doi else None
    if arxiv:
        key, version = arxiv_key(arxiv[0]), arxiv[1]
    elif doi:
        key, version = doi_key(doi), None
    elif web_link(link) or ident:
        key, version = f"url:{web_link(link) or ident}", None
    else:
        raise SkipItem("has no http(s) link or id")
    announce_type, summary = split_listing_description(str(entry.get("summary") or ""))
    authors = tuple(a.get("name", "") for a in entry.get("authors", []) if a.get("name"))
    if len(authors) == 1:
        authors = split_authors(authors[0])
    return Paper(
        id=key,
        version=version,
        title=title,
        abstract=unwrap(html.unescape(_TAG.sub(" ", summary))),
        authors=authors,
        categories=tuple(t.get("term", "") for t in entry.get("tags", []) if t.get("term")),
        announced=parse_date(entry.get("published") or entry.get("updated")),
        announce_type=announce_type if arxiv else None,
        doi=doi,
        abs_url=abs_url(arxiv[0]) if arxiv else link or None,
        pdf_url=pdf_url(arxiv[0]) if arxiv else None,
        sources=(source,),
    )


def fetch_feed(source: FeedSource, fetcher: Fetcher, tally: Tally | None = None) -> list[Paper]:
    response = fetcher.get(source.url)
    if response is None:
        return []
    try:
        return parse_feed(response.content, source.label, tally)
    except SourceError as e:
        raise SourceError(f"{source.url}: {e}") from e
