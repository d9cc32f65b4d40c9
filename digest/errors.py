"""The one exception hierarchy of paper digest.

Every error a user can cause or fix is a `DigestError`; its message says what happened and how to
fix it, in one line. The CLI prints that line and exits non-zero (`--debug` adds the traceback).

    DigestError
    ├── ConfigError      config.yaml is missing, unreadable or invalid
    ├── SourceError      a feed or API could not be fetched or parsed
    ├── StoreError       the database could not be opened or migrated
    │   └── StoreDamaged  the SQLite file is corrupted: stops the whole run
    ├── RankError        a profile cannot be ranked (unknown liked paper, unreadable library)
    ├── RenderError      a digest could not be rendered
    └── MailError        a message could not be built or delivered
"""

from __future__ import annotations


class DigestError(Exception):
    """Base class: a problem the user can understand and fix, described in one line."""


class ConfigError(DigestError):
    """config.yaml is missing, unreadable or invalid; `problems` lists every invalid field."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


class SourceError(DigestError):
    """A source could not be fetched or its response could not be understood."""


class StoreError(DigestError):
    """The store could not be opened, migrated, read or written."""


class StoreDamaged(StoreError):
    """The SQLite file is damaged. Unlike other errors it is not one source's or one
    subscriber's problem, so handlers that go on past those let it through."""


class RankError(DigestError):
    """A subscriber's profile cannot be ranked as configured."""


class RenderError(DigestError):
    """A digest could not be rendered."""


class MailError(DigestError):
    """A message could not be built or delivered."""
