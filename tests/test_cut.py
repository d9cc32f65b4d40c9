"""Where the digest ends: a thin day gives a short digest, a rich day a full one, never more than
max_papers; min_score still holds; the few just below the cut follow as "also" entries; and
`digest rank --json` says which papers made it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from digest.cli import cli
from digest.models import Keyword, Paper, Subscriber, Topic
from digest.rank import rank_detailed
from digest.rank.cut import cut_digest
from digest.sources.arxiv import parse_listing
from digest.sources.hf import parse_daily

RNG = np.random.default_rng(3)


def day(background: int, standouts: list[float]) -> np.ndarray:
    """A day: `background` papers scoring a little (most of a day is about something else),
    plus the given stand-out scores."""
    noise = np.clip(RNG.normal(0.08, 0.03, background), 0, None)
    return np.concatenate([noise, np.asarray(standouts)])


def test_a_thin_day_gives_a_short_digest() -> None:
    scores = day(1000, [0.55, 0.52, 0.49])
    cut = cut_digest(scores, max_papers=20)
    assert cut.count == 3
    assert set(np.flatnonzero(cut.digest)) == {1000, 1001, 1002}


def test_a_rich_day_gives_a_full_digest_and_never_more_than_max_papers() -> None:
    scores = day(1000, list(np.linspace(0.6, 0.5, 40)))
    assert cut_digest(scores, max_papers=20).count == 20
    assert cut_digest(scores, max_papers=7).count == 7


def test_a_day_where_nothing_stands_out_gives_nothing() -> None:
    assert cut_digest(day(1000, []), max_papers=20).count == 0
    assert cut_digest(np.zeros(500), max_papers=20).count == 0
    assert cut_digest(np.zeros(0), max_papers=20).count == 0


def test_a_clear_drop_ends_the_digest_and_the_next_ones_are_also_entries() -> None:
    scores = day(1000, [0.6, 0.58, 0.56, 0.42, 0.40, 0.39, 0.38, 0.37, 0.36, 0.35])
    cut = cut_digest(scores, max_papers=20)
    assert cut.count == 3  # 0.42 is below 0.75 x the best
    also = sorted(scores[cut.also], reverse=True)
    assert also == [0.42, 0.40, 0.39, 0.38, 0.37]  # the next, at most five
    assert not (cut.digest & cut.also).any()


def test_min_score_still_holds() -> None:
    scores = day(1000, [0.6, 0.58, 0.56, 0.5])
    cut = cut_digest(scores, max_papers=20, min_score=0.57)
    assert sorted(scores[cut.digest]) == [0.58, 0.6]
    assert cut_digest(scores, max_papers=20, min_score=2.0).count == 0


def test_each_topic_is_cut_against_its_own_day() -> None:
    """A strong topic does not silence a quieter one, and a broad one (matching most of the
    day) does not raise the bar for a narrow one."""
    narrow = day(1000, [0.69, 0.68, 0.0, 0.0])
    quiet = np.zeros(narrow.size)
    quiet[-2:] = [0.30, 0.29]
    assert cut_digest(np.maximum(narrow, quiet), max_papers=20).count == 2  # as one topic
    assert cut_digest(np.column_stack([narrow, quiet]), max_papers=20).count == 4
    broad = np.clip(RNG.normal(0.3, 0.1, narrow.size), 0, None)  # most of the day matches
    both = np.column_stack([narrow * 0.6, broad])
    cut = cut_digest(both, max_papers=20)
    picked = set(np.flatnonzero(cut.digest).tolist())
    assert {1000, 1001} <= picked
    # The broad topic is the day's whole field: nothing stands out from its median, so its bar
    # is 0.9 of its best and only its very best come, a few, not 20.
    broad_best = both[:, 1].max()
    assert all(both[p, 1] >= 0.9 * broad_best for p in picked - {1000, 1001})
    assert len(picked) <= 6


def test_a_topic_that_is_the_whole_day_still_gets_its_best() -> None:
    """An agents topic on an agents-heavy day: most papers match, none stands out from the
    median, yet its best papers are what the reader wants."""
    field = np.clip(RNG.normal(0.2, 0.12, 200), 0.01, None)
    field[:3] = [0.58, 0.57, 0.55]
    cut = cut_digest(field, max_papers=20)
    assert 3 <= cut.count <= 6 and cut.digest[:3].all()
    noise = np.clip(RNG.normal(0.1, 0.03, 200), 0, None)  # the top of noise is no match
    assert cut_digest(noise, max_papers=20).count == 0


def test_a_small_day_keeps_what_is_close_to_its_best() -> None:
    assert cut_digest([0.5, 0.45, 0.1, 0.0], max_papers=20).count == 2
    assert cut_digest([0.3], max_papers=20).count == 1


def agents(max_papers: int) -> Subscriber:
    keywords = tuple(Keyword(k) for k in ("multi-agent", "tool use", "agentic"))
    return Subscriber(
        "ada",
        "ada@example.org",
        max_papers=max_papers,
        topics=(Topic("Agents", keywords=keywords),),
    )


def test_on_a_recorded_cs_ai_day_a_robotics_topic_gets_a_short_digest(real: Path) -> None:
    papers = parse_listing(
        (real / "arxiv_rss/rss.arxiv.org_atom_cs.AI_2025-08-20_86entries.xml").read_bytes()
    )
    robots = Subscriber(
        "bo",
        "bo@example.org",
        topics=(Topic("Robots", keywords=(Keyword("robot"), Keyword("manipulation"))),),
    )
    ranking = rank_detailed(papers, robots)
    assert 0 < len(ranking.picked) <= len(ranking.ranked) <= 3  # not 20: a thin day
    assert all("robot" in (p.paper.title + p.paper.abstract).lower() for p in ranking.picked)
    # Agents on a cs.AI day: many papers match, and the best stand out from the rest.
    full = rank_detailed(papers, agents(20))
    assert 3 <= len(full.picked) < 20 < len(full.ranked)  # the old cut filled all 20
    assert full.picked == full.ranked[: len(full.picked)]
    assert len(rank_detailed(papers, agents(3)).picked) == 3


def test_digest_rank_json_says_in_digest(real: Path, write_config, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    feed = real / "arxiv_rss/rss.arxiv.org_atom_cs.AI_2025-08-20_86entries.xml"
    lines = [
        {"arxiv_id": p.arxiv_id, "title": p.title, "abstract": p.abstract}
        for p in parse_listing(feed.read_bytes())
    ]
    papers = tmp_path / "day.jsonl"
    papers.write_text("\n".join(json.dumps(line) for line in lines), encoding="utf-8")
    config = write_config(
        """
