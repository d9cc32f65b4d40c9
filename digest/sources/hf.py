"""Hugging Face Daily Papers (`/api/daily_papers?date=YYYY-MM-DD`): arXiv papers with upvotes,
comments, AI summaries and keywords, code and project links.

Every shape from 2024 to 2026 is read: the old one (`mediaUrl`, no `ai_*`), and the later ones
that add `ai_summary`, `githubRepo`, `githubStars` and `organization`. The papers land on their
arXiv records in the store.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

from digest.config import HfDailySource
from digest.errors import SourceError
from digest.models import Paper
from digest.sources.arxiv import abs_url, pdf_url
from digest.sources.clean import (
    arxiv_key,
    as_int,
    one_line,
    parse_date,
    parse_datetime,
    split_arxiv_id,
    unwrap,
)
from digest.sources.http import Fetcher

DEFAULT_URL = "https://huggingface.co/api/daily_papers"


def parse_daily(body: bytes, source: str = "hf_daily") -> list[Paper]:
    """The papers of one day's response; SourceError when it is not the expected list."""
    try:
        items = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise SourceError(f"expected JSON, got something else ({e})") from e
    if not isinstance(items, list):
        raise SourceError(f"expected a JSON list of papers, got a JSON {type(items).__name__}")
    papers = []
    for item in items:
        paper = _paper(item, source) if isinstance(item, dict) else None
        if paper is not None:
            papers.append(paper)
    if items and not papers:
        raise SourceError("none of the items looks like a daily paper (no paper.id)")
    return papers


def _paper(item: dict[str, Any], source: str) -> Paper | None:
    raw = item.get("paper")
    if not isinstance(raw, dict):
        return None
    parsed = split_arxiv_id(str(raw.get("id", "")))
    if parsed is None:
        return None
    arxiv_id, _ = parsed
    authors = tuple(
        one_line(a.get("name"))
        for a in raw.get("authors") or []
        if isinstance(a, dict) and a.get("name")
    )
    keywords = raw.get("ai_keywords") or []
    org = raw.get("organization") or item.get("organization")
    return Paper(
        id=arxiv_key(arxiv_id),
        title=one_line(raw.get("title") or item.get("title")),
        abstract=unwrap(raw.get("summary") or item.get("summary")),
        authors=authors,
        published=parse_datetime(raw.get("publishedAt")),
        announced=parse_date(raw.get("submittedOnDailyAt") or item.get("publishedAt")),
        abs_url=abs_url(arxiv_id),
        pdf_url=pdf_url(arxiv_id),
        code_url=_str(raw.get("githubRepo")),
        project_url=_str(raw.get("projectPage")),
        hf_url=f"https://huggingface.co/papers/{arxiv_id}",
        upvotes=as_int(raw.get("upvotes")),
        comments=as_int(item.get("numComments")),
        github_stars=as_int(raw.get("githubStars")),
        ai_summary=one_line(raw.get("ai_summary")) or None,
        ai_keywords=tuple(one_line(k) for k in keywords if isinstance(k, str) and k.strip()),
        organization=_org(org),
        sources=(source,),
    )


def _str(value: object) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _org(value: object) -> str | None:
    if isinstance(value, dict):
        return _str(value.get("fullname")) or _str(value.get("name"))
    return _str(value)


def fetch_daily(source: HfDailySource, fetcher: Fetcher, today: date) -> list[Paper]:
    """The last `days` days' lists, today first."""
    url = source.url or DEFAULT_URL
    papers: list[Paper] = []
    for back in range(source.days):
        day = today - timedelta(days=back)
        response = fetcher.get(url, {"date": day.isoformat()})
        if response is None:
            continue
        try:
            papers.extend(parse_daily(response.content, source.label))
        except SourceError as e:
            raise SourceError(f"{url}?date={day}: {e}") from e
    return papers
