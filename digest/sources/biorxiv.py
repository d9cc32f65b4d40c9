"""bioRxiv and medRxiv through the details API (`/details/{server}/{from}/{to}/{cursor}`).

Pages are read until one comes back short or empty: the `count` and `total` the API reports are
not trusted (they disagree with the pages they come with).
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

from digest.config import BiorxivSource
from digest.errors import SourceError
from digest.models import Paper
from digest.sources.clean import (
    doi_key,
    one_line,
    parse_date,
    surname_first_to_natural,
    unwrap,
)
from digest.sources.http import Fetcher

PAGE_SIZE = 100  # the API's fixed page size
MAX_PAGES = 200


def parse_details(body: bytes, server: str, source: str | None = None) -> list[Paper]:
    """The papers of one page of the details API."""
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise SourceError(f"expected JSON, got something else ({e})") from e
    if not isinstance(data, dict) or not isinstance(data.get("collection", []), list):
        raise SourceError("expected a JSON object with a 'collection' list")
    items = data.get("collection") or []
    return [p for p in (_paper(i, server, source or server) for i in items) if p is not None]


def _paper(item: Any, server: str, source: str) -> Paper | None:
    if not isinstance(item, dict) or not item.get("doi"):
        return None
    doi = str(item["doi"]).strip()
    version = str(item.get("version", "")).strip()
    site = "www.medrxiv.org" if (item.get("server") or server) == "medrxiv" else "www.biorxiv.org"
    page = f"https://{site}/content/{doi}v{version}" if version else f"https://{site}/content/{doi}"
    authors = tuple(
        surname_first_to_natural(a) for a in str(item.get("authors") or "").split(";") if a.strip()
    )
    category = one_line(item.get("category")).lower()
    day = parse_date(item.get("date"))
    return Paper(
        id=doi_key(doi),
        version=int(version) if version.isdigit() else None,
        title=one_line(item.get("title")),
        abstract=unwrap(item.get("abstract")),
        authors=authors,
        categories=(category,) if category else (),
        announced=day,
        doi=doi,
        abs_url=page,
        pdf_url=f"{page}.full.pdf",
        sources=(source,),
    )


def fetch_details(source: BiorxivSource, fetcher: Fetcher, today: date) -> list[Paper]:
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
            got = parse_details(response.content, source.type, source.label)
        except SourceError as e:
            raise SourceError(f"{url}: {e}") from e
        papers.extend(p for p in got if not wanted or set(p.categories) & wanted)
        if len(got) < PAGE_SIZE:
            break
    return papers
