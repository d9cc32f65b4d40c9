"""arXiv: the daily announcement feeds of rss.arxiv.org (Atom and RSS 2.0) and the search API.

Parsed with lxml rather than feedparser: the listing descriptions are plain text, and feedparser's
HTML handling silently eats everything after LaTeX like `$a<b$`. The API is paged with at least
`delay_seconds` (3 s, per arXiv's terms of use) between requests.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import date
from email.utils import parsedate_to_datetime

from lxml import etree

from digest.config import ArxivApiSource, ArxivRssSource
from digest.errors import SourceError
from digest.models import ANNOUNCE_TYPES, Paper
from digest.sources.clean import (
    arxiv_key,
    one_line,
    parse_datetime,
    repair,
    split_arxiv_id,
    split_authors,
    unwrap,
)
from digest.sources.http import Fetcher
from digest.sources.items import SkipItem, Tally, read_items
from digest.sources.xml import NS, parse_xml, text_of, texts_of

_LISTING_PREFIX = re.compile(
    r"^\s*arXiv:\S+\s+Announce Type:\s*(?P<type>[\w-]+)\s*(?:Abstract:\s*)?", re.IGNORECASE
)


def abs_url(arxiv_id: str) -> str:
    return f"https://arxiv.org/abs/{arxiv_id}"


def pdf_url(arxiv_id: str) -> str:
    return f"https://arxiv.org/pdf/{arxiv_id}"


# ---------------------------------------------------------------- listings (rss.arxiv.org)


def parse_listing(
    body: bytes, source: str = "arxiv_rss", tally: Tally | None = None
) -> list[Paper]:
    """The papers of one rss.arxiv.org feed, Atom or RSS 2.0."""
    root = parse_xml(body)
    if root.tag == f"{{{NS['atom']}}}feed":
        announced = _local_date(text_of(root, "atom:updated"))
        items: list[etree._Element] = root.findall("atom:entry", NS)
        return read_items(items, lambda e: _listing_atom(e, announced, source), tally)
    if root.tag == "rss":
        channel = root.find("channel")
        if channel is None:
            raise SourceError("an RSS feed without a <channel>")
        announced = _local_date(text_of(channel, "pubDate") or text_of(channel, "lastBuildDate"))
        entries = channel.findall("item")
        return read_items(entries, lambda e: _listing_rss(e, announced, source), tally)
    raise SourceError(
        f"expected an Atom or RSS feed, got a <{etree.QName(root).localname}> document"
    )


def _listing_atom(entry: etree._Element, announced: date | None, source: str) -> Paper:
    return _listing_paper(
        ident=text_of(entry, "atom:id") or text_of(entry, "atom:link") or "",
        title=text_of(entry, "atom:title"),
        description=text_of(entry, "atom:summary") or "",
        categories=[c.get("term", "") for c in entry.findall("atom:category", NS)],
        creators=text_of(entry, "dc:creator"),
        announce_type=text_of(entry, "arxiv:announce_type"),
        announced=_local_date(text_of(entry, "atom:published")) or announced,
        source=source,
    )


def _listing_rss(item: etree._Element, announced: date | None, source: str) -> Paper:
    return _listing_paper(
        ident=text_of(item, "guid") or text_of(item, "link") or "",
        title=text_of(item, "title"),
        description=text_of(item, "description") or "",
        categories=texts_of(item, "category"),
        creators=text_of(item, "dc:creator"),
        announce_type=text_of(item, "arxiv:announce_type"),
        announced=_local_date(text_of(item, "pubDate")) or announced,
        source=source,
    )


def _listing_paper(
    *,
    ident: str,
    title: str | None,
    description: str,
    categories: list[str],
    creators: str | None,
    announce_type: str | None,
    announced: date | None,
    source: str,
) -> Paper:
    parsed = split_arxiv_id(ident)
    if parsed is None:
        raise SkipItem("has no arXiv id")
    arxiv_id, version = parsed
    said, abstract = split_listing_description(description)
    kind = (announce_type or said or "").strip().lower()
    return Paper(
        id=arxiv_key(arxiv_id),
        version=version,
        title=one_line(title),
        abstract=unwrap(abstract),
        authors=split_authors(creators),
        categories=tuple(dict.fromkeys(c.strip() for c in categories if c.strip())),
        announced=announced,
        announce_type=kind if kind in ANNOUNCE_TYPES else None,
        abs_url=abs_url(arxiv_id),
        pdf_url=pdf_url(arxiv_id),
        sources=(source,),
    )


def split_listing_description(description: str) -> tuple[str | None, str]:
    """`'arXiv:2508.13167v1 Announce Type: new \\nAbstract: We…'` -> `('new', 'We…')`."""
    prefix = _LISTING_PREFIX.match(description)
    if prefix is None:
        return None, description
    return prefix.group("type").lower(), description[prefix.end() :]


def _local_date(text: str | None) -> date | None:
    """The calendar date as the feed wrote it (arXiv writes US Eastern), not converted to UTC."""
    if not text:
        return None
    text = text.strip()
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        try:
            return parsedate_to_datetime(text).date()
        except (TypeError, ValueError):
            return None


def fetch_listings(
    source: ArxivRssSource, fetcher: Fetcher, tally: Tally | None = None
) -> list[Paper]:
    """Every configured category's feed; a feed unchanged since last time (304) adds nothing.
    A category that fails is named in `tally.failed` and the others are kept; SourceError only
    when every category failed."""
    tally = tally if tally is not None else Tally()
    template = source.url or "https://rss.arxiv.org/atom/{category}"
    papers: list[Paper] = []
    failures: list[str] = []
    answered = 0
    for number, category in enumerate(source.categories):
        if fetcher.out_of_time():
            rest = ", ".join(source.categories[number:])
            failures.append(f"{rest}: not fetched, past fetch.source_deadline")
            break
        url = template.replace("{category}", category)
        try:
            response = fetcher.get(url)
            if response is not None:
                papers.extend(parse_listing(response.content, source.label, tally))
        except SourceError as e:
            failures.append(f"{category}: {e}")
        else:
            answered += 1
    if failures and not answered:
        raise SourceError("; ".join(failures))
    tally.failed += failures
    return papers


# ---------------------------------------------------------------- the API (export.arxiv.org)


def parse_api(
    body: bytes, source: str = "arxiv_api", tally: Tally | None = None
) -> tuple[list[Paper], int | None]:
    """The papers of one API response and the total the query matches (None if not said)."""
    root = parse_xml(body)
    if root.tag != f"{{{NS['atom']}}}feed":
        raise SourceError(f"expected an Atom feed, got a <{etree.QName(root).localname}> document")
    total_text = text_of(root, "opensearch:totalResults")
    total = int(total_text) if total_text and total_text.strip().isdigit() else None
    entries = root.findall("atom:entry", NS)
    for entry in entries:
        ident = (text_of(entry, "atom:id") or "").strip()
        if "/api/errors" in ident:
            message = one_line(text_of(entry, "atom:summary")) or "unknown error"
            raise SourceError(f"arXiv API error: {message}")
    return read_items(entries, lambda e: _api_paper(e, source), tally), total


def _api_paper(entry: etree._Element, source: str) -> Paper:
    parsed = split_arxiv_id(text_of(entry, "atom:id") or "")
    if parsed is None:
        raise SkipItem("has no arXiv id")
    arxiv_id, version = parsed
    primary = entry.find("arxiv:primary_category", NS)
    categories = [primary.get("term", "")] if primary is not None else []
    categories += [c.get("term", "") for c in entry.findall("atom:category", NS)]
    pdf = next(
        (
            link.get("href")
            for link in entry.findall("atom:link", NS)
            if link.get("title") == "pdf" or link.get("type") == "application/pdf"
        ),
        None,
    )
    doi = text_of(entry, "arxiv:doi")
    return Paper(
        id=arxiv_key(arxiv_id),
        version=version,
        title=one_line(text_of(entry, "atom:title")),
        abstract=unwrap(text_of(entry, "atom:summary")),
        authors=tuple(
            one_line(repair(name)) for name in texts_of(entry, "atom:author/atom:name") if name
        ),
        categories=tuple(dict.fromkeys(c.strip() for c in categories if c.strip())),
        published=parse_datetime(text_of(entry, "atom:published")),
        updated=parse_datetime(text_of(entry, "atom:updated")),
        doi=one_line(doi) or None,
        abs_url=abs_url(arxiv_id),
        pdf_url=pdf or pdf_url(arxiv_id),
        sources=(source,),
    )


def fetch_api(
    source: ArxivApiSource,
    fetcher: Fetcher,
    sleep: Callable[[float], None] | None = None,
    tally: Tally | None = None,
) -> list[Paper]:
    """All pages of the query, up to `max_results`, `delay_seconds` apart."""
    wait = sleep or fetcher.sleep
    papers: list[Paper] = []
    for page, first in enumerate(_pages(source)):
        if page:
            wait(source.delay_seconds)
        params: dict[str, str | int] = {
            "start": first,
            "max_results": min(source.page_size, source.max_results - first),
        }
        if source.query:
            params |= {"search_query": source.query, "sortBy": source.sort_by}
            params["sortOrder"] = "descending"
        if source.id_list:
            params["id_list"] = ",".join(source.id_list)
        url = source.url or "https://export.arxiv.org/api/query"
        # arXiv answers a bad query with HTTP 400 and an Atom feed that explains it.
        response = fetcher.get(url, params, conditional=False, accept=frozenset({400}))
        assert response is not None  # an unconditional GET never yields 304
        page_tally = Tally()
        got, total = parse_api(response.content, source.label, page_tally)
        if tally is not None:
            tally.add(page_tally)
        if response.status_code == 400:
            raise SourceError(f"arXiv API said HTTP 400 for {url}")
        papers.extend(got)
        seen = len(got) + page_tally.skipped
        if not seen or (total is not None and first + seen >= total):
            break
    return papers


def _pages(source: ArxivApiSource) -> Iterator[int]:
    yield from range(0, source.max_results, source.page_size)
