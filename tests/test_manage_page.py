"""The subscribe and manage pages as a researcher meets them, in a real headless Chromium with a
screenshot of each step: a time zone typed as a city, categories picked by name, every problem
shown at once beside its field, authors and exclusions edited, a topic removed, the days and
time of the digest said in words, and a confirmation email that fits a phone."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from digest.config import load_config
from digest.papers_file import read_papers
from digest.subscribe import find
from digest.subscribe.zones import (
    ZoneError,
    announcement_days,
    days_in_words,
    resolve_timezone,
    schedule_in_words,
)
from digest.web import create_app
from tests.smtp_server import FaultySmtp, free_port
from tests.test_web_browser import CHROMIUM_FLAGS, CONFIG, chromium, smtp  # noqa: F401
from tests.webserver import serving

WORKDAYS = ("mon", "tue", "wed", "thu", "fri")


def test_time_zones_are_typed_as_people_type_them() -> None:
    assert resolve_timezone("Berlin") == "Europe/Berlin"
    assert resolve_timezone("europe/berlin") == "Europe/Berlin"
    assert resolve_timezone(" new  york ") == "America/New_York"
    assert resolve_timezone("utc") == "UTC"
    with pytest.raises(
        ZoneError, match="“EST” does not change for daylight saving.*America/New_York"
    ):
        resolve_timezone("EST")
    with pytest.raises(ZoneError, match="Did you mean Europe/Berlin"):
        resolve_timezone("Berlinn")


def test_the_default_days_are_the_mornings_after_arxivs_announcements() -> None:
    # arXiv announces Sunday to Thursday at 20:00 in New York.
    assert announcement_days("Europe/Berlin", "07:00") == WORKDAYS
    assert announcement_days("America/Los_Angeles", "06:00") == WORKDAYS
    assert announcement_days("Asia/Tokyo", "07:00") == ("tue", "wed", "thu", "fri", "sat")
    assert announcement_days("America/New_York", "21:00") == ("mon", "tue", "wed", "thu", "sun")
    assert days_in_words(("mon", "tue", "wed", "thu", "sun")) == "Sunday to Thursday"
    assert days_in_words(("mon", "wed")) == "Monday and Wednesday"
    now = datetime(2026, 12, 1, 13, 0, tzinfo=UTC)  # a Tuesday
    assert schedule_in_words("Europe/Berlin", "07:00", WORKDAYS, now) == (
        "Monday to Friday at 07:00 Berlin time; the next on Wednesday 2 December (06:00 UTC)"
    )


def write_day(folder: Path) -> Path:
    """Today's papers: two on grasping among a few dozen on other things."""
    rows = [
        {
            "arxiv_id": "2612.00001",
            "title": "Grasp planning with tactile feedback",
            "abstract": "We study grasp planning for robot hands.",
            "categories": "cs.RO",
        },
        {
            "arxiv_id": "2612.00002",
            "title": "A survey of grasp planning",
            "abstract": "A survey of grasp planning methods.",
            "categories": "cs.RO",
        },
    ] + [
        {
            "arxiv_id": f"2612.{100 + i:05d}",
            "title": f"Galaxy survey {i}",
            "abstract": "Stars and gas in nearby galaxies.",
            "categories": "astro-ph.GA",
        }
        for i in range(30)
    ]
    path = folder / "today.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def site(smtp: FaultySmtp, write_config) -> Iterator[tuple[str, FaultySmtp, object]]:  # type: ignore[no-untyped-def]  # noqa: F811
    from digest.pipeline import open_configured_store

    web_port = free_port()
    config = load_config(write_config(CONFIG.format(web_port=web_port, smtp_port=smtp.port)))
    store = open_configured_store(config)
    store.save_papers(read_papers(write_day(config.data_dir.parent)))
    with serving(create_app(config, store), web_port):
        yield config.base_url, smtp, (config, store)
    store.close()


