"""Papers JSONL files: the labelled data set read as it is, plain files, and clear errors."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path

import pytest

from digest.errors import RankError
from digest.papers_file import iter_papers, paper_key, read_papers
from tests.conftest import LABELLED


def test_reads_the_gzipped_labelled_file_as_it_is(real: Path) -> None:
    first = list(islice(iter_papers(LABELLED), 2))
    assert first[0].id == "arxiv:1601.00074"
    assert first[0].arxiv_id == "1601.00074"
    assert first[0].title == "Self-deformation in a dc driven helium jet micro discharge"
    assert first[0].authors == ("Shaofeng Xu", "Xiaoxia Zhong")
    assert first[0].categories == ("physics.plasm-ph",)
    assert first[0].published == datetime(2016, 1, 1, tzinfo=UTC)
    assert first[1].categories == ("q-fin.EC", "q-fin.GN")  # primary first, as in the file
    assert first[0].abstract.startswith("We report on the experimental observation")


def test_reads_plain_jsonl_with_id_author_lists_and_upvotes(tmp_path: Path) -> None:
    lines = [
        {"id": "2310.19019v2", "title": "A", "abstract": "x", "authors": ["Ada L", "Bo M"]},
        {"arxiv_id": "astro-ph/0601001", "title": "B", "upvotes": 12, "published": "2024-05-01"},
        {"id": "doi:10.1101/2024.01.01.123", "title": "C", "categories": "q-bio.NC q-bio.QM"},
    ]
    path = tmp_path / "papers.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n\n", encoding="utf-8")
    a, b, c = read_papers(path)
    assert (a.id, a.authors, a.upvotes) == ("arxiv:2310.19019", ("Ada L", "Bo M"), None)
    assert (b.id, b.upvotes, b.published) == (
        "arxiv:astro-ph/0601001",
        12,
        datetime(2024, 5, 1, tzinfo=UTC),
    )
    assert (c.id, c.categories) == ("doi:10.1101/2024.01.01.123", ("q-bio.NC", "q-bio.QM"))


def test_gzip_is_recognised_by_its_content_not_its_name(tmp_path: Path) -> None:
    path = tmp_path / "papers.data"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write(json.dumps({"arxiv_id": "1706.00679", "title": "T"}) + "\n")
    assert [p.id for p in read_papers(path)] == ["arxiv:1706.00679"]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("not json", "papers.jsonl:2: not a JSON object"),
        ('{"title": "no id"}', "papers.jsonl:2: no arxiv_id or id"),
        ('{"id": "1706.00679"}', "papers.jsonl:2: 1706.00679: no title"),
        ('{"id": "1", "title": "t", "authors": 3}', "authors must be a string or a list"),
    ],
)
def test_a_bad_line_is_named_with_its_number(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "papers.jsonl"
    path.write_text('{"id": "1706.00679", "title": "ok"}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(RankError, match=message):
        read_papers(path)


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(RankError, match=r"cannot read the papers file .*nope\.jsonl"):
        read_papers(tmp_path / "nope.jsonl")


@pytest.mark.parametrize(
    ("given", "key"),
    [
        ("1706.00679", "arxiv:1706.00679"),
        ("1706.00679v3", "arxiv:1706.00679"),
        ("arXiv:1706.00679", "arxiv:1706.00679"),
        ("arxiv:hep-ph/0301050", "arxiv:hep-ph/0301050"),
        ("doi:10.1000/xyz", "doi:10.1000/xyz"),
        ("W12345", "W12345"),
    ],
)
def test_ids_become_canonical_keys(given: str, key: str) -> None:
    assert paper_key(given) == key
