"""Render a subscriber's digest as an email: subject, HTML with inlined CSS, and a plain-text part.

`render_digest(digest, base_url=…)` is pure: it reads the templates once and does no other I/O.
An empty digest renders to None (no email) unless the subscriber asked for a "nothing new" note.
The HTML stays under a size budget (Gmail clips at about 102 KB, hiding the footer and its
unsubscribe link): past it, whole papers are left out of the HTML, the lowest-scored first, and
a line says how many (linking to the web copy when there is one); summaries are kept, the footer
is never cut, and the plain-text part keeps every paper. CSS is inlined once per row shape (see
`inline`), and `Renderer.render_naive` runs premailer over each whole email, as the reference
for tests and benchmarks.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2

from digest.errors import RenderError
from digest.models import Digest
from digest.render.inline import RowPainter, inline_css
from digest.render.view import (
    SHARED_ROWS,
    FeedbackUrl,
    PageLinks,
    Row,
    page_links,
    page_rows,
)
from digest.render.view import subject_line as subject_line

Taken = dict[int, tuple[Any, list[str]]]
SIZE_BUDGET = 100_000  # bytes of HTML; Gmail clips a message body at about 102 KB
# Text rows whose layout depends on their words (the `wrap` filter): drawn one by one.
WRAPPED_TEXT_ROWS = frozenset({"paper_end", "footer", "trending"})
TEXT_ENDS_KEPT = 6_000  # the text part's card ends, each a few hundred bytes
HTML_TEMPLATE = "digest.html"
TEXT_TEMPLATE = "digest.txt"


@dataclass(frozen=True)
class RenderedDigest:
    """An email's content: its subject, its HTML body (CSS inlined) and its plain-text body."""

    subject: str
    html: str
    text: str


def templates_dir() -> Path:
    """The templates: `digest/templates` when installed, else `templates/` in the checkout."""
    installed = Path(str(resources.files("digest") / "templates"))
    if (installed / HTML_TEMPLATE).is_file():
        return installed
    return Path(__file__).resolve().parents[2] / "templates"


