"""`digest send` with the ranking and the rendering taken out: every reader gets the first
reader's digest, ranked and rendered once. What is left is what every email costs whatever
it holds: start-up, reading the subscribers, the ledger (plan, claims, marks), the links in
the headers, the MIME message, the SMTP conversation and the web copy written with each
"sent". `benchmarks/daily_run.py --floor` runs it beside the real command, as the floor under
the CPU per email that no ranking or rendering work can go below.

Run: `python benchmarks/send_floor.py --config CONFIG send [--workers N]` (the `digest`
command's arguments).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import digest.pipeline as pipeline
from digest.cli import main

_real_build, _real_render = pipeline.build_digest, pipeline.render_digest
_first: dict[str, Any] = {}


def build_digest(*args: Any, **kwargs: Any) -> Any:
    """The first reader's digest, addressed to this reader."""
    if "digest" not in _first:
        _first["digest"] = _real_build(*args, **kwargs)
    return dataclasses.replace(_first["digest"], subscriber=args[2])


def render_digest(digest: Any, **kwargs: Any) -> Any:
    """The first digest's rendering, for everyone."""
    if "rendered" not in _first:
        _first["rendered"] = _real_render(digest, **kwargs)
    return _first["rendered"]


if __name__ == "__main__":
    pipeline.build_digest, pipeline.render_digest = build_digest, render_digest  # type: ignore[assignment]
    main()
