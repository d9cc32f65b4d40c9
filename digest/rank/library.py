"""A subscriber's library of liked papers: a BibTeX export (Zotero, Mendeley, Google Scholar,
JabRef) or a papers JSONL file, read into `Paper`s.

The BibTeX reader is small and forgiving: entries with braces or quotes, `#` concatenation,
`@string` macros, comments between entries; LaTeX accents become Unicode (`Ram{\\'\\i}rez` ->
`Ramírez`) and markup is dropped. An arXiv id is taken from `eprint`, `url`, `doi`
(10.48550/arXiv.…), `journal` or `note` when one is there. A file that cannot be read raises
`RankError` naming it.
"""

from __future__ import annotations

import re
from pathlib import Path

from digest.errors import RankError
from digest.models import Paper
from digest.papers_file import read_papers
from digest.render.latex import bibtex_to_text as latex_to_text
from digest.sources.clean import arxiv_key, doi_key, one_line, split_arxiv_id

_ENTRY = re.compile(r"@\s*([A-Za-z]+)\s*([{(])")
_FIELD_NAME = re.compile(r"\s*([A-Za-z][\w\-:.]*)\s*=\s*")
_ARXIV_IN_TEXT = re.compile(
    r"(?:arxiv[:\s/.]*(?:abs/)?|arxiv\.org/(?:abs|pdf)/)"
    r"(\d{4}\.\d{4,5}(?:v\d+)?|[a-z\-]+(?:\.[A-Z]{2})?/\d{7})",
    re.IGNORECASE,
)
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


def read_library(path: str | Path) -> list[Paper]:
    """The papers of a BibTeX file (`.bib`) or a papers JSONL file (`.jsonl`, `.jsonl.gz`)."""
    file = Path(path)
    if file.name.endswith((".jsonl", ".jsonl.gz", ".json.gz", ".ndjson")):
        return read_papers(file)
    try:
        text = file.read_text(encoding="utf-8-sig", errors="replace")
    except OSError as e:
        raise RankError(
            f"cannot read the library {file} ({e.strerror or e}); check library: in config.yaml"
        ) from e
    if not text.lstrip().startswith(("@", "%")) and text.lstrip().startswith("{"):
        return read_papers(file)
    papers = parse_bibtex(text)
    if not papers and text.strip():
        raise RankError(f"{file}: no BibTeX entries found (is it a .bib export?)")
    return papers


def parse_bibtex(text: str) -> list[Paper]:
    """Every entry with a title, as a `Paper` (id: arXiv, else DOI, else `bib:citekey`)."""
    strings = {m: m.capitalize() for m in _MONTHS}
    papers = []
    for kind, key, fields in _entries(text, strings):
        if kind == "string":
            strings.update(fields)
            continue
        paper = _paper(key, fields)
        if paper is not None:
            papers.append(paper)
    return papers


def _entries(text: str, strings: dict[str, str]) -> list[tuple[str, str, dict[str, str]]]:
    found: list[tuple[str, str, dict[str, str]]] = []
    pos = 0
    while True:
        match = _ENTRY.search(text, pos)
        if match is None:
            return found
        kind = match.group(1).lower()
        close = "}" if match.group(2) == "{" else ")"
        pos = match.end()
        if kind in ("comment", "preamble"):
            pos = _skip_group(text, match.end() - 1)
            continue
        key = ""
        if kind != "string":
            comma = text.find(",", pos)
            brace = text.find(close, pos)
            if comma == -1 or (brace != -1 and brace < comma):
                pos = brace + 1 if brace != -1 else len(text)
                continue
            key, pos = text[pos:comma].strip(), comma + 1
        fields: dict[str, str] = {}
        while pos < len(text):
            while pos < len(text) and text[pos] in " \t\r\n,":
                pos += 1
            if pos >= len(text) or text[pos] == close:
                pos += 1
                break
            name = _FIELD_NAME.match(text, pos)
            if name is None:  # damaged entry: resume at the next @
                pos = text.find("@", pos + 1)
                pos = len(text) if pos == -1 else pos
                break
            value, pos = _value(text, name.end(), strings)
            fields[name.group(1).lower()] = value
        found.append((kind, key, fields))


