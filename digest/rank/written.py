"""Where a text writes a keyword, found without compiling a pattern per keyword.

A keyword is written where its words come in order, each with an optional plural ending ("s"
or "es"), joined only by separators (none at all too: "multiagent" writes "multi agent"), and
not inside a longer word: what `(?<!W)w1(?:e?s)?S*w2(?:e?s)?…(?!W)` finds, where W is a
character that continues a word and S a separator. Callers give each word without the plural
ending the index takes off (`plural_base`), so "LLM agents" is found in "an LLM agent". A big
subscriber list has thousands of distinct keywords, and compiling such a pattern costs
Python's `re` 0.2-0.7 ms, more than searching every summary of a digest: `find` gives the same
matches (the same places, the same greedy endings) with a few `str.find` calls. The words must
be lower case, and `lower` the text in lower case with every character at its place (see
`lower_at_places`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from digest.rank.text import stem

_ENDINGS = ("es", "s", "")  # the order `(?:e?s)?` tries them in


@dataclass(frozen=True)
class Writing:
    """How a kind of text is read: which characters continue a word (a keyword may not start
    or end next to one) and which may join its words."""

    continues_word: Callable[[str], bool]
    joins: Callable[[str], bool]


def find(
    text: str, lower: str, words: Sequence[str], writing: Writing, start: int = 0
) -> tuple[int, int] | None:
    """The first place (start, end) at or after `start` where `text` writes `words`, or None.
    `text` is read for the word boundaries, `lower` for the words."""
    first = words[0]
    at = lower.find(first, start)
    while at >= 0:
        if at == 0 or not writing.continues_word(text[at - 1]):
            end = _rest(text, lower, words, 1, at + len(first), writing)
            if end is not None:
                return at, end
        at = lower.find(first, at + 1)
    return None


def find_all(
    text: str, lower: str, words: Sequence[str], writing: Writing
) -> Iterator[tuple[int, int]]:
    """Every place `text` writes `words`, left to right, none overlapping (as `re.finditer`)."""
    at = 0
    while (found := find(text, lower, words, writing, at)) is not None:
        yield found
        at = found[1]


def _rest(
    text: str, lower: str, words: Sequence[str], k: int, at: int, writing: Writing
) -> int | None:
    """Where the keyword ends when its word k-1 ended (before any plural ending) at `at`."""
    size = len(lower)
    for ending in _ENDINGS:
        if ending and not lower.startswith(ending, at):
            continue
        end = at + len(ending)
        if k == len(words):
            if end == size or not writing.continues_word(text[end]):
                return end
            continue
        # Separators are never the start of a word, so taking them all is the only choice.
        after = end
        while after < size and writing.joins(text[after]):
            after += 1
        if lower.startswith(words[k], after):
            found = _rest(text, lower, words, k + 1, after + len(words[k]), writing)
            if found is not None:
                return found
    return None


def plural_base(word: str) -> str:
    """A keyword's word as `find` looks for it: without the plural ending the index takes off
    ("agents" -> "agent", "boxes" -> "box"), so that "LLM agents" is found where a summary
    says "LLM agent", as the index matched it; other words as they are ("series", "class")."""
    lower = word.lower()
    base = stem(lower)
    return word[: len(base)] if base != lower and lower.startswith(base) else word


def lower_at_places(text: str) -> str | None:
    """`text` in lower case when every character stays at its place and a lower-case ASCII
    word matches it exactly as `re.IGNORECASE` would; None when not (a dotted capital I lowers
    to two characters; a dotless i and a long s match i and s under IGNORECASE only)."""
    if text.isascii():
        return text.lower()
    if "\u0130" in text or "\u0131" in text or "\u017f" in text:
        return None
    return text.lower()
