"""Liked papers checked when a profile is saved (`digest subscribe --topic`, the web form): each
new arXiv id is looked up — the store, then the arXiv API, what it returns kept in the store —
so its title can be shown and an id arXiv does not know is refused at once, not left out of
every digest later. When the API cannot be reached the ids are kept unchecked: ranking leaves
out, with a warning, any it never finds."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from digest.config import ArxivApiSource, Config, TopicConfig
from digest.errors import SourceError
from digest.papers_file import paper_key
from digest.rank.resolve import ARXIV_API, arxiv_lookup
from digest.store import Store
from digest.subscribe.profile import Changes, SubscriptionError
from digest.subscribe.roster import find

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Liked:
    """One liked id as saved: its title, or None when arXiv could not be asked just now."""

    id: str
    title: str | None


def arxiv_api_url(config: Config) -> str:
    """The arXiv API the config points at (a test or mirror may set one), else arXiv's own."""
    for source in config.sources:
        if isinstance(source, ArxivApiSource) and source.url:
            return source.url
    return ARXIV_API


def check_liked(
    config: Config,
    store: Store,
    email: str,
    changes: Changes,
    *,
    client: httpx.Client | None = None,
) -> list[Liked]:
    """The liked ids `changes` would add to `email`'s profile, looked up (see look_up_liked)."""
    if changes.topics is None:
        return []
    current = find(config, store, email)
    known = [i for t in current.profile.topics for i in t.papers] if current else []
    return look_up_liked(config, store, changes.topics, known=known, client=client)


def look_up_liked(
    config: Config,
    store: Store,
    topics: Iterable[TopicConfig],
    *,
    known: Iterable[str] = (),
    client: httpx.Client | None = None,
) -> list[Liked]:
    """The liked ids of `topics` not in `known` (already saved), with their titles. Raises
    SubscriptionError, one problem per id, for ids the arXiv API does not know."""
    already = {paper_key(i) for i in known}
    asked: dict[str, tuple[str, str]] = {}  # canonical id -> (topic, id as given)
    for topic in topics:
        for given in topic.papers:
            key = paper_key(given)
            if key.startswith("arxiv:") and key not in already:
                asked.setdefault(key, (topic.name, given))
    if not asked:
        return []
    found = {**store.get_papers(asked), **store.get_liked_papers(asked)}
    missing = [k.removeprefix("arxiv:") for k in asked if k not in found]
    unchecked: set[str] = set()
    if missing:
        from digest.sources.http import Fetcher, make_client  # httpx: only when looking up

        http = client or make_client(config.fetch, config.allowed_origins)
        try:
            fetched = arxiv_lookup(Fetcher(http, config.fetch), arxiv_api_url(config))(missing)
        except SourceError as e:
            log.warning("liked papers %s saved unchecked: %s", ", ".join(missing), e)
            unchecked = {f"arxiv:{i}" for i in missing}
        else:
            store.save_liked_papers(fetched)
            found.update((p.id, p) for p in fetched)
        finally:
            if client is None:
                http.close()
    problems = [
        f"{topic}: arXiv has no paper {given} (check the id, e.g. 2005.11401)"
        for key, (topic, given) in asked.items()
        if key not in found and key not in unchecked
    ]
    if problems:
        raise SubscriptionError("; ".join(problems), problems)
    return [
        Liked(given, found[key].title if key in found else None)
        for key, (_, given) in asked.items()
    ]
