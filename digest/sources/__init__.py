"""Sources: fetch the papers a configured source offers today.

`fetch_source` picks the reader for the source's `type`. Each reader takes a `Fetcher` (the HTTP
edge, passed in) and returns `Paper`s, every one through `items.checked`, the parser boundary;
nothing here touches the store. The readers are imported when a source is fetched: the store
imports this package (for `tidy`), and commands that fetch nothing need not load httpx and
feedparser.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from digest.config import (
    ArxivApiSource,
    ArxivRssSource,
    BiorxivSource,
    FeedSource,
    HfDailySource,
    SourceConfig,
)
from digest.models import Paper
from digest.sources.items import Tally

if TYPE_CHECKING:
    from digest.sources.http import Fetcher

__all__ = ["Tally", "fetch_source"]


def fetch_source(
    source: SourceConfig, fetcher: Fetcher, today: date, tally: Tally | None = None
) -> list[Paper]:
    """The papers one source offers for `today` (raises SourceError). Items skipped as bad, and
    parts of the source that failed while others were read, are counted in `tally`."""
    from digest.sources.arxiv import fetch_api, fetch_listings
    from digest.sources.biorxiv import fetch_details
    from digest.sources.feed import fetch_feed
    from digest.sources.hf import fetch_daily

    match source:
        case ArxivRssSource():
            return fetch_listings(source, fetcher, tally)
        case ArxivApiSource():
            return fetch_api(source, fetcher, tally=tally)
        case HfDailySource():
            return fetch_daily(source, fetcher, today, tally)
        case BiorxivSource():
            return fetch_details(source, fetcher, today, tally)
        case FeedSource():
            return fetch_feed(source, fetcher, tally)
