"""The semantic extra on a real small day (issue 21): the recorded cs.AI Atom feed of 2025-08-20
(86 papers) and the Hugging Face daily papers of 2025-10-15 (26), 112 papers, ranked with the
real model (all-MiniLM-L6-v2, offline) for three keyword topics. On a day this small a paper's
nearest papers by meaning are far off; sharing 85% of its score with them, as a 2,000-paper day
does, pushed the vision-language-action paper and the surveillance robot out of the robotics
top 10 and a multi-agent collaboration paper out of the agents one. The expected papers were
judged by reading their titles and abstracts. Needs `pip install torch==2.13.0 && pip install
'.[semantic]'`, which `.ci/run` installs; without it these tests skip locally and fail under CI."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.models import Keyword, Paper, Subscriber, Topic
from digest.rank.batch import DayPlan, Reader
from digest.rank.ranker import compile_profiles
from digest.sources.arxiv import parse_listing
from digest.sources.hf import parse_daily
from tests.conftest import needs_semantic_extra

TOPICS = {
    "LLM agents": ("LLM agents", "agentic", "multi-agent", "tool use"),
    "RAG": ("retrieval-augmented generation", "RAG", "retrieval"),
    "Robotics": ("robotics", "robot learning", "embodied", "manipulation"),
}
# Papers each topic's top 10 must hold: plainly about the topic, by their titles and abstracts.
EXPECTED = {
    "LLM agents": {
        "arxiv:2508.13167": "Chain-of-Agents: End-to-End Agent Foundation Models via ...",
        "arxiv:2508.13201": "Benchmarking LLM-based Agents for Single-cell Omics Analysis",
        "arxiv:2508.13256": "CardAIc-Agents: A Multimodal Framework with Hierarchical ...",
        "arxiv:2508.13721": "CausalPlan: Empowering Efficient LLM Multi-Agent Collaboration ...",
        "arxiv:2508.13915": "Structured Agentic Workflows for Financial Time-Series ...",
    },
    "RAG": {
        "arxiv:2508.13828": "Revisiting RAG Ensemble: ... Multi-RAG System Collaboration",
        "arxiv:2510.12801": "DeepMMSearch-R1: Empowering Multimodal LLMs in Multimodal Web Search",
        "arxiv:2508.13171": "Cognitive Workspace: Active Memory Management for LLMs ...",
    },
    "Robotics": {
        "arxiv:2510.12403": "Robot Learning: A Tutorial",
        "arxiv:2510.12693": "ERA: Transforming VLMs into Embodied Agents ...",
        "arxiv:2510.12276": "Spatial Forcing: ... Alignment for Vision-language-action Model",
        "arxiv:2508.13319": "A Surveillance Based Interactive Robot",
    },
}


@pytest.fixture(scope="module")
def top10(real: Path) -> dict[str, list[Paper]]:
    """Each topic's top 10 on the recorded day, with the real model."""
    needs_semantic_extra()
    from digest.rank.semantic import load_embedder

    feed = real / "arxiv_rss" / "rss.arxiv.org_atom_cs.AI_2025-08-20_86entries.xml"
    daily = real / "hf_daily_papers" / "daily_papers_2025-10-15.json"
    day = parse_listing(feed.read_bytes()) + parse_daily(daily.read_bytes())
    assert len(day) == 112
    readers = []
    for name, keywords in TOPICS.items():
        topic = Topic(name=name, keywords=tuple(Keyword(k) for k in keywords))
        # Relevance alone: upvotes and stars would lift the Hugging Face papers.
        person = Subscriber(name=name, email="a@example.org", trending_weight=0.0, topics=(topic,))
        readers.append(Reader(person, tuple(compile_profiles(person, {}, {}))))
    plan = DayPlan(day, readers, embedder=load_embedder(None))
    return {
        name: [r.paper for r in plan.ranking(i, details=True).ranked[:10]]
        for i, name in enumerate(TOPICS)
    }


@pytest.mark.parametrize("topic", list(TOPICS))
def test_on_a_small_day_meaning_keeps_the_expected_papers_in_the_top_10(
    top10: dict[str, list[Paper]], topic: str
) -> None:
    found = {p.id for p in top10[topic]}
    missing = {k: title for k, title in EXPECTED[topic].items() if k not in found}
    assert not missing, (missing, [p.title for p in top10[topic]])


def test_the_mix_is_the_small_days_up_to_1000_papers_and_unchanged_from_2000() -> None:
    from digest.rank.scoring import semantic_mix

    assert semantic_mix(112) == semantic_mix(1000) == (0.5, 0.5)
    assert semantic_mix(2000) == semantic_mix(5000) == (0.15, 0.85)  # the figures before
    words, smoothing = semantic_mix(1414)  # halfway on a log scale
    assert (round(words, 3), round(smoothing, 3)) == (0.325, 0.675)
