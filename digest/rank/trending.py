"""Trending signal: Hugging Face upvotes and GitHub stars, squashed into 0..1.

The scale is logarithmic, so 100 upvotes (or 1,000 stars) already count fully: the signal
nudges relevant papers up, it does not make an irrelevant paper relevant.
"""

from __future__ import annotations

import math

from digest.models import Paper

FULL_UPVOTES = 100
FULL_STARS = 1000
STARS_SHARE = 0.7  # a star is cheaper than an upvote on the day's list


def trending_strength(paper: Paper) -> float:
    up = math.log1p(max(paper.upvotes or 0, 0)) / math.log1p(FULL_UPVOTES)
    stars = math.log1p(max(paper.github_stars or 0, 0)) / math.log1p(FULL_STARS)
    return min(1.0, max(up, STARS_SHARE * stars))


def trending_text(paper: Paper) -> str | None:
    """ "123 upvotes on Hugging Face, 4,567 GitHub stars", or None when neither is known."""
    parts = []
    if paper.upvotes:
        parts.append(f"{paper.upvotes:,} upvote{'s' if paper.upvotes != 1 else ''} on Hugging Face")
    if paper.github_stars:
        parts.append(f"{paper.github_stars:,} GitHub star{'s' if paper.github_stars != 1 else ''}")
    return ", ".join(parts) or None
