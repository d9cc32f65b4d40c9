"""What a subscriber told the digest from its emails ("more like this", "not for me"): recorded,
listed per topic, forgotten, and the liked papers exported (BibTeX for Zotero, a papers JSONL
for `library:`). The links that carry it are signed in `digest.mail.tokens`; ranking reads the
marks in `digest.rank.feedback`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from digest.config import Config
from digest.errors import DigestError
from digest.models import Paper
from digest.store import Store
from digest.store.feedback import LESS, MORE, FeedbackStore, Mark
from digest.subscribe.roster import find

__all__ = [
    "LESS",
    "MORE",
    "FeedbackError",
    "Mark",
    "TopicMarks",
    "by_topic",
    "feedback_lines",
    "forget_feedback",
    "liked_bibtex",
    "liked_jsonl",
    "marks_json",
    "read_feedback",
    "record_feedback",
]


class FeedbackError(DigestError):
    """A mark cannot be recorded (the paper is no longer known)."""


@dataclass(frozen=True)
class TopicMarks:
    """One topic's marks: the liked ("more like this") and the "not for me", newest first."""

    topic: str
    more: tuple[Mark, ...]
    less: tuple[Mark, ...]


def record_feedback(
    store: Store, email: str, paper_id: str, vote: str, topic: str, now: datetime
) -> tuple[Paper, bool]:
    """Mark a paper for a subscriber; the paper, and whether this changed anything."""
    paper = store.get_papers([paper_id]).get(paper_id) or store.get_liked_papers([paper_id]).get(
        paper_id
    )
    if paper is None:
        raise FeedbackError(f"the paper {paper_id} is no longer in the digest's store")
    return paper, FeedbackStore(store).mark(email, paper, vote, topic, now)


def read_feedback(config: Config, store: Store, email: str) -> list[TopicMarks]:
    """`digest feedback EMAIL`: the address's marks per topic (its topics first). FeedbackError
    when the address is neither a subscriber nor has marks."""
    marks = FeedbackStore(store).of(email)
    entry = find(config, store, email)
    if entry is None and not marks:
        raise FeedbackError(f"{email}: no such subscriber (see `digest subscribers`)")
    return by_topic(marks, [t.name for t in entry.profile.topics] if entry else ())


def forget_feedback(store: Store, email: str) -> int:
    """Forget every mark of the address; how many there were."""
    return FeedbackStore(store).forget(email)


def marks_json(groups: Iterable[TopicMarks]) -> list[dict[str, Any]]:
    """The marks as JSON objects, per topic in order, newest first."""
    return [
        {
            "id": m.paper.id,
            "title": m.paper.title,
            "vote": m.vote,
            "topic": m.topic,
            "marked_at": m.created_at.isoformat(),
        }
        for group in groups
        for m in (*group.more, *group.less)
    ]


def feedback_lines(email: str, groups: Sequence[TopicMarks]) -> list[str]:
    """The marks for a terminal: per topic, the liked then the "not for me", with dates."""
    count = sum(len(g.more) + len(g.less) for g in groups)
    if not count:
        return [f"{email}: no feedback yet (the links beside each paper of a digest)"]
    lines = [f"{email}: {count} mark{'s' if count != 1 else ''}"]
    for group in groups:
        lines.append(f"{group.topic}")
        for label, marks in (("more like this", group.more), ("not for me", group.less)):
            for m in marks:
                lines.append(
                    f"  {label:<14}  {m.created_at:%Y-%m-%d}  {m.paper.id}  {m.paper.title}"
                )
    return lines


def by_topic(marks: Iterable[Mark], topics: Sequence[str] = ()) -> list[TopicMarks]:
    """Marks grouped by the topic they were made under: `topics` first, in that order, then any
    other topic (one since renamed or removed), newest mark first within each."""
    grouped: dict[str, list[Mark]] = {t: [] for t in topics}
    for mark in marks:
        grouped.setdefault(mark.topic, []).append(mark)
    out = []
    for topic, found in grouped.items():
        newest = sorted(found, key=lambda m: (m.created_at, m.paper.id), reverse=True)
        more = tuple(m for m in newest if m.vote == MORE)
        less = tuple(m for m in newest if m.vote == LESS)
        if more or less:
            out.append(TopicMarks(topic, more, less))
    return out


def liked_jsonl(marks: Iterable[Mark]) -> str:
    """The liked papers as a papers JSONL (the fields `library:` and `--papers` read)."""
    lines = []
    for mark in marks:
        if mark.vote != MORE:
            continue
        paper = mark.paper
        record = {
            "id": paper.id,
            "title": paper.title,
            "abstract": paper.abstract,
            "authors": list(paper.authors),
            "categories": list(paper.categories),
            "published": paper.published.isoformat() if paper.published else None,
            "topic": mark.topic,
            "liked_at": mark.created_at.isoformat(),
        }
        lines.append(json.dumps(record, ensure_ascii=False))
    return "".join(f"{line}\n" for line in lines)


def liked_bibtex(marks: Iterable[Mark]) -> str:
    """The liked papers as BibTeX entries (arXiv ids in `eprint`, as Zotero and `library:`
    read them)."""
    entries: list[str] = []
    keys: set[str] = set()
    for mark in marks:
        if mark.vote != MORE:
            continue
        paper = mark.paper
        key = _cite_key(paper, keys)
        fields = [("title", f"{{{_bib(paper.title)}}}")]
        if paper.authors:
            fields.append(("author", _bib(" and ".join(paper.authors))))
        if paper.published is not None:
            fields.append(("year", str(paper.published.year)))
        if paper.arxiv_id:
            fields += [("eprint", paper.arxiv_id), ("archiveprefix", "arXiv")]
            if paper.categories:
                fields.append(("primaryclass", _bib(paper.categories[0])))
            url = paper.abs_url or f"https://arxiv.org/abs/{paper.arxiv_id}"
        else:
            url = paper.abs_url or (f"https://doi.org/{paper.doi}" if paper.doi else "")
        if paper.doi:
            fields.append(("doi", _bib(paper.doi)))
        if url:
            fields.append(("url", _bib(url)))
        fields.append(("abstract", _bib(paper.abstract)) if paper.abstract else ("note", ""))
        body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields if value)
        entries.append(f"@article{{{key},\n{body}\n}}\n")
    return "\n".join(entries)


def _cite_key(paper: Paper, taken: set[str]) -> str:
    surname = re.sub(r"[^A-Za-z]", "", (paper.authors[0].split()[-1] if paper.authors else ""))
    year = str(paper.published.year) if paper.published else ""
    ident = re.sub(r"[^A-Za-z0-9]", "", paper.arxiv_id or paper.id)
    key = f"{surname.lower() or 'paper'}{year}_{ident}"
    while key in taken:
        key += "x"
    taken.add(key)
    return key


def _bib(value: str) -> str:
    # Braces must balance inside a {...} value: drop any that do not, keep the text.
    depth, out = 0, []
    for ch in value:
        if ch == "{":
            depth += 1
        elif ch == "}":
            if depth == 0:
                continue
            depth -= 1
        out.append(ch)
    text = "".join(out) + "}" * depth
    return " ".join(text.split())
