"""Topics and schedules typed by people (a web form, a `--topic` option) made into validated
config models: pure, no I/O.

A list field is split on commas and new lines. In a one-line topic (`--topic`), items that look
like an arXiv category (`cs.IR`) are categories, items that look like an arXiv id or abs URL are
liked papers, and the rest are keywords: `"Retrieval: RAG, dense retrieval, cs.IR, 2005.11401"`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from digest.config import SubscriberConfig, TopicConfig
from digest.config.arxiv import categories, category_label, category_named, nearest_label
from digest.errors import DigestError

_ARCHIVES = "cs|math|stat|physics|q-bio|q-fin|econ|eess|astro-ph|cond-mat|nlin"
_CATEGORY = re.compile(
    rf"^(?:(?:{_ARCHIVES})\.[A-Za-z-]+|hep-(?:th|ph|ex|lat)|quant-ph|gr-qc|nucl-(?:th|ex)"
    r"|math-ph|astro-ph|cond-mat)$"
)
_ARXIV_ID = re.compile(
    r"^(?:arxiv:|https?://(?:www\.)?arxiv\.org/(?:abs|pdf)/)?"
    r"(\d{4}\.\d{4,5}|[a-z-]+(?:\.[A-Z]{2})?/\d{7})(?:v\d+)?(?:\.pdf)?$",
    re.IGNORECASE,
)
MAX_ITEMS = 50


class SubscriptionError(DigestError):
    """A subscription request or change that cannot be accepted; `problems` are per field,
    as `field: what is wrong`."""

    def __init__(self, message: str, problems: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.problems = list(problems) or [message]


@dataclass(frozen=True)
class Changes:
    """What a person asks to set; None keeps what they have."""

    name: str | None = None
    timezone: str | None = None
    send_at: str | None = None
    days: tuple[str, ...] | None = None
    topics: tuple[TopicConfig, ...] | None = None


def split_items(text: str) -> list[str]:
    """`"a, b\\nc"` -> `["a", "b", "c"]`: stripped, blanks and repeats dropped."""
    items = (item.strip() for item in re.split(r"[,\n;]", text))
    return list(dict.fromkeys(item for item in items if item))


def split_categories(text: str) -> list[str]:
    """Like `split_items`, but a labelled category keeps the commas of its name:
    `"cs.LG, Computational Engineering, Finance, and Science (cs.CE)"` is two items."""
    items: list[str] = []
    for segment in re.split(r"[;\n]", text):
        end = 0
        for found in re.finditer(r"([^()]*)\(([^()]*)\)", segment):
            pieces = [p.strip() for p in found.group(1).split(",")]
            label_name = categories().get(found.group(2).strip(), "").lower()
            # Leading pieces that are not part of the category's own name are items of their own.
            for cut in range(len(pieces)):
                if ", ".join(pieces[cut:]).lower() == label_name or cut == len(pieces) - 1:
                    items += pieces[:cut]
                    items.append(", ".join(pieces[cut:]) + f" ({found.group(2).strip()})")
                    break
            end = found.end()
        items += segment[end:].split(",")
    stripped = (" ".join(item.split()) for item in items)
    return list(dict.fromkeys(item for item in stripped if item))


def is_category(item: str) -> bool:
    return bool(_CATEGORY.match(item))


def arxiv_id(item: str) -> str | None:
    """The bare arXiv id in `item` (an id, `arxiv:…`, or an abs/pdf URL), else None."""
    found = _ARXIV_ID.match(item.strip())
    return found.group(1) if found else None


def topic_from_fields(
    name: str,
    keywords: str,
    categories: str,
    papers: str,
    *,
    exclude: str | None = None,
    authors: str | None = None,
    field: str = "topic",
    keep: TopicConfig | None = None,
) -> TopicConfig | None:
    """A topic from the form's text fields; None when they are all blank. A category is its id
    or its name (`Robotics`, `Robotics (cs.RO)`). What the form does not show (a library,
    keyword weights; `exclude` and `authors` when None) is kept from `keep`."""
    words, cats, ids = split_items(keywords), split_categories(categories), split_items(papers)
    people = split_items(authors or "")
    if not (words or cats or ids or people):
        return None
    named = [category_named(c) for c in cats]
    problems = [
        f"{field}.categories: “{c}” is not an arXiv category. Did you mean {nearest_label(c)}?"
        for c, found in zip(cats, named, strict=True)
        if found is None
    ]
    liked = [arxiv_id(p) for p in ids]
    problems += [
        f"{field}.papers: “{p}” is not an arXiv paper: give its id, like 2005.11401, or its "
        "arxiv.org link"
        for p, found in zip(ids, liked, strict=True)
        if found is None
    ]
    lists = (words, cats, ids, people, split_items(exclude or ""))
    if any(len(items) > MAX_ITEMS for items in lists):
        problems.append(f"{field}: at most {MAX_ITEMS} items in each list")
    if problems:
        raise SubscriptionError("; ".join(problems), problems)
    title = " ".join(name.split()) or ", ".join(words[:3] or cats[:3] or ids[:1] or people[:1])
    topic_cats = list(dict.fromkeys(c for c in named if c))
    extra = {} if exclude is None else {"exclude": split_items(exclude)}
    extra |= {} if authors is None else {"authors": people}
    return _topic(
        title, words, topic_cats, [i for i in liked if i], field=field, keep=keep, extra=extra
    )


def topic_from_spec(spec: str, field: str = "--topic") -> TopicConfig:
    """A topic from one line: `"Name: keyword, cs.IR, 2005.11401"` (the name is optional)."""
    head, colon, rest = spec.partition(":")
    if colon and "," not in head and not arxiv_id(spec.strip()):
        name, body = head.strip(), rest
    else:
        name, body = "", spec
    items = split_items(body)
    cats = [i for i in items if is_category(i)]
    ids = [i for i in items if i not in cats and arxiv_id(i)]
    words = [i for i in items if i not in cats and i not in ids]
    topic = topic_from_fields(name, "\n".join(words), "\n".join(cats), "\n".join(ids), field=field)
    if topic is None:
        raise SubscriptionError(f"{field}: give keywords, categories or arXiv ids ({spec!r})")
    return topic


def _topic(
    name: str,
    words: list[str],
    cats: list[str],
    ids: list[str],
    *,
    field: str,
    keep: TopicConfig | None,
    extra: dict[str, list[str]] | None = None,
) -> TopicConfig:
    data: dict[str, Any] = keep.model_dump(mode="json", by_alias=True) if keep else {}
    weights = {_term(k): k for k in (keep.keywords if keep else [])}
    data |= {
        "name": name[:200],
        "keywords": [_dumped(weights.get(w, w)) for w in words],
        "categories": cats,
        "papers": ids,
    }
    data |= extra or {}
    try:
        return TopicConfig.model_validate(data)
    except ValidationError as e:
        problems = describe(e, field)
        raise SubscriptionError("; ".join(problems), problems) from e


def _term(keyword: Any) -> str:
    return keyword if isinstance(keyword, str) else str(keyword.term)


def _dumped(keyword: Any) -> Any:
    return keyword if isinstance(keyword, str) else keyword.model_dump(mode="json")


def topic_fields(topic: TopicConfig) -> dict[str, str]:
    """The form's text fields for a topic: the inverse of `topic_from_fields`."""
    return {
        "name": topic.name,
        "keywords": ", ".join(_term(k) for k in topic.keywords),
        "categories": ", ".join(category_label(c) for c in topic.categories),
        "papers": ", ".join(topic.papers),
        "exclude": ", ".join(topic.exclude),
        "authors": ", ".join(topic.authors),
    }


