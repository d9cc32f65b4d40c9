"""Feedback marks in the store: "more like this" and "not for me", one per subscriber and paper.

A mark is keyed by the subscriber's address (lower case, as `subscribers` rows are, so it holds
for config.yaml people and web subscribers alike) and the paper's canonical id. Marking the same
way twice keeps the first mark (and its time); the opposite mark replaces it. The paper is kept
with the mark as it was shown, so it still ranks, lists and exports when it has left `papers`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from digest.errors import StoreError
from digest.models import Mark, Paper
from digest.store import Store
from digest.store.clock import from_db, to_db
from digest.store.schema import feedback
from digest.store.subscribers import email_key

__all__ = ["LESS", "MORE", "VOTES", "FeedbackStore", "Mark"]

MORE, LESS = "more", "less"
VOTES = (MORE, LESS)


class FeedbackStore:
    """Reads and writes of the `feedback` table."""

    def __init__(self, store: Store) -> None:
        self.engine = store.engine

    def mark(self, email: str, paper: Paper, vote: str, topic: str, now: datetime) -> bool:
        """Record a mark; True when it changed something (a second identical click does not)."""
        if vote not in VOTES:
            raise ValueError(f"unknown vote {vote!r}")
        key = email_key(email)
        where = and_(feedback.c.email_key == key, feedback.c.paper_id == paper.id)
        values = {"vote": vote, "topic": topic, "record": _record(paper), "created_at": to_db(now)}
        try:
            with self.engine.begin() as conn:
                row = conn.execute(select(feedback.c.vote, feedback.c.topic).where(where)).first()
                if row is not None and (row.vote, row.topic) == (vote, topic):
                    return False
                if row is not None:
                    conn.execute(update(feedback).where(where).values(**values))
                else:
                    conn.execute(
                        insert(feedback).values(email_key=key, paper_id=paper.id, **values)
                    )
        except IntegrityError:  # a click at the same moment recorded its mark first
            return False
        except SQLAlchemyError as e:
            raise StoreError(f"cannot record feedback: {e}") from e
        return True

    def marks(self, emails: Iterable[str]) -> dict[str, list[Mark]]:
        """Each address's marks (by its lower-case key), oldest first; one query for all."""
        keys = sorted({email_key(e) for e in emails})
        found: dict[str, list[Mark]] = {}
        if not keys:
            return found
        try:
            with self.engine.connect() as conn:
                for start in range(0, len(keys), 500):
                    query = (
                        select(feedback)
                        .where(feedback.c.email_key.in_(keys[start : start + 500]))
                        .order_by(feedback.c.created_at, feedback.c.paper_id)
                    )
                    for row in conn.execute(query).mappings():
                        found.setdefault(row["email_key"], []).append(_to_mark(row))
        except SQLAlchemyError as e:
            raise StoreError(f"cannot read feedback: {e}") from e
        return found

    def of(self, email: str) -> list[Mark]:
        """One subscriber's marks, oldest first."""
        return self.marks([email]).get(email_key(email), [])

    def forget(self, email: str, paper_id: str | None = None) -> int:
        """Remove one mark (or, without `paper_id`, every mark of the address); how many."""
        query = delete(feedback).where(feedback.c.email_key == email_key(email))
        if paper_id is not None:
            query = query.where(feedback.c.paper_id == paper_id)
        try:
            with self.engine.begin() as conn:
                return int(conn.execute(query).rowcount or 0)
        except SQLAlchemyError as e:
            raise StoreError(f"cannot remove feedback: {e}") from e


def _record(paper: Paper) -> dict[str, Any]:
    return {
        "title": paper.title,
        "abstract": paper.abstract,
        "authors": list(paper.authors),
        "categories": list(paper.categories),
        "published": paper.published.isoformat() if paper.published else None,
        "abs_url": paper.abs_url,
        "doi": paper.doi,
    }


def _to_mark(row: Any) -> Mark:
    record = row["record"] or {}
    published = record.get("published")
    paper = Paper(
        id=row["paper_id"],
        title=record.get("title") or "",
        abstract=record.get("abstract") or "",
        authors=tuple(record.get("authors") or ()),
        categories=tuple(record.get("categories") or ()),
        published=datetime.fromisoformat(published) if published else None,
        abs_url=record.get("abs_url"),
        doi=record.get("doi"),
        sources=("feedback",),
    )
    return Mark(row["email_key"], paper, row["vote"], row["topic"], from_db(row["created_at"]))
