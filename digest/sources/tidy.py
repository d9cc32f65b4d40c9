"""Papers' text made readable once, before anything else reads it: titles and author names with
their LaTeX turned into Unicode (`J\\"org` -> Jörg, `S{\\o}gaard` -> Søgaard), `--` and `---`
into dashes, the section heads of structured abstracts split from their first word
("BackgroundThe" -> "Background: The", medRxiv's list marks dropped), and control and
bidi-override characters removed.

`tidy_paper` is applied where papers enter: the store (`Store.save_papers`) and papers files,
so the store, the email and the matching of followed authors all see the same clean text.
"""

from __future__ import annotations

import re
from dataclasses import replace
from functools import lru_cache

from digest.models import Paper
from digest.render.latex import bibtex_to_text, latex_to_text

# C0/C1 controls (but tab and newline) and the bidi embeddings, overrides and isolates that can
# reverse how a title reads.
_INVISIBLE = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]"
)
_MATH = re.compile(r"(?<!\\)\$[^$]*(?<!\\)\$")
_HEADS = (
    "Background|Introduction|Importance|Objectives?|Aims?|Purpose|Context|Rationale|Methods?"
    "|Methodology|Design|Setting|Participants|Interventions?|Measurements|Main Outcomes?"
    "(?: and Measures)?|Findings|Results|Interpretation|Conclusions?|Limitations|Significance"
    "|Funding|Trial Registration|Highlights|Summary"
)
# A section head glued to the next sentence: "BackgroundThe", "Methods:We", "RESULTSIn".
_GLUED_HEAD = re.compile(
    rf"(?:(?<=^)|(?<=\n)|(?<=[.!?)\]]\s)|(?<=[.!?)\]]))({_HEADS})(?::\s*)?(?=[A-Z])"
)
# Every word a glued head starts with: a text holding none of them is spared the regex above,
# which tries its look-behinds at every character (0.1 ms an abstract).
_HEAD_WORDS = tuple(
    word[:-2] if word.endswith("?") else word  # "Methods?": "Method"
    for word in (head.split("(")[0] for head in _HEADS.split("|"))
)
# bioRxiv/medRxiv mark list items in abstracts with these tokens ("O_LIFirst item C_LIO_LI…").
_LIST_MARKS = re.compile(r"\s*\b(?:C_LIO_LI|O_LI|C_LI)(?=[A-Z\s]|$)")


def tidy_paper(paper: Paper) -> Paper:
    """The paper with its title, authors and abstract tidied (the same object if nothing
    changed)."""
    title = tidy_title(paper.title)
    authors = tuple(n for n in (tidy_name(a) for a in paper.authors) if n)
    abstract = tidy_abstract(paper.abstract)
    if (title, authors, abstract) == (paper.title, paper.authors, paper.abstract):
        return paper
    return replace(paper, title=title, authors=authors, abstract=abstract)


@lru_cache(maxsize=65536)
def tidy_name(name: str) -> str:
    """An author's name in Unicode: `Rodr\\'iguez` -> Rodríguez, `Kra{\\ss}` -> Kraß."""
    name = _INVISIBLE.sub("", name)
    if "\\" in name or "{" in name:
        name = bibtex_to_text(name)
    return " ".join(name.split())


@lru_cache(maxsize=65536)
def tidy_title(title: str) -> str:
    """A title in Unicode, on one line, with dashes for `--` and `---`."""
    return latex_to_text(dashes(_INVISIBLE.sub("", title)))


def tidy_abstract(abstract: str) -> str:
    """An abstract without invisible characters, its dashes and section heads written out
    (its LaTeX is left for rendering: math reads better there than in plain text)."""
    text = dashes(_INVISIBLE.sub("", abstract))
    if any(word in text for word in _HEAD_WORDS):
        text = _GLUED_HEAD.sub(lambda m: f"{m.group(1)}: ", text)
    if "_LI" in text:
        text = re.sub(r"[ \t]{2,}", " ", _LIST_MARKS.sub(" ", text)).strip()
    return text


def dashes(text: str) -> str:
    """`---` -> em dash, `--` -> en dash, outside $math$."""
    if "--" not in text:
        return text
    parts = []
    at = 0
    for math in _MATH.finditer(text):
        parts.append(_dash(text[at : math.start()]))
        parts.append(math.group(0))
        at = math.end()
    parts.append(_dash(text[at:]))
    return "".join(parts)


def _dash(text: str) -> str:
    return text.replace("---", "\u2014").replace("--", "\u2013")
