"""A digest as recorded when it is sent, and back: pure, no I/O.

`digest_record(digest)` keeps which papers, in which order, under which topic, with which
scores and reasons (plain JSON: ids, not whole papers, which the store keeps).
`digest_from_record` rebuilds the `Digest` from it and the store's papers, so the web copy and
the feed show what was sent even after the profile or the ranking changed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from digest.models import Digest, Paper, RankedPaper, Reason, Subscriber, Topic, TopicGroup

VERSION = 1


def digest_record(digest: Digest) -> dict[str, Any]:
    """What `digest` holds, as plain JSON values."""
    return {
        "version": VERSION,
        "frequency": digest.subscriber.frequency,
        "topics": [t.name for t in digest.subscriber.topics],
        "groups": [
            {"topic": g.topic, "papers": [_ranked(r) for r in g.papers]} for g in digest.groups
        ],
        "trending": [_ranked(r) for r in digest.trending],
        "also": [_ranked(r) for r in digest.also],
    }


def recorded_ids(record: Mapping[str, Any]) -> list[str]:
    """Every paper id a record names, the digest's own first, in order."""
    ids = [p["id"] for g in record.get("groups", []) for p in g.get("papers", [])]
    ids += [p["id"] for key in ("trending", "also") for p in record.get(key, [])]
    return list(dict.fromkeys(ids))


def digest_from_record(
    record: Mapping[str, Any],
    *,
    name: str,
    email: str,
    day: date,
    papers: Mapping[str, Paper],
) -> Digest:
    """The digest a record describes, its papers taken from `papers` (the store's; a paper the
    store no longer has is left out)."""
    subscriber = Subscriber(
        name=name,
        email=email,
        topics=tuple(Topic(name=str(t)) for t in record.get("topics", [])),
        frequency=str(record.get("frequency", "daily")),
    )
    groups = []
    for group in record.get("groups", []):
        found = _papers(group.get("papers", []), papers)
        if found:
            groups.append(TopicGroup(str(group.get("topic", "")), found))
    return Digest(
        subscriber,
        day,
        tuple(groups),
        trending=_papers(record.get("trending", []), papers),
        also=_papers(record.get("also", []), papers),
    )


def _ranked(ranked: RankedPaper) -> dict[str, Any]:
    return {
        "id": ranked.paper.id,
        "score": round(float(ranked.score), 6),
        "topic": ranked.topic,
        "reasons": [
            {"kind": r.kind, "text": r.text, "terms": list(r.terms)} for r in ranked.reasons
        ],
    }


def _papers(
    items: Sequence[Mapping[str, Any]], papers: Mapping[str, Paper]
) -> tuple[RankedPaper, ...]:
    found = []
    for item in items:
        paper = papers.get(str(item.get("id")))
        if paper is None:
            continue
        reasons = tuple(
            Reason(
                str(r.get("kind", "")), str(r.get("text", "")), tuple(map(str, r.get("terms", [])))
            )
            for r in item.get("reasons", [])
        )
        found.append(
            RankedPaper(paper, float(item.get("score", 0.0)), str(item.get("topic", "")), reasons)
        )
    return tuple(found)
