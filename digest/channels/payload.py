"""A digest as JSON: what `digest preview --format json` prints and what a generic webhook
receives. Pure. The schema (`"schema": "paper-digest/1"`), all keys always present:

    {"schema": "paper-digest/1",
     "subscriber": "ada",                 # the name (never the address)
     "date": "2026-12-01", "frequency": "daily" | "weekly",
     "subject": "Paper digest, Tue 1 Dec: …",
     "web_url": "https://…/d/…" | null,   # the web copy, when there is one
     "count": 7,                          # papers in the digest
     "papers": [{"id": "arxiv:2310.19019", "title": …, "authors": [...], "categories": [...],
                 "url": abs page, "pdf_url": … | null, "summary": …, "topic": …,
                 "score": 0.83, "reasons": ["matches “RAG”", …]}, …]}   # best topic order
"""

from __future__ import annotations

from typing import Any

from digest.models import Digest, RankedPaper
from digest.render.latex import clean_text, latex_to_text
from digest.render.view import abs_url, subject_line, summarize

SCHEMA = "paper-digest/1"


def digest_payload(digest: Digest, *, web_url: str | None = None) -> dict[str, Any]:
    """The digest's papers, in the order the email shows them, as plain JSON values."""
    return {
        "schema": SCHEMA,
        "subscriber": digest.subscriber.name,
        "date": digest.date.isoformat(),
        "frequency": digest.subscriber.frequency,
        "subject": subject_line(digest),
        "web_url": web_url or None,
        "count": digest.count,
        "papers": [_paper(r) for g in digest.groups for r in g.papers],
    }


def _paper(ranked: RankedPaper) -> dict[str, Any]:
    paper = ranked.paper
    return {
        "id": paper.id,
        "title": latex_to_text(paper.title) or paper.id,
        "authors": [clean_text(a) for a in paper.authors if a.strip()],
        "categories": list(paper.categories),
        "url": abs_url(paper) or None,
        "pdf_url": paper.pdf_url
        or (f"https://arxiv.org/pdf/{paper.arxiv_id}" if paper.arxiv_id else None),
        "summary": summarize(paper),
        "topic": ranked.topic,
        "score": round(float(ranked.score), 4),
        "reasons": [clean_text(r.text) for r in ranked.reasons if clean_text(r.text)],
    }
