"""What ranking learns from the email's feedback over time: old marks fade (a documented
half-life, `ranking.feedback_half_life_days`), and with the semantic extra a topic with enough
marks gets its own classifier over the sentence vectors, trained once per topic per run, that
never pushes down a paper matching one of the topic's keywords. The last test runs the real
model (all-MiniLM-L6-v2): feedback moves a paper like the ones marked."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from digest.config import ConfigError, load_config
from digest.models import Keyword, Mark, Paper, Subscriber, Topic
from digest.rank import learn, rank_detailed
from digest.rank.batch import DayPlan, Reader
from digest.rank.feedback import HALF_LIFE_DAYS, mark_weight, with_feedback
from digest.rank.index import build_index
from digest.rank.ranker import Ranking, compile_profiles
from tests.conftest import needs_semantic_extra
from tests.test_rank_feedback import by_category, cosine_to, day, scores

AT = datetime(2026, 11, 30, 8, tzinfo=UTC)
TOPIC_WORDS = ("LLM agents", "agentic", "multi-agent", "tool use")


def mark(person: Subscriber, paper: Paper, vote: str, at: datetime = AT) -> Mark:
    return Mark(person.email, paper, vote, person.topics[0].name, at)


# ---------------------------------------------------------------- old marks fade


def test_a_mark_weighs_half_after_the_half_life() -> None:
    one = Mark("a@example.org", Paper("arxiv:1801.00001", "A paper"), "more", "t", AT)
    assert mark_weight(one, AT) == 1.0
    assert mark_weight(one, AT + timedelta(days=HALF_LIFE_DAYS)) == pytest.approx(0.5)
    assert mark_weight(one, AT + timedelta(days=2 * HALF_LIFE_DAYS)) == pytest.approx(0.25)
    assert mark_weight(one, AT + timedelta(days=10), half_life_days=10) == pytest.approx(0.5)
    assert mark_weight(one, AT - timedelta(days=1)) == 1.0  # a clock behind the mark: fresh


def test_the_half_life_is_a_config_key_with_a_default(tmp_path: Path) -> None:
    file = tmp_path / "config.yaml"
    file.write_text("subscribers: []\n")
    assert load_config(file).ranking.feedback_half_life_days == HALF_LIFE_DAYS == 90
    file.write_text("ranking: {feedback_half_life_days: 30}\nsubscribers: []\n")
    assert load_config(file).ranking.feedback_half_life_days == 30
    file.write_text("ranking: {feedback_half_life_days: 0}\nsubscribers: []\n")
    with pytest.raises(ConfigError, match="ranking.feedback_half_life_days"):
        load_config(file)


def test_an_old_not_for_me_pushes_the_papers_like_it_down_less() -> None:
    papers, person = day(), by_category()
    before = rank_detailed(papers, person)
    disliked = before.picked[0].paper
    marks = [mark(person, disliked, "less")]
    fresh = scores(rank_detailed(papers, person, marks=marks, now=AT))
    later = AT + timedelta(days=HALF_LIFE_DAYS)
    aged = scores(rank_detailed(papers, person, marks=marks, now=later))
    old = scores(before)
    near = cosine_to(disliked, papers)
    alike = [p for p in fresh if near[p] >= 0.1]
    assert len(alike) >= 3
    for p in alike:
        assert fresh[p] < aged[p] < old[p]


def test_an_old_more_like_this_lifts_the_papers_like_it_less() -> None:
    papers = day()
    person = Subscriber(
        "Kw", "kw@example.org", topics=(Topic("Nets", keywords=(Keyword("neural network"),)),)
    )
    before = scores(rank_detailed(papers, person))
    # A paper without the topic's keyword, with papers like it that lack it too.
    index = build_index(papers, set())
    alike_of = index.tfidf @ index.tfidf.T
    outside = np.asarray([p.id not in before for p in index.papers])
    counts = np.asarray(((alike_of >= 0.15).multiply(outside[None, :])).sum(axis=1)).ravel()
    liked = index.papers[int(np.argmax(np.where(outside, counts, -1)))]
    marks = [mark(person, liked, "more")]
    fresh = scores(rank_detailed(papers, person, marks=marks, now=AT))
    aged = scores(rank_detailed(papers, person, marks=marks, now=AT + timedelta(days=365)))
    near = cosine_to(liked, papers)
    alike = [p for p in fresh if p not in before and near[p] >= 0.15]
    assert len(alike) >= 3  # papers only the liked paper brought in
    for p in alike:
        assert 0 < aged.get(p, 0.0) < fresh[p]


def test_the_day_plan_weighs_marks_by_their_age_at_the_runs_time() -> None:
    papers, person = day(), by_category()
    disliked = rank_detailed(papers, person).picked[0].paper
    profiles = compile_profiles(person, {}, {})
    marks = [mark(person, disliked, "less", AT - timedelta(days=HALF_LIFE_DAYS))]
    (profile,) = with_feedback(profiles, marks, now=AT)
    assert profile.weights(profile.disliked).tolist() == pytest.approx([0.5])
    (newest,) = with_feedback(profiles, marks)  # no time given: the newest mark's
    assert newest.weights(newest.disliked).tolist() == [1.0]


# ---------------------------------------------------------------- the classifier, unit


def unit(rows: np.ndarray) -> np.ndarray:
    return np.asarray(rows / np.linalg.norm(rows, axis=1, keepdims=True), dtype=np.float32)


def two_close_clusters(seed: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Vectors of a wanted and an unwanted cluster, close to each other and both close to the
    profile's own direction (the prior), and a day of mostly unrelated papers."""
    rng = np.random.default_rng(seed)
    dim = 32
    prior = np.zeros(dim)
    prior[0] = 1.0
    wanted, unwanted = prior.copy(), prior.copy()
    wanted[1], unwanted[2] = 0.8, 0.8
    around = lambda centre, n: unit(centre + 0.06 * rng.standard_normal((n, dim)))  # noqa: E731
    day = unit(rng.standard_normal((300, dim)))
    return around(wanted, 40), around(unwanted, 40), day, prior.astype(np.float32)


