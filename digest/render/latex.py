"""LaTeX in titles and abstracts made readable: `latex_to_text` turns simple commands into
Unicode (`$\\alpha$` → the Greek letter, `\\textbf{x}` → x) with pylatexenc and leaves everything
else as plain text. Only the LaTeX islands (math between dollars, a command and its braced
arguments) go through pylatexenc: it is slow on long text, and plain prose needs nothing."""

from __future__ import annotations

import logging
import re
from functools import lru_cache

from pylatexenc.latex2text import LatexNodes2Text

log = logging.getLogger(__name__)
# pylatexenc logs a warning for each macro it cannot expand; the text is still readable.
logging.getLogger("pylatexenc").setLevel(logging.ERROR)

_CONVERTER = LatexNodes2Text(math_mode="text", strict_latex_spaces=False)
_ISLAND = re.compile(
    r"(?<!\\)\$[^$]+(?<!\\)\$"  # inline math
    r"|\{\\[a-zA-Z]+\s[^{}]*\}"  # {\it old-style groups}
    r"|\\[a-zA-Z]+\*?(?:\[[^\]{}]*\])?(?:\{(?:[^{}]|\{[^{}]*\})*\})*"  # \cmd[opt]{arg}{arg}
    r"|\\[^a-zA-Z\s](?:\{[^{}]*\}|[a-zA-Z])?"  # \% \& and accents: \"o \'{e}
    r"|\\(?=\s)"  # a forced space
)
# Citations and references mean nothing in an email: dropped with the space before them.
_REFERENCE = re.compile(r"\s*\\(?:cite[tp]?|citep?|ref|eqref|label)\*?\{[^{}]*\}")
# Dollars that are prices, not math ("costs $5 and $6"): a number first, a space last.
_NOT_MATH = re.compile(r"\$\d[^\\^_{}]*\s\$")
_SPACE = re.compile(r"\s+")
# Control characters (but not tab and newline) that an HTML parser would drop or choke on.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")


@lru_cache(maxsize=65536)
def clean_text(text: str) -> str:
    """Collapse whitespace (newlines, non-breaking spaces) and drop control characters."""
    return _SPACE.sub(" ", _CONTROL.sub("", text)).strip()


@lru_cache(maxsize=65536)
def latex_to_text(text: str) -> str:
    """Readable Unicode for a title or abstract that may hold LaTeX; plain text comes back as is
    (whitespace collapsed)."""
    if "\\" not in text and "$" not in text:
        return clean_text(text)
    return clean_text(_ISLAND.sub(_convert_island, _REFERENCE.sub("", text)))


def _convert_island(match: re.Match[str]) -> str:
    island = match.group(0)
    if _NOT_MATH.fullmatch(island):
        return island
    return _island_text(island)


@lru_cache(maxsize=65536)
def _island_text(island: str) -> str:
    try:
        converted: str = _CONVERTER.latex_to_text(island)
    except Exception:  # pylatexenc is lenient, but a bad abstract must never stop a digest
        log.debug("could not convert LaTeX %r", island[:80], exc_info=True)
        return island
    return converted
