"""Libraries kept between runs: the same papers as reading the file, read again only when the
file changed, and a damaged copy or a read-only folder changes nothing."""

from __future__ import annotations

import dataclasses
import gzip
import json
import os
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from digest.cli import cli
from digest.models import Paper
from digest.rank.library import read_library
from digest.rank.library_cache import LibraryCache, paper_from_json, paper_to_json
from tests.conftest import LABELLED

BIBTEX = r"""@article{rag, title = {Retrieval-Augmented Generation for Knowledge-Intensive NLP Tasks},
  author = {Lewis, Patrick and Ram{\'\i}rez, Jos{\'e}}, eprint = {2005.11401},
  abstract = {Dense passage retrieval helps question answering.}}
"""


def labelled_library(path: Path, lines: int) -> Path:
    """The first `lines` papers of the labelled file (real abstracts with LaTeX, accents and
    mojibake), as a `library:` JSONL file."""
    with gzip.open(LABELLED, "rt", encoding="utf-8") as source:
        path.write_text("".join(next(source) for _ in range(lines)), encoding="utf-8")
    return path


def kept_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.json"))


def test_a_kept_library_is_the_same_papers_as_the_file_and_is_not_read_again(
    tmp_path: Path,
) -> None:
    library = labelled_library(tmp_path / "liked.jsonl", 300)
    bib = tmp_path / "zotero.bib"
    bib.write_text(BIBTEX, encoding="utf-8")
    folder = tmp_path / "data" / "cache" / "libraries"
    for path in (library, bib):
        first = LibraryCache(folder).read(path)
        assert first == read_library(path)
    assert len(kept_files(folder)) == 2
    # A second run takes the kept copy: make the copy say something else, and it is what we get.
    kept = next(f for f in kept_files(folder) if "zotero" in f.read_text(encoding="utf-8"))
    data = json.loads(kept.read_text(encoding="utf-8"))
    data["papers"] = [json.dumps({"id": "arxiv:0000.00001", "title": "From the kept copy"})]
    kept.write_text(json.dumps(data), encoding="utf-8")
    assert [p.title for p in LibraryCache(folder).read(bib)] == ["From the kept copy"]
    # The file changes (one paper more): it is read again, and kept anew.
    bib.write_text(BIBTEX + "@misc{more, title = {One more liked paper}}\n", encoding="utf-8")
    again = LibraryCache(folder).read(bib)
    assert [p.title for p in again][-1] == "One more liked paper"
    assert again == read_library(bib)
    assert LibraryCache(folder).read(bib) == again


def test_a_damaged_or_foreign_copy_and_a_read_only_folder_fall_back_to_the_file(
    tmp_path: Path,
) -> None:
    library = labelled_library(tmp_path / "liked.jsonl", 20)
    expected = read_library(library)
    folder = tmp_path / "kept"
    LibraryCache(folder).read(library)
    (kept,) = kept_files(folder)
    for damage in ("{not json", json.dumps({"version": 999}), json.dumps([1, 2])):
        kept.write_text(damage, encoding="utf-8")
        assert LibraryCache(folder).read(library) == expected
    good = json.loads(kept.read_text(encoding="utf-8"))
    good["papers"][0] = json.dumps({"id": "x", "title": "t", "a_field_no_paper_has": 1})
    kept.write_text(json.dumps(good), encoding="utf-8")
    assert LibraryCache(folder).read(library) == expected
    if os.geteuid() != 0:  # root writes anywhere; the other case is a parent that is a file
        readonly = tmp_path / "readonly"
        readonly.mkdir(mode=0o500)
        assert LibraryCache(readonly / "libraries").read(library) == expected
    blocked = tmp_path / "a-file"
    blocked.write_text("", encoding="utf-8")
    assert LibraryCache(blocked / "libraries").read(library) == expected
    assert not list(tmp_path.glob("**/*.tmp"))
    with pytest.raises(Exception, match="missing.jsonl"):
        LibraryCache(folder).read(tmp_path / "missing.jsonl")


def test_every_field_of_a_paper_survives_being_kept() -> None:
    """A field added to `Paper` later must be kept too (or this test says which is lost)."""
    values: dict[str, object] = {}
    for field in dataclasses.fields(Paper):
        kind = str(field.type)
        if "datetime" in kind:
            values[field.name] = datetime(2026, 12, 2, 6, 30, 15, tzinfo=UTC)
        elif "date" in kind:
            values[field.name] = date(2026, 12, 1)
        elif "tuple" in kind:
            values[field.name] = ("a é", "b")
        elif "int" in kind:
            values[field.name] = 7
        else:
            values[field.name] = f"{field.name} “value”"
    paper = Paper(**values)  # type: ignore[arg-type]
    assert paper_from_json(json.loads(json.dumps(paper_to_json(paper)))) == paper
    assert paper_from_json(paper_to_json(Paper(id="x", title="t"))) == Paper(id="x", title="t")


def test_a_preview_reads_the_library_through_the_kept_copy(write_config, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """End to end: `digest preview` keeps the library in data/cache/libraries, and the next
    preview ranks with the kept papers (shown by a kept copy that says something else)."""
    with gzip.open(LABELLED, "rt", encoding="utf-8") as source:
        lines = [next(source) for _ in range(400)]
    day = tmp_path / "day.jsonl"
    day.write_text("".join(lines[:300]), encoding="utf-8")
    library = tmp_path / "liked.jsonl"
    library.write_text("".join(lines[300:]), encoding="utf-8")
    config = write_config(
        "data_dir: ./data\nbase_url: https://digest.example.org\nsources: []\n"
        "subscribers:\n  - name: ada\n    email: ada@example.org\n    topics:\n"
        f"      - name: Liked\n        library: {library}\n"
    )

    def preview(name: str) -> str:
        out = tmp_path / f"{name}.html"
        args = ["--config", str(config), "preview", "--papers", str(day), "--out", str(out)]
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output
        return out.with_suffix(".txt").read_text(encoding="utf-8")

    first = preview("first")
    (kept,) = kept_files(tmp_path / "data" / "cache" / "libraries")
    assert preview("second") == first
    data = json.loads(kept.read_text(encoding="utf-8"))
    marked = json.loads(lines[0])  # the day's first paper, liked under another title
    marked |= {"arxiv_id": "9912.00001", "title": "Kept Copy Marker"}
    data["papers"] = [json.dumps(paper_to_json(read_line(json.dumps(marked))))]
    kept.write_text(json.dumps(data), encoding="utf-8")
    assert "Kept Copy Marker" not in first
    assert "Kept Copy Marker" in preview("third")


def read_line(line: str) -> Paper:
    from digest.papers_file import paper_from_record

    return paper_from_record(json.loads(line))
