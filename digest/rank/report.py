"""A ranking as `digest rank` prints it: plain lines for people, or JSON for programs.

JSON is a list of `{"id", "score", "reasons", "in_digest"}`, best first: `id` is the bare arXiv
id (`1706.00679`) or, for a paper without one, its canonical id; `reasons` are the reasons'
texts; `in_digest` says whether the paper made the digest's cut. The text form draws a line
where the digest ends.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from digest.models import RankedPaper


def display_id(ranked: RankedPaper) -> str:
    return ranked.paper.arxiv_id or ranked.paper.id


def ranking_json(ranked: Sequence[RankedPaper], in_digest: int = 0) -> str:
    """`in_digest`: how many of the first papers make the digest."""
    return json.dumps(
        [
            {
                "id": display_id(r),
                "score": round(r.score, 4),
                "reasons": [reason.text for reason in r.reasons],
                "in_digest": i < in_digest,
            }
            for i, r in enumerate(ranked)
        ],
        indent=2,
        ensure_ascii=False,
    )


def ranking_text(ranked: Sequence[RankedPaper], in_digest: int | None = None) -> str:
    """`in_digest`: how many of the first papers make the digest (a line marks the cut)."""
    if not ranked:
        return "no paper matches this subscriber's topics"
    width = len(str(len(ranked)))
    lines = []
    for number, r in enumerate(ranked, start=1):
        if in_digest is not None and number == in_digest + 1:
            lines.append(f"{'-' * (width + 1)} the digest ends here ({in_digest} papers) ---")
        lines.append(
            f"{number:>{width}}. {r.score:.3f}  {display_id(r)}  {r.paper.title}  [{r.topic}]"
        )
        if r.reasons:
            lines.append(" " * (width + 2) + "; ".join(reason.text for reason in r.reasons))
    return "\n".join(lines)
