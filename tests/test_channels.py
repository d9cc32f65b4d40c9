"""A digest where its reader reads it: the web copy of a sent digest, the private Atom feed,
feed-only readers, and weekly digests (across a DST change). Real recorded arXiv papers in a
SQLite store, the real send path writing .eml files, the real Flask app, feedparser."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import feedparser
import pytest
import time_machine
from flask.testing import FlaskClient

from digest.config import Config, load_config
from digest.pipeline import active_subscribers, send_digests
from digest.render import Renderer
from digest.schedule.plan import fire_times, send_trigger
from digest.sources.arxiv import parse_api
from digest.store import Store, open_store
from digest.store.copies import CopyStore
from digest.web import create_app

RECORDED = "arxiv_api/query_all-testing_start0_max100.xml"
TOPIC = """    topics:
      - name: Software testing
        keywords: ["group testing", "metamorphic testing", "software testing", "test cases"]
"""
CONFIG = f"""data_dir: ./data
base_url: https://digest.example.org
subscribers:
  - name: ada
    email: ada@example.org
    max_papers: {{max_papers}}
{TOPIC}  - name: cy
    email: cy@example.org
    feed_only: true
{TOPIC}"""
SENT_AT = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


@dataclass
class World:
    path: Path
    config: Config
    store: Store
    client: FlaskClient

    def mails(self, to: str) -> list[EmailMessage]:
        found = []
        for file in sorted((self.config.data_dir / "outbox").glob("*.eml")):
            message = message_from_bytes(file.read_bytes(), policy=policy.default)
            assert isinstance(message, EmailMessage)
            if message["To"].addresses[0].addr_spec == to:
                found.append(message)
        return found


def body(message: EmailMessage, kind: str) -> str:
    part = message.get_body((kind,))
    assert part is not None
    text = part.get_content()
    assert isinstance(text, str)
    return text


def paper_links(html: str) -> list[str]:
    """The papers of a digest page, in order: each card's title link."""
    return re.findall(r'<h3 class="hd"[^>]*><a href="([^"]+)"', html)


def path_of(url: str) -> str:
    return url.removeprefix("https://digest.example.org")


@pytest.fixture
def world(tmp_path: Path, real: Path) -> Iterator[World]:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG.format(max_papers=8), encoding="utf-8")
    config = load_config(path)
    store = open_store(config.store_url)
    papers, _ = parse_api((real / RECORDED).read_bytes())
    store.save_papers(papers, now=SENT_AT - timedelta(hours=3))
    report = send_digests(config, store, now=SENT_AT)
    assert report.ok and report.delivery.sent == 2, report
    app = create_app(config, store, clock=lambda: SENT_AT + timedelta(hours=1))
    yield World(path, config, store, app.test_client())
    store.close()


def test_every_email_links_its_web_copy_which_shows_what_was_sent(world: World) -> None:
    (mail,) = world.mails("ada@example.org")
    html, text = body(mail, "html"), body(mail, "plain")
    web_url = re.search(r'<a href="([^"]+)"[^>]*>View in your browser</a>', html)
    assert web_url, html[:2000]
    assert f"View in your browser: {web_url.group(1)}" in text
    sent_papers = paper_links(html)
    assert len(sent_papers) >= 3

    page = world.client.get(path_of(web_url.group(1)))
    assert page.status_code == 200
    copy = page.get_data(as_text=True)
    assert paper_links(copy) == sent_papers  # the same papers, in the same order
    assert copy.count("Why:") == html.count("Why:")
    assert "View in your browser" not in copy  # it is the browser copy
    # The email's feedback buttons, the same links; no one's manage or unsubscribe link.
    feedback = re.compile(r'href="([^"]+/feedback/(?:more|less)\?token=[^"]+)"')
    assert feedback.findall(copy) and set(feedback.findall(copy)) == set(feedback.findall(html))
    assert "token=" not in feedback.sub("", copy)
    assert "ada@example.org" not in copy and "Unsubscribe" not in copy
    assert "'unsafe-inline'" in page.headers["Content-Security-Policy"]

    # The profile changes: the copy still shows what was sent, not a new ranking.
    world.path.write_text(
        world.path.read_text().replace('"test cases"', "quantum, galaxies"), encoding="utf-8"
    )
    changed = create_app(load_config(world.path), world.store).test_client()
    assert paper_links(changed.get(path_of(web_url.group(1))).get_data(as_text=True)) == (
        sent_papers
    )

    token = web_url.group(1).rsplit("/", 1)[1]
    tampered = token[:-3] + ("AAA" if token[-3:] != "AAA" else "BBB")
    for bad in (tampered, token[:20], "nothing"):
        answer = world.client.get(f"/d/{bad}")
        assert answer.status_code == 404
        assert "ada@example.org" not in answer.get_data(as_text=True)
    with time_machine.travel(datetime.now(UTC) + timedelta(days=91)):
        assert world.client.get(f"/d/{token}").status_code == 404  # web.copy_days: 90


