"""Rendering a digest: the email people open every morning.

Built from recorded Hugging Face Daily Papers and arXiv abstracts, with hand-made reasons, so
that these tests do not depend on the ranker.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import replace
from datetime import date
from pathlib import Path

import lxml.html
import pytest
from lxml import etree

from digest.models import Digest, Paper, RankedPaper, Reason, Subscriber, Topic, TopicGroup
from digest.papers_file import iter_papers
from digest.render import SIZE_BUDGET, Renderer, render_digest
from digest.render.inline import escape_attribute, escape_text
from digest.render.latex import latex_to_text
from digest.sources.hf import parse_daily

from .conftest import LABELLED

GOLDEN = Path(__file__).parent / "golden"
BASE = "https://digest.example.org"
DAY = date(2025, 6, 17)

ADA = Subscriber(
    name="ada",
    email="ada@example.org",
    topics=(Topic(name="Reasoning models"), Topic(name="Agents & tools")),
)


def reasons_for(paper: Paper) -> tuple[Reason, ...]:
    words = [w for w in re.findall(r"[A-Za-z]{5,}", paper.title)][:2] or ["paper"]
    return (
        Reason(
            "keyword",
            f"matches “{words[0]}”" + (f", {words[1]}" if len(words) > 1 else ""),
            tuple(words),
        ),
        Reason("category", "in your categories"),
    )


def ranked(paper: Paper, topic: str = "Reasoning models") -> RankedPaper:
    return RankedPaper(paper, 1.0, topic, reasons_for(paper))


@pytest.fixture(scope="module")
def hf_papers(real: Path) -> list[Paper]:
    return parse_daily((real / "hf_daily_papers" / "daily_papers_2025-06-17.json").read_bytes())


@pytest.fixture(scope="module")
def arxiv_papers(real: Path) -> list[Paper]:
    return list(itertools.islice(iter_papers(LABELLED), 400))


@pytest.fixture(scope="module")
def digest(hf_papers: list[Paper], arxiv_papers: list[Paper]) -> Digest:
    """A fixed digest: HF papers (summaries, upvotes, code) and arXiv papers (LaTeX abstracts)."""
    with_latex = [p for p in arxiv_papers if "$" in p.abstract or "\\" in p.title][:3]
    by_votes = sorted(hf_papers[6:], key=lambda p: -(p.upvotes or 0))
    return Digest(
        ADA,
        DAY,
        (
            TopicGroup("Reasoning models", tuple(ranked(p) for p in hf_papers[:6])),
            TopicGroup(
                "Agents & tools",
                tuple(ranked(p, "Agents & tools") for p in [*with_latex, *arxiv_papers[:3]]),
            ),
        ),
        trending=tuple(
            RankedPaper(p, 0.2, "Reasoning models", reasons_for(p)) for p in by_votes[:3]
        ),
    )


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer()


def render(renderer: Renderer, digest: Digest, **kwargs: object):  # type: ignore[no-untyped-def]
    rendered = renderer.render(digest, base_url=BASE, **kwargs)  # type: ignore[arg-type]
    assert rendered is not None
    return rendered


# ---------------------------------------------------------------- what a reader sees


def test_the_digest_matches_the_golden_files(
    renderer: Renderer, digest: Digest, update_golden: bool
) -> None:
    rendered = render(renderer, digest, manage_url=f"{BASE}/manage?token=abc&x=1")
    files = {
        "digest.html": rendered.html,
        "digest.txt": rendered.text,
        "digest.subject": rendered.subject + "\n",
    }
    if update_golden:
        GOLDEN.mkdir(exist_ok=True)
        for name, body in files.items():
            (GOLDEN / name).write_text(body, encoding="utf-8")
    for name, body in files.items():
        golden = GOLDEN / name
        assert golden.is_file(), f"no {golden}: run `pytest --update-golden` once and review it"
        assert body == golden.read_text(encoding="utf-8"), (
            f"{name} changed: review the difference, then `pytest --update-golden`"
        )


def test_a_card_has_title_link_authors_categories_summary_reasons_signals_and_links(
    renderer: Renderer, digest: Digest
) -> None:
    rendered = render(renderer, digest)
    page = lxml.html.fromstring(rendered.html)
    first = digest.groups[0].papers[0].paper
    title = page.xpath(f'//a[@href="https://arxiv.org/abs/{first.arxiv_id}"]')[0]
    assert title.text_content() == first.title
    card = title.getparent().getparent().getparent().getparent()  # h3 → td → tr → the sheet
    text = " ".join(card.text_content().split())
    assert f"{first.authors[0]}, {first.authors[1]}, {first.authors[2]} et al." in text
    assert first.ai_summary and first.ai_summary[:60] in text
    assert f"▲ {first.upvotes} upvotes" in text
    assert "Why: matches" in text
    hits = [e.text_content() for e in page.xpath('//span[@class="hit"]')]
    assert set(reasons_for(first)[0].terms) <= set(hits)
    for url in (first.pdf_url, first.code_url, first.hf_url):
        assert page.xpath(f'//a[@href="{url}"]'), url
    header = " ".join(page.xpath('//td[@class="hdr"]')[0].text_content().split())
    assert "Tuesday 17 June 2025" in header
    assert f"{digest.count} new papers for Reasoning models · Agents & tools" in header
    assert "Trending today" in text or page.xpath('//td[@class="tt"]')
    footer = page.xpath('//td[@class="ftr"]')[0]
    assert "ada@example.org" in footer.text_content()
    assert "Reasoning models, Agents & tools" in footer.text_content()
    assert footer.xpath(f'.//a[@href="{BASE}/manage"]')


def test_arxiv_papers_link_their_abstract_page_and_show_categories(
    renderer: Renderer, digest: Digest
) -> None:
    rendered = render(renderer, digest)
    page = lxml.html.fromstring(rendered.html)
    paper = digest.groups[1].papers[-1].paper
    assert page.xpath(f'//a[@href="https://arxiv.org/abs/{paper.arxiv_id}"]')
    chips = [e.text_content() for e in page.xpath('//span[@class="cat"]')]
    assert paper.categories[0] in chips
    # No HF summary: the summary is the abstract's first sentences.
    assert latex_to_text(paper.abstract).split(". ")[0] in rendered.text.replace("\n  ", " ")


def test_the_text_part_has_every_title_and_link(renderer: Renderer, digest: Digest) -> None:
    rendered = render(renderer, digest)
    page = lxml.html.fromstring(rendered.html)
    links = {a.get("href") for a in page.xpath("//a[@href]")}
    assert len(links) > 20
    for url in links:
        assert url in rendered.text, url
    for group in digest.groups:
        for r in group.papers:
            assert latex_to_text(r.paper.title) in rendered.text
    for r in digest.trending:
        assert r.paper.title in rendered.text


def test_a_trending_paper_and_its_feedback_links_are_one_item_between_two_lines(
    renderer: Renderer, digest: Digest
) -> None:
    """The line under a trending paper comes after its "More like this · Not for me", not
    between them, where the links would seem to belong to the next paper."""
    html = render(renderer, digest, feedback=lambda purpose, paper, _: f"{BASE}/{purpose}/{paper}")
    page = lxml.html.fromstring(html.html)
    cells = page.xpath('//td[contains(concat(" ", @class, " "), " tr ")]')
    assert len(cells) == len(digest.trending)
    for r, cell in zip(digest.trending, cells, strict=True):
        assert r.paper.title in cell.text_content()
        (links,) = cell.getparent().getnext().xpath("td")
        assert f"/more/{r.paper.id}" in links.xpath(".//a/@href")[0]
        assert "border-bottom:0" in cell.get("style").replace(" ", "")
        assert "border-bottom:1pxsolid" in links.get("style").replace(" ", "")
    plain = lxml.html.fromstring(render(renderer, digest).html)  # no links: the paper ends it
    for cell in plain.xpath('//td[contains(concat(" ", @class, " "), " tr ")]'):
        assert "border-bottom:1pxsolid" in cell.get("style").replace(" ", "")


def test_a_paper_just_below_the_cut_has_its_feedback_links_right_under_it(
    renderer: Renderer, digest: Digest, arxiv_papers: list[Paper]
) -> None:
    """In "Also possibly relevant", an item's "More like this · Not for me" sits close under
    its own line, and the space comes after it: before, the links sat nearer the next title."""
    also = tuple(ranked(p) for p in arxiv_papers[10:13])
    html = render(
        renderer,
        replace(digest, also=also),
        feedback=lambda purpose, paper, _: f"{BASE}/{purpose}/{paper}",
    ).html
    page = lxml.html.fromstring(html)
    cells = page.xpath('//td[contains(concat(" ", @class, " "), " al ")]')
    assert len(cells) == len(also)

    def padding(element: lxml.html.HtmlElement, side: str) -> int:
        """The inlined padding on one side, in px: the shorthand, then any longhand after it."""
        sides = ["top", "right", "bottom", "left"]
        found = 0
        for declaration in (element.get("style") or "").split(";"):
            name, _, value = (part.strip() for part in declaration.partition(":"))
            if name == "padding":
                v = [int(x.removesuffix("px")) for x in value.split()]
                four = {1: v * 4, 2: v * 2, 3: [*v, v[1]], 4: v}[len(v)]
                found = four[sides.index(side)]
            elif name == f"padding-{side}":
                found = int(value.removesuffix("px"))
        return found

    for r, cell in zip(also, cells, strict=True):
        assert latex_to_text(r.paper.title) in cell.text_content()
        (links,) = cell.getparent().getnext().xpath("td")
        assert f"/more/{r.paper.id}" in links.xpath(".//a/@href")[0]
        (acts,) = links.xpath("./div")
        above = padding(cell, "bottom") + padding(links, "top") + padding(acts, "top")
        assert above < padding(links, "bottom"), (above, links.get("style"))


def test_latex_comes_out_readable() -> None:
    assert (
        latex_to_text(r"$\alpha$-divergence in \textbf{deep} nets")
        == "\u03b1-divergence in deep nets"
    )
    assert latex_to_text(r"$O(n^2)$ time and 50% less memory") == "O(n^2) time and 50% less memory"
    assert latex_to_text("Q&A for $5 and a < b") == "Q&A for $5 and a < b"
    assert latex_to_text(r"Na\"ive \emph{Bayes}") == "Naïve Bayes"
    assert latex_to_text("plain\n  title") == "plain title"


def test_a_latex_title_is_shown_as_unicode(renderer: Renderer) -> None:
    paper = Paper(id="arxiv:2401.00001", title=r"$\beta$-VAE meets \textit{diffusion}")
    rendered = render(renderer, Digest(ADA, DAY, (TopicGroup("Agents & tools", (ranked(paper),)),)))
    assert "β-VAE meets diffusion" in rendered.html
    assert "β-VAE meets diffusion" in rendered.text


# ---------------------------------------------------------------- safety


HOSTILE = Paper(
    id="arxiv:2401.99999",
    title="<script>alert(1)</script>",
    abstract="We close the table early </table></td></tr> and <b>shout</b> & more. Then more.",
    authors=('Eve "<img src=x onerror=alert(2)>"',),
    categories=("cs.CR",),
    code_url='https://example.org/a?b=1&c="2"><script>alert(3)</script>',
    ai_keywords=(),
)


def hostile_digest() -> Digest:
    reason = Reason("keyword", "matches <i>script</i> & </table>", ("script", "</table>"))
    picks = (RankedPaper(HOSTILE, 1.0, "Agents & tools", (reason,)),)
    evil = replace(ADA, topics=(Topic(name="</td></tr></table><h1>owned</h1>"),))
    return Digest(evil, DAY, (TopicGroup("</td></tr></table><h1>owned</h1>", picks),))


def test_titles_abstracts_and_reasons_are_escaped_and_the_table_stays_intact(
    renderer: Renderer,
) -> None:
    rendered = render(renderer, hostile_digest())
    page = lxml.html.fromstring(rendered.html)
    assert not page.xpath("//script | //img | //h1 | //i")
    sheet = page.xpath('//table[contains(@class, "sheet")]')[0]
    kinds = [tr.xpath("./td/@class")[0] for tr in sheet.xpath("./tr")]
    assert kinds == ["hdr", "topic", "ph", "pw", "pe", "ftr"]
    title = sheet.xpath('.//td[@class="ph"]/h3/a')[0]
    assert title.text_content() == "<script>alert(1)</script>"
    summary = sheet.xpath('.//div[@class="sum"]')[0]
    assert "</table></td></tr>" in summary.text_content()
    assert sheet.xpath('.//td[@class="topic"]')[0].text_content().startswith("</td></tr></table>")
    hits = [e.text_content() for e in sheet.xpath('.//span[@class="hit"]')]
    assert hits == ["script", "</table>"]
    code = sheet.xpath('.//a[text()="Code"]')[0]
    assert code.get("href") == HOSTILE.code_url  # an attribute value, quoted safely
    assert "<script>" in rendered.text  # plain text is not HTML: shown as it is


def test_escaping_matches_what_lxml_writes() -> None:
    samples = [chr(c) for c in range(32, 0x2FF)] + ["€", "\u2013", "“x”", "\u00a0", "😀", "a&b<c>d"]
    samples += [f"&{c}" for c in "{}#;a1 "]
    document = etree.fromstring("<html><body><p></p><a></a></body></html>", etree.HTMLParser())
    p, a = document.find("body/p"), document.find("body/a")
    assert p is not None and a is not None
    for sample in samples:
        value = f"x{sample}y"
        p.text = value
        assert escape_text(value) == etree.tostring(p, method="html", encoding="unicode")[3:-4]
        for name in ("href", "title"):
            a.set(name, value)
            expected = etree.tostring(a, method="html", encoding="unicode")[2:-5]
            del a.attrib[name]
            assert escape_attribute(name, value) == expected, repr(value)


# ---------------------------------------------------------------- cached inlining


def variety(hf_papers: list[Paper], arxiv_papers: list[Paper]) -> list[Digest]:
    odd = Paper(
        id="doi:10.1101/2024.01.01.123456",
        title="Ünïcödé & “quotes” — \u2018single\u2019 'ascii' \"double\" <tag>",
        abstract="Short &{entity}; <!-- not a comment --> ]]> \u2028 line\tbreaks\x00.",
        authors=("A", "B", "C", "D", "E"),
        project_url="https://example.org/ä ö?q=a&b='c'&{x}#frag",
        hf_url="https://huggingface.co/papers/x?y=1&z=2",
        upvotes=1,
        github_stars=12_345,
    )
    empty_note = replace(ADA, send_empty=True)
    return [
        Digest(empty_note, DAY, ()),
        Digest(ADA, DAY, (), trending=tuple(ranked(p) for p in hf_papers[:2])),
        Digest(ADA, DAY, (TopicGroup("Reasoning models", (ranked(odd),)),)),
        hostile_digest(),
        *(
            Digest(
                ADA,
                DAY,
                (
                    TopicGroup("Reasoning models", tuple(ranked(p) for p in hf_papers[i : i + 5])),
                    TopicGroup(
                        "Agents & tools", tuple(ranked(p) for p in arxiv_papers[i * 9 : i * 9 + 9])
                    ),
                ),
                trending=tuple(ranked(p) for p in hf_papers[i + 5 : i + 8]),
            )
            for i in range(0, 16, 3)
        ),
        # The same papers again for readers who matched other keywords (words of their
        # abstracts, or none): other marks in the HTML, the same text part.
        *(
            Digest(ADA, DAY, (TopicGroup("Agents & tools", tuple(marked(p, n) for p in group)),))
            for n in (0, 1, 3)
            for group in (arxiv_papers[0:9], arxiv_papers[9:18])
        ),
    ]


def marked(paper: Paper, n: int) -> RankedPaper:
    """`paper` as matched by the n-th word (of 6 letters or more) of its abstract (n = 0: by
    no keyword)."""
    words = re.findall(r"[A-Za-z]{6,}", paper.abstract)[n - 1 : n] if n else []
    reasons = (Reason("keyword", f"matches “{words[0]}”", tuple(words)),) if words else ()
    return RankedPaper(paper, 1.0, "Agents & tools", reasons)


def test_cached_inlining_equals_premailer_over_each_whole_email(
    hf_papers: list[Paper], arxiv_papers: list[Paper]
) -> None:
    renderer = Renderer()
    for digest in variety(hf_papers, arxiv_papers):
        links = {"base_url": BASE, "manage_url": f"{BASE}/m?t=1&u=2", "always": True}
        fast = renderer.render(digest, **links)  # type: ignore[arg-type]
        naive = renderer.render_naive(digest, **links)  # type: ignore[arg-type]
        assert fast is not None and naive is not None
        assert fast.html == naive.html
        assert fast.text == naive.text
        assert fast.subject == naive.subject
    assert renderer.shapes < 60  # rows of the same shape were inlined once


def test_cached_inlining_equals_premailer_when_the_budget_trims(
    hf_papers: list[Paper], arxiv_papers: list[Paper]
) -> None:
    digest = thirty_papers(hf_papers, arxiv_papers)
    fast = Renderer(size_budget=60_000).render(digest, base_url=BASE)
    naive = Renderer(size_budget=60_000).render_naive(digest, base_url=BASE)
    assert fast is not None and naive is not None
    assert fast.html == naive.html


def test_css_is_inlined_and_the_media_rules_keep_their_important(
    renderer: Renderer, digest: Digest
) -> None:
    html = render(renderer, digest).html
    page = lxml.html.fromstring(html)
    title = page.xpath('//td[@class="ph"]/h3/a')[0]
    assert "font-weight:600" in title.get("style").replace(" ", "")
    style = page.xpath("//style")[0].text
    assert "@media only screen and (max-width: 620px)" in style
    assert "@media (prefers-color-scheme: dark)" in style
    assert "background-color: #0f1115 !important" in style
    assert "padding-left: 16px !important" in style
    # Only the @media rules are left: the plain ones were inlined, not kept.
    assert style.lstrip().startswith("@media") and "word-break" not in style
    # Nothing outside the email is needed: no stylesheets, fonts, scripts or images to load.
    assert not page.xpath("//link | //script | //img | //iframe")
    assert "@import" not in html and "url(" not in html


# ---------------------------------------------------------------- empty days and size


def test_an_empty_day_sends_nothing_unless_asked_for_a_note(renderer: Renderer) -> None:
    assert render_digest(Digest(ADA, DAY, ()), base_url=BASE, renderer=renderer) is None
    noted = replace(ADA, send_empty=True)
    rendered = render_digest(Digest(noted, DAY, ()), base_url=BASE, renderer=renderer)
    assert rendered is not None
    assert "Nothing new matched your topics today." in rendered.html
    assert "Nothing new matched your topics today." in rendered.text
    assert rendered.subject == "Paper digest, Tue 17 Jun: nothing new"


def thirty_papers(hf_papers: list[Paper], arxiv_papers: list[Paper]) -> Digest:
    long_papers = sorted(arxiv_papers, key=lambda p: -len(p.abstract))[:12]
    rich = [
        replace(p, authors=(*p.authors, "Another Author", "Yet Another", "And One More"))
        for p in hf_papers[:18]
    ]
    return Digest(
        ADA,
        DAY,
        (
            TopicGroup("Reasoning models", tuple(ranked(p) for p in rich)),
            TopicGroup("Agents & tools", tuple(ranked(p) for p in long_papers)),
        ),
        trending=tuple(ranked(p) for p in hf_papers[18:23]),
    )


def test_a_thirty_paper_digest_fits_under_gmails_clipping(
    renderer: Renderer, hf_papers: list[Paper], arxiv_papers: list[Paper]
) -> None:
    digest = thirty_papers(hf_papers, arxiv_papers)
    assert digest.count == 30
    html = render(renderer, digest).html
    assert len(html.encode()) < SIZE_BUDGET
    assert html.count('<td class="ph"') == 30


def test_past_the_budget_the_lowest_scored_papers_are_left_out_whole_and_counted(
    hf_papers: list[Paper], arxiv_papers: list[Paper]
) -> None:
    digest = thirty_papers(hf_papers, arxiv_papers)
    scored = tuple(
        TopicGroup(g.topic, tuple(replace(r, score=1.0 - i / 100) for i, r in enumerate(g.papers)))
        for g in digest.groups
    )
    digest = replace(digest, groups=scored)
    full = render(Renderer(), digest)
    budget = len(full.html.encode()) - 5000
    trimmed = render(Renderer(size_budget=budget), digest)
    assert len(trimmed.html.encode()) <= budget

    def titles(html: str) -> list[str]:
        return [
            a.text_content() for a in lxml.html.fromstring(html).xpath('//td[@class="ph"]/h3/a')
        ]

    kept, every = titles(trimmed.html), titles(full.html)
    left_out = [t for t in every if t not in kept]
    assert left_out and kept == [t for t in every if t in kept]
    lowest = sorted((r for g in scored for r in g.papers), key=lambda r: r.score)
    assert {latex_to_text(r.paper.title) for r in lowest[: len(left_out)]} == set(left_out)
    # Summaries are kept whole; the reader is told what is missing; the footer stays.
    summaries = lxml.html.fromstring(trimmed.html).xpath('//div[@class="sum"]')
    assert len(summaries) == len(kept) and all(d.text_content() for d in summaries)
    assert f"{len(left_out)} more papers did not fit in this email" in trimmed.html
    assert 'class="ftr"' in trimmed.html and f"{BASE}/manage" in trimmed.html
    assert trimmed.text == full.text  # the text part is not clipped by Gmail: it keeps them all
    web = Renderer(size_budget=budget).render(digest, base_url=BASE, web_url=f"{BASE}/d/1")
    assert (
        web is not None
        and f'<a href="{BASE}/d/1"' in web.html
        and "more papers on the web" in (web.html)
    )


@pytest.mark.parametrize("max_papers", [50, 100, 200])
def test_a_digest_of_up_to_200_papers_stays_under_gmails_clipping(
    hf_papers: list[Paper], arxiv_papers: list[Paper], max_papers: int
) -> None:
    pool = [*hf_papers, *arxiv_papers]
    papers = [replace(pool[i % len(pool)], id=f"arxiv:2601.{i:05d}") for i in range(max_papers)]
    digest = Digest(
        ADA,
        DAY,
        (TopicGroup("Reasoning models", tuple(ranked(p) for p in papers)),),
    )
    html = render(Renderer(), digest).html
    assert len(html.encode()) < SIZE_BUDGET
    assert 'class="ftr"' in html and "Unsubscribe</a>" in html
    shown = html.count('<td class="ph"')
    assert shown >= 30 and (shown == max_papers or f"{max_papers - shown} more papers" in html)


def test_a_budget_too_small_for_any_paper_still_keeps_the_footer(
    hf_papers: list[Paper], arxiv_papers: list[Paper]
) -> None:
    digest = thirty_papers(hf_papers, arxiv_papers)
    html = render(Renderer(size_budget=10_000), digest).html
    assert '<td class="ph"' not in html and "30 more papers did not fit" in html
    assert 'class="ftr"' in html and "Unsubscribe</a>" in html
