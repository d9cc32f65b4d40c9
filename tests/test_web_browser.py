"""A person subscribes in a real headless Chromium, with a screenshot of every page: fills in the
form, reads the confirmation email from a real SMTP server (aiosmtpd), follows the link, sees the
manage page, changes a topic, and unsubscribes. The pages are served by waitress, as in
`digest serve`. Chromium is Debian's (/usr/bin/chromium), driven by Playwright without a
downloaded browser; without it the test is skipped, except under CI=true, where it fails."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from digest.config import load_config
from digest.pipeline import active_subscribers, open_configured_store
from digest.subscribe import find
from digest.web import create_app
from tests.smtp_server import FaultySmtp, free_port
from tests.webserver import serving

CHROMIUM = os.environ.get("DIGEST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

CONFIG = """
data_dir: ./data
base_url: http://127.0.0.1:{web_port}
smtp:
  host: 127.0.0.1
  port: {smtp_port}
  security: none
  from: "Paper Digest <digest@example.org>"
  timeout: 5
subscribers:
  - name: ada
    email: ada@example.org
    topics:
      - name: Retrieval
        keywords: [RAG]
"""


@pytest.fixture
def chromium() -> str:
    if not Path(CHROMIUM).exists():
        message = f"no Chromium at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return CHROMIUM


@pytest.fixture
def smtp() -> Iterator[FaultySmtp]:
    server = FaultySmtp().start()
    yield server
    server.stop()


def test_subscribe_confirm_manage_and_leave_in_a_browser(
    chromium: str,
    smtp: FaultySmtp,
    write_config,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    from playwright.sync_api import expect, sync_playwright

    web_port = free_port()
    config = load_config(write_config(CONFIG.format(web_port=web_port, smtp_port=smtp.port)))
    store = open_configured_store(config)
    shots = tmp_path / "screenshots"
    root = config.base_url
    try:
        with serving(create_app(config, store), web_port), sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
            context = browser.new_context(
                timezone_id="Asia/Tokyo", viewport={"width": 900, "height": 1000}
            )
            page = context.new_page()
            page.set_default_timeout(10_000)

            def shot(name: str) -> None:
                page.screenshot(path=str(shots / f"{name}.png"), full_page=True)

            # 1. The form; the time zone comes from the browser.
            page.goto(f"{root}/")
            expect(page.locator("#timezone")).to_have_value("Asia/Tokyo")
            page.fill("input[name=email]", "bob@example.org")
            page.fill("input[name=name]", "Bob")
            page.fill("textarea[name=topic-0-keywords]", "diffusion models, score matching")
            page.fill("input[name=topic-0-categories]", "cs.LG")
            page.fill("input[name=send_at]", "06:30")
            shot("1-subscribe")
            page.click("button[type=submit]")
            expect(page.locator("h1")).to_have_text("Check your inbox")
            shot("2-check-inbox")

            # 2. The confirmation email, as the SMTP server received it.
            (received,) = [r for r in smtp.received if r.recipient == "bob@example.org"]
            body = received.message.get_body(("plain",))
            assert body is not None
            link = re.search(r"http://\S+/confirm\?token=\S+", body.get_content())
            assert link is not None and link.group(0).startswith(root)
            assert find(config, store, "bob@example.org").status == "pending"  # type: ignore[union-attr]

            # 3. Follow the link and confirm.
            page.goto(link.group(0))
            shot("3-confirm")
            page.click("text=Yes, subscribe me")

            # 4. The manage page.
            expect(page.locator(".notice")).to_contain_text("You are subscribed")
            expect(page.locator(".status")).to_have_text("active")
            shot("4-manage")
            bob = find(config, store, "bob@example.org")
            assert bob is not None and bob.status == "active"
            assert bob.profile.timezone == "Asia/Tokyo" and bob.profile.send_at == "06:30"

            # 5. Change the topic.
            page.fill("input[name=topic-0-name]", "Generative models")
            page.fill("textarea[name=topic-0-keywords]", "flow matching, diffusion models")
            page.uncheck("input[name=days][value=sat]")
            page.uncheck("input[name=days][value=sun]")
            page.click("button[value=save]")
            expect(page.locator(".notice")).to_have_text("Saved.")
            shot("5-saved")
            (person,) = [s for s in active_subscribers(config, store) if s.name == "Bob"]
            assert person.topics[0].name == "Generative models"
            assert [k.text for k in person.topics[0].keywords] == [
                "flow matching",
                "diffusion models",
            ]
            # Signed up in Tokyo for 06:30: the mornings after arXiv's announcements are
            # Tuesday to Saturday there; Saturday unticked leaves Tuesday to Friday.
            assert person.days == ("tue", "wed", "thu", "fri")

            # 6. Unsubscribe.
            page.click("button[value=unsubscribe]")
            expect(page.locator(".status")).to_have_text("unsubscribed")
            shot("6-unsubscribed")
            assert "bob@example.org" not in [s.email for s in active_subscribers(config, store)]

            # The one-click link of a digest, opened in a browser: a page that asks first.
            from digest.mail.letterhead import letterhead

            page.goto(letterhead(config).links("ada@example.org").unsubscribe_url)
            shot("7-unsubscribe-asks")
            assert find(config, store, "ada@example.org").status == "active"  # type: ignore[union-attr]
            page.click("button[type=submit]")
            expect(page.locator("h1")).to_have_text("You are unsubscribed")
            shot("8-unsubscribed")
            assert find(config, store, "ada@example.org").status == "unsubscribed"  # type: ignore[union-attr]
            browser.close()
    finally:
        store.close()
    assert len(list(shots.glob("*.png"))) == 8
