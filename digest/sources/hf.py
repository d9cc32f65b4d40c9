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
    as_text,
    one_line,
    parse_date,
    parse_datetime,
    split_arxiv_id,
    unwrap,
)
from digest.sources.http import Fetcher
from digest.sources.items import SkipItem, Tally, read_items

DEFAULT_URL = "https://huggingface.co/api/daily_papers"


def parse_daily(body: bytes, source: str = "hf_daily", tally: Tally | None = None) -> list[Paper]:
    """The papers of one day's response; SourceError when it is not the expected list."""
    items = load_json(body)
    if not isinstance(items, list):
        raise SourceError(f"expected a JSON list of papers, got a JSON {type(items).__name__}")
    tally = tally if tally is not None else Tally()
    skipped = tally.skipped
    papers = read_items(items, lambda item: _paper(item, source), tally)
    if items and not papers:
        first = tally.reasons[0] if tally.skipped > skipped and tally.reasons else "no paper.id"
        raise SourceError(f"none of the {len(items)} items is a daily paper ({first})")
    return papers


def load_json(body: bytes) -> Any:
    """The JSON document; SourceError (one line) for anything else, however deeply nested."""
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise SourceError(f"expected JSON, got something else ({e})") from e
    except RecursionError as e:
        raise SourceError("the JSON is nested too deeply to be a list of papers") from e


def _paper(item: object, source: str) -> Paper:
    if not isinstance(item, dict):
        raise SkipItem("is not a JSON object")
    raw = item.get("paper")
    if not isinstance(raw, dict):
        raise SkipItem("has no paper object")
    parsed = split_arxiv_id(str(as_text(raw.get("id"), "id") or ""))
    if parsed is None:
        raise SkipItem("has no arXiv id")
    arxiv_id, _ = parsed
    people = raw.get("authors") or []
    if not isinstance(people, list):
        raise SkipItem("has authors that are not a list")
    authors = tuple(
        one_line(as_text(a.get("name"), "author name"))
        for a in people
        if isinstance(a, dict) and a.get("name")
    )
    keywords = raw.get("ai_keywords") or []
    if not isinstance(keywords, list):
        raise SkipItem("has ai_keywords that are not a list")
    org = raw.get("organization") or item.get("organization")
    return Paper(
        id=arxiv_key(arxiv_id),
        title=one_line(as_text(raw.get("title") or item.get("title"), "title")),
        abstract=unwrap(as_text(raw.get("summary") or item.get("summary"), "summary")),
        authors=authors,
        published=parse_datetime(as_text(raw.get("publishedAt"), "publishedAt")),
        announced=parse_date(
            as_text(raw.get("submittedOnDailyAt") or item.get("publishedAt"), "submittedOnDailyAt")
        ),
        abs_url=abs_url(arxiv_id),
        pdf_url=pdf_url(arxiv_id),
        code_url=_str(raw.get("githubRepo")),
        project_url=_str(raw.get("projectPage")),
        hf_url=f"https://huggingface.co/papers/{arxiv_id}",
        upvotes=as_int(raw.get("upvotes")),
        comments=as_int(item.get("numComments")),
        github_stars=as_int(raw.get("githubStars")),
        ai_summary=one_line(as_text(raw.get("ai_summary"), "ai_summary")) or None,
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


def fetch_daily(
    source: HfDailySource, fetcher: Fetcher, today: date, tally: Tally | None = None
) -> list[Paper]:
    """The last `days` days' lists, today first."""
    url = source.url or DEFAULT_URL
    papers: list[Paper] = []
    for back in range(source.days):
        day = today - timedelta(days=back)
        response = fetcher.get(url, {"date": day.isoformat()})
        if response is None:
            continue
        try:
            papers.extend(parse_daily(response.content, source.label, tally))
        except SourceError as e:
            raise SourceError(f"{url}?date={day}: {e}") from e
    return papers
