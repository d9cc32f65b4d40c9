"""Category signal: a paper listed in one of a topic's categories.

The primary category counts fully, a cross-list a little less. A topic category ending in
`.*` (`cs.*`) stands for the whole archive.
"""

from __future__ import annotations

from collections.abc import Sequence

PRIMARY = 1.0
CROSS_LIST = 0.7


def category_match(wanted: Sequence[str], categories: Sequence[str]) -> tuple[float, str | None]:
    """(strength, the category that matched) for a paper's categories, primary first."""
    best: tuple[float, str | None] = (0.0, None)
    for position, category in enumerate(categories):
        if any(_covers(w, category) for w in wanted):
            strength = PRIMARY if position == 0 else CROSS_LIST
            if strength > best[0]:
                best = (strength, category)
    return best


def _covers(wanted: str, category: str) -> bool:
    wanted = wanted.strip()
    if wanted.endswith(".*"):
        return category.lower().startswith(wanted[:-1].lower())
    return wanted.lower() == category.lower()
