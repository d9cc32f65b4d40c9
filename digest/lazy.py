"""Names imported when first used, so a command pays only for the modules it runs.

`lazy("digest.pipeline", "send_digests")` is a callable that imports `digest.pipeline` on its
first call and then calls (or constructs) the real thing; `LazyModule("digest.subscribe")`
imports the module on first attribute access. For the CLI's start-up time; type checkers see
the real imports (under TYPE_CHECKING).
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class LazyModule:
    """A module imported on first attribute access."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attribute: str) -> Any:
        if self._module is None:
            self._module = importlib.import_module(self._name)
        return getattr(self._module, attribute)


def lazy(module: str, name: str) -> Any:
    """A stand-in for `from module import name` that imports on first call."""
    found: list[Any] = []

    def call(*args: Any, **kwargs: Any) -> Any:
        if not found:
            found.append(getattr(importlib.import_module(module), name))
        return found[0](*args, **kwargs)

    call.__name__ = name
    return call