def test_a_digest_cut_for_size_says_how_many_more_are_on_the_web(world: World) -> None:
    (mail,) = world.mails("ada@example.org")
    web_url = re.search(r'href="([^"]+/d/[^"]+)"', body(mail, "html"))
    assert web_url
    (copy,) = CopyStore(world.store).recent("ada@example.org", SENT_AT.date(), 5)
    from digest.channels.record import digest_from_record, recorded_ids

    digest = digest_from_record(
        copy.content,
        name="ada",
        email="ada@example.org",
        day=copy.day,
        papers=world.store.get_papers(recorded_ids(copy.content)),
    )
    whole = Renderer().render(digest, base_url=world.config.base_url, web_url=web_url.group(1))
    assert whole is not None and "on the web" not in whole.html
    small = Renderer(size_budget=len(whole.html.encode()) - 4000)
    rendered = small.render(digest, base_url=world.config.base_url, web_url=web_url.group(1))
    assert rendered is not None
    more = re.search(r'<a href="([^"]+)"[^>]*>(\d+) more papers? on the web</a>', rendered.html)
    assert more and more.group(1) == web_url.group(1)
    assert len(paper_links(rendered.html)) == digest.count - int(more.group(2))


def test_the_private_atom_feed_holds_exactly_the_sent_papers(world: World) -> None:
    (mail,) = world.mails("ada@example.org")
    html = body(mail, "html")
    feed_url = re.search(r'<a href="([^"]+\.xml)"[^>]*>[^<]*feed[^<]*</a>', html)
    assert feed_url, "no feed link in the footer"
    assert f"Your private Atom feed: {feed_url.group(1)}" in body(mail, "plain")

    answer = world.client.get(path_of(feed_url.group(1)))
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("application/atom+xml")
    parsed = feedparser.parse(answer.get_data())
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    assert [e.link for e in parsed.entries] == paper_links(html)
    first = parsed.entries[0]
    assert first.title and first.authors and first.summary.count("Why: ") == 1
    assert any(link.get("title") == "PDF" for link in first.links)
    assert len({e.id for e in parsed.entries}) == len(parsed.entries)

    # Conditional GET: the same feed is a 304 by ETag or by date.
    etag, modified = answer.headers["ETag"], answer.headers["Last-Modified"]
    path = path_of(feed_url.group(1))
    assert world.client.get(path, headers={"If-None-Match": etag}).status_code == 304
    assert world.client.get(path, headers={"If-Modified-Since": modified}).status_code == 304
    assert world.client.get(path, headers={"If-None-Match": '"other"'}).status_code == 200

    token = path.removeprefix("/feed/").removesuffix(".xml")
    assert world.client.get(f"/feed/{token[:-2]}xx.xml").status_code == 404

    # A feed-only reader gets no email, and their feed has their digest.
    assert world.mails("cy@example.org") == []
    (cy,) = CopyStore(world.store).recent("cy@example.org", SENT_AT.date(), 5)
    assert cy.sent_at is not None


