"""The optional semantic signal, tested with a small stand-in embedder (the real model needs the
`semantic` extra, which CI does not install): meaning found where words differ, vectors cached
in the store, and a clear error when the extra is missing."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from digest.config import parse_config
from digest.errors import RankError
from digest.models import Keyword, Paper, RankedPaper, Subscriber, Topic
from digest.pipeline import rank_for_subscriber
from digest.rank import rank_subscriber
from digest.rank.semantic import (
    CachedEmbedder,
    SentenceEmbedder,
    load_embedder,
    nearest_by_meaning,
    paper_sentence,
)
from digest.store import open_store

# Each word's meaning, as a direction: words of one row mean much the same thing.
CONCEPTS = [
    ("car", "automobile", "vehicle", "driving"),
    ("protein", "enzyme", "folding"),
    ("galaxy", "cosmology", "star"),
]


class ConceptEmbedder:
    """Bag of concepts: a text's vector counts the concepts its words stand for."""

    name = "concepts:1"

    def __init__(self) -> None:
        self.papers_embedded = 0

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        rows = []
        for text in texts:
            words = text.lower().replace(",", " ").replace(".", " ").split()
            vector = np.asarray(
                [sum(w in concept for w in words) for concept in CONCEPTS] + [0.1],
                dtype=np.float32,
            )
            rows.append(vector / np.linalg.norm(vector))
        return np.vstack(rows)

    def embed_papers(self, papers: Sequence[Paper]) -> np.ndarray:
        self.papers_embedded += len(papers)
        return self.embed_texts([paper_sentence(p) for p in papers])


PAPERS = [
    Paper("arxiv:1801.00001", "Automobile safety at night", "Vehicle lights and driving."),
    Paper("arxiv:1801.00002", "Enzyme folding kinetics", "How an enzyme folds."),
    Paper("arxiv:1801.00003", "A survey of star formation", "Cosmology of the early galaxy."),
]


def test_meaning_finds_a_paper_that_shares_no_word_with_the_keywords() -> None:
    sub = Subscriber("ada", "ada@example.org", topics=(Topic("Cars", keywords=(Keyword("car"),)),))
    assert rank_subscriber(PAPERS, sub) == []  # lexically, nothing says "car"
    ranked = rank_subscriber(PAPERS, sub, embedder=ConceptEmbedder())
    assert ranked[0].paper.id == "arxiv:1801.00001"
    assert [r.text for r in ranked[0].reasons] == ["close in meaning to your “Cars” topic"]
    assert ranked[0].score > 1.5 * max(r.score for r in ranked[1:])


def test_meaning_of_liked_papers_and_words_together() -> None:
    liked = Paper("arxiv:1701.00009", "Protein structure", "Protein folding in cells.")
    sub = Subscriber(
        "ada",
        "ada@example.org",
        topics=(Topic("Bio", keywords=(Keyword("enzyme"),), papers=("1701.00009",)),),
    )
    ranked = rank_subscriber(PAPERS, sub, {liked.id: liked}, embedder=ConceptEmbedder())
    assert ranked[0].paper.id == "arxiv:1801.00002"
    assert [r.kind for r in ranked[0].reasons] == ["keyword", "similar"]


def test_paper_vectors_are_computed_once_and_kept_in_the_store(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'digest.sqlite3'}")
    inner = ConceptEmbedder()
    cached = CachedEmbedder(inner, store)
    first = cached.embed_papers(PAPERS)
    again = CachedEmbedder(inner, store).embed_papers(PAPERS)
    assert inner.papers_embedded == 3
    assert np.array_equal(first, again)
    revised = Paper(PAPERS[0].id, PAPERS[0].title, "A new abstract about trucks.")
    CachedEmbedder(inner, store).embed_papers([revised, PAPERS[1]])
    assert inner.papers_embedded == 4  # a new text is embedded again, the rest read back
    store.close()


def test_a_topics_words_are_embedded_once_and_kept_in_the_store(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'digest.sqlite3'}")
    asked: list[list[str]] = []

    class Counting(ConceptEmbedder):
        def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
            asked.append(list(texts))
            return super().embed_texts(texts)

    first = CachedEmbedder(Counting(), store).embed_texts(["car", "star", "car"])
    assert asked == [["car", "star"]]  # each text once
    again = CachedEmbedder(Counting(), store).embed_texts(["star", "car"])
    assert asked == [["car", "star"]]  # read back from the store
    assert np.array_equal(again, first[[1, 0]])
    assert np.array_equal(first[0], first[2])
    store.close()


def test_without_the_extra_semantic_ranking_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)  # as if not installed
    load_embedder.cache_clear()  # a model another test loaded must not answer for the extra
    with pytest.raises(RankError, match=r"needs the semantic extra \(pip install torch==2\.13\.0"):
        SentenceEmbedder()
    config = parse_config(
        "ranking: {semantic: true}\nsubscribers:\n  - name: ada\n    email: a@example.org\n"
        "    topics: [{name: T, keywords: [car]}]\n",
        base_dir=tmp_path,
    )
    store = open_store(config.store_url)
    with pytest.raises(RankError, match="semantic extra"):
        rank_for_subscriber(config, store, config.subscriber("ada"), papers=PAPERS)
    store.close()


def test_the_model_path_is_taken_from_the_config_folder(tmp_path: Path) -> None:
    config = parse_config(
        "ranking: {semantic: true, model_path: models/minilm}\n", base_dir=tmp_path
    )
    assert config.ranking.model_path == tmp_path / "models/minilm"
    assert parse_config("", base_dir=tmp_path).ranking.semantic is False


