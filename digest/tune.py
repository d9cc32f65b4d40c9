"""Topic tuning: what a profile catches, what it nearly catches, what its excludes remove, and
what to change — for `digest tune`. Pure: it takes a pool of papers and a resolved profile.

Per topic it reports the papers it won in the digest, the keywords that matched (and those that
matched nothing), suggested terms (distinctive: in several of the topic's best matches, rare in
the pool, never academic filler, not yet among its keywords), and topics whose best papers
overlap heavily with another's.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from itertools import pairwise

from digest.models import Mark, Paper, RankedPaper, Subscriber
from digest.rank import Ranking, rank_detailed
from digest.rank.feedback import HALF_LIFE_DAYS
from digest.rank.generic import GENERIC
from digest.rank.report import display_id
from digest.rank.semantic import Embedder
from digest.rank.text import phrase_key, terms

SUGGESTIONS = 6
SUGGEST_FROM = 10  # suggestions come from the topic's best matches, this many
SHARED = 0.3  # ... and are in at least this share of them
# A suggestion is distinctive: at most this share of the day's papers has it, and the topic's
# best papers have it at least LIFT times as often as the day does.
RARE = 0.05
LIFT = 4.0
OVERLAP = 0.5  # share of the smaller topic's best papers that the other topic also has


@dataclass(frozen=True)
class TopicReport:
    name: str
    caught: int  # papers this topic won in the digest
    matched: tuple[tuple[str, int], ...]  # keyword, papers it matched in the pool
    unmatched: tuple[str, ...]  # keywords that matched no paper
    suggestions: tuple[str, ...]
    overlaps: tuple[tuple[str, float], ...] = ()  # other topic, share of best papers shared
    ignored: tuple[str, ...] = ()  # keywords made only of stop words: they match nothing


@dataclass(frozen=True)
class TuneReport:
    subscriber: str
    pool: int
    ranking: Ranking
    topics: tuple[TopicReport, ...]
    moved_in: tuple[RankedPaper, ...] = field(default=())
    moved_out: tuple[RankedPaper, ...] = field(default=())
    feedback: tuple[str, ...] = ()  # how the email's feedback moved papers (`feedback_moves`)


def tune_profile(
    pool: Sequence[Paper],
    subscriber: Subscriber,
    liked: Mapping[str, Paper] | None = None,
    libraries: Mapping[str, Sequence[Paper]] | None = None,
    embedder: Embedder | None = None,
    marks: Sequence[Mark] = (),
    now: datetime | None = None,
    half_life_days: float = HALF_LIFE_DAYS,
) -> TuneReport:
    """Rank the pool for the whole profile and for each topic alone, and report per topic.
    `marks`: the subscriber's feedback from the email (weighted by age at `now`), ranked with,
    and said how it moved papers."""

    def ranked(who: Subscriber, *, feedback: bool = True) -> Ranking:
        if not feedback:
            return rank_detailed(pool, who, liked, libraries=libraries, embedder=embedder)
        return rank_detailed(
            pool,
            who,
            liked,
            libraries=libraries,
            embedder=embedder,
            marks=marks,
            now=now,
            half_life_days=half_life_days,
        )

    ranking = ranked(subscriber)
    moves: tuple[str, ...] = ()
    if marks:
        moves = feedback_moves(ranked(subscriber, feedback=False), ranking, marks)
    best: dict[str, list[Paper]] = {}
    matching: dict[str, list[Paper]] = {}  # the topic's best matches, in the digest or not
    for topic in subscriber.topics:
        alone = replace(subscriber, topics=(topic,))
        alone_ranking = ranked(alone)
        best[topic.name] = [r.paper for r in alone_ranking.picked]
        matching[topic.name] = [r.paper for r in alone_ranking.ranked[:SUGGEST_FROM]]
    background = _document_frequency(pool)
    caught = Counter(r.topic for r in ranking.picked)
    reports = []
    for topic in subscriber.topics:
        hits = ranking.keyword_hits.get(topic.name, {})
        matched = tuple(sorted(((k, n) for k, n in hits.items() if n), key=lambda kn: -kn[1]))
        unmatched = tuple(
            k.text for k in topic.keywords if phrase_key(k.text) and not hits.get(k.text)
        )
        ignored = tuple(k.text for k in topic.keywords if k.text.strip() and not phrase_key(k.text))
        known = {phrase_key(k.text) for k in topic.keywords} | {
            phrase_key(e) for e in topic.exclude
        }
        reports.append(
            TopicReport(
                name=topic.name,
                caught=caught.get(topic.name, 0),
                matched=matched,
                unmatched=unmatched,
                suggestions=_suggest(matching[topic.name], background, len(pool), known),
                overlaps=_overlaps(topic.name, best),
                ignored=ignored,
            )
        )
    return TuneReport(subscriber.name, len(pool), ranking, tuple(reports), feedback=moves)


def feedback_moves(
    without: Ranking, ranking: Ranking, marks: Sequence[Mark], near_misses: int = 10
) -> tuple[str, ...]:
    """How the email's feedback moved the papers of the digest and its near misses, against
    the same day ranked without it: "up 6 places: TITLE (because you liked TITLE)"."""
    old = {r.paper.id: i for i, r in enumerate(without.ranked)}
    new = {r.paper.id: i for i, r in enumerate(ranking.ranked)}
    was_in = {r.paper.id for r in without.picked}
    now_in = {r.paper.id for r in ranking.picked}
    marked = {m.paper.id for m in marks}
    lines = []
    for r in (*ranking.picked, *ranking.near_misses[:near_misses]):
        why = next((x.text for x in r.reasons if _from_feedback(x.text)), None)
        if why is None:
            continue
        pid = r.paper.id
        entered = " (into the digest)" if pid in now_in and pid not in was_in else ""
        lines.append(f"{_moved(old.get(pid), new[pid])}{entered}: {r.paper.title} ({why})")
    for r in without.picked:
        pid = r.paper.id
        if pid in now_in:
            continue
        if pid in marked:
            lines.append(f"out of the digest: {r.paper.title} (you marked it)")
        else:
            now = ranking.ranked[new[pid]] if pid in new else None
            why = next((x.text for x in now.reasons if _from_feedback(x.text)), "") if now else ""
            lines.append(
                f"{_moved(old[pid], new.get(pid))}, out of the digest: {r.paper.title}"
                + (f" ({why})" if why else "")
            )
    return tuple(lines)


def _from_feedback(reason: str) -> bool:
    return reason.startswith(("because you liked", "ranked lower: like", "kept though like"))


def _moved(before: int | None, after: int | None) -> str:
    if before is None:
        return "new"
    if after is None:
        return "no longer scores"
    if after < before:
        return f"up {before - after} place{'s' if before - after != 1 else ''}"
    if after > before:
        return f"down {after - before} place{'s' if after - before != 1 else ''}"
    return "same place"


def compare(before: TuneReport | None, after: TuneReport) -> TuneReport:
    """`after`, with what entered and left the digest since `before`."""
    if before is None:
        return after
    old = {r.paper.id for r in before.ranking.picked}
    new = {r.paper.id for r in after.ranking.picked}
    moved_in = tuple(r for r in after.ranking.picked if r.paper.id not in old)
    moved_out = tuple(r for r in before.ranking.picked if r.paper.id not in new)
    return replace(after, moved_in=moved_in, moved_out=moved_out)


def _terms_and_pairs(paper: Paper) -> set[str]:
    found = terms(f"{paper.title}. {paper.abstract}")
    return set(found) | {f"{a} {b}" for a, b in pairwise(found)}


def _document_frequency(pool: Sequence[Paper]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for paper in pool:
        counts.update(_terms_and_pairs(paper))
    return counts


def _suggest(
    top: Sequence[Paper], background: Counter[str], pool_size: int, known: set[str]
) -> tuple[str, ...]:
    """Terms shared by several of the topic's best papers and rare elsewhere in the pool."""
    if len(top) < 2:
        return ()
    known_words = {word for phrase in known for word in phrase.split()}
    local: Counter[str] = Counter()
    for paper in top:
        local.update(_terms_and_pairs(paper))
    scored = []
    for term, count in local.items():
        parts = term.split()
        if (
            count < max(2, SHARED * len(top))
            or term in known
            or any(p in known_words for p in parts)
        ):
            continue
        if any(ch.isdigit() for ch in term) or any(len(p) < 3 for p in parts):
            continue
        if all(p in GENERIC for p in parts):  # academic prose, not the field's own words
            continue
        share = background[term] / max(pool_size, 1)
        if share > RARE or (count / len(top)) < LIFT * share:
            continue
        lift = math.log((pool_size + 1) / (background[term] + 1))
        scored.append((count / len(top) * lift, term))
    scored.sort(reverse=True)
    chosen: list[str] = []
    for _, term in scored:
        # A pair already covers its words, and a word its pairs: keep the more specific one.
        if any(term in c.split() or c in term.split() for c in chosen):
            continue
        chosen.append(term)
        if len(chosen) == SUGGESTIONS:
            break
    return tuple(chosen)