def test_the_manage_page_shows_the_feed_and_resets_it(world: World) -> None:
    (mail,) = world.mails("ada@example.org")
    html = body(mail, "html")
    old_feed = path_of(re.findall(r'href="([^"]+\.xml)"', html)[0])
    manage = re.search(r'href="(https://digest\.example\.org/manage\?token=[^"]+)"', html)
    assert manage
    page = world.client.get(path_of(manage.group(1).replace("&amp;", "&")))
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    shown = re.search(r'value="https://digest\.example\.org(/feed/[^"]+\.xml)"', text)
    assert shown, "the manage page shows no feed address"
    assert world.client.get(shown.group(1)).status_code == 200

    token = re.search(r'name="token" value="([^"]+)"', text)
    csrf = re.search(r'name="csrf" value="([^"]+)"', text)
    assert token and csrf
    form = {"token": token.group(1), "csrf": csrf.group(1)}
    assert (
        world.client.post("/manage/delivery", data={**form, "action": "reset_feed"}).status_code
        == 303
    )
    assert world.client.get(old_feed).status_code == 404
    assert world.client.get(shown.group(1)).status_code == 404
    again = world.client.get(path_of(manage.group(1).replace("&amp;", "&"))).get_data(as_text=True)
    new = re.search(r'value="https://digest\.example\.org(/feed/[^"]+\.xml)"', again)
    assert new and world.client.get(new.group(1)).status_code == 200

    # Weekly on Thursdays, feed only: the next send reads it.
    choice = {
        **form,
        "action": "save",
        "frequency": "weekly",
        "weekly_on": "thu",
        "feed_only": "yes",
    }
    assert world.client.post("/manage/delivery", data=choice).status_code == 303
    ada = next(p for p in active_subscribers(world.config, world.store) if p.name == "ada")
    assert (ada.frequency, ada.weekly_on, ada.feed_only) == ("weekly", "thu", True)
    assert ada.send_days == ("thu",)
    bad = {**choice, "weekly_on": "someday"}
    assert world.client.post("/manage/delivery", data=bad).status_code == 400
    no_cookie = FlaskClient(world.client.application)
    assert no_cookie.post("/manage/delivery", data=choice).status_code == 403


WEEKLY = f"""data_dir: ./data
base_url: https://digest.example.org
subscribers:
  - name: wendy
    email: wendy@example.org
    timezone: Europe/London
    send_at: "07:00"
    frequency: weekly
    weekly_on: mon
    max_papers: 6
{TOPIC}  - name: dan
    email: dan@example.org
    timezone: Europe/London
    max_papers: 6
{TOPIC}"""


