"""The store's tables (SQLAlchemy Core) and its ordered migrations.

Each migration is a function `mNNN_name(connection)`, applied once, in order, and recorded in
`schema_migrations`. Add new ones at the end; never edit one that has shipped.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Connection,
    Date,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    inspect,
    text,
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


# The delivery ledger: one row per (subscriber email, digest day). A row moves
# planned -> sending -> sent / failed / skipped; a "sending" row is claimed by one sender
# (claimed_by) until lease_until, so a crashed sender's rows can be taken over.
deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("email", String(320), nullable=False),
    Column("day", Date, nullable=False),
    Column("subscriber", String(200), nullable=False),
    Column("status", String(20), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("message_id", String(300)),
    Column("reply", Text),  # the server's last reply, or why it was skipped or failed
    Column("papers", Integer),
    Column("next_attempt_at", DateTime),
    Column("claimed_by", String(200)),
    Column("lease_until", DateTime),
    Column("planned_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Column("sent_at", DateTime),
    # Sends whose connection was lost after the whole message and before the server's reply
    # (it may have arrived): one such loss is retried, a second is not (m008).
    Column("unconfirmed", Integer, nullable=False, server_default="0"),
    UniqueConstraint("email", "day", name="uq_deliveries_email_day"),
    Index("ix_deliveries_status", "status", "next_attempt_at"),
)

# What the mail stage knows about an address: permanent failures in a row, and whether it is
# suspended (no more digests until someone clears it).
recipients = Table(
    "recipients",
    metadata,
    Column("email", String(320), primary_key=True),
    Column("status", String(20), nullable=False),  # active / suspended
    Column("permanent_failures", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("updated_at", DateTime, nullable=False),
)


def m002_deliveries(connection: Connection) -> None:
    for table in (deliveries, recipients):
        table.create(connection)


# One row per named lock (the daemon's "scheduler" lock): who holds it and until when. A holder
# renews its lease while alive; a crashed holder's lease runs out and the next one takes over.
# `heartbeat_at` is kept after release: it tells a restarted daemon when the last one was alive.
locks = Table(
    "locks",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("holder", String(200)),
    Column("lease_until", DateTime),
    Column("heartbeat_at", DateTime),
)


def m003_locks(connection: Connection) -> None:
    locks.create(connection)


# Subscribers kept in the store (see digest/store/subscribers.py): people who subscribed on the
# web or with `digest subscribe`, and the status of config.yaml people who unsubscribed or paused.
# `email_key` is the address in lower case, so one person is one row whatever the spelling.
# `topics` NULL on a config.yaml person's row means "as in config.yaml".
subscribers = Table(
    "subscribers",
    metadata,
    Column("email_key", String(320), primary_key=True),
    Column("email", String(320), nullable=False),
    Column("name", String(200), nullable=False),
    Column("timezone", String(100), nullable=False),
    Column("send_at", String(5), nullable=False),
    Column("days", JSON, nullable=False),
    Column("max_papers", Integer, nullable=False),
    Column("topics", JSON),
    Column("status", String(20), nullable=False),  # pending / active / paused / unsubscribed
    Column("origin", String(20), nullable=False),  # config / web / cli
    Column("created_at", DateTime, nullable=False),
    Column("confirmed_at", DateTime),
    Column("updated_at", DateTime, nullable=False),
    # Bumped by each unsubscribe: manage links signed with an older value stop working.
    Column("link_generation", Integer, nullable=False, server_default="0"),
)

# Fixed-window request counters for the web app's rate limits, shared by every web worker.
rate_limits = Table(
    "rate_limits",
    metadata,
    Column("key", String(400), primary_key=True),
    Column("window_start", DateTime, nullable=False),
    Column("count", Integer, nullable=False),
)


def m004_subscribers(connection: Connection) -> None:
    for table in (subscribers, rate_limits):
        table.create(connection)


# Sentence embeddings of papers (the semantic extra), computed once per model and paper text.
paper_embeddings = Table(
    "paper_embeddings",
    metadata,
    Column("model", String(200), primary_key=True),
    Column("key", String(300), primary_key=True),  # paper id + "#" + hash of the embedded text
    Column("vector", LargeBinary, nullable=False),  # float32, little-endian
    Column("created_at", DateTime, nullable=False),
)


def m005_paper_embeddings(connection: Connection) -> None:
    paper_embeddings.create(connection)


# Liked papers (a topic's `papers:` ids) looked up on the arXiv API, kept so that ranking does
# not ask the API again for every subscriber every day. Not in `papers`: they are not new.
liked_papers = Table(
    "liked_papers",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("record", JSON, nullable=False),  # title, abstract, authors, categories, published
    Column("fetched_at", DateTime, nullable=False),
)


def m006_liked_papers(connection: Connection) -> None:
    liked_papers.create(connection)


def m007_link_generation(connection: Connection) -> None:
    # m004 creates the table from today's definition, which already has the column.
    if "link_generation" not in {c["name"] for c in inspect(connection).get_columns("subscribers")}:
        connection.execute(
            text("ALTER TABLE subscribers ADD COLUMN link_generation INTEGER NOT NULL DEFAULT 0")
        )


def m008_unconfirmed_sends(connection: Connection) -> None:
    # m002 creates the table from the definition above, so a new store has the column already.
    if "unconfirmed" not in {c["name"] for c in inspect(connection).get_columns("deliveries")}:
        connection.execute(
            text("ALTER TABLE deliveries ADD COLUMN unconfirmed INTEGER NOT NULL DEFAULT 0")
        )


# "More like this" / "not for me" from the links in each digest (see digest/store/feedback.py):
# one mark per subscriber (email_key, as in `subscribers`) and paper; the opposite click
# replaces it. `record` keeps the paper as it was shown (title, abstract, authors, ...), so the
# mark still ranks, lists and exports once the paper is gone from `papers`.
feedback = Table(
    "feedback",
    metadata,
    Column("email_key", String(320), primary_key=True),
    Column("paper_id", String(200), primary_key=True),
    Column("vote", String(10), nullable=False),  # more / less
    Column("topic", String(200), nullable=False),  # the topic it was shown under
    Column("record", JSON, nullable=False),
    Column("created_at", DateTime, nullable=False),
)


def m009_feedback(connection: Connection) -> None:
    feedback.create(connection)


# What each digest held when it went out (m010): its papers' ids in order, with their topic,
# score and reasons, so that its web copy and the Atom feed show what was sent, not a new
# ranking. One row per ledger row (email, day); shown only once the ledger says sent.
digest_copies = Table(
    "digest_copies",
    metadata,
    Column("email", String(320), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("subscriber", String(200), nullable=False),
    Column("subject", Text, nullable=False),
    Column("content", JSON, nullable=False),  # see digest.channels.record
    Column("recorded_at", DateTime, nullable=False),
    Index("ix_digest_copies_day", "day"),
)

# How each person takes their digest, as chosen on the manage page (m010): NULL means "as in
# config.yaml" (or the default). `feed_generation` is bumped by a feed reset: feed links signed
# with an older value stop working.
delivery_choices = Table(
    "delivery_choices",
    metadata,
    Column("email_key", String(320), primary_key=True),
    Column("feed_generation", Integer, nullable=False, server_default="0"),
    Column("feed_only", Boolean),
    Column("frequency", String(10)),
    Column("weekly_on", String(3)),
    Column("updated_at", DateTime, nullable=False),
)


# The chat channels' ledger (m010): one row per (email, day, channel), planned -> sending ->
# sent / failed, claimed with a lease like `deliveries`. `channel` is the channel's type and a
# hash of its URL (never the URL: it is a secret); `delivery_key` is sent with every attempt so
# a receiver can drop a re-send after a crash.
channel_deliveries = Table(
    "channel_deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("email", String(320), nullable=False),
    Column("day", Date, nullable=False),
    Column("channel", String(60), nullable=False),
    Column("subscriber", String(200), nullable=False),
    Column("status", String(20), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("reply", Text),
    Column("next_attempt_at", DateTime),
    Column("claimed_by", String(200)),
    Column("lease_until", DateTime),
    Column("delivery_key", String(64), nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Column("sent_at", DateTime),
    UniqueConstraint("email", "day", "channel", name="uq_channel_deliveries"),
)


def m010_digest_copies(connection: Connection) -> None:
    # checkfirst: this migration does not depend on m009 (feedback), whichever lands first.
    for table in (digest_copies, delivery_choices, channel_deliveries):
        table.create(connection, checkfirst=True)


Migration = Callable[[Connection], None]
MIGRATIONS: list[Migration] = [
    m001_initial,
    m002_deliveries,
    m003_locks,
    m004_subscribers,
    m005_paper_embeddings,
    m006_liked_papers,
    m007_link_generation,
    m008_unconfirmed_sends,
    m009_feedback,
    m010_digest_copies,
]
