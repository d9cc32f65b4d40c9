"""config.yaml, validated once at load into pydantic models.

Unknown keys are refused and every problem is reported as one line
`path.to.field: what is wrong (got …)`. `${ENV_VAR}` in a value is replaced from the environment
(meant for secrets); a secret may also come from a file (`password_file:`). Relative paths are
relative to the config file's folder, so the daemon works from any working directory.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection
from pathlib import Path
from typing import Any

import yaml
from pydantic import SecretStr, ValidationError, model_validator

from digest.config.people import KeywordConfig, SubscriberConfig, TopicConfig
from digest.config.settings import (
    FetchTime,
    MailSettings,
    RankingSettings,
    ScheduleSettings,
    SmtpConfig,
    WebSettings,
)
from digest.config.sources import (
    ArxivApiSource,
    ArxivRssSource,
    BiorxivSource,
    FeedSource,
    FetchSettings,
    HfDailySource,
    SourceConfig,
)
from digest.config.values import WEEKDAYS, StrictModel
from digest.errors import ConfigError
from digest.models import Subscriber

__all__ = [
    "WEEKDAYS",
    "ArxivApiSource",
    "ArxivRssSource",
    "BiorxivSource",
    "Config",
    "FeedSource",
    "FetchSettings",
    "FetchTime",
    "HfDailySource",
    "KeywordConfig",
    "MailSettings",
    "RankingSettings",
    "ScheduleSettings",
    "SmtpConfig",
    "SourceConfig",
    "SubscriberConfig",
    "TopicConfig",
    "WebSettings",
    "config_path",
    "load_config",
    "parse_config",
]

ENV_VAR = "DIGEST_CONFIG"
DEFAULT_PATH = Path("config.yaml")
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class Config(StrictModel):
    data_dir: Path = Path("data")
    database_url: str | None = None
    base_url: str = "http://127.0.0.1:8025"
    # `digest check` refuses an http:// base_url unless this says it is a local test.
    allow_http_base_url: bool = False
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
    def allowed_origins(self) -> frozenset[tuple[str, int]]:
        """Every origin (host, port) a source's url names. Fetching a source may reach only its
        own (`source.origins`); this union is for lookups that go to any configured service."""
        return frozenset(o for source in self.sources for o in source.origins)

    def subscriber(self, name_or_email: str | None) -> Subscriber:
        """One subscriber by name or email; the first when none is named."""
        if not self.subscribers:
            raise ConfigError("subscribers: none configured (add one to config.yaml)")
        if name_or_email is None:
            return self.subscribers[0].to_subscriber()
        wanted = name_or_email.strip().casefold()
        for s in self.subscribers:
            if wanted in (s.name.casefold(), s.email.casefold()):
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
    except UnicodeDecodeError as e:
        line = file.read_bytes()[: e.start].count(b"\n") + 1
        raise ConfigError(
            f"{file}: line {line} is not UTF-8 text (byte 0x{e.object[e.start]:02x}): "
            "save the file as UTF-8 in your editor"
        ) from e
    except OSError as e:
        raise ConfigError(f"{file}: cannot read it ({e.strerror})") from e
    return parse_config(text, base_dir=file.resolve().parent, origin=str(file), allow_empty=False)


def parse_config(
    text: str, base_dir: Path, origin: str = "config.yaml", *, allow_empty: bool = True
) -> Config:
    """Validate config text; relative paths are taken from `base_dir`. Empty text is every
    default, unless `allow_empty` is False (a config file with nothing in it is a mistake)."""
    try:
        raw = yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ConfigError(f"{origin}:{where}: invalid YAML: {problem}") from e
    if raw is None and allow_empty:
        raw = {}
    if raw is None:
        raise ConfigError(
            f"{origin}: the file is empty (copy config.yaml from the repo and edit it)"
        )
    if not isinstance(raw, dict):
        raise ConfigError(f"{origin}: the top level must be a mapping of keys (got {_got(raw)})")
    problems: list[str] = []
    hidden: set[str] = set()
    raw = _substitute(raw, (), problems, hidden)
    try:
        config = Config.model_validate(raw)
    except ValidationError as e:
        problems.extend(_redact(_describe(err, hidden), hidden) for err in e.errors())
    if problems:
        raise ConfigError(f"{origin}: " + "; ".join(problems), problems)
    return _anchor_paths(config, base_dir)


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key given twice in one mapping (PyYAML keeps the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *anchor` then overriding one of its keys is what merging is for
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, str | int | float | bool):
                continue  # an odd key: the base loader says what is wrong with it
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"the key {key!r} is given twice in one mapping (keep one)",
                    key_node.start_mark,
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _substitute(
    value: Any, path: tuple[str | int, ...], problems: list[str], hidden: set[str]
) -> Any:
    """Replace ${VAR}s from the environment; each value that used one goes into `hidden`, so
    that no error message shows it (it may be a password)."""
    if isinstance(value, dict):
        return {k: _substitute(v, (*path, k), problems, hidden) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, (*path, i), problems, hidden) for i, v in enumerate(value)]
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

        result = _ENV_REF.sub(lookup, value)
        hidden.add(result)
        hidden.update(os.environ[n] for n in _ENV_REF.findall(value) if n in os.environ)
        return result
    return value


def _redact(line: str, hidden: set[str]) -> str:
    """The last guard: no environment-substituted text of 4 characters or more in a message."""
    for secret in sorted(hidden, key=len, reverse=True):
        if len(secret) >= 4:
            line = line.replace(secret, "***")
    return line


def _describe(error: Any, hidden: Collection[str] = ()) -> str:
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
        tag = error.get("ctx", {}).get("tag")
        if tag in hidden:
            return f"{where}: {message} (value hidden: it comes from the environment)"
        return f"{where}: {message} (got {tag!r})"
    if kind in ("missing", "base60_time") or "input" not in error:
        return f"{where}: {message}"
    if kind == "extra_forbidden":
        return f"{where}: {message}"  # a misspelt `password:` must not print the password
    if any("password" in part or "secret" in part for part in loc):
        return f"{where}: {message} (value hidden)"
    value = error["input"]
    if isinstance(value, str) and value in hidden:
        return f"{where}: {message} (value hidden: it comes from the environment)"
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
