"""The store: papers, fetch state and (later) subscribers and deliveries, in SQLite or PostgreSQL.

`open_store(url)` connects and applies any pending migration. `Store.save_papers` merges new
sightings into what is stored (one row per canonical id, first-seen kept) and writes only rows that
actually changed, so fetching the same day twice changes nothing.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Engine,
    bindparam,
    create_engine,
    delete,
    event,
    func,
    insert,
    inspect,
    select,
    update,
)
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.exc import SQLAlchemyError

from digest.errors import StoreDamaged, StoreError
from digest.models import REPLACEMENTS, Paper, merge_papers
from digest.sources.tidy import tidy_paper
from digest.store import schema
from digest.store.clock import from_db, to_db, utcnow

__all__ = ["SaveResult", "Store", "open_store", "utcnow"]
from digest.store.schema import http_cache, papers, source_state

if TYPE_CHECKING:
    from digest.sources.http import Validators

_PAPER_FIELDS = [f.name for f in fields(Paper)]
_TUPLES = {"authors", "categories", "ai_keywords", "sources"}
_CHUNK = 500


@dataclass(frozen=True)
class SaveResult:
    new: int
    updated: int


def open_store(url: str, *, create: bool = True) -> Store:
    """Connect to the store at `url`, creating and migrating it as needed. A new SQLite file is
    created 0600 in a folder created 0700: it holds subscribers' addresses. With
    `create=False` (a dry run) nothing is created or migrated: a missing or outdated store is
    a StoreError saying what to run first."""
    try:
        parsed = make_url(url)
        file = None
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            file = Path(parsed.database)
            if not create and not file.exists():
                raise StoreError(
                    f"there is no store at {file} yet: run `digest fetch` first (this command "
                    "creates nothing)"
                )
            _create_private(file)
        # Parameters (whole abstracts, emails) never appear in error messages, even with --debug.
        engine = create_engine(url, hide_parameters=True)
    except (SQLAlchemyError, OSError, ValueError) as e:
        raise StoreError(f"cannot open the store {_safe(url)}: {e}") from e
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "handle_error", _damaged_sqlite)
    store = Store(engine)
    if create:
        store.migrate()
    elif store.pending_migrations():
        store.close()
        raise StoreError(
            f"the store {_safe(url)} is from an older version: run `digest fetch` (or a real "
            "send) once to update it; this command changes nothing"
        )
    return store


def _create_private(file: Path) -> None:
    """The folder (0700) and an empty SQLite file (0600) unless they exist; SQLite gives its
    -wal and -shm files the database file's mode."""
    if not file.parent.exists():
        file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers don't block the fetcher
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _short(error: SQLAlchemyError) -> str:
    """The driver's message alone ("database or disk is full"), without SQL or parameters."""
    cause = getattr(error, "orig", None) or error
    text = (str(cause).splitlines() or [type(cause).__name__])[0]
    return text.split(" [SQL:")[0][:200]


_DAMAGED = {"SQLITE_CORRUPT", "SQLITE_NOTADB"}


def _damaged_sqlite(context: ExceptionContext) -> None:
    """A damaged SQLite file is one clear line naming it and how to restore it, wherever the
    query was (a per-source or per-subscriber handler must not turn it into N vague lines)."""
    error = context.original_exception
    name = getattr(error, "sqlite_errorname", "")
    if isinstance(error, sqlite3.DatabaseError) and any(
        name == d or name.startswith(f"{d}_") for d in _DAMAGED
    ):
        engine = context.engine
        file = engine.url.database if engine is not None else None
        raise StoreDamaged(damaged_message(file or "the store", str(error))) from error


def damaged_message(file: str, detail: str) -> str:
    return (
        f"the store {file} is damaged ({detail}): stop the daemon and restore it from a "
        f"backup, or salvage it with `sqlite3 {file} .recover | sqlite3 recovered.sqlite3` and "
        "put that in its place (papers come back with `digest fetch`; the delivery record and "
        "web sign-ups only from a backup)"
    )