data_dir: ./data
subscribers:
  - name: ada
    email: ada@example.org
    topics:
      - name: Agents
        keywords: ["multi-agent", "tool use", agentic]
"""
    )
    result = CliRunner().invoke(
        cli, ["--config", str(config), "rank", "ada", "--papers", str(papers), "--json"]
    )
    assert result.exit_code == 0, result.output
    ranked = json.loads(result.output)
    flags = [r["in_digest"] for r in ranked]
    count = sum(flags)
    assert 0 < count < len(ranked) and flags == [True] * count + [False] * (len(flags) - count)
    text = CliRunner().invoke(
        cli, ["--config", str(config), "rank", "ada", "--papers", str(papers)]
    )
    assert f"the digest ends here ({count} papers)" in text.output


def test_also_entries_are_drawn_apart_and_not_counted(real: Path) -> None:
    from datetime import date

    from digest.models import Digest, TopicGroup
    from digest.render import render_digest

    papers = parse_listing(
        (real / "arxiv_rss/rss.arxiv.org_atom_cs.AI_2025-08-20_86entries.xml").read_bytes()
    )
    sub = agents(20)
    ranking = rank_detailed(papers, sub)
    assert ranking.also, "the recorded day has papers just below the cut"
    digest = Digest(
        sub, date(2025, 8, 20), (TopicGroup("Agents", ranking.picked),), also=ranking.also
    )
    rendered = render_digest(digest, base_url="https://digest.example.org")
    assert rendered is not None
    count = len(ranking.picked)
    assert f"{count} new papers" in rendered.html and f"{count} new papers" in rendered.text
    before, after = rendered.html.split("Also possibly relevant")
    for r in ranking.also:
        title = r.paper.title.split(":")[0]
        assert title in after.split("Manage your topics")[0] and title not in before
    assert "Also possibly relevant" in rendered.text


@pytest.fixture(scope="module")
def recorded_day(real: Path) -> list[Paper]:
    """A real day: the cs.AI feed of 2025-08-20 and the Hugging Face daily papers of
    2026-08-18 (with their upvotes)."""
    feed = real / "arxiv_rss/rss.arxiv.org_atom_cs.AI_2025-08-20_86entries.xml"
    hf = real / "hf_daily_papers/daily_papers_2026-08-18.json"
    return parse_listing(feed.read_bytes()) + parse_daily(hf.read_bytes())


def robotics() -> Subscriber:
    keywords = ("robot", "manipulation", "vision-language-action", "locomotion")
    return Subscriber(
        "bo",
        "bo@example.org",
        topics=(
            Topic(
                "Robotics",
                keywords=tuple(Keyword(k) for k in keywords),
                categories=("cs.RO",),
            ),
        ),
    )


def llm_agents() -> Subscriber:
    keywords = ("LLM agents", "tool use", "agentic", "multi-agent")
    return Subscriber(
        "ada",
        "ada@example.org",
        topics=(
            Topic(
                "LLM agents",
                keywords=tuple(Keyword(k) for k in keywords),
                categories=("cs.AI", "cs.CL"),
            ),
        ),
    )


def test_trending_papers_are_on_topic_with_a_reason_a_reader_can_check(
    recorded_day: list[Paper],
) -> None:
    """The day's most upvoted papers are mostly about agents: for a robotics reader none is
    trending "in" their topic. Not "Agentic Transaction" because its abstract mentions data
    manipulation, nor papers "close to your Robotics topic" by a word of the description. An
    agents reader's trending papers say a keyword in their titles."""
    ranking = rank_detailed(recorded_day, robotics())
    titles = [r.paper.title for r in ranking.trending]
    assert not any(t.startswith("Agentic Transaction") for t in titles), titles
    assert all(why.kind != "topic" for r in ranking.trending for why in r.reasons), titles
    trending = rank_detailed(recorded_day, llm_agents()).trending
    titles = [r.paper.title for r in trending]
    assert any(t.startswith("GenRouter: Unified Workflow Routing for Agentic") for t in titles)
    for r in trending:
        assert r.paper.upvotes and any(why.kind == "keyword" for why in r.reasons), r
        assert all(why.kind != "topic" for why in r.reasons), r