def test_the_classifier_tells_the_marked_apart_where_the_profile_cannot() -> None:
    wanted, unwanted, day, prior = two_close_clusters()
    liked, disliked = wanted[:5], unwanted[:5]
    test_wanted, test_unwanted = wanted[5:], unwanted[5:]
    model = learn.learn_topic(
        liked, np.ones(5), disliked, np.ones(5), learn.background_sample(day), prior
    )
    # The profile's own direction ranks the two clusters alike ...
    by_prior = (test_wanted @ prior).mean() - (test_unwanted @ prior).mean()
    assert abs(by_prior) < 0.05
    # ... the classifier puts every unseen wanted paper above every unseen unwanted one,
    mine, other = model.margin(test_wanted), model.margin(test_unwanted)
    assert mine.min() > other.max()
    # and both clusters, on the topic, above the day's unrelated papers on average.
    assert other.mean() > model.margin(day).mean()


def test_with_no_marks_the_classifier_is_the_profile() -> None:
    wanted, _, day, prior = two_close_clusters()
    model = learn.learn_topic(
        wanted[:0], np.ones(0), wanted[:0], np.ones(0), learn.background_sample(day), prior
    )
    # The order it gives is the prior's (the cosine to the profile's own direction).
    assert np.corrcoef(model.margin(day), day @ prior)[0, 1] > 0.999


def test_an_old_mark_moves_the_classifier_less() -> None:
    wanted, unwanted, day, prior = two_close_clusters()
    background = learn.background_sample(day)
    fresh = learn.learn_topic(wanted[:5], np.ones(5), unwanted[:5], np.ones(5), background, prior)
    faded = learn.learn_topic(
        wanted[:5], np.full(5, 0.1), unwanted[:5], np.full(5, 0.1), background, prior
    )
    gap = lambda m: m.margin(wanted[5:]).mean() - m.margin(unwanted[5:]).mean()  # noqa: E731
    assert gap(fresh) > gap(faded) > 0


class WordEmbedder:
    """Unit vectors from the words of a text (a stand-in for the sentence model in unit
    tests): one dimension per hashed word."""

    name = "words"

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), 512), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in text.lower().split():
                out[i, hash(word.strip(".,:;()")) % 512] += 1.0
        out += 1e-3
        return unit(out)

    def embed_papers(self, papers: Sequence[Paper]) -> np.ndarray:
        return self.embed_texts([f"{p.title}. {p.abstract}" for p in papers])


def test_the_classifier_is_trained_once_per_topic_per_run_and_only_with_enough_marks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    papers = day()
    trained: list[int] = []
    real = learn.learn_topic

    def counting(*args: object, **kwargs: object) -> learn.TopicModel:
        trained.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(learn, "learn_topic", counting)
    readers, rankings = [], []
    for n, name in ((learn.MIN_MARKS, "Ada"), (learn.MIN_MARKS - 1, "Bob"), (0, "Cy")):
        person = by_category(name)
        top = rank_detailed(papers, person).picked
        marks = [mark(person, r.paper, "more" if i % 2 else "less") for i, r in enumerate(top[:n])]
        profiles = with_feedback(compile_profiles(person, {}, {}), marks, now=AT)
        readers.append(Reader(person, tuple(profiles)))
    plan = DayPlan(papers, readers, embedder=WordEmbedder())
    rankings = [plan.ranking(i, details=True) for i in range(len(readers))]
    assert len(trained) == 1  # Ada's topic only, and once, though asked for three rankings
    plan.ranking(0)
    assert len(trained) == 1
    assert all(isinstance(r, Ranking) for r in rankings)


