"""The store's tables (SQLAlchemy Core) and its ordered migrations.

Each migration is a function `mNNN_name(connection)`, applied once, in order, and recorded in
`schema_migrations`. Add new ones at the end; never edit one that has shipped.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import (
    JSON,
    Column,
    Connection,
    Date,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

schema_migrations = Table(
    "schema_migrations",
    metadata,
    Column("version", Integer, primary_key=True),
    Column("name", String(100), nullable=False),
    Column("applied_at", DateTime, nullable=False),
)

papers = Table(
    "papers",
    metadata,
    Column("id", String(200), primary_key=True),  # arxiv:2310.19019 / doi:10.1101/… / url:…
    Column("version", Integer),
    Column("title", Text, nullable=False),
    Column("abstract", Text, nullable=False, default=""),
    Column("authors", JSON, nullable=False),
    Column("categories", JSON, nullable=False),
    Column("published", DateTime),
    Column("updated", DateTime),
    Column("announced", Date),
    Column("announce_type", String(20)),
    Column("doi", String(200)),
    Column("abs_url", Text),
    Column("pdf_url", Text),
    Column("code_url", Text),
    Column("project_url", Text),
    Column("hf_url", Text),
    Column("upvotes", Integer),
    Column("comments", Integer),
    Column("github_stars", Integer),
    Column("ai_summary", Text),
    Column("ai_keywords", JSON, nullable=False),
    Column("organization", Text),
    Column("sources", JSON, nullable=False),
    Column("first_seen", DateTime, nullable=False, index=True),
    Column("changed_at", DateTime, nullable=False),
)

source_state = Table(
    "source_state",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("last_attempt", DateTime),
    Column("last_success", DateTime),
    Column("last_error", Text),
    Column("last_error_at", DateTime),
)

http_cache = Table(
    "http_cache",
    metadata,
    Column("url", String(2000), primary_key=True),
    Column("etag", Text),
    Column("last_modified", Text),
)


def m001_initial(connection: Connection) -> None:
    for table in (papers, source_state, http_cache):
        table.create(connection)


Migration = Callable[[Connection], None]
MIGRATIONS: list[Migration] = [m001_initial]