def test_a_topic_that_is_the_days_field_gets_its_close_seconds_too(
    recorded_day: list[Paper],
) -> None:
    """An agents topic in cs.AI on a cs.AI day: most papers score, spread over the whole range,
    so the bar from the median is far above even the best. The papers close to the best (all
    agent papers, each matching a keyword) make the digest, not the three at 0.9 of the best;
    the narrow robotics and retrieval topics keep their short digests."""
    ranking = rank_detailed(recorded_day, llm_agents())
    assert 7 <= len(ranking.picked) <= 12, [r.score for r in ranking.ranked[:15]]
    assert all(r.reasons[0].kind == "keyword" for r in ranking.picked)
    assert len(ranking.also) == 5 and len(rank_detailed(recorded_day, robotics()).picked) <= 2
    retrieval = Subscriber(
        "rae",
        "rae@example.org",
        topics=(
            Topic(
                "Retrieval",
                keywords=tuple(
                    Keyword(k) for k in ("retrieval augmented generation", "RAG", "dense retrieval")
                ),
                categories=("cs.IR",),
            ),
        ),
    )
    assert 1 <= len(rank_detailed(recorded_day, retrieval).picked) <= 4


def _reference_cut(matrix: np.ndarray, max_papers: int, min_score: float) -> tuple:
    """The cut as its docstring states it, the plain numpy way (papers x topics, np.median,
    the whole day sorted): what the faster `cut_digest` must give, mask for mask."""
    from digest.rank import cut as c

    n = matrix.shape[0]
    best_topic = matrix.argmax(axis=1)
    values = matrix[np.arange(n), best_topic]
    tops = np.minimum(matrix.max(axis=0), c.BEST_CAP)
    if n >= c.MIN_DAY:
        median = np.median(matrix, axis=0)
        spread = np.maximum(1.4826 * np.median(np.abs(matrix - median), axis=0), c.MIN_SPREAD)
        floors = np.maximum(median + c.STAND_OUT * spread, min_score)
        also_floors = np.maximum(median + c.ALSO_STAND_OUT * spread, min_score)
    else:
        floors = also_floors = np.full(matrix.shape[1], min_score)
    real = tops >= c.CAP_FROM
    cap = np.where(
        real & (floors > c.FIELD * tops), min_score, np.where(real, c.FLOOR_CAP * tops, np.inf)
    )
    floors = np.maximum(np.minimum(floors, cap), max(min_score, 1e-9))
    also_floors = np.maximum(np.minimum(also_floors, cap), max(min_score, 1e-9))
    bars = np.maximum(floors, c.NEAR_BEST * tops)
    also_bars = np.maximum(also_floors, c.ALSO_NEAR_BEST * tops)
    order = np.argsort(-values, kind="stable")
    passes, near = values >= bars[best_topic], values >= also_bars[best_topic]
    picked = order[passes[order]][:max_papers]
    after = order[near[order] & ~np.isin(order, picked)]
    if picked.size:
        after = after[values[after] <= values[picked[-1]]]
    return picked, after[: c.ALSO_MAX], bars, also_bars