def test_a_researcher_signs_up_and_edits_topics_in_words_they_use(
    chromium: str,  # noqa: F811
    site,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    from playwright.sync_api import expect, sync_playwright

    root, mail, (config, store) = site
    shots = tmp_path / "screenshots"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        context = browser.new_context(timezone_id="UTC", viewport={"width": 900, "height": 1000})
        page = context.new_page()
        page.set_default_timeout(10_000)

        def shot(name: str) -> None:
            page.screenshot(path=str(shots / f"{name}.png"), full_page=True)

        # 1. The sign-up form offers every time zone and every category by name.
        page.goto(f"{root}/")
        assert page.locator("#timezones option").count() > 300
        assert page.locator("#timezones option[value='Europe/Berlin']").count() == 1
        assert page.locator("#timezones option[value='EST']").count() == 0
        assert page.locator("#arxiv-categories option[value='Robotics (cs.RO)']").count() == 1
        categories = page.locator("input[name=topic-0-categories]")
        categories.fill("cs.LG, rob")  # typing the second category: suggestions keep the first
        first = page.eval_on_selector("#arxiv-categories option", "o => o.value")
        assert first.startswith("cs.LG, ") and first.endswith(")")
        page.fill("input[name=email]", "cy@example.org")
        page.fill("textarea[name=topic-0-keywords]", "grasp planning")
        categories.fill("Robotics (cs.RO), computation and language")
        page.fill("#timezone", "berlin")
        page.fill("input[name=send_at]", "07:00")
        shot("1-subscribe")
        page.click("button[type=submit]")
        expect(page.locator("h1")).to_have_text("Check your inbox")

        # 2. The confirmation email: a visible link, and a page that fits a phone.
        (received,) = [r for r in mail.received if r.recipient == "cy@example.org"]
        html_part = received.message.get_body(("html",))
        assert html_part is not None
        email_html = html_part.get_content()
        link = re.search(r'href="(http://[^"]+/confirm\?token=[^"]+)"', email_html)
        assert link is not None
        assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in email_html
        assert f">{link.group(1)}</a>" in email_html  # the link as text, not only a button
        phone = browser.new_page(viewport={"width": 375, "height": 700})
        phone.set_content(email_html)
        assert phone.evaluate("document.documentElement.scrollWidth") <= 375
        phone.screenshot(path=str(shots / "2-confirmation-email-phone.png"), full_page=True)
        phone.close()

        # 3. Confirmed: the manage page says when the digest comes, in their time.
        page.goto(link.group(1).replace("&amp;", "&"))
        page.click("text=Yes, subscribe me")
        expect(page.locator(".status")).to_have_text("active")
        cy = find(config, store, "cy@example.org")
        assert cy is not None and cy.profile.timezone == "Europe/Berlin"
        assert cy.profile.topics[0].categories == ["cs.RO", "cs.CL"]
        assert tuple(cy.profile.days) == WORKDAYS  # not all seven: arXiv is quiet at weekends
        expect(page.locator("#when")).to_contain_text(
            "Your digest comes Monday to Friday at 07:00 Berlin time; the next on"
        )
        expect(page.locator("input[name=topic-0-categories]")).to_have_value(
            "Robotics (cs.RO), Computation and Language (cs.CL)"
        )
        assert page.locator("#timezones option").count() > 300  # the manage page's list too
        shot("3-manage")

        # 4. Four mistakes at once: each beside its field, in words, with what to write.
        page.fill("#timezone", "EST")
        page.fill("input[name=topic-0-categories]", "robotix")
        page.fill("input[name=topic-0-papers]", "abc")
        for day in WORKDAYS:
            page.uncheck(f"input[name=days][value={day}]")
        page.click("button[value=save]")
        expect(page.locator(".problems")).to_contain_text("Please fix these 4:")
        expect(page.locator("#timezone-error")).to_contain_text(
            "does not change for daylight saving"
        )
        expect(page.locator("#topic-0-categories-error")).to_have_text(
            "“robotix” is not an arXiv category. Did you mean Robotics (cs.RO)?"
        )
        expect(page.locator("#topic-0-papers-error")).to_contain_text("is not an arXiv paper")
        expect(page.locator("#days-error")).to_have_text("tick at least one day")
        shot("4-every-problem-at-once")
        cy = find(config, store, "cy@example.org")
        assert cy is not None and cy.profile.timezone == "Europe/Berlin"  # nothing saved

        # 5. Fixed, with authors and exclusions, and a second topic.
        page.fill("#timezone", "Europe/Berlin")
        page.fill("input[name=topic-0-categories]", "Robotics (cs.RO)")
        page.fill("input[name=topic-0-papers]", "")
        page.fill("input[name=topic-0-authors]", "Jane Doe")
        page.fill("input[name=topic-0-exclude]", "survey, speech")
        for day in WORKDAYS:
            page.check(f"input[name=days][value={day}]")
        page.fill("textarea[name=topic-1-keywords]", "tactile sensing")

        # What would this catch today? The digest's own ranking of today's papers, unsaved.
        page.click("button[value=preview]")
        catch = page.locator("#catch")
        expect(catch).to_contain_text("today's digest would hold 1 paper")
        expect(catch.locator("li")).to_have_count(1)
        expect(catch.locator("li a")).to_have_text("Grasp planning with tactile feedback")
        shot("5-what-would-this-catch")
        cy = find(config, store, "cy@example.org")
        assert cy is not None and cy.profile.topics[0].exclude == []  # nothing saved yet
        page.click("button[value=save]")
        expect(page.locator(".notice")).to_have_text("Saved.")
        shot("6-saved-two-topics")
        cy = find(config, store, "cy@example.org")
        assert cy is not None and len(cy.profile.topics) == 2
        assert cy.profile.topics[0].authors == ["Jane Doe"]
        assert cy.profile.topics[0].exclude == ["survey", "speech"]

        # 6. The second topic removed with its own button.
        page.click("button[value=remove-1]")
        expect(page.locator(".notice")).to_have_text("Saved.")
        cy = find(config, store, "cy@example.org")
        assert cy is not None and [t.name for t in cy.profile.topics] == ["grasp planning"]
        assert cy.profile.topics[0].exclude == ["survey", "speech"]  # the one kept is whole
        page.set_viewport_size({"width": 375, "height": 800})
        shot("7-removed-phone")
        browser.close()
    assert len(list(shots.glob("*.png"))) == 7
