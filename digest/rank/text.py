"""Text into index terms: accents folded, lower-cased, split on anything not a letter or digit,
English stop words dropped, plurals folded (`models` -> `model`, `studies` -> `study`).

`terms` gives the terms of a text in order, so phrases can be matched as consecutive terms;
`phrase_key` is how a phrase (several terms) is written in the index vocabulary.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_WORD = re.compile(r"[a-z0-9]{2,}|[0-9]")
_COMBINING = re.compile(r"[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")

_STOP_WORDS = """
    a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself yourselves
    via using use used based new show shows shown paper propose proposed present presents study
    results result approach method methods however thus therefore here within without among two
    one may well many much several et al e g
"""
STOP_WORDS = frozenset(_STOP_WORDS.split())


def fold(text: str) -> str:
    """Lower case with accents removed: `Ramírez` -> `ramirez`, `ß` -> `ss`."""
    if text.isascii():
        return text.lower()
    return _COMBINING.sub("", unicodedata.normalize("NFKD", text.casefold()))


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """Fold plurals only: predictable, and a keyword still finds what it says."""
    if len(word) <= 3 or word.isdigit():
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "xes", "ches", "shes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is", "ys", "as")):
        return word[:-1]
    return word


def words(text: str) -> list[str]:
    """All words of a text, folded and stemmed, stop words included (phrases need them)."""
    return list(map(stem, _WORD.findall(fold(text))))


def raw_words(text: str) -> list[str]:
    """The words of a text, folded but not stemmed nor filtered: what `terms` starts from."""
    return _WORD.findall(fold(text))


def terms(text: str) -> list[str]:
    """The index terms of a text, in order: words without the stop words."""
    known = _TERMS
    if len(known) > _TERMS_KEPT:
        known.clear()
    found = []
    for word in _WORD.findall(fold(text)):
        term = known.get(word)
        if term is None:
            term = known[word] = "" if stem(word) in STOP_WORDS else stem(word)
        if term:
            found.append(term)
    return found


def terms_as_written(text: str) -> list[tuple[str, str]]:
    """(term, the word as written, lower-cased) for each index term of a text, in order."""
    found = []
    for written in re.findall(r"\w+", text.casefold()):
        for term in terms(written):
            found.append((term, written))
    return found


# word -> its term ("" for a stop word): tokenising is the hot loop of indexing.
_TERMS: dict[str, str] = {}
_TERMS_KEPT = 500_000


def phrase_key(text: str) -> str:
    """A keyword's key in the vocabulary: its terms joined by spaces (one term stays itself).

    Stop words are dropped on both sides (keyword and paper), so "question answering over
    tables" also matches "question answering on tables".
    """
    return " ".join(terms(text))
