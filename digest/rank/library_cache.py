"""Libraries read once, not every day: each `library:` file's papers, as read, kept as JSON in
the data folder (`cache/libraries/`) beside the file's size and modification time.

A daily send reads every subscriber's library, and tidying each liked paper (mojibake repaired,
dashes and section heads written out) costs far more than reading it back: in a run of 10,000
readers with 4,555 libraries of ~7 papers, reading them took ~4.5 s in each sender process. A
library whose size or modification time changed, a copy that cannot be read or was written by
another version, and a folder that cannot be written all fall back to reading the file itself;
the cache never changes what a library holds.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import tempfile
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from digest.models import Paper
from digest.rank.library import read_library

log = logging.getLogger(__name__)
VERSION = 1  # bump when `Paper` or the reading of a library changes what a paper holds
_DATETIMES = frozenset({"published", "updated", "first_seen"})
_DATES = frozenset({"announced"})
_TUPLES = frozenset({"authors", "categories", "ai_keywords", "sources"})
_DEFAULTS = {
    f.name: f.default for f in dataclasses.fields(Paper) if f.default is not dataclasses.MISSING
}


class LibraryCache:
    """`read(path)`: a library's papers, from the kept copy when the file has not changed."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def read(self, path: str | Path) -> list[Paper]:
        file = Path(path)
        try:
            stat = file.stat()
        except OSError:
            return read_library(file)  # says what is wrong with the file
        # abspath, not resolve(): a link's target changing shows in the stat anyway, and
        # resolving thousands of paths took longer than reading their kept copies.
        where = os.path.abspath(file)
        stamp = {"path": where, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
        kept = self._kept(stamp)
        if kept is not None:
            return kept
        papers = read_library(file)
        self._keep(stamp, papers)
        return papers

    def _where(self, stamp: dict[str, Any]) -> Path:
        name = hashlib.sha256(stamp["path"].encode("utf-8")).hexdigest()[:32]
        return self.folder / f"{name}.json"

    def _kept(self, stamp: dict[str, Any]) -> list[Paper] | None:
        try:
            with self._where(stamp).open(encoding="utf-8") as f:
                data = json.load(f)
            if data.get("version") != VERSION or data.get("file") != stamp:
                return None
            return [_paper_from_kept(line) for line in data["papers"]]
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as e:
            log.debug("the kept copy of %s is not usable (%s); reading the file", stamp["path"], e)
            return None

    def _keep(self, stamp: dict[str, Any], papers: list[Paper]) -> None:
        lines = [json.dumps(paper_to_json(p), ensure_ascii=False) for p in papers]
        data = {"version": VERSION, "file": stamp, "papers": lines}
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
            try:
                with os.fdopen(handle, "w", encoding="utf-8") as f:
                    json.dump(data, f, ensure_ascii=False, separators=(",", ":"))
                os.replace(temporary, self._where(stamp))  # readers see the old or the new
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
        except OSError as e:  # a read-only data folder: read the file each time, as before
            log.debug("cannot keep a copy of %s in %s (%s)", stamp["path"], self.folder, e)


def paper_to_json(paper: Paper) -> dict[str, Any]:
    """The fields that differ from a new `Paper`'s, as JSON values."""
    out: dict[str, Any] = {}
    for field in dataclasses.fields(paper):
        value = getattr(paper, field.name)
        if field.name in _DEFAULTS and value == _DEFAULTS[field.name]:
            continue
        if isinstance(value, datetime | date):
            value = value.isoformat()
        elif isinstance(value, tuple):
            value = list(value)
        out[field.name] = value
    return out


@lru_cache(maxsize=16384)
def _paper_from_kept(line: str) -> Paper:
    """One kept paper (cached: many readers' libraries hold the same liked papers, and one
    `Paper` serves them all; a `Paper` is never changed)."""
    return paper_from_json(json.loads(line))


def paper_from_json(data: dict[str, Any]) -> Paper:
    """A `Paper` from `paper_to_json`'s values (TypeError: a field this version has not got)."""
    fields = dict(data)
    for name, value in data.items():
        if name in _DATETIMES:
            fields[name] = datetime.fromisoformat(value)
        elif name in _DATES:
            fields[name] = date.fromisoformat(value)
        elif name in _TUPLES:
            fields[name] = tuple(value)
    return Paper(**fields)
