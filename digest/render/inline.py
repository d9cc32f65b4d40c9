"""CSS inlined once per row shape instead of once per email, with the same bytes as a run of
premailer over the whole email.

A row's *shape* is its values with every non-empty string taken out: which kind of row, how many
authors, reasons and links, which segments are highlighted. The first time a shape is seen, the
page template is rendered around it with numbered placeholders for the strings, premailer inlines
that page (the row sits in its real place, so every selector sees the same ancestors), and the
inlined row is cut out between two comments and split at the placeholders. After that a row costs
one dict lookup and a join, its strings escaped exactly as lxml serializes them.

Placeholders are plain ASCII letters and digits, so neither Jinja's escaping nor lxml's parser
and serializer change them; a placeholder must be a whole text run or a whole attribute value.
The plain-text part is painted the same way, without premailer and without escaping.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any

from lxml import etree
from premailer import Premailer

from digest.errors import RenderError

MARKER = "<!--digest:row-->"
_PAINTED_MAX = 6_000  # rows of about 1-2 KB each: about a day's papers' rows and more
_PLACEHOLDER = "zqslot{}qz"
_SLOTS = re.compile(r""" ([A-Za-z][A-Za-z0-9_:-]*)=(["'])zqslot(\d+)qz\2|zqslot(\d+)qz""")
_TEXT_SLOTS = re.compile(r"zqslot(\d+)qz")
# Characters that lxml writes as they are in an attribute value (checked by tests/test_render.py).
_PLAIN_ATTR = re.compile(r"[A-Za-z0-9._~:/?#@!$()*+,;=%-]*")

_PREMAILER = Premailer(
    allow_network=False,
    allow_loading_external_files=False,
    strip_important=False,  # the @media rules for dark mode and phones need their !important
    disable_validation=True,  # cssutils would log every vendor property (mso-…, -webkit-…)
    cache_css_parsing=True,
)


def inline_css(html: str) -> str:
    """premailer over a whole page: the reference that the cached rows reproduce byte for byte."""
    result: str = _PREMAILER.transform(html, pretty_print=False)
    return result


class _Slot:
    """Where a string was taken out of a row's values (one instance, used as a shape marker)."""

    def __repr__(self) -> str:
        return "<slot>"


_SLOT = _Slot()
Part = str | tuple[int, str | None]  # literal text, or (slot number, attribute name or None)


def take_strings(value: Any, strings: list[str]) -> Any:
    """The shape of `value` (hashable), appending its non-empty strings to `strings` in order."""
    kind = type(value)  # exact type checks first: this runs for every string of every email
    if kind is str:
        if value:
            strings.append(value)
            return _SLOT
        return ""
    if kind is dict:
        return ("{", *[(k, take_strings(v, strings)) for k, v in value.items()])
    if kind is list or kind is tuple:
        return ("[", *[take_strings(v, strings) for v in value])
    if value is None or kind is bool or kind is int or kind is float:
        return value
    if isinstance(value, Mapping):
        return ("{", *[(k, take_strings(v, strings)) for k, v in value.items()])
    raise RenderError(f"cannot render a {type(value).__name__} in a digest row: {value!r}")


def _placeholders(shape: Any, counter: list[int]) -> Any:
    if shape is _SLOT:
        counter[0] += 1
        return _PLACEHOLDER.format(counter[0] - 1)
    if type(shape) is tuple and shape and shape[0] == "{":
        return {k: _placeholders(v, counter) for k, v in shape[1:]}
    if type(shape) is tuple and shape and shape[0] == "[":
        return [_placeholders(v, counter) for v in shape[1:]]
    return shape


Draw = Callable[[list[tuple[str, Any]], str], str]  # (rows, title) -> the whole document


class RowPainter:
    """Paints rows of a template, drawing each row shape only once.

    `draw` renders a whole document for some rows: for the HTML part, the page template through
    premailer; for the text part, the text template. With `html`, strings are escaped as lxml
    writes them; else they go in as they are. Rows of the `direct` kinds are drawn one by one
    by `direct` instead (for text that wraps: its layout depends on the words).
    """

    def __init__(
        self,
        draw: Draw,
        *,
        html: bool,
        shared: frozenset[str] = frozenset(),
        direct: Callable[[str, Mapping[str, Any]], str] | None = None,
        direct_kinds: frozenset[str] = frozenset(),
    ) -> None:
        self._draw = draw
        self._html = html
        self._rows: dict[tuple[str, Any], tuple[Part, ...]] = {}
        # Rows of the `shared` kinds are kept by the identity of their values: the view caches
        # one values dict per paper (or per reasons), so a paper in many digests is painted
        # once. Values are never changed once made.
        self._shared = shared
        # Each kind apart (oldest out first): a paper's card top, one per paper, is never pushed
        # out by the many card ends (one per paper and set of marked keywords).
        self._painted: dict[str, dict[int, tuple[Mapping[str, Any], str]]] = {
            kind: {} for kind in shared
        }
        self._direct = direct
        self._direct_kinds = direct_kinds if direct else frozenset()
        self._shell: tuple[tuple[Part, ...], tuple[Part, ...]] | None = None
        self.draws = 0

    @property
    def shapes(self) -> int:
        """How many row shapes have been drawn so far (the new shapes of one email share one
        draw)."""
        return len(self._rows)

    def shell(self, title: str) -> tuple[str, str]:
        """The document around the rows: (everything before them, everything after)."""
        if self._shell is None:
            document = self._drawn([("marker", {})], _PLACEHOLDER.format(0))
            top, sep, bottom = document.partition(MARKER)
            if not sep:
                raise RenderError("the page template lost its row marker: keep the rows loop")
            self._shell = (self._split(top), self._split(bottom))
        top_parts, bottom_parts = self._shell
        return self._fill(top_parts, [title]), self._fill(bottom_parts, [title])

    def row(self, kind: str, values: Mapping[str, Any]) -> str:
        """One row, painted."""
        return self.paint([(kind, values)])[0]

    def paint(
        self,
        rows: Sequence[tuple[str, Mapping[str, Any]]],
        taken: dict[int, tuple[Any, list[str]]] | None = None,
    ) -> list[str]:
        """Rows, painted; the shapes not seen before are drawn together, in one draw.

        `taken` shares the shapes and strings taken from the same rows' values between two
        painters (HTML and text) during one email: the values are alive, so ids are safe."""
        painted: list[str] = []
        pending: list[tuple[int, tuple[str, Any], list[str], Mapping[str, Any] | None]] = []
        for kind, values in rows:
            shared = kind in self._shared
            if shared:
                seen = self._painted[kind].get(id(values))
                if seen is not None and seen[0] is values:
                    painted.append(seen[1])
                    continue
            if kind in self._direct_kinds:
                assert self._direct is not None
                painted.append(self._direct(kind, values))
                if shared:
                    self._keep(kind, values, painted[-1])
                continue
            found = taken.get(id(values)) if taken is not None else None
            if found is None:
                strings: list[str] = []
                found = (take_strings(values, strings), strings)
                if taken is not None:
                    taken[id(values)] = found
            key = (kind, found[0])
            strings = found[1]
            pending.append((len(painted), key, strings, values if shared else None))
            painted.append("")
        missing = [key for key in dict.fromkeys(p[1] for p in pending) if key not in self._rows]
        if missing:
            self._draw_shapes(missing)
        for at, key, strings, keep in pending:
            painted[at] = self._fill(self._rows[key], strings)
            if keep is not None:
                self._keep(key[0], keep, painted[at])
        return painted

    def _keep(self, kind: str, values: Mapping[str, Any], painted: str) -> None:
        kept = self._painted[kind]
        if len(kept) >= _PAINTED_MAX:  # the oldest goes (a dict keeps insertion order)
            del kept[next(iter(kept))]
        kept[id(values)] = (values, painted)

    def _draw_shapes(self, keys: Sequence[tuple[str, Any]]) -> None:
        rows: list[tuple[str, Any]] = [("marker", {})]
        for kind, shape in keys:
            rows += [(kind, _placeholders(shape, [0])), ("marker", {})]
        pieces = self._drawn(rows, "x").split(MARKER)
        if len(pieces) != len(keys) + 2:
            kinds = ", ".join(sorted({kind for kind, _ in keys}))
            raise RenderError(f"rows of kind {kinds} broke the document structure when drawn")
        for key, piece in zip(keys, pieces[1:-1], strict=True):
            self._rows[key] = self._split(piece)

    def _drawn(self, rows: list[tuple[str, Any]], title: str) -> str:
        self.draws += 1
        return self._draw(rows, title)

    def _split(self, document: str) -> tuple[Part, ...]:
        return _split(document) if self._html else _split_text(document)

    def _fill(self, parts: Sequence[Part], strings: Sequence[str]) -> str:
        return _fill(parts, strings) if self._html else _fill_text(parts, strings)


def _split(html: str) -> tuple[Part, ...]:
    parts: list[Part] = []
    at = 0
    for match in _SLOTS.finditer(html):
        if match.group(4) is not None and html.rfind("<", 0, match.start()) > html.rfind(
            ">", 0, match.start()
        ):
            raise RenderError("a template puts part of a value inside a tag: use whole values")
        parts.append(html[at : match.start()])
        if match.group(1):
            parts.append((int(match.group(3)), match.group(1)))
        else:
            parts.append((int(match.group(4)), None))
        at = match.end()
    parts.append(html[at:])
    return tuple(p for p in parts if p != "")


def _split_text(text: str) -> tuple[Part, ...]:
    pieces = _TEXT_SLOTS.split(text)  # literal, number, literal, number, …, literal
    parts: list[Part] = [
        piece if i % 2 == 0 else (int(piece), None) for i, piece in enumerate(pieces)
    ]
    return tuple(p for p in parts if p != "")


def _fill(parts: Sequence[Part], strings: Sequence[str]) -> str:
    out = []
    for part in parts:
        if isinstance(part, str):
            out.append(part)
        else:
            index, attribute = part
            value = strings[index]
            if attribute is None:
                out.append(escape_text(value))
            else:
                out.append(escape_attribute(attribute, value))
    return "".join(out)


def _fill_text(parts: Sequence[Part], strings: Sequence[str]) -> str:
    return "".join(part if isinstance(part, str) else strings[part[0]] for part in parts)


def escape_text(value: str) -> str:
    """A text run as lxml's HTML serializer writes it."""
    if "&" in value or "<" in value or ">" in value:
        return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return value


def escape_attribute(name: str, value: str) -> str:
    """` name="value"` as lxml's HTML serializer writes it (it %-escapes URLs, picks quotes)."""
    if _PLAIN_ATTR.fullmatch(value):
        return f' {name}="{value}"'
    return _lxml_attribute(name, value)


@lru_cache(maxsize=16384)
def _lxml_attribute(name: str, value: str) -> str:
    # Inside a parsed HTML document, as in premailer: libxml2 escapes a lone element's
    # attributes differently (it keeps "&{" only in an HTML document).
    document = etree.fromstring("<html><body><a></a></body></html>", etree.HTMLParser())
    element = document.find("body/a")
    assert element is not None
    element.set(name, value)
    html = etree.tostring(element, method="html", encoding="unicode")
    return html[2 : -len("></a>")]
