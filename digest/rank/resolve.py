"""Find the liked papers a profile names, before ranking: `papers:` ids and `library:` files.

Ids are looked up in the store, then in the papers being ranked (the `--papers` file), then on
the arXiv API (`fetch_ids`, passed in), in that order. An id found nowhere, or not asked
because the API cannot be reached, is left out of this ranking with a warning naming it and its
topic (`without_unresolved`), so neither a typo nor an outage stops the day's digests. This is
the I/O edge of ranking; scoring itself stays pure.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Protocol

from digest.config import ArxivApiSource
from digest.errors import SourceError
from digest.models import Paper, Subscriber
from digest.papers_file import paper_key
from digest.rank.library import read_library

if TYPE_CHECKING:  # the sources (httpx, lxml) are imported only when the API is asked
    from digest.sources.http import Fetcher

log = logging.getLogger(__name__)
FetchIds = Callable[[Sequence[str]], Sequence[Paper]]
ARXIV_API = "https://export.arxiv.org/api/query"
_API_BATCH = 100


class PaperLookup(Protocol):
    """What resolving needs of the store."""

    def get_papers(self, ids: Iterable[str]) -> dict[str, Paper]: ...


def liked_ids(subscriber: Subscriber) -> list[tuple[str, str]]:
    """(topic name, id as configured) for every `papers:` id of the subscriber."""
    return [(t.name, given) for t in subscriber.topics for given in t.papers]


def resolve_liked(
    subscriber: Subscriber,
    *,
    store: PaperLookup | None = None,
    papers: Iterable[Paper] = (),
    fetch_ids: FetchIds | None = None,
) -> dict[str, Paper]:
    """The subscriber's liked papers keyed by canonical id (`arxiv:2005.11401`)."""
    wanted = {paper_key(given): (topic, given) for topic, given in liked_ids(subscriber)}
    if not wanted:
        return {}
    found: dict[str, Paper] = {}
    if store is not None:
        found.update(store.get_papers(wanted))
    if set(wanted) - set(found):
        found.update((p.id, p) for p in papers if p.id in wanted and p.id not in found)
    missing = sorted(set(wanted) - set(found))
    arxiv = [key.removeprefix("arxiv:") for key in missing if key.startswith("arxiv:")]
    if arxiv and fetch_ids is not None:
        try:
            found.update((p.id, p) for p in fetch_ids(arxiv) if p.id in wanted)
        except SourceError as e:
            # An outage must not stop the day's digests: rank without these liked papers today
            # (the next run asks again), and say so. An id the API does not know is an error.
            log.warning(
                "liked papers %s of %s are left out of today's ranking: the arXiv API could "
                "not be asked (%s)",
                ", ".join(arxiv),
                subscriber.name,
                e,
            )
            for key in missing:
                wanted.pop(key, None)
    unknown = sorted(set(wanted) - set(found))
    for key in unknown:
        # A typo or a withdrawn id must not cost the subscriber the day's digest either.
        topic, given = wanted[key]
        where = "the store, the papers file or the arXiv API"
        log.warning(
            "topic %r of %s: liked paper %r is left out: it was not found in %s (check the id "
            "under papers:)",
            topic,
            subscriber.name,
            given,
            where if fetch_ids else "the store or the papers file",
        )
    return found


def without_unresolved(subscriber: Subscriber, liked: Mapping[str, Paper]) -> Subscriber:
    """The subscriber with only the liked ids that `resolve_liked` found, ready to rank."""
    topics = tuple(
        replace(t, papers=kept) if len(kept := _found(t.papers, liked)) < len(t.papers) else t
        for t in subscriber.topics
    )
    return replace(subscriber, topics=topics)


def _found(ids: Sequence[str], liked: Mapping[str, Paper]) -> tuple[str, ...]:
    return tuple(i for i in ids if i in liked or paper_key(i) in liked)


def load_libraries(subscriber: Subscriber) -> dict[str, list[Paper]]:
    """Each `library:` file of the subscriber's topics, read once."""
    return {t.library: read_library(t.library) for t in subscriber.topics if t.library is not None}


def arxiv_lookup(fetcher: Fetcher, url: str = ARXIV_API) -> FetchIds:
    """A `fetch_ids` that asks the arXiv API for papers by id (`id_list`), 100 at a time."""

    def fetch_ids(ids: Sequence[str]) -> list[Paper]:
        from digest.sources.arxiv import fetch_api

        found: list[Paper] = []
        for start in range(0, len(ids), _API_BATCH):
            chunk = list(ids[start : start + _API_BATCH])
            source = ArxivApiSource(
                type="arxiv_api",
                name="liked papers",
                id_list=chunk,
                url=url,
                max_results=len(chunk),
                page_size=len(chunk),
            )
            found.extend(fetch_api(source, fetcher))
        return found

    return fetch_ids