def _overlaps(name: str, best: Mapping[str, Sequence[Paper]]) -> tuple[tuple[str, float], ...]:
    mine = {p.id for p in best[name]}
    found = []
    for other, papers in best.items():
        theirs = {p.id for p in papers}
        if other == name or not mine or not theirs:
            continue
        share = len(mine & theirs) / min(len(mine), len(theirs))
        if share >= OVERLAP:
            found.append((other, round(share, 2)))
    return tuple(found)


def format_report(report: TuneReport, near_misses: int = 10) -> str:
    """The report as `digest tune` prints it."""
    ranking = report.ranking
    lines = [
        f"{report.subscriber}: {len(ranking.picked)} papers make the digest, "
        f"from {report.pool} candidates"
    ]
    if report.moved_in or report.moved_out:
        lines.append("since the last edit:")
        lines += [f"  + {display_id(r)}  {r.paper.title}  [{r.topic}]" for r in report.moved_in]
        lines += [f"  - {display_id(r)}  {r.paper.title}  [{r.topic}]" for r in report.moved_out]
    if report.feedback:
        lines.append("")
        lines.append("how your feedback from the email moved papers:")
        lines += [f"  {line}" for line in report.feedback]
    lines.append("")
    lines.append("the digest:")
    lines += _ranked_lines(ranking.picked) or ["  (nothing)"]
    lines.append("")
    lines.append(f"near misses (the next {near_misses} below the cut):")
    lines += _ranked_lines(ranking.near_misses[:near_misses]) or ["  (none)"]
    if ranking.excluded:
        lines.append("")
        lines.append("removed by exclude:")
        for gone in ranking.excluded:
            lines.append(
                f"  {gone.paper.arxiv_id or gone.paper.id}  {gone.paper.title}  "
                f"[{gone.topic}: {', '.join(gone.terms)}; would score {gone.score:.3f}]"
            )
    for topic in report.topics:
        lines.append("")
        lines.append(f"topic {topic.name}: {topic.caught} papers in the digest")
        lines += [f"  {line}" for line in _topic_lines(topic, most=8)]
    return "\n".join(lines)


