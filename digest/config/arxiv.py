"""arXiv's category taxonomy, shipped with the package (arxiv_categories.txt), so that
`digest check` can tell a typo (`cs.Al`, `cs.XX`, `"cs ai"`) from a category and name the
nearest valid one. Fetching does not depend on it: a category arXiv adds later still fetches.
"""

from __future__ import annotations

import difflib
import re
from functools import cache
from importlib import resources

from digest.config.sources import ArxivRssSource, SourceConfig

TAXONOMY_URL = "https://arxiv.org/category_taxonomy"
_SEPARATORS = re.compile(r"[\s_/:]+")


@cache
def categories() -> dict[str, str]:
    """Every category id with its name: `{"cs.AI": "Artificial Intelligence", …}`."""
    text = resources.files("digest.config").joinpath("arxiv_categories.txt").read_text("utf-8")
    found = {}
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            ident, _, name = line.strip().partition(" ")
            found[ident] = name
    return found


@cache
def _archives() -> frozenset[str]:
    """Archive names (`cs`, `math`, `astro-ph`): rss.arxiv.org serves a whole archive too."""
    return frozenset(c.split(".")[0] for c in categories())


def is_category(text: str) -> bool:
    """True for a category or archive, or several joined with `+` (`cs.AI+cs.LG`)."""
    parts = text.split("+")
    return all(p in categories() or p in _archives() for p in parts)


def nearest(text: str) -> str:
    """The valid category closest to `text`: the same letters in another case or with another
    separator first (`cs ai`, `CS.LG`), then letters that look alike (`cs.Al`, a lower-case L),
    else the closest spelling (`cs.XX` -> some cs category)."""
    known = list(categories()) + sorted(_archives())
    lowered = {k.lower(): k for k in known}
    guess = _SEPARATORS.sub(".", text.strip()).lower()
    if guess in lowered:
        return lowered[guess]
    # Letters that look alike in many fonts: `cs.Al` (a lower-case L) means cs.AI.
    alike = guess.replace("l", "i").replace("0", "o").replace("1", "i")
    for key, value in lowered.items():
        if key.replace("l", "i").replace("0", "o").replace("1", "i") == alike:
            return value
    best = difflib.get_close_matches(guess, list(lowered), n=1, cutoff=0.0)
    return lowered[best[0]] if best else "cs.AI"


def category_named(text: str) -> str | None:
    """The category `text` names, as people write it: its id in any case (`cs.ro`), its name
    (`Robotics`), or both as the web form offers them (`Robotics (cs.RO)`); else None."""
    typed = " ".join(text.split())
    inside = re.search(r"\(([^()]+)\)$", typed)
    if inside and is_category(inside.group(1).strip()):
        return inside.group(1).strip()
    if is_category(typed):
        return typed
    lowered = {c.lower(): c for c in categories()}
    if typed.lower() in lowered:
        return lowered[typed.lower()]
    return _by_name().get(typed.lower())


@cache
def _by_name() -> dict[str, str]:
    """Names that belong to one category only, lower-cased: `"robotics"` -> `"cs.RO"`."""
    seen: dict[str, list[str]] = {}
    for ident, name in categories().items():
        seen.setdefault(name.lower(), []).append(ident)
    return {name: ids[0] for name, ids in seen.items() if len(ids) == 1}


def category_label(ident: str) -> str:
    """`"cs.RO"` -> `"Robotics (cs.RO)"`, as the web form shows categories."""
    name = categories().get(ident)
    return f"{name} ({ident})" if name else ident


def nearest_label(text: str) -> str:
    """The category closest to `text` by name or by id, labelled: `robotix` -> Robotics (cs.RO)."""
    typed = " ".join(text.split()).lower()
    names = {name.lower(): ident for ident, name in categories().items()}
    by_name = difflib.get_close_matches(typed, list(names), n=1, cutoff=0.6)
    if by_name and "." not in typed:
        return category_label(names[by_name[0]])
    return category_label(nearest(text))


def category_problems(sources: list[SourceConfig]) -> list[str]:
    """One line per arxiv_rss category arXiv does not have, naming the nearest that it does."""
    problems = []
    for number, source in enumerate(sources):
        if not isinstance(source, ArxivRssSource):
            continue
        for place, category in enumerate(source.categories):
            if is_category(category):
                continue
            fixed = "+".join(p if is_category(p) else nearest(p) for p in category.split("+"))
            problems.append(
                f"sources.{number}.categories.{place}: {category!r} is not an arXiv category "
                f"(did you mean {fixed}? see {TAXONOMY_URL})"
            )
    return problems
