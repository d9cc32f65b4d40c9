"""Ranking as a subscriber meets it: each signal on its own, phrases, authors written every which
way, exclusions, several topics, a golden ranking of recorded papers, a BibTeX library, liked
papers resolved from the store / the papers file / the arXiv API, and `digest rank` itself."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import pytest
from click.testing import CliRunner

from digest.cli import cli, main
from digest.config import load_config
from digest.errors import RankError
from digest.models import Keyword, Paper, RankedPaper, Subscriber, Topic
from digest.pipeline import build_digest, candidate_papers, rank_for_subscriber
from digest.rank import rank_detailed, rank_subscriber, resolve_liked
from digest.rank.authors import parse_name, same_person
from digest.rank.batch import rank_many
from digest.rank.index import build_index
from digest.rank.library import latex_to_text, parse_bibtex, read_library
from digest.rank.scoring import compile_topic, profile_phrases
from digest.sources.arxiv import parse_api
from digest.store import open_store
from tests.conftest import LABELLED
from tests.feedserver import FeedServer

FILLER = (
    "We study a problem and report experiments on several data sets with careful ablations. "
    "Our analysis covers the setting in detail and discusses limitations of the approach."
)


def paper(ident: str, title: str, abstract: str = "", **fields: object) -> Paper:
    return Paper(id=f"arxiv:{ident}", title=title, abstract=f"{abstract} {FILLER}", **fields)  # type: ignore[arg-type]


def subscriber(*topics: Topic, **fields: object) -> Subscriber:
    return Subscriber("ada", "ada@example.org", topics=topics, **fields)  # type: ignore[arg-type]


def topic(name: str = "T", **fields: object) -> Topic:
    if "keywords" in fields:
        fields["keywords"] = tuple(
            k if isinstance(k, Keyword) else Keyword(str(k))
            for k in fields["keywords"]  # type: ignore[attr-defined]
        )
    return Topic(name=name, **fields)  # type: ignore[arg-type]


def ids(ranked: list[RankedPaper]) -> list[str]:
    return [r.paper.arxiv_id or r.paper.id for r in ranked]


def reasons(ranked: RankedPaper, kind: str | None = None) -> list[str]:
    return [r.text for r in ranked.reasons if kind is None or r.kind == kind]


POOL = [
    paper(
        "1801.00001",
        "Dense retrieval for open-domain question answering",
        "dense passage retrieval",
    ),
    paper(
        "1801.00002", "Sparse retrieval with dense layers", "retrieval of documents; dense networks"
    ),
    paper("1801.00003", "Protein folding with graph networks", "structure prediction of proteins"),
    paper("1801.00004", "Speech recognition with transformers", "acoustic models for speech"),
    paper("1801.00005", "A survey of galaxy clusters", "cosmology and weak lensing"),
]


# ---------------------------------------------------------------- each signal on its own


def test_a_keyword_ranks_the_papers_that_mention_it_and_only_those() -> None:
    ranked = rank_subscriber(POOL, subscriber(topic(keywords=["protein"])))
    assert ids(ranked) == ["1801.00003"]
    assert reasons(ranked[0]) == ["matches protein"]
    assert ranked[0].reasons[0].terms == ("protein",)
    assert ranked[0].topic == "T" and 0 < ranked[0].score < 1


def test_a_phrase_beats_its_words_found_apart() -> None:
    ranked = rank_subscriber(POOL, subscriber(topic(keywords=["dense retrieval"])))
    assert ids(ranked)[:2] == ["1801.00001", "1801.00002"]
    assert reasons(ranked[0], "keyword") == ["matches “dense retrieval”"]
    # Its words found apart still count a little, but are never given as a reason.
    assert reasons(ranked[1]) == ["close to your “T” topic"]
    assert ranked[0].score > 1.3 * ranked[1].score


def test_a_phrase_is_a_reason_only_where_the_paper_has_it_stop_words_included() -> None:
    papers = [
        paper("1803.00001", "Teaching language models tool use", "agents learn tool use"),
        paper("1803.00002", "Tools for theorem proving", "we build tools"),
        paper("1803.00003", "Multi-agent debate", "several language agents argue"),
        paper("1803.00004", "Multi-modal language agents", "an agent that sees"),
    ]
    sub = subscriber(topic(keywords=["tool use", "multi-agent"]))
    ranked = {r.paper.arxiv_id: reasons(r) for r in rank_subscriber(papers, sub)}
    assert ranked["1803.00001"] == ["matches “tool use”"]
    assert ranked["1803.00002"] == ["close to your “T” topic"]  # "tools" alone is not "tool use"
    assert ranked["1803.00003"] == ["matches multi-agent"]
    assert all("multi" not in r and "agent" not in r for r in ranked.get("1803.00004", []))


def test_a_heavier_keyword_counts_more() -> None:
    light = subscriber(topic(keywords=[Keyword("protein", 0.5), Keyword("speech", 2.0)]))
    assert ids(rank_subscriber(POOL, light)) == ["1801.00004", "1801.00003"]


def test_words_match_across_plurals_case_and_accents() -> None:
    papers = [
        paper("1802.00001", "Café Networks", "about proteins"),
        paper("1802.00002", "Other", ""),
    ]
    ranked = rank_subscriber(papers, subscriber(topic(keywords=["cafe network", "Protein"])))
    assert ids(ranked) == ["1802.00001"]
    assert reasons(ranked[0]) == ["matches “cafe network”, Protein"]


def test_the_description_alone_finds_papers_but_its_words_are_not_given_as_reasons() -> None:
    sub = subscriber(topic("Proteins", description="Predicting the structure of proteins."))
    ranked = rank_subscriber(POOL, sub)
    assert ids(ranked) == ["1801.00003"]
    assert reasons(ranked[0]) == ["close to your “Proteins” topic"]


def test_liked_papers_alone_find_similar_papers_and_name_the_closest() -> None:
    liked = paper(
        "1809.00001", "Passage retrieval for question answering", "dense retrieval of passages"
    )
    sub = subscriber(topic(papers=("1809.00001",)))
    ranked = rank_subscriber(POOL, sub, {"arxiv:1809.00001": liked})
    assert ids(ranked)[0] == "1801.00001"
    assert reasons(ranked[0]) == ["like “Passage retrieval for question answering”"]


def test_a_liked_paper_is_not_recommended_again() -> None:
    sub = subscriber(topic(papers=("1801.00001",)))
    ranked = rank_subscriber(POOL, sub, {"arxiv:1801.00001": POOL[0]})
    assert "1801.00001" not in ids(ranked)


def test_categories_alone_rank_the_primary_above_a_cross_list() -> None:
    papers = [
        paper("1803.00001", "A", categories=("cs.CL", "cs.IR")),
        paper("1803.00002", "B", categories=("cs.IR",)),
        paper("1803.00003", "C", categories=("math.PR",)),
    ]
    ranked = rank_subscriber(papers, subscriber(topic(categories=("cs.IR",))))
    assert ids(ranked) == ["1803.00002", "1803.00001"]
    assert reasons(ranked[0]) == ["in cs.IR"]
    assert ids(rank_subscriber(papers, subscriber(topic(categories=("math.*",))))) == ["1803.00003"]


def test_a_category_boosts_a_keyword_match_but_does_not_replace_it() -> None:
    papers = [
        paper("1803.00004", "Protein design", categories=("q-bio.BM",)),
        paper("1803.00005", "Protein design", categories=("cs.LG",)),
        paper("1803.00006", "Something else", categories=("q-bio.BM",)),
    ]
    ranked = rank_subscriber(
        papers, subscriber(topic(keywords=["protein"], categories=("q-bio.BM",)))
    )
    assert ids(ranked) == ["1803.00004", "1803.00005"]


@pytest.mark.parametrize(
    "written",
    [
        "Patrick Lewis",
        "P. Lewis",
        "Patrick S. H. Lewis",
        "Lewis, Patrick",
        "P Lewis",
        "PATRICK LEWIS",
    ],
)
def test_a_followed_author_is_found_however_the_name_is_written(written: str) -> None:
    papers = [
        paper("1804.00001", "A", authors=("Ethan Perez", written)),
        paper("1804.00002", "B", authors=("X Y",)),
    ]
    ranked = rank_subscriber(papers, subscriber(topic(authors=("Patrick Lewis",))))
    assert ids(ranked) == ["1804.00001"]
    assert reasons(ranked[0]) == [f"by {written}"]


@pytest.mark.parametrize(
    ("followed", "author", "same"),
    [
        ("José Ramírez", "Jose Ramirez", True),
        ("Ramírez", "J. Ramirez", True),
        ("J. Müller", "Jan Mueller", False),  # a transliteration is not guessed
        ("Patrick Lewis", "Peter Lewis", False),
        ("P. Lewis", "Q. Lewis", False),
        ("P. Lewis", "Peter Lewis", True),  # an initial cannot tell Patrick from Peter
        ("Ludwig van Beethoven", "L. Beethoven", True),
        ("Jean-Pierre Serre", "J.-P. Serre", True),
        ("J. Smith", "Johann Schleier-Smith", False),
    ],
)
def test_author_names_match_on_surname_and_first_initial(
    followed: str, author: str, same: bool
) -> None:
    a, b = parse_name(followed), parse_name(author)
    assert a is not None and b is not None
    assert same_person(a, b) is same


def test_trending_lifts_a_relevant_paper_by_the_subscribers_weight() -> None:
    papers = [
        paper("1805.00001", "Protein folding", upvotes=150),
        paper("1805.00002", "Protein folding"),
        paper("1805.00003", "Unrelated galaxy paper", upvotes=900, github_stars=5000),
    ]
    ranked = rank_subscriber(papers, subscriber(topic(keywords=["protein"])))
    assert ids(ranked) == [
        "1805.00001",
        "1805.00002",
    ]  # upvotes never make an unrelated paper relevant
    assert reasons(ranked[0], "trending") == ["150 upvotes on Hugging Face"]
    flat = rank_subscriber(papers, subscriber(topic(keywords=["protein"]), trending_weight=0.0))
    assert flat[0].score == flat[1].score
    strong = rank_subscriber(papers, subscriber(topic(keywords=["protein"]), trending_weight=3.0))
    assert strong[0].score > ranked[0].score


def test_exclude_removes_a_paper_and_says_what_it_would_have_scored() -> None:
    sub = subscriber(topic(keywords=["transformers", "protein"], exclude=("speech",)))
    ranking = rank_detailed(POOL, sub)
    assert ids(list(ranking.ranked)) == ["1801.00003"]
    [excluded] = ranking.excluded
    assert (excluded.paper.id, excluded.topic, excluded.terms) == (
        "arxiv:1801.00004",
        "T",
        ("speech",),
    )
    assert excluded.score > 0


def test_an_exclude_phrase_removes_only_the_phrase() -> None:
    sub = subscriber(topic(keywords=["retrieval"], exclude=("dense retrieval",)))
    assert ids(rank_subscriber(POOL, sub)) == ["1801.00002"]


# ---------------------------------------------------------------- several topics, the cut


def test_each_paper_goes_to_its_best_topic_weighted() -> None:
    sub = subscriber(
        topic("Proteins", keywords=["protein"]),
        topic("Retrieval", keywords=["retrieval", "dense"], weight=2.0),
    )
    ranked = rank_subscriber(POOL, sub)
    assert [(r.paper.arxiv_id, r.topic) for r in ranked] == [
        ("1801.00001", "Retrieval"),
        ("1801.00002", "Retrieval"),
        ("1801.00003", "Proteins"),
    ]


def test_the_cut_takes_at_most_max_papers_above_min_score_and_keeps_the_near_misses() -> None:
    sub = subscriber(topic(keywords=["retrieval", "protein", "speech", "galaxy"]), max_papers=2)
    ranking = rank_detailed(POOL, sub)
    assert len(ranking.picked) == 2 and ranking.picked == ranking.ranked[:2]
    assert ranking.near_misses == ranking.ranked[2:]
    assert ranking.also == ranking.ranked[2:]  # as close to the best: nearly made it
    strict = rank_detailed(POOL, subscriber(topic(keywords=["retrieval"]), min_score=0.6))
    assert all(r.score >= 0.6 for r in strict.picked)
    assert all(r.score < 0.6 for r in strict.near_misses) and strict.near_misses
    assert ranking.keyword_hits == {"T": {"retrieval": 2, "protein": 1, "speech": 1, "galaxy": 1}}


def test_the_batch_path_gives_the_same_scores_as_one_subscriber_at_a_time(real: Path) -> None:
    papers, _ = parse_api((real / "arxiv_api/query_all-testing_start0_max100.xml").read_bytes())
    subs = [
        subscriber(topic(keywords=["metamorphic testing", "deep learning"])),
        subscriber(topic("a", keywords=["group testing"]), topic("b", categories=("math.ST",))),
        subscriber(topic(authors=("Lionel Briand",), keywords=["fuzzing"]), trending_weight=0.0),
    ]
    profiles = [[compile_topic(t) for t in s.topics] for s in subs]
    index = build_index(papers, profile_phrases([p for s in profiles for p in s]))
    top = rank_many(index, profiles, [s.trending_weight for s in subs], top=5, chunk_topics=2)
    for s, sub in enumerate(subs):
        alone = rank_subscriber(papers, sub, top=5)
        assert [index.papers[r].id for r in top.rows[s] if r >= 0] == [r.paper.id for r in alone]
        assert np.allclose(top.scores[s][: len(alone)], [r.score for r in alone], atol=1e-5)


# ---------------------------------------------------------------- golden: recorded papers


def test_golden_a_fixed_keyword_profile_ranks_the_recorded_papers(real: Path) -> None:
    papers, _ = parse_api((real / "arxiv_api/query_all-testing_start0_max100.xml").read_bytes())
    assert len(papers) == 100
    sub = subscriber(
        topic("Group testing", keywords=["group testing", "screening"]),
        topic("Metamorphic", keywords=["metamorphic testing"]),
    )
    ranked = rank_subscriber(papers, sub)
    group = [r for r in ranked if r.topic == "Group testing"]
    assert ids(group)[:4] == ["1106.3680", "1306.4664", "2008.01944", "1009.3186"]
    assert ids(ranked)[:3] == ["1106.3680", "1306.4664", "2008.01944"]
    assert set(ids(ranked)[:12]) == {
        "1106.3680", "1306.4664", "2008.01944", "1009.3186", "1904.08007", "2407.18756",
        "1907.06632", "2009.01554", "1808.05353", "2103.02870", "2502.09460", "2312.06056",
    }  # fmt: skip
    assert reasons(ranked[0]) == ["matches “group testing”, screening"]


# ---------------------------------------------------------------- libraries and liked ids

BIBTEX = r"""
% exported by Zotero
@string{acl = "Proceedings of ACL"}
@article{lewis2020rag,
  title = {Retrieval-Augmented Generation for {K}nowledge-Intensive {NLP} Tasks},
  author = {Lewis, Patrick and Ram{\'\i}rez, Jos{\'e} and M{\"u}ller, Hans and others},
  eprint = {2005.11401}, archivePrefix = {arXiv}, year = 2020,
  abstract = {Dense passage retrieval helps \emph{question answering} with 100\% recall.}
}
@inproceedings{scholar1,
  title="Attention Is All You Need",
  author="Ashish Vaswani and Noam Shazeer",
  booktitle = acl # " 2017",
  journal={arXiv preprint arXiv:1706.03762},
}
@comment{ignored @article{nope, title={Not me}} }
@misc{mendeley, title = {No arXiv id: {\c{C}}a\c{c}a}, doi = {10.1000/XYZ},
      url = {https://example.org/paper}}
@article{broken, title = }
@article{after, title = {Still read}, url = {https://arxiv.org/abs/2401.00001v2}}
"""


def test_a_bibtex_library_is_read_with_ids_accents_and_authors(tmp_path: Path) -> None:
    path = tmp_path / "ada.bib"
    path.write_text(BIBTEX, encoding="utf-8")
    papers = read_library(path)
    assert [p.id for p in papers] == [
        "arxiv:2005.11401",
        "arxiv:1706.03762",
        "doi:10.1000/xyz",
        "arxiv:2401.00001",
    ]
    rag = papers[0]
    assert rag.title == "Retrieval-Augmented Generation for Knowledge-Intensive NLP Tasks"
    assert rag.authors == ("Patrick Lewis", "José Ramírez", "Hans Müller")
    assert rag.abstract == "Dense passage retrieval helps question answering with 100% recall."
    assert papers[2].title == "No arXiv id: Çaça"


def test_latex_accents_become_unicode() -> None:
    assert latex_to_text(r"Erd\H{o}s, G{\"o}del, \v{S}ediv\'y, {\ss}, \o{}, na\"{\i}ve") == (
        "Erdős, Gödel, Šedivý, ß, ø, naïve"
    )


def test_a_library_topic_ranks_papers_like_the_library(tmp_path: Path) -> None:
    path = tmp_path / "ada.bib"
    path.write_text(BIBTEX, encoding="utf-8")
    sub = subscriber(topic(library=str(path)))
    ranked = rank_subscriber(POOL, sub, libraries={str(path): parse_bibtex(BIBTEX)})
    assert ids(ranked)[0] == "1801.00001"
    assert reasons(ranked[0], "similar")[0].startswith("like “Retrieval-Augmented")
    with pytest.raises(RankError, match="ada.bib"):
        read_library(tmp_path / "missing" / "ada.bib")


def test_liked_ids_come_from_the_store_then_the_papers_then_the_api(
    tmp_path: Path, real: Path
) -> None:
    store = open_store(f"sqlite:///{tmp_path / 's.db'}")
    store.save_papers([paper("1807.00001", "Stored")])
    asked: list[list[str]] = []

    def fetch_ids(wanted: object) -> list[Paper]:
        asked.append(list(wanted))  # type: ignore[call-overload]
        body = (real / "arxiv_api/id_list_1605.08386.xml").read_bytes()
        return parse_api(body)[0]

    sub = subscriber(topic(papers=("1807.00001", "arXiv:1807.00002v1", "1605.08386")))
    found = resolve_liked(
        sub, store=store, papers=[paper("1807.00002", "In the file")], fetch_ids=fetch_ids
    )
    assert found["arxiv:1807.00001"].title == "Stored"
    assert found["arxiv:1807.00002"].title == "In the file"
    assert found["arxiv:1605.08386"].title.startswith("Heat-bath random walks")
    assert asked == [["1605.08386"]]
    store.close()


def test_an_unknown_liked_id_is_left_out_with_a_warning_naming_the_id_and_topic(
    real: Path, caplog: pytest.LogCaptureFixture
) -> None:
    empty = (real / "arxiv_api/id_list_0000.0000_empty.xml").read_bytes()
    sub = subscriber(topic("RAG", papers=("0000.0000",)))
    with caplog.at_level("WARNING"):
        assert resolve_liked(sub, fetch_ids=lambda ids: parse_api(empty)[0]) == {}
    assert "topic 'RAG' of ada: liked paper '0000.0000' is left out: it was not found" in (
        caplog.text
    )
    with pytest.raises(RankError, match=r"topic 'RAG' of ada: liked paper 0000.0000 is unknown"):
        rank_subscriber(POOL, sub)  # ranking itself never goes looking


# ---------------------------------------------------------------- the pipeline and the CLI

CONFIG = """
data_dir: ./data
subscribers:
  - name: ada
    email: ada@example.org
    max_papers: 3
    topics:
      - name: Retrieval
        keywords: ["information retrieval", "search engine", {term: ranking, weight: 2}]
        papers: ["1601.00074"]
      - name: Quantum
        keywords: [qubit]
        authors: ["Jim Q. Smith"]
        exclude: [gravitational]
"""


def test_digest_rank_ranks_the_labelled_file_as_json(write_config, real: Path) -> None:  # type: ignore[no-untyped-def]
    path = write_config(CONFIG)
    runner = CliRunner()
    result = runner.invoke(
        cli,
        ["--config", str(path), "rank", "ada", "--papers", str(LABELLED), "--json", "--top", "30"],
    )
    assert result.exit_code == 0, result.output
    ranked = json.loads(result.output)
    assert len(ranked) == 30
    assert all(set(r) == {"id", "score", "reasons", "in_digest"} for r in ranked)
    assert [r["score"] for r in ranked] == sorted((r["score"] for r in ranked), reverse=True)
    assert all("." in r["id"] and not r["id"].startswith("arxiv") for r in ranked)
    assert all(r["reasons"] and all(isinstance(t, str) for t in r["reasons"]) for r in ranked)
    texts = [t for r in ranked for t in r["reasons"]]
    assert any(t.startswith("by J") and t.endswith("Smith") for t in texts)
    assert any(t == "matches qubit" for t in texts)
    assert "1601.00074" not in [r["id"] for r in ranked]  # the liked paper itself


def test_digest_rank_prints_people_readable_lines(write_config, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = write_config(CONFIG)
    papers = tmp_path / "papers.jsonl"
    lines = [
        {"arxiv_id": "1601.00074", "title": "Liked", "abstract": "helium"},
        {"arxiv_id": "1801.00001", "title": "Learning to rank for search engines", "abstract": ""},
        {"arxiv_id": "1801.00002", "title": "Qubit control", "authors": "Jim Smith, Bo Li"},
    ]
    papers.write_text("\n".join(json.dumps(line) for line in lines), encoding="utf-8")
    result = CliRunner().invoke(
        cli, ["--config", str(path), "rank", "ada", "--papers", str(papers)]
    )
    assert result.exit_code == 0, result.output
    first, why, second, _ = result.output.splitlines()  # both make the digest: no cut line
    assert "1801.00002  Qubit control  [Quantum]" in first
    assert why.strip() == "matches qubit; by Jim Smith"
    assert "1801.00001" in second and "[Retrieval]" in second


def test_digest_rank_asks_a_real_local_arxiv_api_and_names_an_unknown_id(
    write_config,
    real: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:  # type: ignore[no-untyped-def]
    papers = tmp_path / "papers.jsonl"
    lines = [
        {"arxiv_id": "1801.00001", "title": "Heat-bath random walks on lattices", "abstract": ""},
        {"arxiv_id": "1801.00002", "title": "Galaxy clusters", "abstract": ""},
    ]
    papers.write_text("\n".join(json.dumps(line) for line in lines), encoding="utf-8")
    with FeedServer(real) as server:
        source = (
            "sources:\n  - type: arxiv_api\n    enabled: false\n    id_list: [x]\n"
            f"    url: {server.url}/api/query\n"
        )
        liked = CONFIG.replace("1601.00074", "1605.08386")
        path = write_config(source + liked)
        main(["--config", str(path), "rank", "ada", "--papers", str(papers), "--json"])
        ranked = json.loads(capsys.readouterr().out)
        assert [r["id"] for r in ranked] == ["1801.00001"]
        assert ranked[0]["reasons"] == ["like “Heat-bath random walks with Markov bases”"]
        assert server.hits["/api/query"] == 1

        path = write_config(source + CONFIG.replace("1601.00074", "0000.0000"))
        with caplog.at_level("WARNING"):
            main(["--config", str(path), "rank", "ada", "--papers", str(papers), "--json"])
    # ranked all the same (neither paper is about retrieval), the unknown id named, left out
    assert json.loads(capsys.readouterr().out) == []
    assert (
        "topic 'Retrieval' of ada: liked paper '0000.0000' is left out: it was not found in the "
        "store, the papers file or the arXiv API"
    ) in caplog.text


def test_liked_ids_not_in_store_or_file_are_asked_of_the_arxiv_api(
    write_config, real: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    path = write_config(CONFIG.replace("1601.00074", "1605.08386"))
    config = load_config(path)
    seen: list[str] = []

    def api(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, content=(real / "arxiv_api/id_list_1605.08386.xml").read_bytes())

    client = httpx.Client(transport=httpx.MockTransport(api))
    store = open_store(config.store_url)
    pool = [paper("1801.00003", "Random walks on graphs", "heat bath random walk mixing")]
    ranking = rank_for_subscriber(
        config, store, config.subscriber("ada"), papers=pool, client=client
    )
    assert len(seen) == 1 and "id_list=1605.08386" in seen[0]
    assert seen[0].startswith("https://export.arxiv.org/api/query")
    assert ranking.ranked and ranking.ranked[0].paper.id == "arxiv:1801.00003"
    again = rank_for_subscriber(config, store, config.subscriber("ada"), papers=pool, client=client)
    assert len(seen) == 1  # kept in the store: the API is asked once, not on every ranking
    assert again.ranked == ranking.ranked
    assert store.get_liked_papers(["arxiv:1605.08386"])["arxiv:1605.08386"].title.startswith(
        "Heat-bath random walks"
    )
    assert store.papers_first_seen(datetime(2000, 1, 1, tzinfo=UTC)) == []  # not a new paper
    store.close()


def test_build_digest_groups_the_stores_new_papers_by_topic(write_config) -> None:  # type: ignore[no-untyped-def]
    config = load_config(write_config(CONFIG.replace('papers: ["1601.00074"]', "")))
    store = open_store(config.store_url)
    now = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
    old = [paper("1701.00001", "Old search engine paper")]
    store.save_papers(old, now=now - timedelta(days=5))
    new = [
        paper("1801.00001", "Learning to rank for search engines"),
        paper("1801.00002", "Qubit control", authors=("J. Smith",), upvotes=3),
        paper("1801.00003", "Ranking and information retrieval at scale", upvotes=40),
        paper("1801.00004", "Search engine ranking with qubits"),
        paper("1801.00005", "Gravitational qubits"),
        paper("1801.00006", "Quantum search with a qubit", upvotes=500),
    ]
    store.save_papers(new, now=now - timedelta(hours=3))
    sub = config.subscriber("ada")
    assert {p.id for p in candidate_papers(store, sub, now)} == {p.id for p in new}
    digest = build_digest(config, store, sub, date(2026, 11, 23), now)
    assert [g.topic for g in digest.groups] == ["Retrieval", "Quantum"]
    # Each topic is cut against its own best: "Search engine ranking with qubits" scores well
    # below "Ranking and information retrieval at scale" and follows as an "also" entry.
    assert digest.count == 2
    assert [r.paper.id for r in digest.also] == ["arxiv:1801.00004"]
    picked = {r.paper.id for g in digest.groups for r in g.papers}
    assert "arxiv:1801.00005" not in picked and "arxiv:1701.00001" not in picked
    assert all(r.paper.id not in picked and r.paper.upvotes for r in digest.trending)
    assert [r.paper.upvotes for r in digest.trending] == sorted(
        (r.paper.upvotes or 0 for r in digest.trending), reverse=True
    )
    given = build_digest(config, store, sub, date(2026, 11, 23), now, papers=old)
    assert [r.paper.id for g in given.groups for r in g.papers] == ["arxiv:1701.00001"]
    store.close()


def test_digest_rank_without_papers_ranks_the_stores_new_papers(write_config) -> None:  # type: ignore[no-untyped-def]
    path = write_config(CONFIG.replace('papers: ["1601.00074"]', ""))
    config = load_config(path)
    store = open_store(config.store_url)
    store.save_papers([paper("1801.00007", "Qubit readout"), paper("1801.00008", "Nothing here")])
    store.save_papers(
        [paper("1601.00001", "Old qubit paper")], now=datetime(2020, 1, 1, tzinfo=UTC)
    )
    store.close()
    result = CliRunner().invoke(cli, ["--config", str(path), "rank", "ada", "--json"])
    assert result.exit_code == 0, result.output
    assert [r["id"] for r in json.loads(result.output)] == ["1801.00007"]


def test_a_library_the_caller_did_not_read_is_named() -> None:
    sub = subscriber(topic("Lib", library="/nowhere/ada.bib"))
    with pytest.raises(
        RankError, match=r"topic 'Lib' of ada: the library /nowhere/ada.bib was not"
    ):
        rank_subscriber(POOL, sub)


def test_an_unreachable_arxiv_api_leaves_liked_papers_out_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from digest.errors import SourceError
    from digest.models import Keyword, Subscriber, Topic
    from digest.rank import resolve_liked

    def offline(ids: object) -> list[Paper]:
        raise SourceError("cannot reach export.arxiv.org (no DNS: is this machine offline?)")

    topic = Topic("RAG", keywords=(Keyword("retrieval"),), papers=("2005.11401",))
    reader = Subscriber("ada", "ada@example.org", topics=(topic,))
    with caplog.at_level("WARNING"):
        assert resolve_liked(reader, fetch_ids=offline) == {}
    assert "liked papers 2005.11401 of ada are left out of today's ranking" in caplog.text
    assert "cannot reach export.arxiv.org" in caplog.text
