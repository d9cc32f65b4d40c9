"""Followed authors, matched the way people write names.

"P. Lewis", "Patrick Lewis", "Patrick S. H. Lewis" and "Lewis, Patrick" are one person;
"Ramírez" and "Ramirez" are one surname. A name matches when the surnames agree (accents and
case folded) and the first given names agree as far as both are written: an initial agrees
with any name it starts, two full names must be equal. A followed name of one word (a surname)
matches anyone with that surname.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from digest.rank.text import fold
from digest.render.latex import bibtex_to_text

_PARTS = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_PARTICLES = frozenset({"van", "von", "der", "den", "de", "del", "della", "da", "di", "le", "la"})
_SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv"})


@dataclass(frozen=True)
class Name:
    """A person's name split into given names and a surname, folded for comparison."""

    given: tuple[str, ...]
    surname: str

    @property
    def key(self) -> tuple[str, str]:
        """What two matching names always share: the surname and the first initial."""
        return self.surname, self.given[0][0] if self.given else ""


def parse_name(text: str) -> Name | None:
    """`'Patrick S. H. Lewis'` -> given (patrick, s, h), surname lewis; None for no name."""
    if "\\" in text or "{" in text:  # a LaTeX name not yet tidied: `Rodr\'iguez`
        text = bibtex_to_text(text)
    text = fold(text).strip()
    if "," in text:  # "Lewis, Patrick S. H." (BibTeX, bioRxiv)
        last, _, first = text.partition(",")
        text = f"{first} {last}"
    parts = [p for p in _PARTS.findall(text) if p not in _SUFFIXES]
    if not parts:
        return None
    surname = parts.pop()  # "Schleier-Smith" stays one surname; "Jean-Pierre" is two names
    parts = [name for part in parts for name in part.split("-") if name]
    while parts and parts[-1] in _PARTICLES:  # "Ludwig van Beethoven": beethoven is the key
        parts.pop()
    return Name(given=tuple(parts), surname=surname)


def same_person(followed: Name, author: Name) -> bool:
    """Whether an author of a paper is the followed person (as far as the names tell)."""
    if followed.surname != author.surname:
        return False
    if not followed.given or not author.given:
        return True
    mine, theirs = followed.given[0], author.given[0]
    if len(mine) == 1 or len(theirs) == 1:
        return mine[0] == theirs[0]
    return mine == theirs


class AuthorMatcher:
    """Followed names looked up by (surname, initial), then checked in full."""

    def __init__(self, followed: Iterable[str]) -> None:
        self._by_key: dict[tuple[str, str], list[tuple[str, Name]]] = {}
        self._by_surname: dict[str, list[tuple[str, Name]]] = {}
        for text in followed:
            name = parse_name(text)
            if name is None:
                continue
            if name.given:
                self._by_key.setdefault(name.key, []).append((text, name))
            else:
                self._by_surname.setdefault(name.surname, []).append((text, name))

    def __bool__(self) -> bool:
        return bool(self._by_key or self._by_surname)

    def matches(self, authors: Sequence[str]) -> list[tuple[str, str]]:
        """(followed name as configured, the author as the paper writes it) for each match."""
        found: list[tuple[str, str]] = []
        for written in authors:
            name = parse_name(written)
            if name is None:
                continue
            candidates = self._by_key.get(name.key, []) + self._by_surname.get(name.surname, [])
            found.extend(
                (text, written) for text, followed in candidates if same_person(followed, name)
            )
        return found


class AuthorIndex:
    """The authors of many papers, to find a followed name's papers without a scan."""

    def __init__(self, author_lists: Sequence[Sequence[str]]) -> None:
        self._by_surname: dict[str, list[tuple[int, Name, str]]] = {}
        for row, authors in enumerate(author_lists):
            for written in authors:
                name = parse_name(written)
                if name is not None:
                    self._by_surname.setdefault(name.surname, []).append((row, name, written))

    def find(self, followed: str) -> list[tuple[int, str]]:
        """(paper row, the author as written) for each paper by the followed person."""
        wanted = parse_name(followed)
        if wanted is None:
            return []
        return [
            (row, written)
            for row, name, written in self._by_surname.get(wanted.surname, [])
            if same_person(wanted, name)
        ]
