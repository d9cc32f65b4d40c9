"""Ranking: each day's papers scored against a subscriber's topics, with the reasons why.

    rank_subscriber(papers, subscriber, liked)   every paper above zero, best first
    rank_detailed(...)                           + the digest's cut, near misses, exclusions
    resolve_liked / load_libraries               the liked papers a profile names (I/O edge)
    batch.rank_many                              thousands of subscribers at once (matrices)

Modules: text (terms), index (sparse matrices), scoring (signals and their combination),
authors, categories, trending, library (BibTeX), resolve, ranker, batch, report (CLI output),
semantic (the optional sentence embeddings; imported only when `ranking.semantic` is on).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from digest.rank.ranker import ExcludedPaper, Ranking, rank_detailed, rank_subscriber
    from digest.rank.resolve import arxiv_lookup, load_libraries, resolve_liked

# Loaded on first use, so that a light module of the package (`text`, which `digest check`
# needs for its keyword advice) does not pull numpy and scipy in with it.
_HOME = {
    "ExcludedPaper": "digest.rank.ranker",
    "Ranking": "digest.rank.ranker",
    "rank_detailed": "digest.rank.ranker",
    "rank_subscriber": "digest.rank.ranker",
    "arxiv_lookup": "digest.rank.resolve",
    "load_libraries": "digest.rank.resolve",
    "resolve_liked": "digest.rank.resolve",
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'digest.rank' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)


__all__ = [
    "ExcludedPaper",
    "Ranking",
    "arxiv_lookup",
    "load_libraries",
    "rank_detailed",
    "rank_subscriber",
    "resolve_liked",
]
