"""bioRxiv and medRxiv through the details API (`/details/{server}/{from}/{to}/{cursor}`).

Pages are read until one comes back short or empty: the `count` and `total` the API reports are
not trusted (they disagree with the pages they come with).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from digest.config import BiorxivSource
from digest.errors import SourceError
from digest.models import Paper
from digest.sources.clean import (
    as_text,
    doi_key,
    find_doi,
    one_line,
    parse_date,
    surname_first_to_natural,
    unwrap,
)
from digest.sources.hf import load_json
from digest.sources.http import Fetcher
from digest.sources.items import SkipItem, Tally, read_items

PAGE_SIZE = 100  # the API's fixed page size
MAX_PAGES = 200


def parse_details(
    body: bytes,
    server: str,
    source: str | None = None,
    tally: Tally | None = None,
    first: int = 1,
) -> list[Paper]:
    """The papers of one page of the details API (its first item is number `first`)."""
    data = load_json(body)
    if not isinstance(data, dict) or not isinstance(data.get("collection", []), list):
        raise SourceError("expected a JSON object with a 'collection' list")
    items = data.get("collection") or []
    return read_items(items, lambda i: _paper(i, server, source or server), tally, first)


def _paper(item: Any, server: str, source: str) -> Paper:
    if not isinstance(item, dict):
        raise SkipItem("is not a JSON object")
    given = item.get("doi")
    doi = find_doi(given) if isinstance(given, str) else None
    if not doi:
        raise SkipItem("has no valid doi")
    given_version = item.get("version")
    version = str(given_version).strip() if isinstance(given_version, (str, int)) else ""
    version = version if version.isdigit() and len(version) < 6 else ""
    site = "www.medrxiv.org" if (item.get("server") or server) == "medrxiv" else "www.biorxiv.org"
    page = f"https://{site}/content/{doi}v{version}" if version else f"https://{site}/content/{doi}"
    authors = tuple(
        surname_first_to_natural(a)
        for a in (as_text(item.get("authors"), "authors") or "").split(";")
        if a.strip()
    )
    category = one_line(as_text(item.get("category"), "category")).lower()
    day = parse_date(as_text(item.get("date"), "date"))
    return Paper(
        id=doi_key(doi),
        version=int(version) if version.isdigit() else None,
        title=one_line(as_text(item.get("title"), "title")),
        abstract=unwrap(as_text(item.get("abstract"), "abstract")),
        authors=authors,
        categories=(category,) if category else (),
        announced=day,
        doi=doi,
        abs_url=page,
        pdf_url=f"{page}.full.pdf",
        sources=(source,),
    )


def fetch_details(
    source: BiorxivSource, fetcher: Fetcher, today: date, tally: Tally | None = None
) -> list[Paper]:
    """Every page for the last `days` days, filtered to `categories` if any are configured."""
    base = (source.url or f"https://api.biorxiv.org/details/{source.type}").rstrip("/")
    interval = f"{today - timedelta(days=source.days - 1)}/{today}"
    wanted = {c.lower() for c in source.categories}
    papers: list[Paper] = []
    for page in range(MAX_PAGES):
        url = f"{base}/{interval}/{page * PAGE_SIZE}"
        response = fetcher.get(url, conditional=False)
        assert response is not None
        try:
            page_tally = Tally()
            got = parse_details(
                response.content, source.type, source.label, page_tally, page * PAGE_SIZE + 1
            )
        except SourceError as e:
            raise SourceError(f"{url}: {e}") from e
        if tally is not None:
            tally.add(page_tally)
        papers.extend(p for p in got if not wanted or set(p.categories) & wanted)
        if len(got) + page_tally.skipped < PAGE_SIZE:
            break
    return papers