def test_a_weekly_reader_gets_one_digest_on_their_weekday_across_a_dst_change(
    tmp_path: Path, real: Path
) -> None:
    """British clocks go back on Sunday 25 October 2026. Papers arrive every day; wendy
    (weekly, Mondays) gets the week's best on Mondays only, never a paper twice; dan (daily)
    every day."""
    path = tmp_path / "config.yaml"
    path.write_text(WEEKLY, encoding="utf-8")
    config = load_config(path)
    london = ZoneInfo("Europe/London")
    papers, _ = parse_api((real / RECORDED).read_bytes())
    days = [date(2026, 10, 19) + timedelta(days=i) for i in range(15)]  # Mon 19 .. Mon 2 Nov
    with open_store(config.store_url) as store:
        for i, day in enumerate(days):
            arrived = datetime(day.year, day.month, day.day, 2, tzinfo=london)
            store.save_papers(papers[i * 6 : i * 6 + 6], now=arrived)
        mondays = []
        for day in days[1:]:
            at = datetime(day.year, day.month, day.day, 7, 0, tzinfo=london)
            report = send_digests(config, store, now=at.astimezone(UTC))
            assert report.ok, report
        copies = CopyStore(store)
        weekly = copies.recent("wendy@example.org", days[0], 10)
        daily = copies.recent("dan@example.org", days[0], 20)
        mondays = sorted(c.day for c in weekly)
        trigger = send_trigger(active_subscribers(config, store)[0])
    assert mondays == [date(2026, 10, 26), date(2026, 11, 2)]
    assert len(daily) >= 5  # dan's days with a matching paper
    outbox = sorted((config.data_dir / "outbox").glob("*.eml"))
    to_wendy = [f for f in outbox if b"wendy@example.org" in f.read_bytes()]
    assert len(to_wendy) == 2

    weekly.sort(key=lambda c: c.day)
    ids = [[p["id"] for g in c.content["groups"] for p in g["papers"]] for c in weekly]
    assert not set(ids[0]) & set(ids[1])  # never a paper already sent
    # The week's best: papers first seen on several days of the week, further back than the
    # three days a daily digest looks.
    with open_store(config.store_url) as store:
        for copy, sent in zip(weekly, ids, strict=True):
            seen = {p.first_seen for p in store.get_papers(sent).values() if p.first_seen}
            spread = {t.astimezone(london).date() for t in seen}
            assert len(spread) >= 3 and min(spread) < copy.day - timedelta(days=3), spread

    # dan's feed: exactly the papers of his sent digests, the newest digest first.
    from digest.mail.tokens import load_secret_key, make_token

    with open_store(config.store_url) as store:
        app = create_app(config, store, clock=lambda: datetime(2026, 11, 3, tzinfo=UTC))
        token = make_token(load_secret_key(config), "feed", "dan@example.org")
        answer = app.test_client().get(f"/feed/{token}.xml")
        papers_by_id = store.get_papers(
            i for c in daily for g in c.content["groups"] for p in g["papers"] for i in [p["id"]]
        )
    parsed = feedparser.parse(answer.get_data())
    assert not parsed.bozo
    expected = [
        papers_by_id[p["id"]] for c in daily for g in c.content["groups"] for p in g["papers"]
    ]
    assert [e.link for e in parsed.entries] == [
        p.abs_url or f"https://arxiv.org/abs/{p.arxiv_id}" for p in expected
    ]
    assert len(parsed.entries) > len(daily[0].content["groups"][0]["papers"])  # several digests

    # The daemon's schedule: Mondays at 07:00 London time, before and after the change.
    fires = fire_times(
        trigger, datetime(2026, 10, 18, tzinfo=UTC), datetime(2026, 11, 3, tzinfo=UTC)
    )
    assert [f.astimezone(UTC).isoformat() for f in fires] == [
        "2026-10-19T06:00:00+00:00",
        "2026-10-26T07:00:00+00:00",
        "2026-11-02T07:00:00+00:00",
    ]


