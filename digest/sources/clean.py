"""Turn what feeds say into clean fields: canonical ids, one-line titles, unwrapped abstracts,
author lists, repaired encodings. Pure functions; every source parser goes through them.

LaTeX is kept as written (`$\\alpha$`, `a<b`): rendering decides how to show it.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import ftfy

from digest.sources.items import SkipItem

# New-style ids (0704.0001 to 2512.99999) and old-style ids (astro-ph/0601001, math.GT/0309136).
_NEW_ID = r"\d{4}\.\d{4,5}"
_OLD_ID = r"[a-z][a-z\-]*(?:\.[A-Z]{2})?/\d{7}"
_ARXIV_ID = re.compile(rf"(?P<id>{_NEW_ID}|{_OLD_ID})(?:v(?P<version>\d+))?", re.IGNORECASE)
_ARXIV_IN_URL = re.compile(
    rf"arxiv\.org/(?:abs|pdf|html)/(?P<id>{_NEW_ID}|{_OLD_ID})(?:v(?P<version>\d+))?",
    re.IGNORECASE,
)
_DOI = re.compile(r"\b(10\.\d{4,9}/[^\s\"<>]+)", re.IGNORECASE)
_PARAGRAPH = re.compile(r"\n\s*\n")


def split_arxiv_id(text: str) -> tuple[str, int | None] | None:
    """`'oai:arXiv.org:2508.13167v1'` -> `('2508.13167', 1)`; None when there is no arXiv id."""
    text = text.strip()
    found = _ARXIV_IN_URL.search(text) or _ARXIV_ID.search(text)
    if found is None:
        return None
    version = found.group("version")
    return found.group("id"), int(version) if version else None


def arxiv_key(arxiv_id: str) -> str:
    """The store's canonical key for an arXiv paper: `arxiv:` + the versionless id."""
    return f"arxiv:{arxiv_id}"


def doi_key(doi: str) -> str:
    return f"doi:{doi.strip().lower()}"


def find_doi(text: str) -> str | None:
    found = _DOI.search(text)
    return found.group(1).rstrip(".,;") if found else None


def one_line(text: str | None) -> str:
    """A title or name on one line: hard wraps and runs of spaces become single spaces."""
    return " ".join(repair(text or "").split())  # split(): the whitespace \s matches


def unwrap(text: str | None) -> str:
    """An abstract with its hard wraps joined but its paragraph breaks kept."""
    text = repair(text or "").strip()
    paragraphs = _PARAGRAPH.split(text)
    return "\n\n".join(p for p in (" ".join(p.split()) for p in paragraphs) if p)


def repair(text: str) -> str:
    """Undo double encoding (`RamÃ­rez` -> `Ramírez`) and nothing else."""
    if not text or text.isascii():
        return text
    return str(ftfy.fix_encoding(text))


def split_authors(text: str | None) -> tuple[str, ...]:
    """`'A. Smith, B. Jones and C. Wu'` -> three names; `dc:creator` joins them with commas."""
    if not text:
        return ()
    text = one_line(text)
    parts = re.split(r",\s*(?:and\s+)?|\s+and\s+", text)
    return tuple(p.strip() for p in parts if p.strip())


def surname_first_to_natural(name: str) -> str:
    """`'Kumar, P.'` -> `'P. Kumar'` (bioRxiv writes names surname first)."""
    if "," not in name:
        return one_line(name)
    last, _, first = name.partition(",")
    return one_line(f"{first} {last}")


def parse_datetime(text: str | None) -> datetime | None:
    """An ISO 8601 or RFC 822 timestamp as an aware UTC datetime; None when unreadable."""
    if not text:
        return None
    text = text.strip()
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            parsed = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_date(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text.strip()[:10])
    except ValueError:
        moment = parse_datetime(text)
        return moment.date() if moment else None


def as_int(value: object) -> int | None:
    """A count from JSON: ints (and whole floats) stay, numeric strings convert, anything else is
    None. The range is checked where the paper is (digest.sources.items.checked)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) < 20:
        return int(value)
    return None


def as_text(value: object, name: str) -> str | None:
    """A text field from JSON: a string, or None when absent; a list, a number or an object
    where text belongs skips the item (`has a title that is not text`)."""
    if value is None or isinstance(value, str):
        return value
    raise SkipItem(f"has a {name} that is not text")
