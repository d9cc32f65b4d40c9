"""The `subscribers:` section: each person, when they want their digest, and their topics."""

from __future__ import annotations

import re
from datetime import time
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Discriminator, Field, SecretStr, Tag, field_validator, model_validator

from digest.config.values import (
    WEEKDAYS,
    ClockTime,
    StrictModel,
    TimeZoneName,
    Weekday,
    Weekdays,
)
from digest.models import Channel, Keyword, Subscriber, Topic


class KeywordConfig(StrictModel):
    term: str = Field(min_length=1)
    weight: float = Field(default=1.0, gt=0)


class TopicConfig(StrictModel):
    name: str = Field(min_length=1)
    keywords: list[str | KeywordConfig] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)
    categories: list[str] = Field(default_factory=list)
    authors: list[str] = Field(default_factory=list)
    papers: list[str] = Field(default_factory=list)
    library: Path | None = None
    description: str = ""
    weight: float = Field(default=1.0, gt=0)

    @field_validator("keywords", "exclude", "categories", "authors", "papers")
    @classmethod
    def _no_blank(cls, value: list[str | KeywordConfig]) -> list[str | KeywordConfig]:
        for number, item in enumerate(value, 1):
            term = item if isinstance(item, str) else item.term
            if not term.strip():
                raise ValueError(f"item {number} is blank (remove it, or write the term)")
        return value

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


class ChannelConfig(StrictModel):
    """One chat channel in `deliver:`: `{type: slack, url: "${ADA_SLACK_WEBHOOK}"}`."""

    type: Literal["slack", "discord", "webhook"]
    url: SecretStr
    secret: SecretStr | None = None  # webhook only: the key of its HMAC signature header

    @field_validator("url")
    @classmethod
    def _http(cls, value: SecretStr) -> SecretStr:
        url = value.get_secret_value()
        if not url.startswith(("https://", "http://")) or not url.split("://", 1)[1].strip("/"):
            raise ValueError(
                "must be an http(s) URL (a secret: give it as ${VAR} from the environment)"
            )
        return value

    @model_validator(mode="after")
    def _secret_for_webhooks(self) -> ChannelConfig:
        if self.secret is not None and self.type != "webhook":
            raise ValueError("secret: only a webhook signs its requests")
        return self

    def to_channel(self) -> Channel:
        secret = self.secret.get_secret_value() if self.secret is not None else None
        return Channel(self.type, self.url.get_secret_value(), secret)


def _deliver_kind(value: object) -> str:
    return "email" if isinstance(value, str) else "channel"


# `email`, or a chat channel: told apart first, so an error names only what was meant.
DeliverItem = Annotated[
    Annotated[Literal["email"], Tag("email")] | Annotated[ChannelConfig, Tag("channel")],
    Discriminator(_deliver_kind),
]


def _email_only() -> list[DeliverItem]:
    return ["email"]


class SubscriberConfig(StrictModel):
    name: str = Field(min_length=1)
    email: str
    timezone: TimeZoneName = "UTC"
    send_at: ClockTime = "07:00"
    days: Weekdays = Field(default_factory=lambda: list(WEEKDAYS))
    max_papers: int = Field(default=20, ge=1, le=200)
    min_score: float = Field(default=0.0, ge=0)
    trending_weight: float = Field(default=1.0, ge=0)
    send_empty: bool = False
    frequency: Literal["daily", "weekly"] = "daily"
    weekly_on: Weekday = "mon"
    feed_only: bool = False
    # Factories, not list defaults: pydantic deep-copies a list default for every model that
    # leaves it out (10,000 stored subscribers: ~0.3 s of every send).
    deliver: list[DeliverItem] = Field(default_factory=_email_only, min_length=1)
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

    @model_validator(mode="after")
    def _unique_topics(self) -> SubscriberConfig:
        names = [t.name.strip().casefold() for t in self.topics]
        twice = sorted({t.name for t in self.topics if names.count(t.name.strip().casefold()) > 1})
        if twice:
            raise ValueError(f"two topics share the name {', '.join(twice)}: rename one")
        return self

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
            frequency=self.frequency,
            weekly_on=self.weekly_on,
            feed_only=self.feed_only,
            email_digest="email" in self.deliver and not self.feed_only,
            channels=tuple(c.to_channel() for c in self.deliver if isinstance(c, ChannelConfig)),
        )
