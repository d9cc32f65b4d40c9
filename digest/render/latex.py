"""LaTeX in titles and abstracts made readable: `latex_to_text` turns simple commands into
Unicode (`$\\alpha$` → the Greek letter, `\\textbf{x}` → x) with pylatexenc and leaves everything
else as plain text. Only the LaTeX islands (math between dollars, a command and its braced
arguments) go through pylatexenc: it is slow on long text, and plain prose needs nothing."""

from __future__ import annotations

import logging
import re
import unicodedata
from functools import lru_cache

from pylatexenc.latex2text import LatexNodes2Text

from digest.sources.clean import one_line

log = logging.getLogger(__name__)
# pylatexenc logs a warning for each macro it cannot expand; the text is still readable.
logging.getLogger("pylatexenc").setLevel(logging.ERROR)

# LaTeX accent commands and the combining marks they stand for.
_ACCENTS = {
    "'": "\u0301",
    "`": "\u0300",
    "^": "\u0302",
    '"': "\u0308",
    "~": "\u0303",
    "=": "\u0304",
    ".": "\u0307",
    "u": "\u0306",
    "v": "\u030c",
    "H": "\u030b",
    "c": "\u0327",
    "k": "\u0328",
    "r": "\u030a",
}
_SYMBOLS = {
    "i": "\u0131",  # dotless i
    "j": "ȷ",
    "o": "ø",
    "O": "Ø",
    "l": "ł",
    "L": "Ł",
    "ss": "ß",
    "ae": "æ",
    "AE": "Æ",
    "oe": "œ",
    "OE": "Œ",
    "aa": "å",
    "AA": "Å",
    "&": "&",
    "%": "%",
    "_": "_",
    "#": "#",
    "$": "$",
}
_ACCENT_CMD = re.compile(
    r"\\([`'^\"~=.]|[uvHckr](?![A-Za-z]))\s*(?:\{\s*(\\?[A-Za-z]*)\s*\}|(\\?[A-Za-z]))"
)
_SYMBOL_CMD = re.compile(r"\\(ss|ae|AE|oe|OE|aa|AA|[ijoOlL])(?![A-Za-z])\s?|\\([&%_#$])")
_TEXT_CMD = re.compile(r"\\(?:emph|textit|textbf|textsc|texttt|textrm|mathrm|url|mbox|text)\s*")


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
# Spacing and kerning in math ("E\mkern-2mu L" is the logic EL): dropped, never spelled out.
_KERNING = re.compile(
    r"\\(?:mkern|kern|mskip|hskip)\s*-?[\d.]+\s*(?:mu|em|ex|pt)?\s*|\\[hv]space\*?\{[^{}]*\}\s*|\\!"
)
_THIN_SPACE = re.compile(r"\\[,;:>]")
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
        converted: str = _CONVERTER.latex_to_text(_THIN_SPACE.sub(" ", _KERNING.sub("", island)))
    except Exception:  # pylatexenc is lenient, but a bad abstract must never stop a digest
        log.debug("could not convert LaTeX %r", island[:80], exc_info=True)
        return island
    return converted


@lru_cache(maxsize=65536)
def bibtex_to_text(value: str) -> str:
    """BibTeX field text or an author name as plain Unicode: accents applied (`J\\"org` -> Jörg,
    `S{\\o}gaard` -> Søgaard), commands and braces dropped."""

    def accent(match: re.Match[str]) -> str:
        base = match.group(2) if match.group(2) is not None else match.group(3) or ""
        base = _SYMBOLS.get(base.lstrip("\\"), base.lstrip("\\")) if base.startswith("\\") else base
        if base in ("\u0131", "i") and match.group(1) in "'`^\"~":
            base = "i"
        return unicodedata.normalize("NFC", base[:1] + _ACCENTS[match.group(1)] + base[1:])

    value = _ACCENT_CMD.sub(accent, value)
    value = _SYMBOL_CMD.sub(lambda m: _SYMBOLS[m.group(1) or m.group(2)], value)
    value = _TEXT_CMD.sub("", value)
    value = value.replace("{", "").replace("}", "").replace("~", " ").replace("\\\\", " ")
    return one_line(value)
