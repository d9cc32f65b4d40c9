"""Feedback from the email in ranking, on a day of real labelled papers: "not for me" pushes the
papers like it down and hides the paper itself, never a paper matching one of the topic's own
keywords without saying so; "more like this" joins the topic's liked papers and its reasons say
"because you liked"; one reader's marks never move another reader's ranking."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from digest.models import Keyword, Mark, Paper, Subscriber, Topic
from digest.rank import rank_detailed
from digest.rank.batch import DayPlan, Reader
from digest.rank.feedback import with_feedback
from digest.rank.index import build_index
from digest.rank.ranker import Ranking, compile_profiles
from tests.test_day_plan import labelled

AT = datetime(2026, 11, 30, 8, tzinfo=UTC)


def day() -> list[Paper]:
    return labelled()[0]


def mark(person: Subscriber, paper: Paper, vote: str) -> Mark:
    return Mark(person.email, paper, vote, person.topics[0].name, AT)


def scores(ranking: Ranking) -> dict[str, float]:
    return {r.paper.id: r.score for r in ranking.ranked}


def cosine_to(paper: Paper, papers: list[Paper]) -> dict[str, float]:
    index = build_index(papers, set())
    row = index.tfidf[index.row_of[paper.id]]
    return dict(
        zip(
            [p.id for p in index.papers],
            np.asarray((index.tfidf @ row.T).todense()).ravel().tolist(),
            strict=True,
        )
    )


def by_category(name: str = "Cy") -> Subscriber:
    """A topic with no keywords: everything it ranks can be pushed down."""
    return Subscriber(
        name, f"{name.lower()}@example.org", topics=(Topic("Computing", categories=("cs.*",)),)
    )


def test_not_for_me_hides_the_paper_and_pushes_the_papers_like_it_down() -> None:
    papers, person = day(), by_category()
    before = rank_detailed(papers, person)
    disliked = before.picked[0].paper
    after = rank_detailed(papers, person, marks=[mark(person, disliked, "less")])
    old, new = scores(before), scores(after)
    assert disliked.id in old and disliked.id not in new
    near = cosine_to(disliked, papers)
    alike = [p for p in old if p != disliked.id and near[p] >= 0.1]
    unlike = [p for p in old if near[p] == 0.0]
    assert len(alike) >= 3 and unlike
    assert all(new[p] < old[p] for p in alike)
    assert all(new[p] == old[p] for p in unlike)  # a paper not like it keeps its score
    lowered = [
        r for r in after.ranked if any(x.text.startswith("ranked lower: like “") for x in r.reasons)
    ]
    assert lowered and all(near[r.paper.id] >= 0.08 for r in lowered)  # named when alike
    assert f"“{disliked.title}”" in lowered[0].reasons[-1].text


def test_a_paper_matching_a_keyword_is_kept_and_says_why() -> None:
    papers = day()
    person = Subscriber(
        "Kw",
        "kw@example.org",
        topics=(Topic("Nets", keywords=(Keyword("neural network"), Keyword("neural networks"))),),
    )
    before = rank_detailed(papers, person)
    disliked = before.picked[0].paper
    after = rank_detailed(papers, person, marks=[mark(person, disliked, "less")])
    old, new = scores(before), scores(after)
    near = cosine_to(disliked, papers)
    matching = [
        r
        for r in before.ranked
        if any(x.kind == "keyword" for x in r.reasons) and r.paper.id != disliked.id
    ]
    assert matching
    for r in matching:
        assert new[r.paper.id] == old[r.paper.id]  # never pushed down
    kept = [
        r for r in after.ranked if any(x.text.startswith("kept though like “") for x in r.reasons)
    ]
    assert kept and all(near[r.paper.id] >= 0.08 for r in kept)


def test_more_like_this_joins_the_liked_papers_and_the_reasons_say_so() -> None:
    papers, person = day(), by_category()
    before = rank_detailed(papers, person)
    liked = before.picked[0].paper
    after = rank_detailed(papers, person, marks=[mark(person, liked, "more")])
    assert liked.id not in scores(after)  # liked: not shown again
    said = [x.text for r in after.picked for x in r.reasons]
    assert f"because you liked “{liked.title}”" in said
    assert not any("because you liked" in x.text for r in before.ranked for x in r.reasons)
    near = cosine_to(liked, papers)
    moved_up = [
        p for p in scores(before) if p != liked.id and near[p] >= 0.1 and p in scores(after)
    ]
    assert moved_up
    # Among the topic's papers, the ones like the liked paper now rank higher than before.
    rank_before = [r.paper.id for r in before.ranked]
    rank_after = [r.paper.id for r in after.ranked]
    assert sum(rank_after.index(p) < rank_before.index(p) for p in moved_up) > len(moved_up) / 2


def test_one_readers_feedback_never_changes_another_readers_ranking() -> None:
    papers = day()
    ada, bob = by_category("Ada"), by_category("Bob")  # the very same topic
    top = rank_detailed(papers, ada).picked
    marks = [mark(ada, top[0].paper, "less"), mark(ada, top[1].paper, "more")]
    profiles = [tuple(compile_profiles(p, {}, {})) for p in (ada, bob)]
    plan = DayPlan(
        papers,
        [Reader(ada, tuple(with_feedback(profiles[0], marks))), Reader(bob, profiles[1])],
    )
    bob_alone = rank_detailed(papers, bob)
    bob_together = plan.ranking(1, details=True)
    assert bob_together.ranked == bob_alone.ranked
    assert bob_together.picked == bob_alone.picked
    assert plan.ranking(0, details=True).ranked != bob_alone.ranked  # Ada's did change


def test_digest_tune_says_how_the_feedback_moved_papers() -> None:
    from digest.tune import format_report, tune_profile

    papers, person = day(), by_category()
    assert tune_profile(papers, person).feedback == ()
    top = rank_detailed(papers, person).picked
    disliked, liked = top[0].paper, top[1].paper
    lines = tune_profile(papers, person, marks=[mark(person, disliked, "less")]).feedback
    assert lines[0] == f"out of the digest: {disliked.title} (you marked it)"
    assert any(
        line.startswith("down ") and f"(ranked lower: like “{disliked.title}”" in line
        for line in lines[1:]
    )
    report = tune_profile(papers, person, marks=[mark(person, liked, "more")])
    assert any(
        line.startswith(("up ", "new")) and f"(because you liked “{liked.title}”)" in line
        for line in report.feedback
    )
    text = format_report(report)
    assert "how your feedback from the email moved papers:" in text
    assert text.index("moved papers:") < text.index("the digest:")
