"""Render a subscriber's digest as an email: subject, HTML with inlined CSS, and a plain-text part.

`render_digest(digest, base_url=…)` is pure: it reads the templates once and does no other I/O.
An empty digest renders to None (no email) unless the subscriber asked for a "nothing new" note.
The HTML stays under a size budget (Gmail clips at about 102 KB) by trimming the longest
summaries first; the footer is never cut. CSS is inlined once per row shape (see `inline`), and
`Renderer.render_naive` runs premailer over each whole email, as the reference for tests and
benchmarks.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
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
    MIN_SUMMARY_CHARS,
    SHARED_ROWS,
    PageLinks,
    Row,
    page_links,
    page_rows,
    shorten_summary,
)
from digest.render.view import subject_line as subject_line

Taken = dict[int, tuple[Any, list[str]]]
SIZE_BUDGET = 100_000  # bytes of HTML; Gmail clips a message body at about 102 KB
# Text rows whose layout depends on their words (the `wrap` filter): drawn one by one.
WRAPPED_TEXT_ROWS = frozenset({"paper_end", "footer"})
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
        self._text = text_env.get_template(TEXT_TEMPLATE)
        text_row = self._text.make_module({"rows": []}).row  # type: ignore[attr-defined]
        self._painter = RowPainter(self._draw_html, html=True, shared=SHARED_ROWS)
        self._text_painter = RowPainter(
            lambda rows, _: self._text.render(rows=rows),
            html=False,
            shared=SHARED_ROWS,
            direct=lambda kind, values: str(text_row(kind, values)),
            direct_kinds=WRAPPED_TEXT_ROWS,
        )
        self.size_budget = size_budget

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
    ) -> RenderedDigest | None:
        """The email for this digest, or None when it is empty and the subscriber did not ask for
        a "nothing new" note (`always` renders it anyway, as `digest preview` does)."""
        links = page_links(base_url, manage_url, unsubscribe_url)
        return self._render(digest, links, always, self._html, self._plain)

    def render_naive(
        self,
        digest: Digest,
        *,
        base_url: str,
        manage_url: str | None = None,
        unsubscribe_url: str | None = None,
        always: bool = False,
    ) -> RenderedDigest | None:
        """As `render`, but running premailer over the whole email: slow, the reference."""
        links = page_links(base_url, manage_url, unsubscribe_url)
        return self._render(digest, links, always, self._naive_html, self._naive_plain)

    def _render(
        self,
        digest: Digest,
        links: PageLinks,
        always: bool,
        paint: Callable[[list[Row], str, Taken], str],
        write: Callable[[list[Row], Taken], str],
    ) -> RenderedDigest | None:
        if digest.is_empty and not (always or digest.subscriber.send_empty):
            return None
        rows = page_rows(digest, links)
        subject = subject_line(digest)
        try:
            taken: Taken = {}  # shapes and strings of this email's rows, for both parts
            html = paint(list(rows), subject, taken)  # a copy: the size budget may trim
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
        sizes = [_size(h) for h in painted]
        total = _size(top) + _size(bottom) + sum(sizes)
        while total > self.size_budget:
            trimmed = trim_longest_summary(rows)
            if trimmed is None:
                break
            painted[trimmed] = self._painter.row(*rows[trimmed])
            new_size = _size(painted[trimmed])
            total += new_size - sizes[trimmed]
            sizes[trimmed] = new_size
        return "".join((top, *painted, bottom))

    def _plain(self, rows: list[Row], taken: Taken) -> str:
        return "".join(self._text_painter.paint(rows, taken))

    def _draw_html(self, rows: list[tuple[str, Any]], title: str) -> str:
        return inline_css(self._page.render(rows=rows, head={"title": title}))

    def _naive_plain(self, rows: list[Row], _: Taken) -> str:
        return self._text.render(rows=rows)

    def _naive_html(self, rows: list[Row], title: str, _: Taken) -> str:
        html = self._draw_html(rows, title)
        while _size(html) > self.size_budget and trim_longest_summary(rows) is not None:
            html = self._draw_html(rows, title)
        return html


def trim_longest_summary(rows: list[Row]) -> int | None:
    """Shorten the longest summary on the page (to about 60%, whole sentences or words; dropped
    when that leaves too little) and return its row's index, or None when none is left."""
    longest, at = 0, None
    for i, (kind, values) in enumerate(rows):
        if kind == "paper_end" and len(values["summary"]) > longest:
            longest, at = len(values["summary"]), i
    if at is None:
        return None
    kind, values = rows[at]
    shorter = shorten_summary(values["summary"], int(longest * 0.6))
    rows[at] = (kind, {**values, "summary": shorter if len(shorter) >= MIN_SUMMARY_CHARS else ""})
    return at


@lru_cache(maxsize=16384)
def wrap_text(text: str, width: int, indent: str) -> str:
    """Text wrapped at width for the plain-text part, each line indented (cached: the same
    summaries recur in many subscribers' digests)."""
    return "\n".join(
        textwrap.wrap(
            text, width, initial_indent=indent, subsequent_indent=indent, break_on_hyphens=False
        )
    )


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
) -> RenderedDigest | None:
    """Render one digest as an email (None: an empty day and no "nothing new" note wanted).

    base_url: the site's address, for links; manage_url / unsubscribe_url: the subscriber's own
    links (signed by the caller), defaulting to `base_url/manage`.
    """
    return (renderer or default_renderer()).render(
        digest,
        base_url=base_url,
        manage_url=manage_url,
        unsubscribe_url=unsubscribe_url,
        always=always,
    )


__all__ = ["SIZE_BUDGET", "RenderedDigest", "Renderer", "render_digest", "subject_line"]
