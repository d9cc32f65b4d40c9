"""The daily run as the product runs it: the real `digest send` command, for N subscribers and
2,000 papers of one day, against a fast local SMTP sink in its own process.

The store holds 2,000 real titles and abstracts from the labelled file (1,500 first seen three
hours ago, 500 a day earlier) and N subscribers kept in the store, with varied profiles: 1 to 3
topics of keywords (some phrases, some weighted) taken from real titles, categories, followed
authors, liked papers through `library:` JSONL files, an exclude for some; several time zones,
and a fifth of them had yesterday's digest (so their window holds only the newer papers).

It runs `digest send` as a subprocess and prints its wall time, CPU time (user + system, its
worker processes included) and peak memory (the sum of PSS over its processes, sampled; and the
peak RSS of the largest), and checks the sink received exactly one message per subscriber the
ledger says was sent (and that sent + "nothing new" = everyone). Then, in the same run, the
naive pipeline on a sample of the same subscribers: per-subscriber TF-IDF cosine against the
day's papers, Jinja + premailer per email, smtplib with a connection per message; its per-email
figures are scaled up.

Run: `python benchmarks/daily_run.py [--subscribers 1000,3000,10000] [--naive-sample 100]
[--semantic [--keep-vectors FILE]] [--workers 1,2] [--postgres URL] [--sink fast|aiosmtpd]
[--repeat K] [--baseline PYTHON] [--floor]`.
`--semantic`: each N also with ranking.semantic on, the vectors cached by a dry run first
(`--keep-vectors FILE`: most of them read from a `benchmarks/ranking.py --keep-vectors` file),
and the two walls compared (target: semantic <= 2x lexical). `--workers`: the
`digest send --workers` values to compare, default one per core. `--postgres`: each store a
fresh database on that server instead of SQLite. `--sink`: the minimal SMTP sink (default) or
aiosmtpd's, which spends about 4.5 ms of CPU per message on the same two cores.
`--repeat K`: K sends of each world from the same store, the medians shown (this machine's
speed varies by a third from one minute to the next); our first send reads every `library:`
file, the later ones find them kept in data_dir/cache (as a daily run finds yesterday's), and
each run's line says which was first; `--baseline PYTHON`: another checkout's
`python -m digest send` on the same world, interleaved with ours (A B B A …), K times each
(`--baseline ../main/.venv/bin/python` compares a change with the release before it).
`--floor`: after each of our sends, `send_floor.py` on the same world: every reader gets the
first reader's digest, ranked and rendered once, so its CPU per email is what the rest (the
ledger, the links, MIME, SMTP, the web copies) costs; no ranking or rendering can go below it.
Targets (2 cores): 10,000 x 2,000 in <= 60 s wall, >= 10x less CPU per email than naive, linear
in subscribers, peak memory <= 1 GB.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import re
import shutil
import smtplib
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

REAL = Path(__file__).resolve().parents[2] / "shared/data/real"
LABELLED = REAL / "labelled/arxiv_staeiou_2016-2018_stratified_250_per_primary.jsonl.gz"
PAPERS = 2000
FLOOR = Path(__file__).with_name("send_floor.py")
SEED = 16
ZONES = ("UTC", "Europe/London", "Europe/Berlin", "America/New_York", "Asia/Tokyo")


# ---------------------------------------------------------------- the SMTP sink


class Sink:
    """Accepts every message at once and counts them per recipient (aiosmtpd's handler)."""

    def __init__(self) -> None:
        self.count: Counter[str] = Counter()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        for rcpt in envelope.rcpt_tos:
            self.count[rcpt.lower()] += 1
        return "250 2.0.0 OK"


class FastSink(asyncio.Protocol):
    """The same as `Sink` on aiosmtpd, in a few lines: the SMTP commands an SMTP client sends
    (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT), each message read whole up to its end
    line, nothing parsed that is not needed. aiosmtpd reads a message line by line and costs
    about 4.5 ms of CPU per digest: on the same two cores, as much as a third of what we
    measure. A relay in production runs on its own machine."""

    def __init__(self, count: Counter[str]) -> None:
        self.count = count
        self.buffer = b""
        self.scanned = 0  # how far the end of the message being read was looked for
        self.rcpts: list[str] = []
        self.in_data = False

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        transport.write(b"220 sink ESMTP\r\n")

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while self.buffer:
            if self.in_data:
                end = self.buffer.find(b"\r\n.\r\n", self.scanned)
                if end < 0:
                    self.scanned = max(0, len(self.buffer) - 4)
                    return
                self.buffer, self.scanned = self.buffer[end + 5 :], 0
                for rcpt in self.rcpts:
                    self.count[rcpt] += 1
                self.rcpts, self.in_data = [], False
                self.transport.write(b"250 2.0.0 OK\r\n")
                continue
            line, sep, rest = self.buffer.partition(b"\r\n")
            if not sep:
                return
            self.buffer = rest
            self.command(line.decode("utf-8", "replace"))

    def command(self, line: str) -> None:
        verb = line[:4].upper()
        if verb == "EHLO":
            self.transport.write(
                b"250-sink\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 SIZE 33554432\r\n"
            )
        elif verb == "RCPT":
            address = line.partition(":")[2].split()[0].strip("<>")
            self.rcpts.append(address.lower())
            self.transport.write(b"250 OK\r\n")
        elif verb == "DATA":
            # A message starting with "." at its very first line would need the end line
            # looked for from the reply on; digests start with headers.
            self.buffer = b"\r\n" + self.buffer
            self.in_data = True
            self.transport.write(b"354 End data with <CR><LF>.<CR><LF>\r\n")
        elif verb == "QUIT":
            self.transport.write(b"221 Bye\r\n")
            self.transport.close()
        elif verb == "RSET":
            self.rcpts = []
            self.transport.write(b"250 OK\r\n")
        elif verb in ("HELO", "MAIL", "NOOP"):
            self.transport.write(b"250 OK\r\n")
        else:
            self.transport.write(b"502 Command not implemented\r\n")


def serve_sink(port: int, out: str, ready: Any, stop: Any, kind: str = "fast") -> None:
    """The sink runs in its own process, as a real relay would: it must not share our CPU
    accounting or our GIL. On stop it writes what it received to `out` (JSON). `kind`: "fast"
    (`FastSink`) or "aiosmtpd"."""
    if kind == "aiosmtpd":
        from aiosmtpd.controller import Controller

        sink = Sink()
        controller = Controller(sink, hostname="127.0.0.1", port=port)
        controller.start()
        ready.set()
        stop.wait()
        controller.stop()
        count = sink.count
    else:
        count = Counter()
        loop = asyncio.new_event_loop()
        server = loop.run_until_complete(
            loop.create_server(lambda: FastSink(count), "127.0.0.1", port)
        )
        ready.set()
        loop.run_until_complete(loop.run_in_executor(None, stop.wait))
        server.close()
        loop.run_until_complete(server.wait_closed())
        loop.close()
    cpu = time.process_time()  # the relay's own CPU: it shares the machine's cores with us
    Path(out).write_text(json.dumps({"count": count, "cpu": cpu}), encoding="utf-8")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RunningSink:
    def __init__(self, root: Path, kind: str = "fast") -> None:
        self.port = free_port()
        self.out = root / f"sink-{self.port}.json"
        self.ready, self.stop = multiprocessing.Event(), multiprocessing.Event()
        self.cpu = 0.0
        self.process = multiprocessing.Process(
            target=serve_sink,
            args=(self.port, str(self.out), self.ready, self.stop, kind),
            daemon=True,
        )

    def __enter__(self) -> RunningSink:
        self.process.start()
        if not self.ready.wait(20):
            raise RuntimeError("the SMTP sink did not start")
        return self

    def received(self) -> Counter[str]:
        """Stop the sink and return what it received (its CPU seconds in `self.cpu`)."""
        self.stop.set()
        self.process.join(20)
        found = json.loads(self.out.read_text(encoding="utf-8"))
        self.cpu = float(found["cpu"])
        return Counter(found["count"])

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.process.join(20)


# ---------------------------------------------------------------- the world


def load_papers() -> tuple[list[Any], list[Any]]:
    """Today's 2,000 papers (some with upvotes, to trend) and the earlier ones, seeded."""
    from digest.papers_file import read_papers

    everything = read_papers(LABELLED)
    rng = random.Random(SEED)
    rng.shuffle(everything)
    today = [
        replace(p, upvotes=rng.randint(1, 120)) if rng.random() < 0.05 else p
        for p in everything[:PAPERS]
    ]
    return today, everything[PAPERS:]


def make_profiles(
    rng: random.Random, today: list[Any], earlier: list[Any], n: int, libraries: Path
) -> list[dict[str, Any]]:
    """N subscribers as store rows' fields: name, email, timezone, topics (TopicConfig dicts)."""
    from digest.rank.text import terms

    titles = [t for t in (terms(p.title) for p in today) if t]
    authors = [p.authors[0] for p in today if p.authors]
    categories = sorted({c for p in today for c in p.categories[:1]})
    people = []
    for s in range(n):
        topics = []
        for t in range(rng.choice((1, 1, 2, 2, 3))):
            words = rng.choice(titles)
            keywords: list[Any] = []
            for _ in range(rng.randint(2, 5)):
                if len(words) > 1 and rng.random() < 0.3:
                    i = rng.randrange(len(words) - 1)
                    keywords.append(f"{words[i]} {words[i + 1]}")
                elif rng.random() < 0.2:
                    keywords.append({"term": rng.choice(words), "weight": rng.choice((2.0, 0.5))})
                else:
                    keywords.append(rng.choice(words))
                if rng.random() < 0.3:
                    words = rng.choice(titles)
            topic: dict[str, Any] = {"name": f"Topic {t + 1}", "keywords": keywords}
            if rng.random() < 0.2:
                topic["exclude"] = [rng.choice(rng.choice(titles))]
            if rng.random() < 0.3:
                topic["categories"] = [rng.choice(categories)]
            if rng.random() < 0.15:
                topic["authors"] = [rng.choice(authors)]
            if rng.random() < 0.25:
                library = libraries / f"s{s:05d}t{t}.jsonl"
                with library.open("w", encoding="utf-8") as f:
                    for p in rng.sample(earlier, rng.randint(3, 12)):
                        line = {"arxiv_id": p.id.removeprefix("arxiv:"), "title": p.title}
                        f.write(json.dumps(line | {"abstract": p.abstract}) + "\n")
                topic["library"] = str(library)
            topics.append(topic)
        people.append(
            {
                "name": f"Reader {s}",
                "email": f"r{s:05d}@example.org",
                "timezone": rng.choice(ZONES),
                "max_papers": rng.choice((10, 20, 20, 30)),
                "topics": topics,
            }
        )
    return people


def build_world(
    root: Path,
    n: int,
    port: int,
    now: datetime,
    semantic: bool = False,
    database_url: str | None = None,
) -> tuple[Path, list[dict[str, Any]]]:
    """config.yaml, the store (papers, N subscribers, yesterday's ledger) and library files."""
    from sqlalchemy import insert

    from digest.config import load_config
    from digest.store import open_store
    from digest.store.schema import deliveries, subscribers
    from digest.store.subscribers import StoredSubscriber
    from digest.store.subscribers import _to_row as subscriber_row

    rng = random.Random(SEED + n)
    today, earlier = load_papers()
    (root / "libraries").mkdir(parents=True, exist_ok=True)
    people = make_profiles(rng, today, earlier, n, root / "libraries")
    config_file = root / "config.yaml"
    config_file.write_text(
        "\n".join(
            [
                "data_dir: ./data",
                *([f"database_url: {database_url}"] if database_url else []),
                f"ranking: {{semantic: {'true' if semantic else 'false'}}}",
                "base_url: https://digest.example.org",
                "smtp:",
                "  host: 127.0.0.1",
                f"  port: {port}",
                "  security: none",
                '  from: "Paper Digest <digest@example.org>"',
                "  max_connections: 4",
                "subscribers:",
                "  - name: Config Person",
                "    email: config.person@example.org",
                "    topics:",
                "      - name: Language models",
                '        keywords: ["language model", transformer, attention]',
                "        categories: [cs.CL]",
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    config = load_config(config_file)
    store = open_store(config.store_url)
    try:
        store.save_papers(today[500:], now=now - timedelta(hours=3))
        store.save_papers(today[:500], now=now - timedelta(hours=27))
        rows = []
        for person in people:
            record = StoredSubscriber(
                email=person["email"],
                name=person["name"],
                status="active",
                origin="cli",
                timezone=person["timezone"],
                max_papers=person["max_papers"],
                topics=tuple(person["topics"]),
                created_at=now - timedelta(days=30),
                confirmed_at=now - timedelta(days=30),
                updated_at=now - timedelta(days=30),
            )
            rows.append(subscriber_row(record))
        yesterday = now - timedelta(hours=26)
        sent = []
        for person in people[::5]:  # a fifth had yesterday's digest: a narrower window
            day = yesterday.astimezone(ZoneInfo(person["timezone"])).date()
            sent.append(
                {
                    "email": person["email"],
                    "day": day,
                    "subscriber": person["name"],
                    "status": "sent",
                    "attempts": 1,
                    "papers": 10,
                    "planned_at": yesterday.replace(tzinfo=None),
                    "updated_at": yesterday.replace(tzinfo=None),
                    "sent_at": yesterday.replace(tzinfo=None),
                }
            )
        with store.engine.begin() as conn:
            conn.execute(insert(subscribers), rows)
            if sent:
                conn.execute(insert(deliveries), sent)
    finally:
        store.close()
    return config_file, people


# ---------------------------------------------------------------- ours: the real command


@dataclass(frozen=True)
class Figures:
    emails: int
    wall: float
    cpu: float
    peak_mb: float  # the sum of PSS over the command's processes
    rss_mb: float = 0.0  # the peak RSS of its largest process

    @property
    def cpu_per_email_ms(self) -> float:
        return 1000 * self.cpu / max(self.emails, 1)


def tree_memory(pid: int) -> float:
    """The memory a process and its descendants hold now, in MB: the sum of their PSS (shared
    pages, such as a forked worker's copy-on-write day plan, counted once)."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
            for task in Path(f"/proc/{p}/task").iterdir():
                todo.extend(int(c) for c in (task / "children").read_text().split())
        except (OSError, ValueError):
            continue
    return total / 1024


class MemoryWatch:
    """Samples `tree_memory` of a process every `interval` s; `peak` is the highest seen.
    A sample is not free: the kernel walks each process's page tables for it, ~17 ms of CPU
    for 300 MB, on the cores the command runs on (every 0.2 s, as before, that was a tenth of
    one core at 10,000 subscribers)."""

    def __init__(self, pid: int, interval: float = 1.0) -> None:
        self.interval = interval
        self.pid, self.peak = pid, 0.0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.watch, daemon=True)
        self.thread.start()

    def watch(self) -> None:
        while not self.done.wait(self.interval):
            self.peak = max(self.peak, tree_memory(self.pid))

    def stop(self) -> float:
        self.done.set()
        self.thread.join()
        return self.peak


def run_send(
    config_file: Path, *args: str, python: str | None = None, floor: bool = False
) -> tuple[float, float, float, float, str]:
    """`digest send` (or another command) as a subprocess: wall, CPU (user + system, its
    worker processes included), peak memory in MB (the highest sum of PSS over the command and
    its worker processes, sampled), the peak RSS of its largest process in MB, its output.
    `python`: another interpreter's `python -m digest` (another checkout's virtualenv);
    `floor`: `send_floor.py`'s command instead (no ranking, no rendering)."""
    digest = Path(sys.executable).with_name("digest")
    if python is not None:
        command = [python, "-m", "digest"]
    else:
        command = [str(digest)] if digest.exists() else [sys.executable, "-m", "digest"]
    if floor:
        command = [python or sys.executable, str(FLOOR)]
    start = time.perf_counter()
    process = subprocess.Popen(
        [*command, "--config", str(config_file), *(args or ("send",))],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=config_file.parent,
    )
    assert process.stdout is not None
    memory = MemoryWatch(process.pid)
    output = process.stdout.read().decode("utf-8", "replace")
    _, status, usage = os.wait4(process.pid, 0)
    peak = memory.stop()
    wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"digest send failed ({process.returncode}):\n{output[-3000:]}")
    return wall, usage.ru_utime + usage.ru_stime, peak, usage.ru_maxrss / 1024, output


def ledger_counts(config_file: Path, since: datetime) -> Counter[str]:
    """The ledger rows this run planned (at or after `since`), by status."""
    from sqlalchemy import func, select

    from digest.config import load_config
    from digest.store import open_store
    from digest.store.schema import deliveries

    store = open_store(load_config(config_file).store_url)
    try:
        query = (
            select(deliveries.c.status, func.count())
            .where(deliveries.c.planned_at >= since.astimezone(UTC).replace(tzinfo=None))
            .group_by(deliveries.c.status)
        )
        with store.engine.connect() as conn:
            return Counter({status: int(count) for status, count in conn.execute(query)})
    finally:
        store.close()


def fresh_database(server: str, name: str) -> str:
    """A new, empty PostgreSQL database `name` on `server` (dropped first if there); its URL."""
    from sqlalchemy import create_engine, make_url, text

    engine = create_engine(server, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return make_url(server).set(database=name).render_as_string(hide_password=False)


def seed_vectors(config_file: Path, keep: Path) -> int:
    """Put the labelled papers' vectors from a `benchmarks/ranking.py --keep-vectors` file (by
    paper id, this model's) in the store, as earlier runs would have, and the topics' words
    this script kept there; how many."""
    import numpy as np

    from digest.config import load_config
    from digest.papers_file import read_papers
    from digest.rank.semantic import LazyEmbedder, _cache_key
    from digest.store import open_store

    name = LazyEmbedder().name
    with np.load(keep) as kept:
        if str(kept["model"]) != name:
            raise SystemExit(f"{keep} holds vectors of {kept['model']}, not of {name}")
        vectors = dict(zip(kept["ids"].tolist(), kept["vectors"], strict=True))
    rows = {
        _cache_key(p): vectors[p.id].astype(np.float32).tobytes()
        for p in read_papers(LABELLED)
        if p.id in vectors
    }
    # The topics' words of earlier runs (the profiles are drawn from a fixed seed).
    rows |= {k: v.astype(np.float32).tobytes() for k, v in vectors.items() if k.startswith("text#")}
    with open_store(load_config(config_file).store_url) as store:
        store.save_embeddings(name, rows)
    return len(rows)


def save_vectors(config_file: Path, keep: Path) -> int:
    """Add the vectors the store now holds to the `keep` file (papers by id, topics' words by
    their key); how many the file holds."""
    import numpy as np
    from sqlalchemy import select

    from digest.config import load_config
    from digest.rank.semantic import LazyEmbedder
    from digest.store import open_store
    from digest.store.schema import paper_embeddings as table

    name = LazyEmbedder().name
    vectors: dict[str, Any] = {}
    if keep.exists():
        with np.load(keep) as kept:
            vectors = dict(zip(kept["ids"].tolist(), kept["vectors"], strict=True))
    with open_store(load_config(config_file).store_url) as store, store.engine.connect() as c:
        for key, vector in c.execute(
            select(table.c.key, table.c.vector).where(table.c.model == name)
        ):
            kept = key if key.startswith("text#") else key.split("#")[0]
            vectors[kept] = np.frombuffer(vector, dtype=np.float32)
    ids = list(vectors)
    np.savez(keep, model=name, ids=np.asarray(ids), vectors=np.vstack([vectors[i] for i in ids]))
    return len(ids)


@dataclass
class Runs:
    """Each `digest send` of one world: ours, and the baseline interpreter's, in run order."""

    ours: list[Figures]
    baseline: list[Figures]
    summary: str
    floor: list[Figures]


def ours(
    root: Path,
    n: int,
    now: datetime,
    semantic: bool = False,
    database_url: str | None = None,
    workers: int = 0,
    sink_kind: str = "fast",
    keep_vectors: Path | None = None,
    repeat: int = 1,
    baseline: str | None = None,
    floor: bool = False,
) -> tuple[Runs, Path, list[dict[str, Any]]]:
    """The world for N, then `digest send` on it `repeat` times, each from the same store (a
    copy of the SQLite file as built) and against a fresh sink; with `baseline` (another
    checkout's python), that one's `digest send` too, interleaved A B B A … so the machine's
    drift falls on both alike; with `floor`, `send_floor.py` after each (see there)."""
    config_file, people = build_world(root, n, free_port(), now, semantic, database_url)
    if semantic:  # vectors cached first: a dry run embeds the day's and liked papers
        if keep_vectors is not None:
            print(f"semantic: {seed_vectors(config_file, keep_vectors):,} vectors read")
        warm = run_send(config_file, "send", "--dry-run")
        print(f"semantic: papers embedded and cached by a dry run in {warm[0]:.0f} s")
        if keep_vectors is not None:
            print(f"semantic: {save_vectors(config_file, keep_vectors):,} vectors kept")
    store_file = root / "data" / "digest.sqlite3"
    built = root / "built.sqlite3"
    again = repeat > 1 or baseline is not None or floor
    if again:
        if database_url is not None:
            raise SystemExit("--repeat and --baseline need the SQLite store (not --postgres)")
        shutil.copyfile(store_file, built)
    runs = Runs([], [], "", [])
    order = [None, baseline] if baseline is not None else [None]
    for i in range(repeat):
        each = [(python, False) for python in (order if i % 2 == 0 else order[::-1])]
        for python, lower in each + ([(None, True)] if floor else []):
            if again:  # the store as built: nobody sent yet
                for extra in ("-wal", "-shm"):
                    store_file.with_name(store_file.name + extra).unlink(missing_ok=True)
                shutil.copyfile(built, store_file)
            figures, summary = _send_once(
                config_file, people, now, workers, sink_kind, root, python, lower
            )
            if lower:
                runs.floor.append(figures)
            elif python is None:
                runs.ours.append(figures)
                runs.summary = summary
            else:
                runs.baseline.append(figures)
    return runs, config_file, people


def _send_once(
    config_file: Path,
    people: list[dict[str, Any]],
    now: datetime,
    workers: int,
    sink_kind: str,
    root: Path,
    python: str | None,
    floor: bool = False,
) -> tuple[Figures, str]:
    """One `digest send` against a fresh sink, checked: one message per reader the ledger says
    was sent, to no one else, and sent + "nothing new" = everyone."""
    with RunningSink(root, sink_kind) as sink:
        text = config_file.read_text(encoding="utf-8")
        config_file.write_text(
            re.sub(r"(?m)^  port: \d+$", f"  port: {sink.port}", text), encoding="utf-8"
        )
        wall, cpu, peak, rss, output = run_send(
            config_file, "send", "--workers", str(workers), python=python, floor=floor
        )
        received = sink.received()
    everyone = {p["email"] for p in people} | {"config.person@example.org"}
    twice = [r for r, c in received.items() if c != 1]
    strangers = set(received) - everyone
    statuses = ledger_counts(config_file, now - timedelta(minutes=5))
    sent_today = statuses["sent"]
    assert not twice, f"{len(twice)} recipients got more than one message: {twice[:5]}"
    assert not strangers, f"messages to unknown recipients: {sorted(strangers)[:5]}"
    assert len(received) == sent_today, f"sink got {len(received)}, ledger says {sent_today} sent"
    assert sent_today + statuses["skipped"] == len(everyone), (statuses, len(everyone))
    summary = output.strip().splitlines()[-1] if output.strip() else ""
    summary += f" | the sink's own CPU {sink.cpu:.1f} s"
    return Figures(len(received), wall, cpu, peak, rss), summary


# ---------------------------------------------------------------- naive: one at a time


NAIVE_TEMPLATE = """<html><head><style>
body { font-family: Georgia, serif; color: #222; } h2 { color: #333; font-size: 18px; }
.paper { margin: 0 0 16px 0; } .title { font-weight: bold; color: #1a0dab; }
.score { color: #888; font-size: 12px; } .abstract { font-size: 14px; line-height: 1.4; }
</style></head><body><h1>Your papers, {{ day }}</h1>
{% for p, score in papers %}<div class="paper"><a class="title" href="https://arxiv.org/abs/{{
p.id[6:] }}">{{ p.title }}</a> <span class="score">{{ '%.3f' % score }}</span>
<div>{{ p.authors | join(', ') }}</div><div class="abstract">{{ p.abstract[:600] }}</div></div>
{% endfor %}</body></html>"""


def naive(
    config_file: Path, people: list[dict[str, Any]], sample: int, port: int, now: datetime
) -> Figures:
    """The textbook pipeline for `sample` subscribers: the day's papers read once and TF-IDF
    vectorised once (generously), then per subscriber a cosine of their profile's words (and
    library) against every paper, the top max_papers, Jinja + premailer, smtplib."""
    import jinja2
    import numpy as np
    import premailer

    from digest.config import load_config
    from digest.papers_file import read_papers
    from digest.rank.index import build_index, paper_text
    from digest.store import open_store

    start, cpu0 = time.perf_counter(), time.process_time()
    store = open_store(load_config(config_file).store_url)
    papers = store.papers_first_seen(now - timedelta(days=3), now)
    store.close()
    index = build_index(papers)
    template = jinja2.Environment(autoescape=True).from_string(NAIVE_TEMPLATE)
    for person in people[:sample]:
        texts = []
        for topic in person["topics"]:
            words = [k if isinstance(k, str) else k["term"] for k in topic["keywords"]]
            texts.append(" ".join(words))
            if "library" in topic:
                texts.extend(paper_text(p) for p in read_papers(Path(topic["library"])))
        query = index.vectorise([" ".join(texts)])
        cosine = np.asarray((index.tfidf @ query.T).toarray()).ravel()
        top = np.argsort(-cosine)[: person["max_papers"]]
        html = template.render(
            day=now.date().isoformat(), papers=[(papers[i], float(cosine[i])) for i in top]
        )
        inlined = premailer.transform(html)
        message = EmailMessage()
        message["From"] = "digest@example.org"
        message["To"] = person["email"]
        message["Subject"] = "Your papers"
        message.set_content("\n".join(papers[i].title for i in top))
        message.add_alternative(inlined, subtype="html")
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            smtp.send_message(message)
    count = min(sample, len(people))
    return Figures(count, time.perf_counter() - start, time.process_time() - cpu0, 0.0)


# ---------------------------------------------------------------- the report


def median_of(runs: list[Figures]) -> Figures:
    """Each figure's median over the runs."""
    return Figures(
        runs[0].emails,
        statistics.median(f.wall for f in runs),
        statistics.median(f.cpu for f in runs),
        statistics.median(f.peak_mb for f in runs),
        statistics.median(f.rss_mb for f in runs),
    )


def spread(runs: list[Figures]) -> str:
    """ ", median of K, wall a-b s" for repeated runs, else nothing."""
    if len(runs) < 2:
        return ""
    walls = sorted(f.wall for f in runs)
    return f", median of {len(runs)} (wall {walls[0]:.1f}-{walls[-1]:.1f} s)"


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--subscribers", default="1000,3000,10000", help="comma-separated N (default: %(default)s)"
    )
    parser.add_argument("--naive-sample", type=int, default=100)
    parser.add_argument(
        "--workers",
        default="0",
        help="`digest send --workers` values to run, comma-separated (default: 0, one per core)",
    )
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="a PostgreSQL server (postgresql+psycopg://user@host:port/db): each run's store is a "
        "fresh database on it instead of a SQLite file",
    )
    parser.add_argument(
        "--semantic",
        action="store_true",
        help="ranking.semantic on (needs the semantic extra), the papers' vectors cached first",
    )
    parser.add_argument(
        "--keep-vectors",
        type=Path,
        metavar="FILE",
        help="with --semantic: the labelled papers' vectors from a file that "
        "`benchmarks/ranking.py --keep-vectors` wrote, put in the store before the warm-up "
        "(which then embeds only the rest)",
    )
    parser.add_argument(
        "--sink",
        choices=("fast", "aiosmtpd"),
        default="fast",
        help="the SMTP sink: a minimal one (default) or aiosmtpd's, which takes about 4.5 ms of "
        "CPU per message on the same cores",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        metavar="K",
        help="send K times from the same store (this machine's speed varies from minute to "
        "minute); the table shows the medians and the range of the walls",
    )
    parser.add_argument(
        "--baseline",
        metavar="PYTHON",
        help="another checkout's python (its virtualenv's bin/python, the same store schema): "
        "its `digest send` on the same world, interleaved with ours, K times each",
    )
    parser.add_argument(
        "--floor",
        action="store_true",
        help="after each send, `benchmarks/send_floor.py` on the same world: the send with its "
        "ranking and rendering taken out (everyone gets the first reader's digest), the CPU per "
        "email that no ranking or rendering work can go below",
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.subscribers.split(",") if s.strip()]
    now = datetime.now(UTC).replace(microsecond=0)
    print(
        f"{PAPERS} papers of one day; real `digest send` against a local SMTP sink "
        f"({args.sink}); {load()}"
    )
    print(f"cores: {os.cpu_count()}")
    rows = []
    naive_figures: Figures | None = None
    workers = [int(w) for w in args.workers.split(",") if w.strip()]
    modes = [False, True] if args.semantic else [False]  # semantic: beside the lexical run
    walls: dict[tuple[int, int, bool], float] = {}
    for n, w, semantic in ((n, w, m) for n in sizes for w in workers for m in modes):
        with tempfile.TemporaryDirectory(prefix="daily_run-") as tmp:
            root = Path(tmp)
            before = load()
            url = fresh_database(args.postgres, f"daily_run_{n}_{w}") if args.postgres else None
            runs, config_file, people = ours(
                root,
                n,
                now,
                semantic,
                url,
                w,
                args.sink,
                args.keep_vectors,
                max(args.repeat, 1),
                args.baseline,
                args.floor,
            )
            figures = median_of(runs.ours)
            walls[(n, w, semantic)] = figures.wall
            label = (
                f"{n:,}" + (f", --workers {w}" if w else "") + (", semantic" if semantic else "")
            )
            rows.append((n, label + spread(runs.ours), figures))
            if runs.baseline:
                rows.append(
                    (n, f"{label}, baseline{spread(runs.baseline)}", median_of(runs.baseline))
                )
            if runs.floor:
                rows.append(
                    (
                        n,
                        f"{label}, floor: no ranking or rendering{spread(runs.floor)}",
                        median_of(runs.floor),
                    )
                )
            for who, each in (("ours", runs.ours), ("base", runs.baseline), ("floor", runs.floor)):
                for i, f in enumerate(each):
                    # Our first send reads the libraries; later ones find them kept in
                    # data_dir/cache/libraries, as a daily run finds yesterday's.
                    cold = " (libraries read from their files)" if who == "ours" and i == 0 else ""
                    print(
                        f"{who}  N={n:>6} workers={w or 'auto'}{' semantic' if semantic else ''}: "
                        f"{f.emails} emails in {f.wall:6.1f} s wall, "
                        f"{f.cpu:6.1f} s CPU ({f.cpu_per_email_ms:.1f} ms/email), "
                        f"peak memory {f.peak_mb:.0f} MB (largest process {f.rss_mb:.0f} MB)"
                        f"{cold}"
                    )
            print(f"  [{before}, after: {load()}]  | {runs.summary}")
            if naive_figures is None and args.naive_sample > 0:
                with RunningSink(root, args.sink) as sink:
                    naive_figures = naive(config_file, people, args.naive_sample, sink.port, now)
                    got = sink.received()
                assert sum(got.values()) == naive_figures.emails, got
                print(
                    f"naive sample of {naive_figures.emails}: {naive_figures.wall:.1f} s wall, "
                    f"{naive_figures.cpu:.1f} s CPU ({naive_figures.cpu_per_email_ms:.1f} "
                    f"ms/email)  [{load()}]"
                )
    print()
    print(
        "| subscribers | emails | wall (s) | CPU (s) | CPU/email (ms) | peak memory, all "
        "processes (MB) | peak RSS, largest process (MB) |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for _, label, f in rows:
        print(
            f"| {label} | {f.emails:,} | {f.wall:.1f} | {f.cpu:.1f} | "
            f"{f.cpu_per_email_ms:.1f} | {f.peak_mb:.0f} | {f.rss_mb:.0f} |"
        )
    lexical = [
        r for r in rows if "semantic" not in r[1] and "baseline" not in r[1] and "floor" not in r[1]
    ]
    if naive_figures is not None:
        nf = naive_figures
        for n in sizes:
            scale = n / max(nf.emails, 1)
            print(
                f"| naive x {n:,} (scaled from {nf.emails}) | {n:,} | {nf.wall * scale:.1f} | "
                f"{nf.cpu * scale:.1f} | {nf.cpu_per_email_ms:.1f} | - | - |"
            )
        _, best_label, best = lexical[-1]
        ratio = nf.cpu_per_email_ms / max(best.cpu_per_email_ms, 1e-9)
        print(f"\nCPU per email, naive / ours at N={best_label}: {ratio:.1f}x (target >= 10x)")
        floors = [f for _, label, f in rows if "floor" in label and f.emails >= best.emails]
        if floors:
            low = floors[-1].cpu_per_email_ms
            print(
                f"CPU per email with no ranking or rendering at all: {low:.2f} ms; 10x below "
                f"naive is {nf.cpu_per_email_ms / 10:.2f} ms"
            )
    for (n, w, semantic), wall in walls.items():
        if semantic and (n, w, False) in walls:
            print(
                f"semantic / lexical wall at N={n:,}: {wall / walls[(n, w, False)]:.2f}x "
                "(target <= 2x)"
            )
    if lexical:
        n, _, f = lexical[-1]
        print(f"wall at N={n:,}: {f.wall:.1f} s (target <= 60 s at 10,000)")
        print(f"peak memory at N={n:,}: {f.peak_mb:.0f} MB, all processes (target <= 1024 MB)")


if __name__ == "__main__":
    main()
