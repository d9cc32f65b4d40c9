"""Subscribers from config.yaml and from the store, side by side: who is in the next send, and
the terminal commands `digest subscribe / unsubscribe / subscribers`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from digest.cli import cli
from digest.config import Config, load_config
from digest.models import Subscriber
from digest.pipeline import active_subscribers, find_subscriber, open_configured_store, send_digests
from digest.store import Store
from digest.store.subscribers import SubscriberStore
from digest.subscribe import (
    Changes,
    SubscriptionError,
    confirm_subscription,
    request_subscription,
    roster,
    set_status,
    subscribe,
    topic_from_spec,
    unsubscribe,
    update_subscription,
)
from digest.subscribe.profile import arxiv_id, split_items, topic_from_fields

CONFIG = """
data_dir: ./data
base_url: https://digest.example.org
subscribers:
  - name: ada
    email: Ada@Example.org
    timezone: Europe/London
    min_score: 0.5
    topics:
      - name: Retrieval
        keywords: [RAG, {term: dense retrieval, weight: 2}]
        exclude: [speech]
  - name: ben
    email: ben@example.org
    topics:
      - name: Graphs
        categories: [cs.DM]
"""


Setup = tuple[Config, Store]


@pytest.fixture
def setup(write_config) -> Iterator[Setup]:  # type: ignore[no-untyped-def]
    config = load_config(write_config(CONFIG))
    store = open_configured_store(config)
    yield config, store
    store.close()


def emails(people: list[Subscriber]) -> list[str]:
    return [p.email for p in people]


def test_config_people_are_active_until_the_store_says_otherwise(setup: Setup) -> None:
    config, store = setup
    assert emails(active_subscribers(config, store)) == ["Ada@Example.org", "ben@example.org"]

    assert SubscriberStore(store).last_change() is None
    unsubscribe(config, store, "ADA@example.ORG")  # any spelling is the same person
    assert SubscriberStore(store).last_change() is not None
    assert emails(active_subscribers(config, store)) == ["ben@example.org"]
    set_status(config, store, "ben@example.org", "paused")
    assert active_subscribers(config, store) == []

    # Subscribing again wins back over the unsubscribe, with the file's profile.
    subscribe(config, store, "ada@example.org", Changes())
    (ada,) = active_subscribers(config, store)
    assert ada.name == "ada" and ada.timezone == "Europe/London"
    assert ada.topics[0].keywords[1].weight == 2


def test_a_web_sign_up_gets_nothing_until_confirmed(setup: Setup) -> None:
    config, store = setup
    topic = topic_from_spec("Vision: diffusion, cs.CV")
    outcome = request_subscription(config, store, "cy@example.org", Changes(topics=(topic,)))
    assert outcome.value == "confirm"
    assert "cy@example.org" not in emails(active_subscribers(config, store))

    entry = confirm_subscription(config, store, "CY@example.org")
    assert entry is not None and entry.status == "active" and entry.origin == "web"
    assert "cy@example.org" in emails(active_subscribers(config, store))
    assert find_subscriber(config, store, "cy").topics[0].categories == ("cs.CV",)


def test_a_stranger_cannot_change_an_active_subscription(setup: Setup) -> None:
    config, store = setup
    topic = topic_from_spec("spam")
    assert request_subscription(
        config, store, "ben@example.org", Changes(topics=(topic,))
    ).value == ("already")
    (ben,) = [e for e in roster(config, store) if e.email == "ben@example.org"]
    assert ben.status == "active" and ben.stored is None  # nothing was written


def test_editing_on_the_web_keeps_what_the_form_does_not_show(setup: Setup) -> None:
    config, store = setup
    ada = roster(config, store)[0]
    kept = ada.profile.topics[0]
    edited = topic_from_fields("Retrieval", "dense retrieval, reranking", "", "", keep=kept)
    assert edited is not None
    entry = update_subscription(config, store, "ada@example.org", Changes(topics=(edited,)))
    assert entry.edited_on_web
    (person,) = [p for p in active_subscribers(config, store) if p.name == "ada"]
    topic = person.topics[0]
    assert [k.text for k in topic.keywords] == ["dense retrieval", "reranking"]
    assert topic.keywords[0].weight == 2  # the weight set in config.yaml survives
    assert topic.exclude == ("speech",)
    assert person.min_score == 0.5  # and so do the file's other settings


def test_a_bad_profile_is_refused_field_by_field(setup: Setup) -> None:
    config, store = setup
    topic = topic_from_spec("x")
    with pytest.raises(SubscriptionError) as caught:
        subscribe(
            config, store, "dee@example.org", Changes(timezone="Mars/Olympus", topics=(topic,))
        )
    assert caught.value.problems == [
        "timezone: “Mars/Olympus” is not a time zone we know: type your city, such as "
        "Europe/Berlin or America/New_York."
    ]
    with pytest.raises(SubscriptionError, match="topics"):
        subscribe(config, store, "dee@example.org", Changes())
    with pytest.raises(SubscriptionError, match="not an arXiv category"):
        topic_from_fields("", "", "cs.NOPE.x", "")


def test_topic_specs_sort_items_into_keywords_categories_and_papers() -> None:
    topic = topic_from_spec(
        "Retrieval: RAG, dense retrieval, cs.IR, 2005.11401, https://arxiv.org/abs/2310.19019v2"
    )
    assert topic.name == "Retrieval"
    assert topic.keywords == ["RAG", "dense retrieval"]
    assert topic.categories == ["cs.IR"]
    assert topic.papers == ["2005.11401", "2310.19019"]
    assert topic_from_spec("graph neural networks, hep-th").name == "graph neural networks"
    assert split_items("a, b\n a;c,,") == ["a", "b", "c"]
    assert arxiv_id("arXiv:hep-th/9901001v1") == "hep-th/9901001"


def test_an_unsubscribed_person_is_absent_from_the_next_send(setup: Setup) -> None:
    config, store = setup
    before = send_digests(config, store, dry_run=True)
    assert sorted(p.email for p in before.previews) == ["Ada@Example.org", "ben@example.org"]

    unsubscribe(config, store, "ada@example.org")
    after = send_digests(config, store, dry_run=True)
    assert [p.email for p in after.previews] == ["ben@example.org"]
    # Named on the command line, they still get nothing; nor does an unconfirmed sign-up.
    assert send_digests(config, store, subscriber="ada", dry_run=True).previews == []
    request_subscription(config, store, "cy@example.org", Changes(topics=(topic_from_spec("x"),)))
    assert send_digests(config, store, subscriber="cy@example.org", dry_run=True).previews == []


def run(config: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--config", str(config), *args], catch_exceptions=False)
    return result.exit_code, result.output


def test_the_terminal_commands(write_config) -> None:  # type: ignore[no-untyped-def]
    path = write_config(CONFIG)
    code, out = run(
        path,
        "subscribe",
        "cy@example.org",
        "--topic",
        "Vision: diffusion, cs.CV",
        "--timezone",
        "Asia/Tokyo",
        "--send-at",
        "06:30",
    )
    assert code == 0 and out == "cy@example.org: active (topics: Vision)\n"
    assert run(path, "unsubscribe", "ada@example.org") == (0, "Ada@Example.org: unsubscribed\n")

    code, out = run(path, "subscribers")
    assert code == 0
    assert out.splitlines() == [
        "unsubscribed  config+store  Ada@Example.org  ada  [Retrieval]",
        "active        config        ben@example.org  ben  [Graphs]",
        "active        store         cy@example.org  cy  [Vision]",
    ]
    listed = json.loads(run(path, "subscribers", "--json")[1])
    assert listed[2] == {
        "email": "cy@example.org",
        "name": "cy",
        "status": "active",
        "origin": "cli",
        "where": "store",
        "topics": ["Vision"],
        "mail_suspended": None,
    }


def test_the_terminal_refuses_what_it_cannot_do(write_config) -> None:  # type: ignore[no-untyped-def]
    from digest.cli import main

    path = write_config(CONFIG)
    with pytest.raises(SystemExit) as exited:
        main(["--config", str(path), "unsubscribe", "nobody@example.org"])
    assert exited.value.code == 1
    with pytest.raises(SystemExit) as exited:
        main(["--config", str(path), "subscribe", "new@example.org"])
    assert exited.value.code == 1