def test_nearest_by_meaning_is_the_same_in_blocks_and_skips_a_small_day() -> None:
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(250, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    whole = nearest_by_meaning(vectors, block=1000)
    blocks = nearest_by_meaning(vectors, block=64)
    assert np.allclose(whole.toarray(), blocks.toarray(), atol=1e-6)
    assert whole.diagonal().sum() == 0  # no paper is its own neighbour
    assert np.allclose(np.asarray(whole.sum(axis=1)).ravel(), 1.0)
    assert whole.getnnz(axis=1).max() == 25  # one neighbour per 10 papers of the day
    best = np.argsort(-(vectors[0] @ vectors.T))[1]  # the closest other paper
    assert whole[0, best] > 0
    assert nearest_by_meaning(vectors[:9]) is None  # too few papers for nearness to mean much


def test_a_few_papers_are_not_smoothed_into_each_other() -> None:
    """On a small day a paper's score is its own: neighbours only count on a full day."""
    sub = Subscriber(
        "ada", "ada@example.org", topics=(Topic("Bio", keywords=(Keyword("enzyme"),)),)
    )
    ranked = rank_subscriber(PAPERS, sub, embedder=ConceptEmbedder())
    assert ranked[0].paper.id == "arxiv:1801.00002"
    assert ranked[0].score > 3 * max(r.score for r in ranked[1:])


def test_the_liked_paper_named_is_the_nearest_by_meaning_even_with_no_word_shared() -> None:
    proteins = Paper("arxiv:1701.00001", "Proteins", "Protein chemistry.")
    stars = Paper("arxiv:1701.00002", "Star catalogue", "Cosmology at large.")
    sub = Subscriber(
        "ada", "a@example.org", topics=(Topic("Mine", papers=("1701.00001", "1701.00002")),)
    )
    liked = {p.id: p for p in (proteins, stars)}
    ranked = rank_subscriber(PAPERS, sub, liked, embedder=ConceptEmbedder())
    reasons = {r.paper.id: [reason.text for reason in r.reasons] for r in ranked}
    # "Enzyme folding kinetics" shares no word with either liked paper, but means proteins.
    assert reasons["arxiv:1801.00002"] == ["close in meaning to “Proteins”"]
    assert reasons["arxiv:1801.00003"] == ["close in meaning to “Star catalogue”"]


# A day of 16 papers for the reasons in meaning: two about cars, the rest about proteins and
# stars; "lidar" means nothing to the stand-in model, so it is a keyword by its words alone.
DAY = [
    Paper("arxiv:1802.00001", "Automobile safety at night", "Vehicle lights seen by a lidar."),
    Paper("arxiv:1802.00002", "Lidar for driving", "Vehicle mapping for the automobile."),
    Paper("arxiv:1802.00003", "A survey of star formation", "Galaxy cosmology from a lidar."),
    *(
        Paper(f"arxiv:1802.{i:05d}", f"Enzyme study {i}", "Protein folding of an enzyme.")
        if i % 2
        else Paper(f"arxiv:1802.{i:05d}", f"Star catalogue {i}", "Cosmology of a galaxy.")
        for i in range(4, 17)
    ),
]


def reasons_by_title(ranked: Sequence[RankedPaper]) -> dict[str, list[str]]:
    return {r.paper.title: [reason.text for reason in r.reasons] for r in ranked}


def test_a_paper_placed_by_meaning_says_so_and_not_a_keyword_said_once_in_passing() -> None:
    topic = Topic("Cars", keywords=(Keyword("car"), Keyword("lidar")))
    ranked = rank_subscriber(
        DAY, Subscriber("ada", "a@example.org", topics=(topic,)), embedder=ConceptEmbedder()
    )
    why = reasons_by_title(ranked)
    # Meaning placed it; its one "lidar", in passing in the abstract, is not a reason.
    assert why["Automobile safety at night"] == ["close in meaning to your “Cars” topic"]
    # A keyword in the title is always one, beside the meaning.
    assert why["Lidar for driving"] == ["matches lidar", "close in meaning to your “Cars” topic"]
    # Far in meaning, the passing "lidar" is what placed this one: it says so.
    assert why["A survey of star formation"] == ["matches lidar"]
    # ... and without the extra every keyword found is listed, as before.
    lexical = reasons_by_title(
        rank_subscriber(DAY, Subscriber("ada", "a@example.org", topics=(topic,)))
    )
    assert lexical["Automobile safety at night"] == ["matches lidar"]


def test_the_liked_paper_is_named_when_it_placed_the_paper_and_the_topic_when_its_words_did() -> (
    None
):
    liked = Paper("arxiv:1701.00001", "Proteins in cells", "Protein chemistry.")
    topic = Topic("Mine", keywords=(Keyword("car"),), papers=(liked.arxiv_id or "",))
    ranked = rank_subscriber(
        DAY,
        Subscriber("ada", "a@example.org", topics=(topic,)),
        {liked.id: liked},
        embedder=ConceptEmbedder(),
    )
    why = reasons_by_title(ranked)
    assert why["Enzyme study 5"] == ["close in meaning to “Proteins in cells”"]
    assert why["Lidar for driving"] == ["close in meaning to your “Mine” topic"]


def test_what_a_reader_chose_stays_a_reason_in_meaning_mode() -> None:
    topic = Topic(
        "Cars", keywords=(Keyword("car"),), categories=("cs.RO",), authors=("Ada Lovelace",)
    )
    day = [
        replace(DAY[0], categories=("cs.RO",), authors=("Ada Lovelace",)),
        *DAY[1:],
    ]
    ranked = rank_subscriber(
        day, Subscriber("ada", "a@example.org", topics=(topic,)), embedder=ConceptEmbedder()
    )
    assert reasons_by_title(ranked)["Automobile safety at night"] == [
        "close in meaning to your “Cars” topic",
        "in cs.RO",
        "by Ada Lovelace",
    ]
