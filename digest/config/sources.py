"""The `sources:` section (one model per source type, told apart by `type`) and `fetch:`."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import ByteSize, Field, field_validator, model_validator

from digest.config.values import StrictModel


def origin_of(url: str) -> tuple[str, int] | None:
    """`https://Feeds.example.org/x` -> `("feeds.example.org", 443)`; None without a host."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    if not host:
        return None
    return host, port or (443 if parts.scheme == "https" else 80)


class _Source(StrictModel):
    name: str | None = None
    url: str | None = None
    enabled: bool = True

    @property
    def label(self) -> str:
        """The name used in output, in the store's fetch state and in error messages."""
        return self.name or str(getattr(self, "type", "source"))

    @property
    def origins(self) -> frozenset[tuple[str, int]]:
        """The origin (host, port) this source's url names: fetching this source (and only this
        source) may reach it even on a private address."""
        origin = origin_of(self.url.replace("{category}", "x")) if self.url else None
        return frozenset({origin} if origin else ())


class ArxivRssSource(_Source):
    type: Literal["arxiv_rss"]
    categories: list[str] = Field(min_length=1)
    url: str | None = "https://rss.arxiv.org/atom/{category}"

    @field_validator("url")
    @classmethod
    def _has_placeholder(cls, url: str | None) -> str | None:
        if url is not None and "{category}" not in url:
            raise ValueError("must contain {category}, which is filled in per category")
        return url


class ArxivApiSource(_Source):
    type: Literal["arxiv_api"]
    query: str | None = None
    id_list: list[str] = []
    url: str | None = "https://export.arxiv.org/api/query"
    max_results: int = Field(default=200, ge=1, le=30000)
    page_size: int = Field(default=100, ge=1, le=2000)
    sort_by: Literal["submittedDate", "lastUpdatedDate", "relevance"] = "submittedDate"
    # arXiv's terms of use ask for at least 3 seconds between API requests.
    delay_seconds: float = Field(default=3.0, ge=3.0)

    @model_validator(mode="after")
    def _query_or_ids(self) -> ArxivApiSource:
        if not self.query and not self.id_list:
            raise ValueError("give a query, an id_list, or both")
        return self


class HfDailySource(_Source):
    type: Literal["hf_daily"]
    url: str | None = "https://huggingface.co/api/daily_papers"
    days: int = Field(default=2, ge=1, le=14, description="today and the days before it")


class BiorxivSource(_Source):
    type: Literal["biorxiv", "medrxiv"]
    url: str | None = None  # default: https://api.biorxiv.org/details/{type}
    days: int = Field(default=2, ge=1, le=30)
    categories: list[str] = []  # keep only these subject categories; empty keeps all


class FeedSource(_Source):
    type: Literal["feed"]
    url: str


SourceConfig = Annotated[
    ArxivRssSource | ArxivApiSource | HfDailySource | BiorxivSource | FeedSource,
    Field(discriminator="type"),
]


class FetchSettings(StrictModel):
    timeout: float = Field(default=30.0, gt=0)  # the longest wait for the server to say anything
    retries: int = Field(default=3, ge=0, le=10)
    backoff: float = Field(default=1.0, ge=0)
    max_retry_after: float = Field(default=120.0, ge=0)
    user_agent: str | None = None
    # The most one response may hold once decompressed ("50MB", "500kB" or a number of bytes):
    # the largest real arXiv listing is a few MB.
    max_bytes: ByteSize = Field(default=ByteSize(50_000_000), ge=1000)
    # The longest one request may take in all, however slowly the bytes arrive.
    request_deadline: float = Field(default=120.0, gt=0)
    # The longest all of one source's requests (pages, categories, retries) may take together.
    source_deadline: float = Field(default=600.0, gt=0)