@pytest.mark.parametrize("seed", range(40))
def test_the_cut_gives_what_the_plain_numpy_way_gives(seed: int) -> None:
    """Random days: 1 to 4 topics, odd and even and small days, from no zeros to mostly zeros,
    ties, a few stand-outs, scores in float32 as the day plan has them."""
    rng = np.random.default_rng(seed)
    n = int(rng.choice([7, 49, 50, 51, 400, 2000, 2001]))
    topics = int(rng.integers(1, 5))
    zeros = float(rng.choice([0.0, 0.3, 0.6, 0.9]))
    matrix = np.where(
        rng.random((n, topics)) < zeros,
        0.0,
        rng.gamma(1.0, float(rng.choice([0.02, 0.08, 0.2])), (n, topics)),
    )
    matrix[rng.integers(0, n, 6)] = rng.choice(
        [0.15, 0.3, 0.3, 0.5, 1.3], (6, topics)
    )  # ties on top
    matrix = matrix.astype(np.float32).astype(np.float64)
    max_papers, min_score = int(rng.choice([1, 5, 20])), float(rng.choice([0.0, 0.0, 0.2]))
    cut = cut_digest(matrix, max_papers=max_papers, min_score=min_score)
    picked, also, bars, also_bars = _reference_cut(matrix, max_papers, min_score)
    assert np.array_equal(np.flatnonzero(cut.digest), np.sort(picked))
    assert np.array_equal(np.flatnonzero(cut.also), np.sort(also))
    assert np.array_equal(cut.floors, bars) and np.array_equal(cut.also_floors, also_bars)


def test_each_topic_s_median_is_numpy_s() -> None:
    from digest.rank.cut import _medians

    rng = np.random.default_rng(5)
    for n in (1, 2, 3, 50, 51, 2000):
        rows = rng.random((3, n))
        assert np.array_equal(_medians(rows), np.median(rows, axis=1))