def test_the_web_copy_reads_on_a_desktop_and_a_phone(world: World, tmp_path: Path) -> None:
    """Through a real server on 127.0.0.1 (so the page's own CSP applies) in headless Chromium."""
    import os
    import threading

    from werkzeug.serving import make_server

    from .test_preview import BROWSER_ARGS, chromium

    browser_path = chromium()
    from playwright.sync_api import sync_playwright

    (mail,) = world.mails("ada@example.org")
    web_url = re.search(r'<a href="([^"]+)"[^>]*>View in your browser</a>', body(mail, "html"))
    assert web_url
    server = make_server("127.0.0.1", 0, world.client.application)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    shots = Path(os.environ.get("DIGEST_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    measure = """() => ({
        scroll: document.documentElement.scrollWidth,
        client: document.documentElement.clientWidth,
        h3: document.querySelectorAll('h3').length,
        sheet: document.querySelector('.sheet').getBoundingClientRect().width,
        brand: getComputedStyle(document.querySelector('.date')).fontWeight,
    })"""
    seen = {}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=browser_path, args=BROWSER_ARGS, headless=True
            )
            try:
                for width in (1280, 375):
                    page = browser.new_page(viewport={"width": width, "height": 900})
                    page.goto(f"http://127.0.0.1:{server.port}{path_of(web_url.group(1))}")
                    seen[width] = page.evaluate(measure)
                    page.screenshot(path=str(shots / f"web-copy-{width}.png"), full_page=True)
                    page.close()
            finally:
                browser.close()
    finally:
        server.shutdown()
        thread.join()
    sent = len(paper_links(body(mail, "html")))
    for width, page_seen in seen.items():
        assert page_seen["h3"] == sent, (width, page_seen)
        assert page_seen["scroll"] <= page_seen["client"], (width, page_seen)
        assert page_seen["brand"] == "700"  # the inline styles applied (the CSP allows them)
    assert seen[1280]["sheet"] == 600 and seen[375]["sheet"] <= 375


def test_digest_preview_shows_each_channel_without_sending(world: World) -> None:
    import json

    from click.testing import CliRunner

    from digest.cli import cli

    def preview(fmt: str, *more: str) -> str:
        args = ["--config", str(world.path), "preview", "ada", "--date", "2026-03-10"]
        result = CliRunner().invoke(cli, [*args, "--format", fmt, *more])
        assert result.exit_code == 0, result.output
        return result.output

    out = world.path.parent / "ada.html"
    preview("html", "--out", str(out))
    order = paper_links(out.read_text(encoding="utf-8"))
    assert order

    payload = json.loads(preview("json"))
    assert payload["schema"] == "paper-digest/1" and payload["subscriber"] == "ada"
    assert [p["url"] for p in payload["papers"]] == order and payload["count"] == len(order)
    assert "ada@example.org" not in json.dumps(payload)
    assert all(p["reasons"] and p["title"] and p["authors"] for p in payload["papers"])

    atom = feedparser.parse(preview("atom").encode())
    assert not atom.bozo and [e.link for e in atom.entries] == order

    slack = json.loads(preview("slack"))
    assert len(slack["blocks"]) == len(order) + 2 and slack["text"].startswith("Paper digest")
    discord = json.loads(preview("discord"))
    assert len(discord["content"]) <= 2000 and discord["content"].count("\n• [") == len(order)

    text = preview("text")
    assert text.startswith("PAPER DIGEST") and "View in your browser" not in text
    assert (world.path.parent / "data" / "preview" / "ada-2026-03-10.txt").exists() is False
    with world.store.engine.connect() as conn:  # nothing recorded: still the one send's rows
        from sqlalchemy import func, select

        from digest.store.schema import deliveries, digest_copies

        assert conn.scalar(select(func.count()).select_from(deliveries)) == 2
        assert conn.scalar(select(func.count()).select_from(digest_copies)) == 2


def test_a_weekly_digest_never_repeats_a_paper_an_earlier_digest_held(
    tmp_path: Path, real: Path
) -> None:
    """A digest retried in a later run ranks up to that run's clock, so the next window can
    reach papers it already held (see digest.day.previous_window_end): a weekly digest, whose
    week reaches far back, leaves them out."""
    from digest.mail.ledger import Ledger
    from digest.pipeline import build_digest

    path = tmp_path / "config.yaml"
    path.write_text(WEEKLY, encoding="utf-8")
    config = load_config(path)
    london = ZoneInfo("Europe/London")
    papers, _ = parse_api((real / RECORDED).read_bytes())
    monday = datetime(2026, 10, 26, 7, tzinfo=london).astimezone(UTC)
    with open_store(config.store_url) as store:
        for i in range(6):
            arrived = datetime(2026, 10, 20 + i, 2, tzinfo=london)
            store.save_papers(papers[i * 12 : i * 12 + 12], now=arrived)
        wendy = active_subscribers(config, store)[0]
        best = [
            r.paper.id
            for g in build_digest(config, store, wendy, monday.date(), monday).groups
            for r in g.papers
        ]
        assert len(best) >= 2
        # Last Monday's digest, planned then, sent by a later run that also took the best one.
        earlier = date(2026, 10, 19)
        ledger = Ledger(store)
        ledger.plan([(wendy.email, wendy.name)], earlier, datetime(2026, 10, 19, 6, tzinfo=UTC))
        row = ledger.get(wendy.email, earlier)
        assert row is not None
        ledger.mark_sent(row.id, "250 ok", datetime(2026, 10, 22, 6, tzinfo=UTC), 2)
        held = {
            "topics": ["Software testing"],
            "groups": [
                {
                    "topic": "Software testing",
                    "papers": [
                        {"id": i, "score": 1.0, "topic": "Software testing", "reasons": []}
                        for i in best[:1]
                    ],
                }
            ],
        }
        CopyStore(store).record(wendy.email, earlier, wendy.name, "last week", held, monday)

        assert send_digests(config, store, now=monday, subscriber="wendy").ok
        (sent,) = [c for c in CopyStore(store).recent(wendy.email, monday.date(), 5)]
    ids = [p["id"] for g in sent.content["groups"] for p in g["papers"]]
    assert ids and not set(ids) & set(best[:1])
    assert set(best[1:]) <= set(ids)