class Renderer:
    """Renders digests with one set of templates, keeping the inlined row shapes between emails:
    make one and reuse it for every subscriber of a run."""

    def __init__(self, templates: Path | None = None, *, size_budget: int = SIZE_BUDGET) -> None:
        folder = templates or templates_dir()
        if not (folder / HTML_TEMPLATE).is_file():
            raise RenderError(f"no {HTML_TEMPLATE} in {folder}: reinstall paper-digest")
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(folder),
            autoescape=jinja2.select_autoescape(enabled_extensions=("html",)),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
        )
        self._page = env.get_template(HTML_TEMPLATE)
        text_env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(folder),
            autoescape=False,  # the plain-text part: nothing in it is markup
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        text_env.filters["wrap"] = wrap_text
        text_env.filters["plain"] = plain_text
        self._text = text_env.get_template(TEXT_TEMPLATE)
        text_row = self._text.make_module({"rows": []}).row  # type: ignore[attr-defined]
        self._painter = RowPainter(self._draw_html, html=True, shared=SHARED_ROWS)
        self._text_row = text_row
        self._text_ends: dict[Any, str] = {}
        self._text_painter = RowPainter(
            lambda rows, _: self._text.render(rows=rows),
            html=False,
            shared=SHARED_ROWS,
            direct=self._wrapped_text_row,
            direct_kinds=WRAPPED_TEXT_ROWS,
        )
        self.size_budget = size_budget
        self._scores: list[float] = []  # the papers' scores of the email being rendered
        self._web_url: str | None = None

    @property
    def shapes(self) -> int:
        """Row shapes inlined so far."""
        return self._painter.shapes

    @property
    def premailer_runs(self) -> int:
        """premailer runs so far (the page shell, and each email that brought new shapes)."""
        return self._painter.draws

    def render(
        self,
        digest: Digest,
        *,
        base_url: str,
        manage_url: str | None = None,
        unsubscribe_url: str | None = None,
        always: bool = False,
        web_url: str | None = None,
        feed_url: str | None = None,
        web_copy: bool = False,
        feedback: FeedbackUrl | None = None,
    ) -> RenderedDigest | None:
        """The email for this digest, or None when it is empty and the subscriber did not ask for
        a "nothing new" note (`always` renders it anyway, as `digest preview` does). `web_url`:
        the digest's web copy, linked at the top, in the footer, and when papers had to be left
        out of the email; `feed_url`: the subscriber's Atom feed, linked in the footer.
        `web_copy`: render the web copy itself, whose footer names and links no one.
        `feedback`: the reader's signed "more like this" / "not for me" links, beside each
        paper."""
        links = page_links(
            base_url,
            manage_url,
            unsubscribe_url,
            feedback,
            web_url=web_url,
            feed_url=feed_url,
            web_copy=web_copy,
        )
        return self._render(digest, links, always, self._html, self._plain, web_url)

    def render_naive(
        self,
        digest: Digest,
        *,
        base_url: str,
        manage_url: str | None = None,
        unsubscribe_url: str | None = None,
        always: bool = False,
        web_url: str | None = None,
        feedback: FeedbackUrl | None = None,
    ) -> RenderedDigest | None:
        """As `render`, but running premailer over the whole email: slow, the reference."""
        links = page_links(base_url, manage_url, unsubscribe_url, feedback)
        return self._render(digest, links, always, self._naive_html, self._naive_plain, web_url)

    def _render(
        self,
        digest: Digest,
        links: PageLinks,
        always: bool,
        paint: Callable[[list[Row], str, Taken], str],
        write: Callable[[list[Row], Taken], str],
        web_url: str | None = None,
    ) -> RenderedDigest | None:
        if digest.is_empty and not (always or digest.subscriber.send_empty):
            return None
        rows = page_rows(digest, links)
        subject = subject_line(digest)
        self._scores = [r.score for g in digest.groups for r in g.papers]
        self._web_url = web_url
        try:
            taken: Taken = {}  # shapes and strings of this email's rows, for both parts
            html = paint(list(rows), subject, taken)  # a copy: the size budget may drop papers
            text = write(rows, taken)
        except jinja2.TemplateError as e:
            raise RenderError(f"the digest templates failed: {e}") from e
        return RenderedDigest(subject=subject, html=html, text=text)

    def _html(self, rows: list[Row], title: str, taken: Taken) -> str:
        top, bottom = self._painter.shell(title)
        painted = self._painter.paint(rows, taken)
        html = "".join((top, *painted, bottom))
        if _size(html) <= self.size_budget:
            return html
        papers = paper_rows(rows)
        sizes = [sum(_size(painted[i]) for i in group) for group in papers]
        total = _size(html)
        dropped: set[int] = set()
        more = ""
        for paper in sorted(range(len(papers)), key=lambda p: (self._scores[p], -p)):
            if total - sum(sizes[p] for p in dropped) + _size(more) <= self.size_budget:
                break
            dropped.add(paper)
            more = self._painter.row(*more_row(len(dropped), self._web_url))
        return "".join((top, *_without(painted, papers, dropped, more), bottom))

    def _plain(self, rows: list[Row], taken: Taken) -> str:
        return "".join(self._text_painter.paint(rows, taken))

    def _wrapped_text_row(self, kind: str, values: Mapping[str, Any]) -> str:
        """A text row drawn on its own (it wraps its words). A card's end is kept by what the
        text part shows of it: its summary's words, not which of them the HTML marks, so the
        readers of a paper who matched different keywords share it."""
        if kind != "paper_end":
            return str(self._text_row(kind, values))
        key = tuple(
            (name, plain_text(value) if name == "summary" else _frozen(value))
            for name, value in values.items()
        )
        found = self._text_ends.get(key)
        if found is None:
            if len(self._text_ends) >= TEXT_ENDS_KEPT:  # the oldest goes
                del self._text_ends[next(iter(self._text_ends))]
            found = self._text_ends[key] = str(self._text_row(kind, values))
        return found

    def _draw_html(self, rows: list[tuple[str, Any]], title: str) -> str:
        return inline_css(self._page.render(rows=rows, head={"title": title}))

    def _naive_plain(self, rows: list[Row], _: Taken) -> str:
        return self._text.render(rows=rows)

    def _naive_html(self, rows: list[Row], title: str, _: Taken) -> str:
        html = self._draw_html(rows, title)
        papers = paper_rows(rows)
        order = sorted(range(len(papers)), key=lambda p: (self._scores[p], -p))
        dropped: set[int] = set()
        while _size(html) > self.size_budget and len(dropped) < len(papers):
            dropped.add(order[len(dropped)])
            more = more_row(len(dropped), self._web_url)
            html = self._draw_html(_without(rows, papers, dropped, more), title)
        return html


