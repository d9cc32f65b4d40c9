"""Warnings about a config that loads but will not do what its author meant: `digest check`
prints them after the problems. Only advice: the config stays valid and usable."""

from __future__ import annotations

from digest.config import Config
from digest.rank.text import phrase_key


def keyword_warnings(config: Config) -> list[str]:
    """Keywords (and excludes) made only of stop words: they match nothing. (A blank one is
    refused when the config loads.)"""
    found = []
    for s, person in enumerate(config.subscribers):
        for t, topic in enumerate(person.topics):
            where = f"subscribers.{s}.topics.{t}"
            for k, keyword in enumerate(topic.keywords):
                text = keyword if isinstance(keyword, str) else keyword.term
                found += _warning(f"{where}.keywords.{k}", text)
            for k, text in enumerate(topic.exclude):
                found += _warning(f"{where}.exclude.{k}", text)
    return found


def _warning(path: str, text: str) -> list[str]:
    if not phrase_key(text):
        return [
            f"{path}: {text!r} is made only of stop words and matches nothing "
            "(write the words that matter, e.g. a quoted phrase with a noun in it)"
        ]
    return []
