"""One day plan for everyone: a few hundred varied subscribers ranked together in blocks give each
the very digest they get ranked alone (the same cut, scores, reasons, near misses and trending
papers), with windows of candidates that differ, liked papers, libraries, excludes, phrases and
several topics. With the semantic extra installed, the same holds with the real model."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime
from functools import lru_cache

import numpy as np
import pytest

from digest.models import Keyword, Mark, Paper, Subscriber, Topic
from digest.papers_file import read_papers
from digest.rank import rank_detailed
from digest.rank.batch import DayPlan, Reader
from digest.rank.feedback import with_feedback
from digest.rank.ranker import Ranking, compile_profiles
from digest.rank.semantic import Embedder
from digest.rank.text import terms
from tests.conftest import LABELLED, needs_semantic_extra

DAY_PAPERS = 400


@lru_cache(maxsize=1)
def labelled() -> tuple[list[Paper], list[Paper]]:
    """The day's papers (some upvoted, to trend) and older ones to like, seeded."""
    everything = read_papers(LABELLED)
    rng = random.Random(16)
    rng.shuffle(everything)
    day = [
        replace(p, upvotes=rng.randint(1, 90)) if rng.random() < 0.08 else p
        for p in everything[:DAY_PAPERS]
    ]
    return day, everything[DAY_PAPERS : DAY_PAPERS + 3000]


def people(
    count: int, seed: int
) -> list[tuple[Subscriber, dict[str, Paper], dict[str, list[Paper]]]]:
    """Varied subscribers, each with the liked papers and libraries their topics name."""
    day, earlier = labelled()
    rng = random.Random(seed)
    titles = [t for t in (terms(p.title) for p in day) if len(t) > 1]
    authors = [p.authors[0] for p in day if p.authors]
    categories = sorted({c for p in day for c in p.categories})
    out = []
    for s in range(count):
        topics, liked, libraries = [], {}, {}
        for t in range(rng.choice((1, 1, 2, 3))):
            words = rng.choice(titles)
            keywords = []
            for _ in range(rng.randint(0 if t else 1, 4)):
                if rng.random() < 0.3:
                    i = rng.randrange(len(words) - 1)
                    keywords.append(Keyword(f"{words[i]} {words[i + 1]}"))
                else:
                    keywords.append(Keyword(rng.choice(words), rng.choice((1.0, 1.0, 2.0, 0.5))))
            papers, library = (), None
            if rng.random() < 0.3:
                chosen = rng.sample(earlier, 3) + ([rng.choice(day)] if rng.random() < 0.3 else [])
                papers = tuple(p.id for p in chosen)
                liked.update((p.id, p) for p in chosen)
            if rng.random() < 0.2:
                library = f"lib-{s}-{t}.jsonl"
                libraries[library] = rng.sample(earlier, rng.randint(2, 8))
            topics.append(
                Topic(
                    name=f"topic {t}",
                    keywords=tuple(keywords),
                    exclude=(rng.choice(rng.choice(titles)),) if rng.random() < 0.25 else (),
                    categories=(rng.choice(categories),) if rng.random() < 0.3 else (),
                    authors=(rng.choice(authors),) if rng.random() < 0.15 else (),
                    papers=papers,
                    library=library,
                    description=" ".join(rng.choice(titles)) if rng.random() < 0.15 else "",
                    weight=rng.choice((1.0, 1.0, 1.5, 0.7)),
                )
            )
        if not any(
            t.keywords or t.categories or t.authors or t.papers or t.library or t.description
            for t in topics
        ):
            topics[0] = replace(topics[0], categories=(rng.choice(categories),))
        person = Subscriber(
            f"Reader {s}",
            f"r{s}@example.org",
            topics=tuple(topics),
            max_papers=rng.choice((5, 10, 20)),
            min_score=rng.choice((0.0, 0.0, 0.3)),
            trending_weight=rng.choice((0.0, 1.0, 2.0)),
        )
        out.append((person, liked, libraries))
    return out


def same_digest(together: Ranking, alone: Ranking) -> None:
    """The digest's cut and trending papers equal, reasons and all; near misses by score."""
    assert together.picked == alone.picked
    assert together.trending == alone.trending
    # Below the cut the lists reach far down the day, where a score computed in a block of
    # other readers' topics may differ from the one computed alone in its last float32 bit
    # (1e-6 once rounded): the same papers, topics and reasons, scores within 2e-6.
    assert [(r.paper.id, r.topic, r.reasons) for r in together.also] == [
        (r.paper.id, r.topic, r.reasons) for r in alone.also
    ]
    assert [(r.paper.id, r.topic) for r in together.near_misses] == [
        (r.paper.id, r.topic) for r in alone.near_misses
    ]
    below = zip(
        (*together.also, *together.near_misses), (*alone.also, *alone.near_misses), strict=True
    )
    for a, b in below:
        assert abs(a.score - b.score) <= 2e-6, (a.paper.id, a.score, b.score)


def test_a_few_hundred_subscribers_ranked_together_get_the_digest_they_get_alone() -> None:
    day, _ = labelled()
    everyone = people(200, seed=5)
    readers = [
        Reader(person, tuple(compile_profiles(person, liked, libraries)))
        for person, liked, libraries in everyone
    ]
    plan = DayPlan(day, readers, chunk_topics=64)  # many blocks, as for thousands of people
    assert len(plan._blocks) > 5
    picked = 0
    for i, (person, liked, libraries) in enumerate(everyone):
        alone = rank_detailed(day, person, liked, libraries=libraries)
        together = plan.ranking(i)
        same_digest(together, alone)
        picked += len(alone.picked)
    # The profiles do pick papers (the cut keeps only those that stand out: a few each), so the
    # comparison is not of empty lists.
    assert picked > 200 * 2