def paper_rows(rows: Sequence[Row]) -> list[list[int]]:
    """Each paper's rows (its card, its reasons, its summary), as indexes, in page order."""
    papers: list[list[int]] = []
    for i, (kind, _) in enumerate(rows):
        if kind == "paper":
            papers.append([i])
        elif kind in ("why", "paper_end", "feedback") and papers and papers[-1][-1] == i - 1:
            papers[-1].append(i)
    return papers


def more_row(left_out: int, web_url: str | None) -> Row:
    """The line that says how many papers the email had no room for."""
    what = f"{left_out} more paper{'s' if left_out != 1 else ''}"
    if web_url:
        return ("more", {"text": f"{what} on the web", "url": web_url})
    return (
        "more",
        {"text": f"{what} did not fit in this email: see its plain-text part", "url": ""},
    )


def _without(
    items: Sequence[Any], papers: list[list[int]], dropped: set[int], more: Any
) -> list[Any]:
    """`items` (rows, or painted rows) without the dropped papers' rows, with `more` in place of
    the last paper shown's end."""
    if not dropped:
        return list(items)
    gone = {i for p in dropped for i in papers[p]}
    last = max(i for group in papers for i in group)
    out = []
    for i, item in enumerate(items):
        if i not in gone:
            out.append(item)
        if i == last:
            out.append(more)
    return out


def plain_text(segments: Sequence[Mapping[str, Any]]) -> str:
    """Highlighted segments (see `view.highlight`) as the plain text they spell."""
    return "".join(s["text"] for s in segments)


@lru_cache(maxsize=16384)
def wrap_text(text: str, width: int, indent: str) -> str:
    """Text wrapped at width for the plain-text part, each line indented (cached: the same
    summaries recur in many subscribers' digests)."""
    return "\n".join(
        textwrap.wrap(
            text, width, initial_indent=indent, subsequent_indent=indent, break_on_hyphens=False
        )
    )


def _frozen(value: Any) -> Any:
    """A row value as something hashable (dicts and lists as tuples)."""
    if isinstance(value, Mapping):
        return tuple((k, _frozen(v)) for k, v in value.items())
    if isinstance(value, list | tuple):
        return tuple(_frozen(v) for v in value)
    return value


def _size(html: str) -> int:
    return len(html.encode("utf-8"))


@lru_cache(maxsize=1)
def default_renderer() -> Renderer:
    """One shared renderer (and inlined-shape cache) for the process."""
    return Renderer()


def render_digest(
    digest: Digest,
    *,
    base_url: str,
    manage_url: str | None = None,
    unsubscribe_url: str | None = None,
    always: bool = False,
    renderer: Renderer | None = None,
    web_url: str | None = None,
    feed_url: str | None = None,
    feedback: FeedbackUrl | None = None,
) -> RenderedDigest | None:
    """Render one digest as an email (None: an empty day and no "nothing new" note wanted).

    base_url: the site's address, for links; manage_url / unsubscribe_url: the subscriber's own
    links (signed by the caller), defaulting to `base_url/manage`; feedback: the subscriber's
    signed "more like this" / "not for me" links (none without).
    """
    return (renderer or default_renderer()).render(
        digest,
        base_url=base_url,
        manage_url=manage_url,
        unsubscribe_url=unsubscribe_url,
        always=always,
        web_url=web_url,
        feed_url=feed_url,
        feedback=feedback,
    )


__all__ = ["SIZE_BUDGET", "RenderedDigest", "Renderer", "render_digest", "subject_line"]
