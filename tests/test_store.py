"""The store: migrations, one row per paper, merging sightings from several sources, and a
second identical fetch changing nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import inspect

from digest.models import Paper, merge_papers
from digest.sources.arxiv import parse_api, parse_listing
from digest.sources.hf import parse_daily
from digest.store import open_store, utcnow
from digest.store.schema import MIGRATIONS

T0 = datetime(2026, 8, 18, 6, 0, tzinfo=UTC)


def test_a_new_store_is_migrated_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sub' / 'digest.sqlite3'}"
    store = open_store(url)
    assert {"papers", "source_state", "http_cache", "schema_migrations"} <= set(
        inspect(store.engine).get_table_names()
    )
    version = store.schema_version()
    assert version >= 1
    assert open_store(url).migrate() == []  # nothing left to apply


def test_saving_the_same_papers_twice_changes_nothing(tmp_path: Path, real: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'd.sqlite3'}")
    papers, _ = parse_api((real / "arxiv_api/query_all-testing_start0_max100.xml").read_bytes())
    assert store.save_papers(papers, now=T0).new == 100
    again = store.save_papers(papers, now=T0 + timedelta(hours=5))
    assert (again.new, again.updated) == (0, 0)
    assert store.count_papers() == 100
    stored = store.get_papers(["arxiv:2202.12139"])["arxiv:2202.12139"]
    assert stored == papers[0].__class__(**{**papers[0].__dict__, "first_seen": T0})


def test_hf_upvotes_land_on_the_arxiv_record_and_first_seen_is_kept(
    tmp_path: Path, real: Path
) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'd.sqlite3'}")
    listing = parse_listing(
        (real / "arxiv_rss/rss.arxiv.org_atom_cs.AI_2025-08-20_86entries.xml").read_bytes()
    )
    store.save_papers(listing, now=T0)
    paper = listing[0]
    hf = Paper(
        id=paper.id,
        title="Chain-of-Agents (HF title)",
        upvotes=12,
        comments=2,
        code_url="https://github.com/x/y",
        hf_url="https://huggingface.co/papers/2508.13167",
        sources=("hf",),
    )
    result = store.save_papers([hf], now=T0 + timedelta(days=1))
    assert (result.new, result.updated) == (0, 1)
    merged = store.get_papers([paper.id])[paper.id]
    assert merged.upvotes == 12 and merged.code_url == "https://github.com/x/y"
    assert merged.title == paper.title  # the arXiv text stays
    assert merged.categories == paper.categories
    assert merged.first_seen == T0
    assert merged.sources == ("arxiv_rss", "hf")
    # Tomorrow's upvotes replace today's.
    store.save_papers(
        [Paper(id=paper.id, title="x", upvotes=40, sources=("hf",))], now=T0 + timedelta(days=2)
    )
    assert store.get_papers([paper.id])[paper.id].upvotes == 40


def test_latest_version_wins_and_a_replacement_is_not_new_again(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'd.sqlite3'}")
    v1 = Paper(
        id="arxiv:2604.00001",
        version=1,
        title="Old title",
        abstract="old",
        announce_type="new",
        announced=date(2026, 4, 1),
        sources=("arxiv",),
    )
    store.save_papers([v1], now=T0)
    v2 = Paper(
        id="arxiv:2604.00001",
        version=2,
        title="New title",
        abstract="new",
        announce_type="replace",
        announced=date(2026, 4, 27),
        sources=("arxiv",),
    )
    store.save_papers([v2], now=T0 + timedelta(days=26))
    stored = store.get_papers([v1.id])[v1.id]
    assert (stored.version, stored.title, stored.abstract) == (2, "New title", "new")
    assert stored.announce_type == "new" and stored.announced == date(2026, 4, 1)
    assert stored.first_seen == T0
    # Seen again as a replacement, it is not among the papers first seen today.
    assert store.papers_first_seen(T0 + timedelta(days=25)) == []
    # An old paper we only ever saw replaced is not a digest candidate either.
    old = Paper(
        id="arxiv:1901.00001", version=3, title="t", announce_type="replace", sources=("arxiv",)
    )
    store.save_papers([old], now=T0 + timedelta(days=26))
    assert store.papers_first_seen(T0 + timedelta(days=25)) == []
    assert [
        p.id for p in store.papers_first_seen(T0 + timedelta(days=25), include_replacements=True)
    ] == [old.id]


def test_one_batch_with_the_same_paper_twice_is_one_row(tmp_path: Path, real: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'd.sqlite3'}")
    ai = parse_listing(
        (real / "arxiv_rss/rss.arxiv.org_rss_cs.AI_2026-04-27_excerpt.xml").read_bytes()
    )
    lg = parse_listing(
        (real / "arxiv_rss/rss.arxiv.org_rss_cs.LG_2026-04-27_excerpt.xml").read_bytes()
    )
    shared = {p.id for p in ai} & {p.id for p in lg}
    result = store.save_papers([*ai, *lg], now=T0)
    assert result.new == len({p.id for p in [*ai, *lg]})
    assert store.count_papers() == len(ai) + len(lg) - len(shared)


def test_merge_is_symmetric_in_what_it_keeps(real: Path) -> None:
    hf = parse_daily((real / "hf_daily_papers/daily_papers_2026-08-18.json").read_bytes())[0]
    arxiv = Paper(
        id=hf.id,
        version=1,
        title=hf.title,
        abstract=hf.abstract,
        categories=("cs.CV",),
        sources=("arxiv",),
    )
    one, other = merge_papers(arxiv, hf), merge_papers(hf, arxiv)
    for merged in (one, other):
        assert merged.upvotes == 39 and merged.categories == ("cs.CV",) and merged.version == 1


def test_the_api_recording_and_the_labelled_file_share_two_papers(
    tmp_path: Path, real: Path
) -> None:
    from digest.papers_file import read_papers
    from tests.conftest import LABELLED

    store = open_store(f"sqlite:///{tmp_path / 'd.sqlite3'}")
    api, _ = parse_api((real / "arxiv_api/query_all-testing_start0_max100.xml").read_bytes())
    labelled = read_papers(LABELLED)
    shared = {"arxiv:1706.00679", "arxiv:1601.06222"}
    assert shared <= {p.id for p in api} and shared <= {p.id for p in labelled}
    store.save_papers(api, now=T0)
    result = store.save_papers([p for p in labelled if p.id in shared], now=T0 + timedelta(days=1))
    assert result.new == 0
    merged = store.get_papers(shared)
    assert len(merged) == 2 and store.count_papers() == 100
    for paper in merged.values():
        assert paper.first_seen == T0
        assert paper.categories  # the API's categories, primary first


def test_a_full_disk_is_one_short_line_without_sql(tmp_path: Path) -> None:
    import pytest
    from sqlalchemy import event

    from digest.errors import StoreError

    store = open_store(f"sqlite:///{tmp_path / 'full.sqlite3'}")
    store.engine.dispose()

    def tiny_disk(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_connection.execute("PRAGMA max_page_count = 40")

    event.listen(store.engine, "connect", tiny_disk)
    papers = [Paper(id=f"arxiv:2604.{n:05d}", title="t", abstract="x" * 4000) for n in range(300)]
    with pytest.raises(StoreError) as raised:
        store.save_papers(papers)
    message = str(raised.value)
    assert message == "cannot save 300 papers: database or disk is full", message
    # --debug shows the cause's traceback: the statement, but never its parameters.
    assert "xxxx" not in str(raised.value.__cause__)
    store.close()


def test_m007_adds_the_link_generation_to_a_store_made_before_it(tmp_path: Path) -> None:
    import sqlite3

    from digest.store.subscribers import ACTIVE, StoredSubscriber, SubscriberStore

    file = tmp_path / "old.sqlite3"
    with open_store(f"sqlite:///{file}") as store:
        SubscriberStore(store).put(
            StoredSubscriber("cy@example.org", "Cy", ACTIVE, "cli"), utcnow()
        )
    with sqlite3.connect(file) as conn:  # the store as m001..m006 left it
        conn.execute("ALTER TABLE subscribers DROP COLUMN link_generation")
        conn.execute("DELETE FROM schema_migrations WHERE version = 7")
    with open_store(f"sqlite:///{file}") as store:
        assert store.schema_version() == len(MIGRATIONS)
        row = SubscriberStore(store).get("cy@example.org")
        assert row is not None and row.link_generation == 0


def record_a_copy_twice(url: str) -> None:
    """A retried send composes again: its web copy replaces the first, one row per (email,
    day), and another day's copy is left alone."""
    from sqlalchemy import select

    from digest.store.copies import CopyStore
    from digest.store.schema import digest_copies

    store = open_store(url)
    try:
        copies = CopyStore(store)
        day = date(2026, 8, 18)
        copies.record("ada@example.org", day - timedelta(days=1), "Ada", "older", {"v": 0}, T0)
        copies.record("ada@example.org", day, "Ada", "first", {"v": 1}, T0)
        copies.record("ada@example.org", day, "Ada L.", "second", {"v": 2}, T0 + timedelta(1))
        with store.engine.connect() as conn:
            rows = conn.execute(
                select(digest_copies.c.day, digest_copies.c.subscriber, digest_copies.c.subject)
                .where(digest_copies.c.email == "ada@example.org")
                .order_by(digest_copies.c.day)
            ).all()
            content = conn.execute(
                select(digest_copies.c.content).where(digest_copies.c.day == day)
            ).scalar_one()
        assert [tuple(r) for r in rows] == [
            (day - timedelta(days=1), "Ada", "older"),
            (day, "Ada L.", "second"),
        ]
        assert content == {"v": 2}
    finally:
        store.close()


def test_a_web_copy_recorded_again_replaces_the_first(tmp_path: Path) -> None:
    record_a_copy_twice(f"sqlite:///{tmp_path / 'store.db'}")
