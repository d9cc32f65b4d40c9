"""One item at a time: a bad item in a feed is skipped and counted, never fails its source.

`read_items` turns a source's items into papers through a reader function; an item the reader
rejects (`SkipItem`) or cannot read is skipped with a short reason (`item 7 has no title`) in the
source's `Tally`. Every paper then passes `checked`, the parser boundary: control and
bidirectional-override characters are stripped from its text, only http(s) links are kept,
its numbers are range-checked and a paper without a title is skipped.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import urlsplit

from digest.models import Paper

T = TypeVar("T")

# C0 and C1 controls except tab and newline, DEL, bidirectional embeddings, overrides, isolates
# and marks, and the line/paragraph separators that end a line in some terminals.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_SEPARATORS = re.compile("[\u2028\u2029]")
_SPACES = re.compile(r"[ \t]+")
_COUNTS = ("upvotes", "comments", "github_stars")
MAX_COUNT = 10**9  # more upvotes, comments or stars than any paper will ever have
MAX_VERSION = 10**4
MAX_ID = 200  # the store's key column
_LINKS = ("abs_url", "pdf_url", "code_url", "project_url", "hf_url")
SHOWN = 3  # skip reasons kept for the one-line report
# What odd data makes a reader raise: the item is skipped, its siblings are kept.
_UNREADABLE = (ValueError, TypeError, KeyError, AttributeError, OverflowError, RecursionError)


class SkipItem(Exception):
    """A reader's way to say why an item cannot be a paper ("has no title")."""


@dataclass
class Tally:
    """What one source's fetch skipped (bad items) and which of its parts failed (an arXiv
    category, a day, a page) while the others were stored."""

    skipped: int = 0
    reasons: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def skip(self, reason: str) -> None:
        self.skipped += 1
        if len(self.reasons) < SHOWN:
            self.reasons.append(reason)

    def add(self, other: Tally) -> None:
        """Fold in the tally of one part (a page) of the same source."""
        self.skipped += other.skipped
        self.reasons = (self.reasons + other.reasons)[:SHOWN]
        self.failed += other.failed


def read_items(
    items: Iterable[T],
    read: Callable[[T], Paper],
    tally: Tally | None,
    first: int = 1,
    where: str = "item",
) -> list[Paper]:
    """The papers `read` makes of `items`, each `checked`; the rest skipped into `tally`
    (numbered from `first`, so a later page's items keep their place in the whole)."""
    tally = tally if tally is not None else Tally()
    papers = []
    for number, item in enumerate(items, first):
        try:
            paper = checked(read(item))
        except SkipItem as e:
            tally.skip(f"{where} {number} {e}")
        except _UNREADABLE as e:
            tally.skip(f"{where} {number} could not be read ({type(e).__name__})")
        else:
            papers.append(paper)
    return papers


def checked(paper: Paper) -> Paper:
    """The paper with safe text, http(s) links only and sane numbers; SkipItem if it cannot be."""
    changes: dict[str, object] = {}
    for f in dataclasses.fields(Paper):
        value = getattr(paper, f.name)
        if isinstance(value, str):
            changes[f.name] = safe_text(value, keep_newlines=f.name == "abstract")
        elif isinstance(value, tuple):
            changes[f.name] = tuple(t for t in (safe_text(str(v)) for v in value) if t)
    paper = dataclasses.replace(paper, **changes)  # type: ignore[arg-type]
    if not paper.id or len(paper.id) > MAX_ID:
        raise SkipItem("has no usable id")
    if not paper.title:
        raise SkipItem("has no title")
    for name in _COUNTS:
        count = getattr(paper, name)
        if count is not None and not 0 <= count <= MAX_COUNT:
            raise SkipItem(f"has {name} out of range ({count:.3g})")
    if paper.version is not None and not 1 <= paper.version <= MAX_VERSION:
        raise SkipItem(f"has version out of range ({paper.version:.3g})")
    links = {name: web_link(getattr(paper, name)) for name in _LINKS}
    return dataclasses.replace(paper, **links)  # type: ignore[arg-type]


def safe_text(text: str, keep_newlines: bool = False) -> str:
    """Text without control or bidi-override characters (which ring bells, move terminal cursors
    or reverse what follows); newlines kept only where asked (abstracts' paragraph breaks)."""
    text = _SEPARATORS.sub(" " if not keep_newlines else "\n", text)
    text = _UNSAFE.sub("", text)
    if not keep_newlines:
        text = text.replace("\n", " ").replace("\t", " ")
        return _SPACES.sub(" ", text).strip()
    return text.strip()


def web_link(url: str | None) -> str | None:
    """url if it is an http(s) link with a host, else None (no javascript:, data:, file:)."""
    if not url:
        return None
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    if any(c.isspace() or c in "<>\"'`" for c in url):
        return None
    return url