def _safe(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(unparseable url)"


class Store:
    """All reads and writes of the database go through here."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ migrations

    def migrate(self) -> list[str]:
        """Apply pending migrations in order; return the names applied."""
        applied: list[str] = []
        try:
            with self.engine.begin() as conn:
                schema.schema_migrations.create(conn, checkfirst=True)
                done = set(conn.scalars(select(schema.schema_migrations.c.version)))
                for number, migration in enumerate(schema.MIGRATIONS, start=1):
                    if number in done:
                        continue
                    migration(conn)
                    conn.execute(
                        insert(schema.schema_migrations).values(
                            version=number, name=migration.__name__, applied_at=to_db(utcnow())
                        )
                    )
                    applied.append(migration.__name__)
        except SQLAlchemyError as e:
            raise StoreError(f"cannot migrate the store {_safe(str(self.engine.url))}: {e}") from e
        return applied

    def integrity_problems(self) -> list[str]:
        """`PRAGMA integrity_check` on SQLite, as problem lines (none when it says ok); a
        server database checks itself, so nothing there."""
        if self.engine.dialect.name != "sqlite":
            return []
        try:
            with self.engine.connect() as conn:
                rows = [str(r[0]) for r in conn.exec_driver_sql("PRAGMA integrity_check(5)")]
        except StoreError as e:
            return [f"store: {e}"]
        if rows == ["ok"]:
            return []
        file = self.engine.url.database or "the store"
        lines = [line.strip("* ") for row in rows for line in row.splitlines()]
        return [f"store: {damaged_message(file, '; '.join(line for line in lines[:4] if line))}"]

    def pending_migrations(self) -> list[str]:
        """The names of the migrations not applied yet (all of them on an empty database)."""
        with self.engine.connect() as conn:
            if not inspect(conn).has_table(schema.schema_migrations.name):
                done: set[int] = set()
            else:
                done = set(conn.scalars(select(schema.schema_migrations.c.version)))
        return [m.__name__ for n, m in enumerate(schema.MIGRATIONS, start=1) if n not in done]

    def schema_version(self) -> int:
        with self.engine.connect() as conn:
            versions = list(conn.scalars(select(schema.schema_migrations.c.version)))
        return max(versions, default=0)

    # ------------------------------------------------------------ papers

    def save_papers(
        self,
        incoming: Iterable[Paper],
        now: datetime | None = None,
        validators: Mapping[str, Validators] | None = None,
    ) -> SaveResult:
        """Merge papers into the store; with them, in one transaction, the HTTP validators that
        let the next fetch skip what it has already stored."""
        now = now or utcnow()
        batch: dict[str, Paper] = {}
        for paper in map(tidy_paper, incoming):  # LaTeX names, dashes, ...: clean once, here
            batch[paper.id] = merge_papers(batch[paper.id], paper) if paper.id in batch else paper
        try:
            return self._save_papers(batch, now, validators or {})
        except SQLAlchemyError as e:
            # One line: the database's own complaint, never the statement or its parameters
            # (which hold whole abstracts).
            raise StoreError(f"cannot save {len(batch)} papers: {_short(e)}") from e

    def _save_papers(
        self, batch: dict[str, Paper], now: datetime, validators: Mapping[str, Validators]
    ) -> SaveResult:
        new = changed = 0
        with self.engine.begin() as conn:
            ids = list(batch)
            for start in range(0, len(ids), _CHUNK):
                chunk = ids[start : start + _CHUNK]
                rows = conn.execute(select(papers).where(papers.c.id.in_(chunk))).mappings()
                stored = {row["id"]: _to_paper(row) for row in rows}
                inserts, updates = [], []
                for pid in chunk:
                    paper = batch[pid]
                    if pid not in stored:
                        inserts.append(_to_row(paper, first_seen=now, changed_at=now))
                        continue
                    merged = merge_papers(stored[pid], paper)
                    if merged != stored[pid]:
                        row = _to_row(merged, first_seen=stored[pid].first_seen, changed_at=now)
                        updates.append({"key": pid, **row})
                if inserts:
                    conn.execute(insert(papers), inserts)
                if updates:
                    conn.execute(
                        update(papers).where(papers.c.id == bindparam("key")),
                        updates,
                    )
                new += len(inserts)
                changed += len(updates)
            for url, seen in validators.items():
                self._save_validators(conn, url, seen)
        return SaveResult(new=new, updated=changed)

    def get_papers(self, ids: Iterable[str]) -> dict[str, Paper]:
        wanted = list(dict.fromkeys(ids))
        found: dict[str, Paper] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(wanted), _CHUNK):
                rows = conn.execute(
                    select(papers).where(papers.c.id.in_(wanted[start : start + _CHUNK]))
                ).mappings()
                found.update((row["id"], _to_paper(row)) for row in rows)
        return found

    def papers_first_seen(
        self, since: datetime, until: datetime | None = None, include_replacements: bool = False
    ) -> list[Paper]:
        """Papers the store first saw in [since, until): a digest's candidates. Replacements of
        older papers are left out unless asked for."""
        query = select(papers).where(papers.c.first_seen >= to_db(since))
        if until is not None:
            query = query.where(papers.c.first_seen < to_db(until))
        query = query.order_by(papers.c.first_seen, papers.c.id)
        with self.engine.connect() as conn:
            found = [_to_paper(row) for row in conn.execute(query).mappings()]
        if include_replacements:
            return found
        return [p for p in found if p.announce_type not in REPLACEMENTS]

    def first_seen_times(self, since: datetime, until: datetime) -> dict[str, datetime]:
        """When the store first saw each paper it first saw in [since, until), by id."""
        query = select(papers.c.id, papers.c.first_seen).where(
            papers.c.first_seen >= to_db(since), papers.c.first_seen < to_db(until)
        )
        with self.engine.connect() as conn:
            return {pid: from_db(seen) for pid, seen in conn.execute(query)}

    def iter_papers(self) -> Iterator[Paper]:
        with self.engine.connect() as conn:
            for row in conn.execute(select(papers).order_by(papers.c.id)).mappings():
                yield _to_paper(row)

    def get_embeddings(self, model: str, keys: Sequence[str]) -> dict[str, bytes]:
        """Cached paper embeddings of one model, by key (see digest.rank.semantic)."""
        found: dict[str, bytes] = {}
        table = schema.paper_embeddings
        with self.engine.connect() as conn:
            for start in range(0, len(keys), _CHUNK):
                rows = conn.execute(
                    select(table.c.key, table.c.vector).where(
                        table.c.model == model, table.c.key.in_(keys[start : start + _CHUNK])
                    )
                )
                found.update((key, bytes(vector)) for key, vector in rows)
        return found

    def save_embeddings(self, model: str, vectors: Mapping[str, bytes]) -> None:
        """Remember paper embeddings; keys already stored are left as they are."""
        table = schema.paper_embeddings
        fresh = set(vectors) - set(self.get_embeddings(model, list(vectors)))
        if not fresh:
            return
        now = to_db(utcnow())
        rows = [{"model": model, "key": k, "vector": vectors[k], "created_at": now} for k in fresh]
        with self.engine.begin() as conn:
            conn.execute(insert(table), rows)

    def get_liked_papers(self, ids: Iterable[str]) -> dict[str, Paper]:
        """Liked papers kept from earlier arXiv API look-ups, by canonical id."""
        wanted = list(dict.fromkeys(ids))
        table = schema.liked_papers
        found: dict[str, Paper] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(wanted), _CHUNK):
                rows = conn.execute(
                    select(table.c.id, table.c.record).where(
                        table.c.id.in_(wanted[start : start + _CHUNK])
                    )
                )
                found.update((pid, _liked_paper(pid, record)) for pid, record in rows)
        return found

    def save_liked_papers(self, liked: Iterable[Paper], now: datetime | None = None) -> None:
        """Keep liked papers looked up on the arXiv API (newer look-ups replace older ones)."""
        table = schema.liked_papers
        rows = {
            p.id: {
                "id": p.id,
                "record": {
                    "title": p.title,
                    "abstract": p.abstract,
                    "authors": list(p.authors),
                    "categories": list(p.categories),
                    "published": p.published.isoformat() if p.published else None,
                },
                "fetched_at": to_db(now or utcnow()),
            }
            for p in liked
        }
        if not rows:
            return
        with self.engine.begin() as conn:
            conn.execute(delete(table).where(table.c.id.in_(list(rows))))
            conn.execute(insert(table), list(rows.values()))

    def count_papers(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(papers)) or 0)

    # ------------------------------------------------------------ fetch state

    def validators(self) -> dict[str, Validators]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(http_cache)).mappings()
            from digest.sources.http import Validators

            return {r["url"]: Validators(r["etag"], r["last_modified"]) for r in rows}

    def _save_validators(self, conn: Any, url: str, seen: Validators) -> None:
        values = {"etag": seen.etag, "last_modified": seen.last_modified}
        done = conn.execute(update(http_cache).where(http_cache.c.url == url).values(**values))
        if done.rowcount == 0:
            conn.execute(insert(http_cache).values(url=url, **values))

    def record_fetch(self, name: str, when: datetime, error: str | None) -> None:
        """Remember a source's last attempt, and its last success or last error."""
        values: dict[str, Any] = {"last_attempt": to_db(when)}
        if error is None:
            values["last_success"] = to_db(when)
        else:
            values |= {"last_error": error, "last_error_at": to_db(when)}
        with self.engine.begin() as conn:
            done = conn.execute(
                update(source_state).where(source_state.c.name == name).values(**values)
            )
            if done.rowcount == 0:
                conn.execute(insert(source_state).values(name=name, **values))

    def fetch_state(self) -> dict[str, dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(source_state)).mappings()
            return {r["name"]: dict(r) for r in rows}


def _to_row(paper: Paper, *, first_seen: datetime | None, changed_at: datetime) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for name in _PAPER_FIELDS:
        value = getattr(paper, name)
        if name in _TUPLES:
            value = list(value)
        elif isinstance(value, datetime):
            value = to_db(value)
        row[name] = value
    row["first_seen"] = to_db(first_seen)
    row["changed_at"] = to_db(changed_at)
    return row


def _liked_paper(pid: str, record: dict[str, Any]) -> Paper:
    published = record.get("published")
    return Paper(
        id=pid,
        title=record.get("title") or "",
        abstract=record.get("abstract") or "",
        authors=tuple(record.get("authors") or ()),
        categories=tuple(record.get("categories") or ()),
        published=datetime.fromisoformat(published) if published else None,
        sources=("liked",),
    )


def _to_paper(row: Any) -> Paper:
    """A paper from a result row (a RowMapping)."""
    values: dict[str, Any] = {}
    for name in _PAPER_FIELDS:
        value = row[name]
        if name in _TUPLES:
            value = tuple(value or ())
        elif isinstance(value, datetime):
            value = from_db(value)
        elif name == "announced" and isinstance(value, str):
            value = date.fromisoformat(value)
        values[name] = value
    return Paper(**values)