def test_the_classifier_never_pushes_down_a_paper_matching_a_keyword(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    papers = day()
    person = Subscriber(
        "Kw",
        "kw@example.org",
        topics=(Topic("Nets", keywords=(Keyword("neural network"), Keyword("neural networks"))),),
    )
    embedder = WordEmbedder()
    before = rank_detailed(papers, person, embedder=embedder)
    matching = [r.paper for r in before.ranked if any(x.kind == "keyword" for x in r.reasons)]
    # Mark the topic's own keyword papers "not for me", a few others "more like this".
    others = [r.paper for r in before.ranked if r.paper not in matching][:3]
    marks = [mark(person, p, "less") for p in matching[:3]] + [
        mark(person, p, "more") for p in others
    ]
    learned = scores(rank_detailed(papers, person, embedder=embedder, marks=marks, now=AT))
    monkeypatch.setattr(learn, "MIN_MARKS", 10**6)  # the same marks, no classifier
    unlearned = scores(rank_detailed(papers, person, embedder=embedder, marks=marks, now=AT))
    kept = [p.id for p in matching[3:] if p.id in unlearned]
    assert len(kept) >= 3
    for paper in kept:
        assert learned[paper] >= unlearned[paper] - 1e-6
    # The classifier did learn: papers without the keyword moved.
    assert any(abs(learned[p] - unlearned[p]) > 0.01 for p in unlearned if p not in kept)


def test_with_fresh_marks_the_meaning_column_is_the_classifiers_and_it_fades_with_age(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A topic's meaning column is its classifier's z-scored margin while the marks are fresh,
    and moves back towards the profile's own meaning as they age."""
    from digest.rank.scoring import Signals, standardise
    from digest.rank.semantic import add_semantics

    papers = day()
    person = by_category()
    top = rank_detailed(papers, person).picked
    profiles = compile_profiles(person, {}, {})
    models: list[learn.TopicModel] = []
    real = learn.learn_topic

    def keeping(*args: object, **kwargs: object) -> learn.TopicModel:
        models.append(real(*args, **kwargs))  # type: ignore[arg-type]
        return models[-1]

    monkeypatch.setattr(learn, "learn_topic", keeping)
    embedder = WordEmbedder()
    vectors = embedder.embed_papers(papers)
    n = len(papers)
    empty = np.zeros((n, 1), dtype=np.float32)
    signals = Signals(empty, empty, empty, empty, empty > 0, np.zeros(n, dtype=np.float32))

    def column(at: datetime) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        marks = [
            mark(person, r.paper, "more" if i % 2 else "less", AT) for i, r in enumerate(top[:6])
        ]
        (profile,) = with_feedback(profiles, marks, now=at)
        out = add_semantics(signals, papers, [profile], embedder)
        assert out.semantic is not None and out.semantic_unlearned is not None
        learned = standardise(models[-1].margin(vectors)[:, None], 0.05)[:, 0]
        return out.semantic[:, 0], out.semantic_unlearned[:, 0], learned

    fresh, profile_own, learned = column(AT)
    np.testing.assert_allclose(fresh, learned, atol=1e-5)
    aged, profile_own, learned = column(AT + timedelta(days=HALF_LIFE_DAYS))
    np.testing.assert_allclose(aged, 0.5 * profile_own + 0.5 * learned, atol=1e-5)


def test_a_topic_with_a_classifier_shares_less_of_a_papers_score_with_its_neighbours() -> None:
    """On a large day a paper's meaning score is mostly its 30 nearest papers' (0.85); on a
    topic with its own classifier half as much: a paper the classifier puts high, among
    neighbours it does not, ranks higher there than on the same column without a classifier."""
    import scipy.sparse as sp

    from digest.rank.scoring import (
        SEMANTIC_MIDPOINT,
        SEMANTIC_SLOPE,
        SEMANTIC_SMOOTHING,
        WORDS_SHARE,
        Signals,
        combine,
        compile_topic,
    )

    n, k = 2000, 30
    rng = np.random.default_rng(11)
    meaning = rng.standard_normal(n).astype(np.float32)
    meaning[0] = 4.0  # high on its own; its neighbours (random papers) are not
    rows = np.repeat(np.arange(n), k)
    cols = (rows + rng.integers(1, n, size=n * k)) % n
    graph = sp.csr_matrix((np.full(n * k, 1.0 / k, dtype=np.float32), (rows, cols)), (n, n))
    zeros = np.zeros((n, 2), dtype=np.float32)
    signals = Signals(
        zeros,
        zeros,
        zeros,
        zeros,
        zeros > 0,
        np.zeros(n, dtype=np.float32),
        neighbours=graph,
        semantic=np.repeat(meaning[:, None], 2, axis=1),
        semantic_topics=np.ones(2, dtype=np.bool_),
        learned_topics=np.asarray([False, True]),
    )
    words = (Keyword("unmatched"),)  # a topic with words, none of them in the day's papers
    profiles = [
        compile_topic(Topic("plain", keywords=words)),
        compile_topic(Topic("learned", keywords=words)),
    ]
    scores = combine(signals, profiles, trending_weight=0.0)
    place = (scores > scores[0]).sum(axis=0)  # papers above paper 0, per topic
    assert place[1] == 0 < place[0]
    # What each paper's own meaning weighs against its neighbours', read back from the scores.
    fused = np.log(scores / (1 - scores)) / SEMANTIC_SLOPE + SEMANTIC_MIDPOINT
    around = graph @ meaning
    for t, smoothing in (
        (0, SEMANTIC_SMOOTHING),
        (1, learn.LEARNED_SMOOTHING * SEMANTIC_SMOOTHING),
    ):
        expected = (1 - WORDS_SHARE) * ((1 - smoothing) * meaning + smoothing * around)
        np.testing.assert_allclose(fused[:, t], expected, atol=1e-3)


# ---------------------------------------------------------------- with the real model

AGENTS = Topic("LLM agents", keywords=tuple(Keyword(k) for k in TOPIC_WORDS))
MORE = ("arxiv:2508.13530", "arxiv:2510.12403")  # CrafterDojo: embodied agents; Robot Learning
LESS = ("arxiv:2508.13915", "arxiv:2508.13256", "arxiv:2508.13423")  # finance, cardiac, jobs
ALIKE = "arxiv:2510.12693"  # ERA: Transforming VLMs into Embodied Agents (marked neither way)
UNLIKE = "arxiv:2508.13754"  # Multi-LLM collaboration for medical decisions (like the cardiac one)


class Vectors(dict[str, bytes]):
    """Paper vectors kept in memory for the test (the store keeps them in production)."""

    def get_embeddings(self, model: str, keys: Sequence[str]) -> dict[str, bytes]:
        return {k: self[k] for k in keys if k in self}

    def save_embeddings(self, model: str, vectors: Mapping[str, bytes]) -> None:
        self.update(vectors)


def test_with_the_real_model_feedback_moves_a_paper_like_the_ones_marked(real: Path) -> None:
    """On the recorded 112-paper day (the cs.AI listing of 2025-08-20 and the Hugging Face
    papers of 2025-10-15), an "LLM agents" reader marks two embodied-agent and robot papers
    "more like this" and three applications (finance, cardiology, careers) "not for me": the
    embodied-agents paper they did not mark climbs, and says which liked paper it is like; a
    medical application they did not mark falls."""
    needs_semantic_extra()
    from digest.rank.semantic import CachedEmbedder, load_embedder
    from digest.sources.arxiv import parse_listing
    from digest.sources.hf import parse_daily

    feed = real / "arxiv_rss" / "rss.arxiv.org_atom_cs.AI_2025-08-20_86entries.xml"
    daily = real / "hf_daily_papers" / "daily_papers_2025-10-15.json"
    papers = parse_listing(feed.read_bytes()) + parse_daily(daily.read_bytes())
    by_id = {p.id: p for p in papers}
    person = Subscriber("A", "a@example.org", trending_weight=0.0, topics=(AGENTS,))
    embedder = CachedEmbedder(load_embedder(None), Vectors())  # each paper embedded once
    before = [r.paper.id for r in rank_detailed(papers, person, embedder=embedder).ranked]
    marks = [mark(person, by_id[i], "more") for i in MORE]
    marks += [mark(person, by_id[i], "less") for i in LESS]
    assert all(i in before[:20] for i in (*MORE, *LESS))  # what the reader was shown
    after = rank_detailed(papers, person, embedder=embedder, marks=marks, now=AT)
    order = [r.paper.id for r in after.ranked]
    assert order.index(ALIKE) + 5 <= before.index(ALIKE), (before.index(ALIKE), order.index(ALIKE))
    assert order.index(ALIKE) < 10
    assert order.index(UNLIKE) >= before.index(UNLIKE) + 3, (
        before.index(UNLIKE),
        order.index(UNLIKE),
    )
    reasons = [x.text for r in after.ranked if r.paper.id == ALIKE for x in r.reasons]
    assert any(x.startswith("because you liked “") for x in reasons), reasons
    assert not {*MORE, *LESS} & set(order)  # the marked papers are not shown again