def build_profile(base: dict[str, Any], changes: Changes) -> SubscriberConfig:
    """`base` (SubscriberConfig fields) with `changes` applied, validated."""
    data = dict(base)
    if changes.name is not None:
        data["name"] = " ".join(changes.name.split())[:200] or data.get("name")
    if changes.timezone is not None:
        data["timezone"] = changes.timezone.strip()
    if changes.send_at is not None:
        data["send_at"] = changes.send_at.strip()
    if changes.days is not None:
        data["days"] = list(changes.days)
    if changes.topics is not None:
        data["topics"] = [t.model_dump(mode="json", by_alias=True) for t in changes.topics]
    try:
        return SubscriberConfig.model_validate(data)
    except ValidationError as e:
        problems = describe(e)
        raise SubscriptionError("; ".join(problems), problems) from e


def describe(error: ValidationError, prefix: str = "") -> list[str]:
    """pydantic's errors as `field: problem` lines a person can act on."""
    lines = []
    for err in error.errors():
        loc = ".".join(str(p) for p in err["loc"] if not str(p).startswith("function-"))
        where = ".".join(p for p in (prefix, loc) if p) or "subscription"
        message = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "too_short":
            message = "needs at least one"
        elif err["type"] == "missing":
            message = "is required"
        lines.append(f"{where}: {message}")
    return lines
