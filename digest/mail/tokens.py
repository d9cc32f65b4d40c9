"""Signed tokens for the links in every digest (unsubscribe, manage, feedback) and for
confirmations.

A token is an HMAC-signed, timestamped payload (itsdangerous), salted per purpose, so an
unsubscribe token can never be used as a manage token. Feedback tokens ("more like this", "not
for me": one per subscriber, paper and purpose, forty in an email) are signed without the
timestamp's serializer, by a signer made once per key and purpose: they are the cheap part of
a send run. The key comes from `$DIGEST_SECRET_KEY`,
else the config's `secret_key_file`, else a key generated once into `data_dir/secret_key` (0600).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, Signer, URLSafeTimedSerializer
from itsdangerous.encoding import base64_encode, int_to_bytes

from digest.config import Config
from digest.errors import ConfigError, DigestError

SECRET_ENV = "DIGEST_SECRET_KEY"
SECRET_FILE_NAME = "secret_key"
FEEDBACK = ("more", "less")  # "more like this", "not for me"
PURPOSES = frozenset({"unsubscribe", "manage", "confirm", "copy", "feed", *FEEDBACK})
_MIN_LENGTH = 16


class TokenError(DigestError):
    """A token is tampered with, expired, or made for another purpose."""


def load_secret_key(config: Config) -> str:
    """The signing key: the environment, the configured file, or one generated once."""
    from_env = os.environ.get(SECRET_ENV)
    if from_env:
        return _checked(from_env, SECRET_ENV)
    if config.secret_key_file is not None:
        try:
            return _checked(config.secret_key_file.read_text(encoding="utf-8").strip(), "file")
        except OSError as e:
            raise ConfigError(
                f"secret_key_file: cannot read {config.secret_key_file} ({e.strerror})"
            ) from e
    return _generated_key(config.data_dir / SECRET_FILE_NAME)


def _checked(key: str, where: str) -> str:
    if len(key) < _MIN_LENGTH:
        raise ConfigError(
            f"the secret key from {where} is too short: use at least {_MIN_LENGTH} random "
            "characters (python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    return key


def _generated_key(path: Path) -> str:
    """Read the key kept in data_dir, creating it first (0600) if it is missing. The key is
    written to a temporary file and linked into place, so a full disk never leaves an empty
    key behind; an empty one left by an older version is replaced (it never signed a link)."""
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        text = None
    except OSError as e:
        raise ConfigError(f"cannot read the secret key file {path} ({e.strerror})") from e
    if text == "":
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    if not text:
        _write_new_key(path)
        try:
            text = path.read_text(encoding="utf-8").strip()
        except OSError as e:
            raise ConfigError(f"cannot read the secret key file {path} ({e.strerror})") from e
    if len(text) < _MIN_LENGTH:
        raise ConfigError(
            f"the secret key in {path} is shorter than {_MIN_LENGTH} characters: delete the "
            "file and a new key is made (links in digests already sent stop working), or put "
            "a longer random key in it"
        )
    return text


def _write_new_key(path: Path) -> None:
    temp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(secrets.token_urlsafe(32) + "\n")
            f.flush()
            os.fsync(f.fileno())
        with contextlib.suppress(FileExistsError):  # another process made one first: use it
            os.link(temp, path)
    except OSError as e:
        raise ConfigError(
            f"cannot create the secret key file {path} ({e.strerror}): free some disk space "
            "or fix the folder's permissions, then run again"
        ) from e
    finally:
        with contextlib.suppress(OSError):
            temp.unlink()


def make_token(
    secret: str,
    purpose: str,
    email: str,
    generation: int = 0,
    profile: dict[str, Any] | None = None,
) -> str:
    """A URL-safe token that says `email` for `purpose`. `generation` (the subscriber's link
    generation, bumped by each unsubscribe) lets older manage links be retired; `profile` (a
    sign-up's) makes a confirmation link confirm exactly what was asked for in it."""
    if profile is not None:
        return _serializer(secret, purpose).dumps({"email": email, "profile": profile})
    return _signed(secret, purpose, [email, generation] if generation else email)


def read_token(secret: str, purpose: str, token: str, max_age: int | None = None) -> str:
    """The email a token was made for; TokenError if it is forged, expired or of another purpose."""
    return _read(secret, purpose, token, max_age)[0]


def read_link_token(
    secret: str, purpose: str, token: str, max_age: int | None = None
) -> tuple[str, int]:
    """The email and link generation a token was made with (see `make_token`)."""
    email, generation, _ = _read(secret, purpose, token, max_age)
    return email, generation


def read_profile_token(
    secret: str, purpose: str, token: str, max_age: int | None = None
) -> tuple[str, dict[str, Any] | None]:
    """The email and the sign-up profile a confirmation token was made with (see `make_token`)."""
    email, _, profile = _read(secret, purpose, token, max_age)
    return email, profile


def make_copy_token(secret: str, email: str, day: date) -> str:
    """The token of one digest's web copy: who it was for and its day."""
    return _signed(secret, "copy", {"email": email, "day": day.isoformat()})


def read_copy_token(secret: str, token: str, max_age: int | None = None) -> tuple[str, date]:
    """The email and day a web copy token was made for; TokenError if it is not one."""
    try:
        value = _serializer(secret, "copy").loads(token, max_age=max_age)
    except SignatureExpired as e:
        raise TokenError("this web copy has expired") from e
    except BadSignature as e:
        raise TokenError("this link is not valid (it may have been altered)") from e
    if isinstance(value, dict) and isinstance(value.get("email"), str):
        try:
            return value["email"], date.fromisoformat(str(value.get("day")))
        except ValueError:
            pass
    raise TokenError("this link is not valid")


def _read(
    secret: str, purpose: str, token: str, max_age: int | None
) -> tuple[str, int, dict[str, Any] | None]:
    try:
        value = _serializer(secret, purpose).loads(token, max_age=max_age)
    except SignatureExpired as e:
        raise TokenError("this link has expired: ask for a new one") from e
    except BadSignature as e:
        raise TokenError("this link is not valid (it may have been altered)") from e
    if isinstance(value, str):
        return value, 0, None
    if isinstance(value, list) and len(value) == 2:
        email, generation = value
        if isinstance(email, str) and isinstance(generation, int):
            return email, generation, None
    if isinstance(value, dict):
        email, profile = value.get("email"), value.get("profile")
        if isinstance(email, str) and isinstance(profile, dict):
            return email, 0, profile
    raise TokenError("this link is not valid")


@lru_cache(maxsize=32)  # one per purpose: a send signs four links for every reader
def _serializer(secret: str, purpose: str) -> URLSafeTimedSerializer:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown token purpose {purpose!r}")
    return URLSafeTimedSerializer(secret, salt=f"paper-digest/{purpose}")


def _signed(secret: str, purpose: str, value: Any) -> str:
    """A token `_serializer(secret, purpose)` reads, as its `dumps` writes it, made without
    its per-call costs: a send run signs four for every reader. `dumps` also tries zlib on
    the payload; a short one (an address, a day) never gets shorter, and `loads` reads a
    token either way. zlib would also hand the GIL to the sender threads on every call, and
    the thread composing the digests would queue to get it back."""
    payload = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    stamp = int_to_bytes(int(time.time()))
    body = b"%s.%s" % (base64_encode(payload), base64_encode(stamp))
    mac = _token_mac(secret, purpose).copy()  # the derived key's padding hashed once
    mac.update(body)
    return f"{body.decode('ascii')}.{base64_encode(mac.digest()).decode('ascii')}"


@lru_cache(maxsize=32)
def _token_mac(secret: str, purpose: str) -> hmac.HMAC:
    signer = _serializer(secret, purpose).make_signer()
    return hmac.new(signer.derive_key(), digestmod=signer.digest_method)


def make_feedback_token(
    secret: str, purpose: str, email: str, paper: str, topic: str, generation: int = 0
) -> str:
    """A "more like this" / "not for me" token (`purpose` "more" or "less") for one subscriber,
    one paper (its canonical id) and the topic it was shown under; `generation` as for manage
    links: an unsubscribe retires the feedback links of earlier digests too."""
    # json.dumps([email, paper, topic, generation], separators=(",", ":")), the same bytes
    # without making an encoder per call.
    payload = (
        f"[{_json_string(email)},{_json_string(paper)},{_json_string(topic)},{int(generation)}]"
    )
    body = base64.urlsafe_b64encode(payload.encode("utf-8")).rstrip(b"=")
    # What `_feedback_signer(...).sign(body)` makes (a test holds them equal), without its
    # per-call overhead: a digest signs ~40 of these.
    mac = _feedback_mac(secret, purpose).copy()  # the key's padding hashed once, not per link
    mac.update(body)
    return f"{body.decode('ascii')}.{base64.urlsafe_b64encode(mac.digest()).rstrip(b'=').decode()}"


@lru_cache(maxsize=8)
def _feedback_mac(secret: str, purpose: str) -> hmac.HMAC:
    return hmac.new(_feedback_key(secret, purpose), digestmod="sha256")


_json_string = json.encoder.encode_basestring_ascii  # a str as json.dumps writes it


@dataclass(frozen=True)
class FeedbackToken:
    """What a feedback token says."""

    purpose: str
    email: str
    paper: str
    topic: str
    generation: int


def read_feedback_token(secret: str, purpose: str, token: str) -> FeedbackToken:
    """What a feedback token was made with; TokenError if forged or of another purpose."""
    try:
        body = _feedback_signer(secret, purpose).unsign(token.encode("ascii"))
        value = json.loads(base64.urlsafe_b64decode(body + b"=" * (-len(body) % 4)))
    except (BadSignature, UnicodeEncodeError, binascii.Error, ValueError) as e:
        raise TokenError("this link is not valid (it may have been altered)") from e
    if isinstance(value, list) and len(value) == 4:
        email, paper, topic, generation = value
        if all(isinstance(v, str) for v in (email, paper, topic)) and isinstance(generation, int):
            return FeedbackToken(purpose, email, paper, topic, generation)
    raise TokenError("this link is not valid")


@dataclass(frozen=True)
class FeedbackLinks:
    """One recipient's "more like this" / "not for me" links: `url(purpose, paper, topic)`."""

    base_url: str
    email: str
    generation: int = 0
    secret: str = field(default="", repr=False)  # never in a log or a traceback

    def url(self, purpose: str, paper: str, topic: str) -> str:
        token = make_feedback_token(self.secret, purpose, self.email, paper, topic, self.generation)
        return f"{self.base_url.rstrip('/')}/feedback/{purpose}?token={token}"


@lru_cache(maxsize=8)
def _feedback_signer(secret: str, purpose: str) -> Signer:
    return Signer(
        _feedback_key(secret, purpose),  # checks the purpose
        salt=f"paper-digest/{purpose}",
        digest_method=hashlib.sha256,
        key_derivation="none",
    )


@lru_cache(maxsize=8)
def _feedback_key(secret: str, purpose: str) -> bytes:
    """The key derived once (a digest signs ~40 links): the same signatures as deriving it on
    every call, which is what `Signer` does by default."""
    if purpose not in FEEDBACK:
        raise ValueError(f"unknown feedback purpose {purpose!r}")
    salt = f"paper-digest/{purpose}"
    return Signer(secret, salt=salt, digest_method=hashlib.sha256).derive_key()
