"""Chat delivery: Slack, Discord and a generic signed webhook, played by a real HTTP server on
127.0.0.1, through the chat ledger: exactly once per channel (across runs and a SIGKILL), 429
Retry-After and 5xx retried, 4xx and redirects given up with one line, the URL never shown."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from digest.channels.chat import DELIVERY_HEADER, SIGNATURE_HEADER
from digest.config import load_config
from digest.mail.report import summary_lines
from digest.pipeline import send_digests
from digest.sources.arxiv import parse_api
from digest.store import open_store
from digest.store.schema import channel_deliveries, deliveries
from tests.hookserver import Answer, HookServer

RECORDED = "arxiv_api/query_all-testing_start0_max100.xml"
SLACK = "/services/T0001/B0001/slacksecrettoken"
DISCORD = "/api/webhooks/42/discordsecrettoken"
HOOK = "/digest/hooksecretpath"
TOPIC = """    topics:
      - name: Software testing
        keywords: ["group testing", "metamorphic testing", "software testing", "test cases"]
"""
CONFIG = f"""data_dir: ./data
base_url: https://digest.example.org
fetch: {{timeout: 0.5, retries: 2, backoff: 0.05, max_retry_after: 5}}
subscribers:
  - name: ada
    email: ada@example.org
    deliver:
      - email
      - {{type: slack, url: "${{ADA_SLACK_WEBHOOK}}"}}
      - {{type: discord, url: "${{ADA_DISCORD_WEBHOOK}}"}}
      - {{type: webhook, url: "${{ADA_HOOK}}", secret: "${{ADA_HOOK_SECRET}}"}}
{TOPIC}  - name: bob
    email: bob@example.org
    deliver:
      - {{type: webhook, url: "${{BOB_HOOK}}"}}
{TOPIC}"""
SENT_AT = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


@pytest.fixture
def hooks() -> Iterator[HookServer]:
    with HookServer() as server:
        yield server


@pytest.fixture
def config_path(
    tmp_path: Path, real: Path, hooks: HookServer, monkeypatch: pytest.MonkeyPatch
) -> Path:
    monkeypatch.setenv("ADA_SLACK_WEBHOOK", hooks.url + SLACK)
    monkeypatch.setenv("ADA_DISCORD_WEBHOOK", hooks.url + DISCORD)
    monkeypatch.setenv("ADA_HOOK", hooks.url + HOOK)
    monkeypatch.setenv("ADA_HOOK_SECRET", "s3cret-for-hmac")
    monkeypatch.setenv("BOB_HOOK", hooks.url + "/bob/secretbobpath")
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    config = load_config(path)
    papers, _ = parse_api((real / RECORDED).read_bytes())
    with open_store(config.store_url) as store:
        store.save_papers(papers, now=SENT_AT - timedelta(hours=3))
    return path


def secrets_shown(text: str) -> list[str]:
    return [s for s in ("slacksecrettoken", "discordsecrettoken", "hooksecretpath",
                        "secretbobpath", "s3cret-for-hmac") if s in text]  # fmt: skip


def test_each_channel_gets_the_digest_once_with_retries_and_one_line_per_failure(
    config_path: Path, hooks: HookServer, caplog: pytest.LogCaptureFixture
) -> None:
    hooks.scripts[SLACK] = [Answer(429, {"Retry-After": "1"})]
    hooks.scripts[DISCORD] = [Answer(503)]
    hooks.scripts["/bob/secretbobpath"] = [Answer(400)]
    config = load_config(config_path)
    caplog.set_level(logging.DEBUG)
    with open_store(config.store_url) as store:
        report = send_digests(config, store, now=SENT_AT)
        again = send_digests(config, store, now=SENT_AT + timedelta(hours=1))
        with store.engine.connect() as conn:
            rows = {
                r.channel.split(":")[0] + ":" + r.email: r
                for r in conn.execute(select(channel_deliveries))
            }
            bob_email = conn.execute(
                select(deliveries).where(deliveries.c.email == "bob@example.org")
            ).one()

    # Slack: a 429, then (after its Retry-After) the digest; Discord: a 503, then the digest.
    assert [len(hooks.to(p)) for p in (SLACK, DISCORD, HOOK)] == [2, 2, 1]
    first, second = hooks.to(SLACK)
    assert second.at - first.at >= 1.0  # its Retry-After: 1 was honoured
    assert report.channels is not None and report.channels.sent == 3
    # bob: a 400 is given up at once, with one line, and not tried by the next run.
    assert len(hooks.to("/bob/secretbobpath")) == 1
    assert report.channels.failed == [
        "bob's webhook: HTTP 400: refused, not tried again (check the URL in deliver:)"
    ]
    assert not report.ok and again.channels is not None and again.channels.sent == 0
    assert {k: r.status for k, r in rows.items()} == {
        "slack:ada@example.org": "sent",
        "discord:ada@example.org": "sent",
        "webhook:ada@example.org": "sent",
        "webhook:bob@example.org": "failed",
    }
    assert bob_email.status == "sent" and "no email" in bob_email.reply  # chat only: no email
    outbox = list((config.data_dir / "outbox").glob("*.eml"))
    assert len(outbox) == 1 and b"ada@example.org" in outbox[0].read_bytes()

    # The same delivery id on a retry: the receiver can drop a duplicate.
    slack = hooks.to(SLACK)
    assert slack[0].headers[DELIVERY_HEADER] == slack[1].headers[DELIVERY_HEADER]
    body = json.loads(slack[1].body)
    assert body["text"].startswith("Paper digest") and 2 <= len(body["blocks"]) <= 50
    assert "/d/" in json.dumps(body)  # it links the web copy
    discord = json.loads(hooks.to(DISCORD)[1].body)
    assert len(discord["content"]) <= 2000 and discord["allowed_mentions"] == {"parse": []}

    # The generic webhook: the documented JSON, signed with HMAC-SHA256 of the body.
    (hook,) = hooks.to(HOOK)
    expected = hmac.new(b"s3cret-for-hmac", hook.body, hashlib.sha256).hexdigest()
    assert hook.headers[SIGNATURE_HEADER] == f"sha256={expected}"
    payload = json.loads(hook.body)
    assert payload["schema"] == "paper-digest/1" and payload["subscriber"] == "ada"
    assert payload["count"] == len(payload["papers"]) >= 1
    assert set(payload["papers"][0]) == {
        "id", "title", "authors", "categories", "url", "pdf_url", "summary", "topic", "score",
        "reasons",
    }  # fmt: skip
    assert SIGNATURE_HEADER not in hooks.to("/bob/secretbobpath")[0].headers  # no secret

    # No URL and no secret in the summary or the logs.
    shown = "\n".join(summary_lines(report)) + caplog.text
    assert "chat failed: bob's webhook: HTTP 400" in shown
    assert secrets_shown(shown) == []


def test_a_redirect_or_a_hang_is_not_followed_and_never_shows_the_url(
    config_path: Path, hooks: HookServer, caplog: pytest.LogCaptureFixture
) -> None:
    hooks.scripts[SLACK] = [Answer(302, {"Location": "http://10.0.0.1/elsewhere"})]
    hooks.scripts[DISCORD] = [Answer(hang=2)] * 3
    config = load_config(config_path)
    with open_store(config.store_url) as store:
        report = send_digests(config, store, now=SENT_AT)
    assert report.channels is not None
    assert len(hooks.to(SLACK)) == 1  # not followed, not retried
    assert (
        "ada's slack: HTTP 302: a redirect, not followed (check the URL)" in report.channels.failed
    )
    # The hang: timed out 3 times (fetch.retries: 2), left for the next run.
    assert len(hooks.to(DISCORD)) == 3
    assert report.channels.pending == [
        "ada's discord: no answer within fetch.timeout (0.5 s) (tried again by the next run)"
    ]
    assert secrets_shown("\n".join(summary_lines(report)) + caplog.text) == []


def test_a_channel_is_posted_once_across_a_sigkill_and_a_restart(
    config_path: Path, hooks: HookServer
) -> None:
    """The sender is killed while Slack holds its request; the next run takes the dead claim
    over at once and posts again, with the same delivery id; a third run posts nothing."""
    hooks.scripts[SLACK] = [Answer(hang=30)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    day = "2026-03-10"
    args = [sys.executable, "-m", "digest", "--config", str(config_path), "send", "--date", day]
    sender = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not hooks.to(SLACK) and time.monotonic() < deadline and sender.poll() is None:
            time.sleep(0.05)
        assert hooks.to(SLACK), sender.communicate()[0].decode()
        sender.send_signal(signal.SIGKILL)
    finally:
        if sender.poll() is None:
            sender.kill()
        sender.communicate()
    config = load_config(config_path)
    with open_store(config.store_url) as store:
        with store.engine.connect() as conn:
            held = conn.execute(
                select(channel_deliveries.c.status).where(
                    channel_deliveries.c.channel.like("slack:%")
                )
            ).scalar()
        assert held == "sending"
        report = send_digests(config, store, now=datetime.now(UTC), day=SENT_AT.date())
        # Slack taken over, then the channels the killed run never reached.
        assert report.channels is not None and report.channels.sent == 4, report.channels
        last = send_digests(config, store, now=datetime.now(UTC), day=SENT_AT.date())
        assert last.channels is not None and last.channels.sent == 0
    first, second = hooks.to(SLACK)
    assert first.headers[DELIVERY_HEADER] == second.headers[DELIVERY_HEADER]
    assert [len(hooks.to(p)) for p in (DISCORD, HOOK, "/bob/secretbobpath")] == [1, 1, 1]
    assert len(list((config.data_dir / "outbox").glob("*.eml"))) == 1  # the email went once


def test_a_bad_deliver_entry_is_one_clear_line_without_the_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from digest.errors import ConfigError

    monkeypatch.setenv("ADA_SLACK_WEBHOOK", "ftp://hooks.example.org/T0/B0/slacksecrettoken")
    path = tmp_path / "config.yaml"
    text = CONFIG.replace("      - email\n", "      - emial\n", 1)
    path.write_text(text.replace("${BOB_HOOK}", "https://hooks.example.org/x"), encoding="utf-8")
    monkeypatch.setenv("ADA_DISCORD_WEBHOOK", "https://discord.example.org/api/webhooks/1/t")
    monkeypatch.setenv("ADA_HOOK", "https://hooks.example.org/digest")
    monkeypatch.setenv("ADA_HOOK_SECRET", "s3cret-for-hmac")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    said = str(caught.value)
    assert "subscribers.0.deliver.0.email: Input should be 'email' (got 'emial')" in said
    assert "subscribers.0.deliver.1.channel.url: must be an http(s) URL" in said
    assert said.count(".deliver.") == 2  # one line each, not one per kind of entry
    assert secrets_shown(str(caught.value)) == []