def _value(text: str, pos: int, strings: dict[str, str]) -> tuple[str, int]:
    """A field value with its `#` concatenations, and where it ends."""
    parts = []
    while pos < len(text):
        char = text[pos]
        if char == "{":
            end = _skip_group(text, pos)
            parts.append(text[pos + 1 : end - 1])
            pos = end
        elif char == '"':
            end = pos + 1
            depth = 0
            while end < len(text) and not (
                text[end] == '"' and depth == 0 and text[end - 1] != "\\"
            ):
                depth += {"{": 1, "}": -1}.get(text[end], 0)
                end += 1
            parts.append(text[pos + 1 : end])
            pos = end + 1
        else:
            word = re.match(r"[^\s,#})]+", text[pos:])
            if word is None:  # `title = }`: an empty value, the entry goes on
                break
            token = word.group(0)
            parts.append(strings.get(token.lower(), token))
            pos += len(token)
        while pos < len(text) and text[pos] in " \t\r\n":
            pos += 1
        if pos < len(text) and text[pos] == "#":
            pos += 1
            while pos < len(text) and text[pos] in " \t\r\n":
                pos += 1
            continue
        break
    return "".join(parts), pos


def _skip_group(text: str, start: int) -> int:
    """The position just after the brace group (or parenthesis group) opening at `start`."""
    opening = text[start]
    closing = "}" if opening == "{" else ")"
    depth = 0
    for pos in range(start, len(text)):
        if text[pos] == opening and (pos == 0 or text[pos - 1] != "\\"):
            depth += 1
        elif text[pos] == closing and text[pos - 1] != "\\":
            depth -= 1
            if depth == 0:
                return pos + 1
    return len(text)


def split_bibtex_authors(value: str) -> tuple[str, ...]:
    """`'Lewis, Patrick and Perez, Ethan'` -> ('Patrick Lewis', 'Ethan Perez')."""
    names: list[str] = []
    current: list[str] = []
    depth = 0
    for word in re.split(r"(\s+)", value):
        depth += word.count("{") - word.count("}")
        if depth == 0 and word.strip().lower() == "and":
            names.append("".join(current))
            current = []
        else:
            current.append(word)
    names.append("".join(current))
    out = []
    for raw in names:
        name = latex_to_text(raw)
        if not name or name.lower() == "others":
            continue
        if "," in name:
            last, _, first = name.partition(",")
            name = one_line(f"{first.split(',')[-1]} {last}")
        out.append(name)
    return tuple(out)


def find_arxiv_id(fields: dict[str, str]) -> str | None:
    """The arXiv id an entry names, from eprint, url, doi, journal or note."""
    eprint = fields.get("eprint", "").strip()
    prefix = fields.get("archiveprefix", fields.get("eprinttype", "arxiv")).lower()
    if eprint and "arxiv" in prefix:
        parsed = split_arxiv_id(eprint)
        if parsed is not None:
            return parsed[0]
    doi = fields.get("doi", "")
    if doi.lower().startswith("10.48550/arxiv."):
        return doi[len("10.48550/arxiv.") :].strip()
    for name in ("url", "journal", "note", "howpublished", "booktitle", "eprint"):
        found = _ARXIV_IN_TEXT.search(fields.get(name, ""))
        if found:
            parsed = split_arxiv_id(found.group(1))
            if parsed is not None:
                return parsed[0]
    return None


def _paper(key: str, fields: dict[str, str]) -> Paper | None:
    title = latex_to_text(fields.get("title", ""))
    if not title:
        return None
    arxiv_id = find_arxiv_id(fields)
    doi = latex_to_text(fields.get("doi", "")) or None
    ident = arxiv_key(arxiv_id) if arxiv_id else doi_key(doi) if doi else f"bib:{key}"
    keywords = latex_to_text(fields.get("keywords", ""))
    return Paper(
        id=ident,
        title=title,
        abstract=latex_to_text(fields.get("abstract", "")),
        authors=split_bibtex_authors(fields.get("author", "")),
        doi=doi,
        ai_keywords=tuple(k.strip() for k in re.split(r"[,;]", keywords) if k.strip()),
        sources=("library",),
    )
