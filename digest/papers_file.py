"""Papers JSONL files (plain or gzipped): one JSON object per line, read into `Paper`s.

A line needs `arxiv_id` (or `id`) and `title`; `abstract`, `categories` (a list, primary first),
`authors` (a string or a list), `created`/`published`, `upvotes` and `github_stars` are read
when present. The labelled data set in ../shared is read as it is. A bad line raises `RankError`
naming the file and the line.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import IO, Any

from digest.errors import RankError
from digest.models import Paper
from digest.sources.clean import (
    arxiv_key,
    as_int,
    one_line,
    parse_datetime,
    split_arxiv_id,
    split_authors,
    unwrap,
)
from digest.sources.tidy import tidy_paper


def read_papers(path: str | Path) -> list[Paper]:
    """Every paper of a JSONL file (`.gz` is unpacked), in file order."""
    return list(iter_papers(path))


def iter_papers(path: str | Path) -> Iterator[Paper]:
    file = Path(path)
    try:
        with _open(file) as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    yield _paper_from_line(line.strip())
                except json.JSONDecodeError as e:
                    raise RankError(f"{file}:{number}: not a JSON object ({e.msg})") from e
                except ValueError as e:
                    raise RankError(f"{file}:{number}: {e}") from e
    except OSError as e:
        raise RankError(f"cannot read the papers file {file} ({e.strerror or e})") from e


@lru_cache(maxsize=16384)
def _paper_from_line(line: str) -> Paper:
    """One line's paper (cached: thousands of readers' libraries hold the same liked papers,
    and tidying a paper costs more than reading it; a `Paper` is never changed)."""
    record = json.loads(line)
    if not isinstance(record, dict):
        raise ValueError("not a JSON object")
    return paper_from_record(record)


def _open(file: Path) -> IO[str]:
    with file.open("rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    if gzipped:
        return gzip.open(file, "rt", encoding="utf-8")
    return file.open(encoding="utf-8")


def paper_key(given: str) -> str:
    """The canonical id for an id as a file gives it: `1706.00679` and `arXiv:1706.00679v2`
    -> `arxiv:1706.00679`; any other id (`doi:…`, a URL) is kept as given."""
    given = given.strip()
    parsed = split_arxiv_id(given)
    bare = given.split(":", 1)[1] if given.lower().startswith("arxiv:") else given
    if parsed is not None and bare.lower().startswith(parsed[0].lower()):
        return arxiv_key(parsed[0])
    return given


def paper_from_record(record: dict[str, Any]) -> Paper:
    """One `Paper` from a JSON object; ValueError says which field is wrong."""
    ident = record.get("arxiv_id") or record.get("id")
    if not isinstance(ident, str) or not ident.strip():
        raise ValueError("no arxiv_id or id")
    title = record.get("title")
    if not isinstance(title, str) or not title.strip():
        raise ValueError(f"{ident}: no title")
    authors = record.get("authors")
    if not authors:
        names: tuple[str, ...] = ()
    elif isinstance(authors, str):
        names = split_authors(authors)
    elif isinstance(authors, list):
        names = tuple(one_line(str(a)) for a in authors if str(a).strip())
    else:
        raise ValueError(f"{ident}: authors must be a string or a list")
    categories = record.get("categories") or ()
    if isinstance(categories, str):
        categories = categories.split()
    published = record.get("published") or record.get("created")
    abstract = record.get("abstract") or record.get("summary") or ""
    return tidy_paper(
        Paper(
            id=paper_key(ident),
            title=one_line(title),
            abstract=unwrap(str(abstract)),
            authors=names,
            categories=tuple(dict.fromkeys(str(c).strip() for c in categories if str(c).strip())),
            published=parse_datetime(published) if isinstance(published, str) else None,
            upvotes=as_int(record.get("upvotes")),
            github_stars=as_int(record.get("github_stars") or record.get("githubStars")),
            doi=record.get("doi") if isinstance(record.get("doi"), str) else None,
            sources=("file",),
        )
    )