def test_readers_whose_windows_differ_share_the_scores_and_get_their_own_candidates() -> None:
    day, _ = labelled()
    everyone = people(60, seed=9)
    rng = np.random.default_rng(3)
    windows = [np.ones(len(day), dtype=np.bool_), rng.random(len(day)) < 0.6, None]
    readers = [
        Reader(person, tuple(compile_profiles(person, liked, libraries)), windows[i % 3])
        for i, (person, liked, libraries) in enumerate(everyone)
    ]
    plan = DayPlan(day, readers, chunk_topics=50)
    narrow = windows[1]
    assert narrow is not None
    outside = {p.id for p, inside in zip(day, narrow, strict=True) if not inside}
    for i, reader in enumerate(readers):
        alone = DayPlan(day, [reader]).ranking(0)
        together = plan.ranking(i)
        same_digest(together, alone)
        if i % 3 == 1:
            shown = {r.paper.id for r in (*together.picked, *together.trending)}
            assert not shown & outside  # nothing from outside the reader's window


@pytest.fixture(scope="module")
def model() -> Embedder:
    needs_semantic_extra()
    from digest.rank.semantic import load_embedder

    return load_embedder(None)


class Remembering:
    """The real model, each paper and text embedded once for the whole test, as the store's
    cache keeps papers. (The model itself pads a batch of texts to its longest, which moves the
    last bits of a vector with the batch it came in; that is the model's, not the plan's.)"""

    def __init__(self, inner: Embedder) -> None:
        self.inner, self.name = inner, inner.name
        self.papers: dict[str, np.ndarray] = {}  # type: ignore[type-arg]
        self.texts: dict[str, np.ndarray] = {}  # type: ignore[type-arg]

    def embed_texts(self, texts: list[str]) -> np.ndarray:  # type: ignore[type-arg]
        missing = [t for t in dict.fromkeys(texts) if t not in self.texts]
        if missing:
            self.texts.update(zip(missing, self.inner.embed_texts(missing), strict=True))
        return np.vstack([self.texts[t] for t in texts])

    def embed_papers(self, papers: list[Paper]) -> np.ndarray:  # type: ignore[type-arg]
        missing = list({p.id: p for p in papers if p.id not in self.papers}.values())
        if missing:
            vectors = self.inner.embed_papers(missing)
            self.papers.update(zip([p.id for p in missing], vectors, strict=True))
        return np.vstack([self.papers[p.id] for p in papers])


def test_with_the_real_model_ranked_together_is_ranked_alone(model: Embedder) -> None:
    day = labelled()[0][:200]  # the model on two shared cores: a smaller day
    embedder = Remembering(model)
    everyone = people(40, seed=21)
    readers = [
        Reader(person, tuple(compile_profiles(person, liked, libraries)))
        for person, liked, libraries in everyone
    ]
    plan = DayPlan(day, readers, embedder=embedder, chunk_topics=32)
    together = [plan.ranking(i) for i in range(len(readers))]  # the model sees each block once
    for i, (person, liked, libraries) in enumerate(everyone):
        alone = rank_detailed(day, person, liked, libraries=libraries, embedder=embedder)
        same_digest(together[i], alone)


def marks_for(person: Subscriber, seed: int, day: list[Paper], earlier: list[Paper]) -> list[Mark]:
    """Feedback from the email for some of a reader's topics: liked papers (old and of the
    day) and "not for me" ones of the day, and a mark under a topic they no longer have."""
    rng = random.Random(seed)
    at = datetime(2026, 11, 30, 8, tzinfo=UTC)
    found = []
    for topic in person.topics:
        if rng.random() < 0.5:
            continue
        for paper in rng.sample(earlier, rng.randint(0, 2)) + rng.sample(day, rng.randint(0, 2)):
            found.append(Mark(person.email, paper, "more", topic.name, at))
        for paper in rng.sample(day, rng.randint(1, 3)):
            found.append(Mark(person.email, paper, "less", topic.name, at))
    found.append(Mark(person.email, rng.choice(day), "less", "a topic since removed", at))
    return found


def test_feedback_from_the_email_ranked_together_is_ranked_alone() -> None:
    day, earlier = labelled()
    everyone = people(30, seed=31)
    marks = [marks_for(p, i, day, earlier) for i, (p, _, _) in enumerate(everyone)]
    readers = [
        Reader(person, tuple(with_feedback(compile_profiles(person, liked, libraries), mine)))
        for (person, liked, libraries), mine in zip(everyone, marks, strict=True)
    ]
    plan = DayPlan(day, readers, chunk_topics=20)
    lowered = liked_reasons = 0
    for i, (person, liked, libraries) in enumerate(everyone):
        alone = rank_detailed(day, person, liked, libraries=libraries, marks=marks[i])
        together = plan.ranking(i)
        same_digest(together, alone)
        reasons = [r.text for p in alone.ranked for r in p.reasons]
        lowered += sum(t.startswith(("ranked lower", "kept though")) for t in reasons)
        liked_reasons += sum(t.startswith("because you liked") for t in reasons)
        gone = {m.paper.id for m in marks[i] if m.topic in {t.name for t in person.topics}}
        assert not gone & {r.paper.id for r in together.ranked}  # marked: not shown again
    assert lowered > 10 and liked_reasons > 10  # the feedback did act
