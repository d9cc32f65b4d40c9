"""A reader says "not for me" from a sent digest in a real headless Chromium, and takes it back:
the digest is sent by the real send path to the outbox, its "Not for me" link opened (a page
that asks and records nothing), confirmed, the manage page shows the mark under its topic, and
its Remove button forgets it. A screenshot of every page. Pages served by waitress, as in
`digest serve`; Chromium as in test_web_browser."""

from __future__ import annotations

import re
from email import message_from_bytes, policy
from pathlib import Path

from digest.config import load_config
from digest.pipeline import open_configured_store, send_digests
from digest.sources.arxiv import parse_api
from digest.store import utcnow
from digest.store.feedback import FeedbackStore
from digest.web import create_app
from tests.smtp_server import free_port
from tests.test_web_browser import CHROMIUM_FLAGS, chromium  # noqa: F401 (a fixture)
from tests.webserver import serving

CONFIG = """
data_dir: ./data
base_url: http://127.0.0.1:{web_port}
subscribers:
  - name: Ada
    email: ada@example.org
    max_papers: 5
    topics:
      - name: Software testing
        keywords: ["metamorphic testing", "software testing", "test generation"]
"""


def test_not_for_me_from_a_sent_digest_then_undone_on_the_manage_page(
    chromium: str,  # noqa: F811
    write_config,  # type: ignore[no-untyped-def]
    real: Path,
    tmp_path: Path,
) -> None:
    from playwright.sync_api import expect, sync_playwright

    web_port = free_port()
    config = load_config(write_config(CONFIG.format(web_port=web_port)))
    store = open_configured_store(config)
    papers, _ = parse_api((real / "arxiv_api/query_all-testing_start0_max100.xml").read_bytes())
    store.save_papers(papers, now=utcnow())
    assert send_digests(config, store).delivery.sent == 1
    (eml,) = (config.data_dir / "outbox").glob("*.eml")
    mail = message_from_bytes(eml.read_bytes(), policy=policy.default)
    text = mail.get_body(("plain",))
    assert text is not None
    link = re.search(r"Not for me: (http://\S+)", text.get_content())
    assert link is not None
    marks = FeedbackStore(store)

    shots = tmp_path / "screenshots"
    try:
        with serving(create_app(config, store), web_port), sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
            page = browser.new_context(viewport={"width": 900, "height": 900}).new_page()
            page.set_default_timeout(10_000)

            def shot(name: str) -> None:
                page.screenshot(path=str(shots / f"{name}.png"), full_page=True)

            # 1. The link asks first: opening it records nothing.
            page.goto(link.group(1))
            expect(page.locator("h1")).to_have_text("Not for me?")
            title = page.locator(".paper-title").inner_text()
            assert title
            shot("1-not-for-me-asks")
            assert marks.of("ada@example.org") == []

            # 2. One press records it.
            page.click("text=Yes, not for me")
            expect(page.locator("h1")).to_have_text("Not for me: noted")
            shot("2-noted")
            (mark,) = marks.of("ada@example.org")
            assert (mark.vote, mark.topic, mark.paper.title) == ("less", "Software testing", title)

            # 3. The manage page lists it under its topic, with its date.
            page.click("text=See or undo what your digest learned")
            learned = page.locator("#feedback")
            expect(learned).to_contain_text("Software testing")
            expect(learned).to_contain_text("Not for me")
            expect(learned).to_contain_text(title)
            expect(learned).to_contain_text(f"{mark.created_at:%b %Y}")
            learned.scroll_into_view_if_needed()
            shot("3-manage-lists-it")

            # 4. Remove it.
            page.click(f"button[aria-label='Remove {title}']")
            expect(page.locator(".notice")).to_contain_text("Forgot")
            expect(page.locator("#feedback")).to_contain_text("Nothing yet")
            shot("4-removed")
            assert marks.of("ada@example.org") == []
            browser.close()
    finally:
        store.close()
    assert len(list(shots.glob("*.png"))) == 4
