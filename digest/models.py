"""The data that flows between the stages: frozen dataclasses, no I/O.

`Paper` is one paper, whatever source it came from, keyed by a versionless canonical id
(`arxiv:2310.19019`, else `doi:10.1101/…`). `merge_papers` folds two sightings of the same paper
into one. `Topic` and `Subscriber` are the profiles that ranking reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

ANNOUNCE_TYPES = ("new", "cross", "replace", "replace-cross")
REPLACEMENTS = frozenset({"replace", "replace-cross"})


@dataclass(frozen=True)
class Paper:
    """One paper with its metadata, links and popularity signals."""

    id: str
    title: str
    abstract: str = ""
    authors: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()  # primary first when the source says which is primary
    version: int | None = None
    published: datetime | None = None  # first version's submission (or the source's date)
    updated: datetime | None = None  # this version's date
    announced: date | None = None  # the listing day that announced it
    announce_type: str | None = None  # new / cross / replace / replace-cross (arXiv listings)
    doi: str | None = None
    abs_url: str | None = None
    pdf_url: str | None = None
    code_url: str | None = None
    project_url: str | None = None
    hf_url: str | None = None
    upvotes: int | None = None
    comments: int | None = None
    github_stars: int | None = None
    ai_summary: str | None = None
    ai_keywords: tuple[str, ...] = ()
    organization: str | None = None
    sources: tuple[str, ...] = ()
    first_seen: datetime | None = None  # set by the store: when we first saw it, never moved

    def __hash__(self) -> int:
        # Papers key many caches (a card, a summary, its folded text), each looked up for
        # every reader: hashing all 23 fields each time cost more than the lookups. Equal
        # papers have equal ids, so equality stays the dataclass's, field by field.
        return hash(self.id)

    @property
    def arxiv_id(self) -> str | None:
        """The bare arXiv id (`2310.19019`, `astro-ph/0601001`), or None for a non-arXiv paper."""
        return self.id.removeprefix("arxiv:") if self.id.startswith("arxiv:") else None

    @property
    def is_replacement(self) -> bool:
        """True when the only announcement we saw was a new version of an older paper."""
        return self.announce_type in REPLACEMENTS


# Fields whose newest reading wins (popularity changes from day to day).
_SIGNALS = ("upvotes", "comments", "github_stars")
# Fields that describe one version of the paper: the latest version's text wins.
_VERSIONED = ("title", "abstract", "authors", "updated", "pdf_url")


def merge_papers(old: Paper, new: Paper) -> Paper:
    """Fold a new sighting of a paper into what we had.

    The latest version's text wins, blanks are filled from either side, the newest popularity
    signals win, sources accumulate, and `first_seen` and a first non-replacement announcement
    are kept, so that a replacement never makes an old paper new again.
    """
    if old.id != new.id:
        raise ValueError(f"cannot merge {old.id} with {new.id}")
    newer_version = (new.version or 0) > (old.version or 0)
    merged: dict[str, object] = {}
    for f in fields(Paper):
        name = f.name
        mine, theirs = getattr(old, name), getattr(new, name)
        if name == "sources":
            merged[name] = tuple(dict.fromkeys((*mine, *theirs)))
        elif name in ("first_seen", "published"):
            merged[name] = _earliest(mine, theirs)
        elif name == "announce_type":
            merged[name] = _announcement(mine, theirs)
        elif name == "announced":
            merged[name] = mine or theirs
        elif name == "version":
            merged[name] = max(mine or 0, theirs or 0) or None
        elif name in _SIGNALS:
            merged[name] = theirs if theirs is not None else mine
        elif name in _VERSIONED and newer_version:
            merged[name] = theirs or mine
        elif name == "categories":
            # A source that knows the categories (arXiv) beats one that doesn't (HF).
            merged[name] = mine or theirs
        else:
            merged[name] = mine or theirs
    return replace(old, **merged)  # type: ignore[arg-type]


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None or b is None:
        return a or b
    return min(a, b)


def _announcement(stored: str | None, seen: str | None) -> str | None:
    # A first sighting as new/cross sticks; a replacement only fills a blank.
    if stored is None or (stored in REPLACEMENTS and seen is not None and seen not in REPLACEMENTS):
        return seen or stored
    return stored


@dataclass(frozen=True)
class Keyword:
    """A term or a phrase (several words, matched in order) with its weight."""

    text: str
    weight: float = 1.0

    @property
    def is_phrase(self) -> bool:
        return " " in self.text.strip()


@dataclass(frozen=True)
class Topic:
    """One interest of a subscriber. Any of the fields may be empty, but not all of them."""

    name: str
    keywords: tuple[Keyword, ...] = ()
    exclude: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    papers: tuple[str, ...] = ()  # arXiv ids of liked papers
    library: str | None = None  # path to a BibTeX or papers-JSONL file
    description: str = ""
    weight: float = 1.0


@dataclass(frozen=True)
class Channel:
    """A chat channel a digest is posted to: slack, discord or a generic JSON webhook. The URL
    (and the webhook's signing secret) are secrets: never shown in a repr, a log or an error."""

    type: str  # slack | discord | webhook
    url: str = field(repr=False)
    secret: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Subscriber:
    """A person who gets a digest, with when and what they want."""

    name: str
    email: str
    timezone: str = "UTC"
    send_at: time = time(7, 0)
    days: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    max_papers: int = 20
    min_score: float = 0.0
    trending_weight: float = 1.0
    send_empty: bool = False
    topics: tuple[Topic, ...] = field(default_factory=tuple)
    status: str = "active"  # pending / active / paused / unsubscribed
    frequency: str = "daily"  # daily | weekly
    weekly_on: str = "mon"  # a weekly digest's day
    feed_only: bool = False  # the web copy and the Atom feed, no email
    email_digest: bool = True  # `email` is among `deliver:` (feed_only turns it off too)
    channels: tuple[Channel, ...] = ()  # chat channels besides (or instead of) the email

    @property
    def send_days(self) -> tuple[str, ...]:
        """The weekdays a digest goes out: `days`, or only `weekly_on` for a weekly digest."""
        return (self.weekly_on,) if self.frequency == "weekly" else self.days

    def is_due(self, day: date) -> bool:
        """Whether `day` (where they live) is a digest day. Daily digests go out whenever a send
        runs (`days` is the daemon's schedule); a weekly one only on its weekday."""
        return self.frequency != "weekly" or day.strftime("%a").lower() == self.weekly_on

    def local_date(self, moment: datetime) -> date:
        """The subscriber's calendar date at `moment`: the day a digest sent then is for."""
        return moment.astimezone(ZoneInfo(self.timezone)).date()


@dataclass(frozen=True)
class Mark:
    """A subscriber's feedback on one paper from a digest: "more" (more like this) or "less"
    (not for me), under the topic it was shown in, and when."""

    email: str  # the address in lower case
    paper: Paper
    vote: str  # more / less
    topic: str
    created_at: datetime


@dataclass(frozen=True)
class Reason:
    """Why a paper was picked, in a form both people and templates can use.

    kind: keyword | similar | meaning | category | author | topic | trending | feedback
    text: one short human sentence ("matches “dense retrieval”, RAG")
    terms: the words or phrases to highlight in the title and summary
    """

    kind: str
    text: str
    terms: tuple[str, ...] = ()


@dataclass(frozen=True)
class RankedPaper:
    """A paper scored for one subscriber: the best topic's score, that topic, and the reasons."""

    paper: Paper
    score: float
    topic: str
    reasons: tuple[Reason, ...] = ()


@dataclass(frozen=True)
class TopicGroup:
    topic: str
    papers: tuple[RankedPaper, ...]


@dataclass(frozen=True)
class Digest:
    """One subscriber's digest for one day: ranked papers grouped by topic, plus trending ones."""

    subscriber: Subscriber
    date: date
    groups: tuple[TopicGroup, ...]
    trending: tuple[RankedPaper, ...] = ()
    near_misses: tuple[RankedPaper, ...] = ()  # shown greyed by `digest tune --html` only
    also: tuple[RankedPaper, ...] = ()  # just below the cut: one line each, not counted
    tuning: tuple[tuple[str, tuple[str, ...]], ...] = ()  # `digest tune --html`: (title, lines)

    @property
    def count(self) -> int:
        return sum(len(g.papers) for g in self.groups)

    @property
    def is_empty(self) -> bool:
        return self.count == 0
