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

from digest.rank.ranker import ExcludedPaper, Ranking, rank_detailed, rank_subscriber
from digest.rank.resolve import arxiv_lookup, load_libraries, resolve_liked

__all__ = [
    "ExcludedPaper",
    "Ranking",
    "arxiv_lookup",
    "load_libraries",
    "rank_detailed",
    "rank_subscriber",
    "resolve_liked",
]
