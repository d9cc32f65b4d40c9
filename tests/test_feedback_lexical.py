"""Without the semantic extra, a topic with enough marks from the email gets its own classifier
over the day's TF-IDF rows (`learn.learn_lexical`): a reader who likes one kind of the papers
their keyword catches and marks the other kind "not for me" sees the first kind rise and the
other sink, beyond what the "not for me" push alone does; a paper matching the keyword never
scores below its score without the classifier; the classifier is trained once per topic per run,
and not at all for topics without marks or with the semantic extra (which trains its own)."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from digest.models import Keyword, Mark, Paper, Subscriber, Topic
from digest.rank import learn, rank_detailed
from digest.rank.batch import DayPlan, Reader
from digest.rank.feedback import with_feedback
from digest.rank.ranker import Ranking, compile_profiles
from digest.rank.text import terms
from tests.test_day_plan import labelled
from tests.test_feedback_learning import WordEmbedder
from tests.test_rank_feedback import by_category, scores

AT = datetime(2026, 11, 30, 8, tzinfo=UTC)
KEYWORD = "model"


def field(paper: Paper) -> str:
    return paper.categories[0].split(".")[0]


def says(paper: Paper, word: str = KEYWORD) -> bool:
    return word in terms(f"{paper.title} {paper.abstract}")


def modellers() -> tuple[list[Paper], Subscriber, list[Mark]]:
    """A day of real papers and a reader whose keyword, "model", catches biology (q-bio) and
    computer science (cs) alike: they marked eight earlier biology papers with it "more like
    this" and eight computer science ones "not for me"."""
    day, earlier = labelled()
    person = Subscriber("Mo", "mo@example.org", topics=(Topic("Models", (Keyword(KEYWORD),)),))
    liked = [p for p in earlier if says(p) and field(p) == "q-bio"][:8]
    disliked = [p for p in earlier if says(p) and field(p) == "cs"][:8]
    marks = [Mark(person.email, p, "more", "Models", AT) for p in liked]
    marks += [Mark(person.email, p, "less", "Models", AT) for p in disliked]
    return day, person, marks


def test_the_lexical_classifier_lifts_the_kind_liked_and_sinks_the_kind_marked_not_for_me(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    day, person, marks = modellers()
    learned = rank_detailed(day, person, marks=marks, now=AT)
    monkeypatch.setattr(learn, "MIN_MARKS", 10**6)  # the same marks, no classifier
    pushed = rank_detailed(day, person, marks=marks, now=AT)

    def top(ranking: Ranking, kind: str) -> int:
        return sum(field(r.paper) == kind for r in ranking.ranked[:10])

    assert top(learned, "q-bio") > top(pushed, "q-bio")
    assert top(learned, "cs") < top(pushed, "cs")

    def first_cs(ranking: Ranking) -> int:
        return next(i for i, r in enumerate(ranking.ranked) if field(r.paper) == "cs")

    assert first_cs(learned) > first_cs(pushed)
    # What the keyword matched scores no lower than without the classifier ...
    old, new = scores(pushed), scores(learned)
    matching = [p for p in old if says(next(r.paper for r in pushed.ranked if r.paper.id == p))]
    assert len(matching) >= 20
    assert all(new[p] >= old[p] - 1e-6 for p in matching)
    # ... and the reasons still name the liked paper a paper is placed by.
    assert any(x.text.startswith("because you liked “") for r in learned.picked for x in r.reasons)


def test_the_lexical_classifier_is_trained_once_per_topic_per_run_and_only_with_marks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    day, _, _ = modellers()
    trained: list[int] = []
    real = learn._fit_spanned

    def counting(*args: object, **kwargs: object) -> np.ndarray:
        trained.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(learn, "_fit_spanned", counting)
    readers = []
    for n, name in ((learn.MIN_MARKS, "Ada"), (learn.MIN_MARKS - 1, "Bob"), (0, "Cy")):
        person = by_category(name)
        top = rank_detailed(day, person).picked
        marks = [
            Mark(person.email, r.paper, "more" if i % 2 else "less", "Computing", AT)
            for i, r in enumerate(top[:n])
        ]
        readers.append(
            Reader(person, tuple(with_feedback(compile_profiles(person, {}, {}), marks)))
        )
    assert not trained  # rankings without marks train nothing
    plan = DayPlan(day, readers)
    rankings = [plan.ranking(i, details=True) for i in range(len(readers))]
    assert len(trained) == 1  # Ada's topic only, once, though asked for three rankings
    plan.ranking(0)
    assert len(trained) == 1
    assert all(isinstance(r, Ranking) for r in rankings)
    # With the semantic extra, its own classifier over sentence vectors takes the topic's.
    DayPlan(day, readers, embedder=WordEmbedder()).ranking(0)
    assert len(trained) == 1