def _topic_lines(topic: TopicReport, *, most: int | None = None) -> list[str]:
    """What a topic matched and did not, what to try and what it overlaps (the first `most`
    matched keywords): the same lines for the terminal and the page."""
    lines = []
    if topic.matched:
        lines.append("matched: " + ", ".join(f"{k} ({n})" for k, n in topic.matched[:most]))
    if topic.unmatched:
        lines.append(f"matched nothing: {', '.join(topic.unmatched)}")
    if topic.ignored:
        lines.append(f"ignored (only stop words): {', '.join(topic.ignored)}")
    if topic.suggestions:
        lines.append(f"try adding: {', '.join(topic.suggestions)}")
    for other, share in topic.overlaps:
        lines.append(f"overlaps with {other}: {share:.0%} of the best papers are shared")
    return lines


def tuning_sections(report: TuneReport) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The tuning report as page sections (title, lines) for `digest tune --html`: per topic
    its bar, catch, keywords matched and not, suggestions and overlaps; then the exclusions."""
    ranking = report.ranking
    sections = []
    for topic in report.topics:
        lines = [f"{topic.caught} papers in the digest"]
        floor = ranking.floors.get(topic.name)
        if floor is not None and math.isfinite(floor):
            lines[0] += f"; today's bar: score {floor:.3f}"
        lines += _topic_lines(topic)
        sections.append((f"Topic {topic.name}", tuple(lines)))
    if ranking.excluded:
        removed = tuple(
            f"{gone.paper.title} [{gone.topic}: {', '.join(gone.terms)}; "
            f"would score {gone.score:.3f}]"
            for gone in ranking.excluded
        )
        sections.append(("Removed by exclude", removed))
    return tuple(sections)


def _ranked_lines(ranked: Sequence[RankedPaper]) -> list[str]:
    lines = []
    for r in ranked:
        lines.append(f"  {r.score:.3f}  {display_id(r)}  {r.paper.title}  [{r.topic}]")
        if r.reasons:
            lines.append("         " + "; ".join(reason.text for reason in r.reasons))
    return lines
