"""The stages strung together. The CLI and the scheduler call these functions and nothing else,
so `digest fetch` and the daemon can never drift apart."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

import httpx

from digest.config import Config
from digest.errors import DigestError
from digest.sources import fetch_source
from digest.sources.http import Fetcher, make_client
from digest.store import Store, open_store, utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SourceReport:
    """What one source's fetch did: papers read, new to the store, changed, or why it failed."""

    name: str
    fetched: int = 0
    new: int = 0
    updated: int = 0
    error: str | None = None


def open_configured_store(config: Config) -> Store:
    return open_store(config.store_url)


def fetch_all(
    config: Config,
    store: Store,
    client: httpx.Client | None = None,
    *,
    today: date | None = None,
    now: datetime | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> list[SourceReport]:
    """Fetch every enabled source into the store. A failing source is reported and the others go
    on; what a source fetched is stored in one transaction, with its HTTP validators."""
    now = now or utcnow()
    today = today or now.date()
    own_client = client is None
    http = client or make_client(config.fetch, config.allowed_hosts)
    known = store.validators()
    reports = []
    try:
        for source in config.sources:
            if not source.enabled:
                continue
            name = source.label
            fetcher = Fetcher(http, config.fetch, known=known, sleep=sleep)
            try:
                papers = fetch_source(source, fetcher, today)
                saved = store.save_papers(papers, now=now, validators=fetcher.seen)
            except DigestError as e:
                reports.append(SourceReport(name, error=str(e)))
            except Exception as e:  # a parser bug on odd data must not stop the other sources
                log.exception("source %s failed unexpectedly", name)
                reports.append(SourceReport(name, error=f"unexpected {type(e).__name__}: {e}"))
            else:
                reports.append(SourceReport(name, len(papers), saved.new, saved.updated))
            store.record_fetch(name, now, reports[-1].error)
    finally:
        if own_client:
            http.close()
    return reports
