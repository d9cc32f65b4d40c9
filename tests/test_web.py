"""The subscription pages through Flask's test client: double opt-in, the manage page, RFC 8058
one-click unsubscribe, signed links that refuse tampering, expiry and the wrong purpose, rate
limits, and the same answer whether or not an address is known. Mail goes to the outbox."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from flask.testing import FlaskClient

from digest.config import Config, load_config
from digest.mail.letterhead import letterhead
from digest.mail.tokens import make_token
from digest.pipeline import active_subscribers, open_configured_store
from digest.store import Store
from digest.subscribe import find
from digest.web import create_app
from tests.feedserver import FeedServer
from tests.smtp_server import free_port

CONFIG = """
data_dir: ./data
base_url: https://digest.example.org/
sources:  # liked ids are looked up on this (local) arXiv API when a profile is saved
  - {{type: arxiv_api, enabled: false, id_list: [x], url: "{api}"}}
web:
  subscribe_per_ip_per_hour: {per_ip}
  emails_per_address_per_day: {per_address}
subscribers:
  - name: ada
    email: ada@example.org
    topics:
      - name: Retrieval
        keywords: [RAG]
"""

SIGN_UP = {
    "email": "bob@example.org",
    "name": "Bob",
    "topic-0-name": "",
    "topic-0-keywords": "diffusion models, score matching",
    "topic-0-categories": "cs.LG, stat.ML",
    "topic-0-papers": "1605.08386",
    "send_at": "08:15",
    "timezone": "Europe/Paris",
}


@dataclass
class Site:
    config: Config
    store: Store
    client: FlaskClient
    outbox: Path

    def mails(self, to: str) -> list[EmailMessage]:
        found = []
        for path in sorted(self.outbox.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns):
            message = message_from_bytes(path.read_bytes(), policy=policy.default)
            assert isinstance(message, EmailMessage)
            if message["To"].addresses[0].addr_spec == to:
                found.append(message)
        return found

    def link_in(self, message: EmailMessage, path: str) -> str:
        body = message.get_body(("plain",))
        assert body is not None
        found = re.search(rf"https://digest\.example\.org/{path}\?token=\S+", body.get_content())
        assert found, body.get_content()
        return found.group(0)

    def status(self, email: str) -> str | None:
        entry = find(self.config, self.store, email)
        return entry.status if entry else None


def local(url: str) -> str:
    """The path and query of a link, for the test client."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


@pytest.fixture
def arxiv_api(real: Path) -> Iterator[str]:
    """A local arXiv API serving recorded answers: 1605.08386 is known, 0000.0000 is not."""
    with FeedServer(real) as server:
        yield f"{server.url}/api/query"


def make_site(write_config, api: str, per_ip: int = 50, per_address: int = 5) -> Iterator[Site]:  # type: ignore[no-untyped-def]
    text = CONFIG.format(per_ip=per_ip, per_address=per_address, api=api)
    config = load_config(write_config(text))
    store = open_configured_store(config)
    app = create_app(config, store)
    yield Site(config, store, app.test_client(), config.data_dir / "outbox")
    store.close()


@pytest.fixture
def site(write_config, arxiv_api: str) -> Iterator[Site]:  # type: ignore[no-untyped-def]
    yield from make_site(write_config, arxiv_api)


def sign_up_and_confirm(site: Site, email: str = "bob@example.org") -> str:
    """Subscribe, confirm, and return the manage page's HTML."""
    assert site.client.post("/subscribe", data=SIGN_UP | {"email": email}).status_code == 200
    (mail,) = site.mails(email)
    token = urlsplit(site.link_in(mail, "confirm")).query.removeprefix("token=")
    page = site.client.post("/confirm", data={"token": token})
    assert page.status_code == 200
    return page.get_data(as_text=True)


def field(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, name
    return found.group(1)


def test_double_opt_in_then_manage_then_leave(site: Site) -> None:
    page = site.client.get("/")
    assert page.status_code == 200 and 'name="timezone"' in page.get_data(as_text=True)

    answer = site.client.post("/subscribe", data=SIGN_UP)
    assert answer.status_code == 200 and "Check your inbox" in answer.get_data(as_text=True)
    assert site.status("bob@example.org") == "pending"
    assert "bob@example.org" not in [p.email for p in active_subscribers(site.config, site.store)]

    (mail,) = site.mails("bob@example.org")
    assert mail["Subject"] == "Confirm your paper digest subscription"
    assert mail["Auto-Submitted"] == "auto-generated" and mail["List-Unsubscribe"] is None
    confirm = local(site.link_in(mail, "confirm"))
    shown = site.client.get(confirm)  # a mail scanner following the link confirms nothing
    assert shown.status_code == 200 and site.status("bob@example.org") == "pending"

    token = field(shown.get_data(as_text=True), "token")
    manage = site.client.post("/confirm", data={"token": token})
    html = manage.get_data(as_text=True)
    assert manage.status_code == 200 and "You are subscribed" in html
    (bob,) = [p for p in active_subscribers(site.config, site.store) if p.name == "Bob"]
    assert (bob.timezone, bob.send_at.isoformat(timespec="minutes")) == ("Europe/Paris", "08:15")
    assert bob.topics[0].papers == ("1605.08386",)

    # Change the topic and the time, with the CSRF field the page carries.
    edit = {
        "token": field(html, "token"),
        "csrf": field(html, "csrf"),
        "action": "save",
        "name": "Bob",
        "topic-0-name": "Generative models",
        "topic-0-keywords": "flow matching",
        "topic-0-categories": "cs.LG",
        "topic-0-papers": "",
        "topic-1-name": "",
        "topic-1-keywords": "",
        "send_at": "06:00",
        "timezone": "America/New_York",
        "days": ["mon", "wed", "fri"],
    }
    saved = site.client.post("/manage", data=edit)
    assert saved.status_code == 200 and "Saved." in saved.get_data(as_text=True)
    (bob,) = [p for p in active_subscribers(site.config, site.store) if p.name == "Bob"]
    assert bob.topics[0].name == "Generative models"
    assert [k.text for k in bob.topics[0].keywords] == ["flow matching"]
    assert bob.days == ("mon", "wed", "fri") and bob.timezone == "America/New_York"

    left = site.client.post("/manage", data=edit | {"action": "unsubscribe"})
    assert left.status_code == 200 and site.status("bob@example.org") == "unsubscribed"
    assert "Subscribe again" in left.get_data(as_text=True)


def test_a_form_with_problems_is_shown_again_with_them(site: Site) -> None:
    page = site.client.post(
        "/subscribe",
        data=SIGN_UP
        | {"email": "not-an-address", "topic-0-categories": "cs.NOPE.X", "timezone": "Mars/Base"},
    )
    html = page.get_data(as_text=True)
    assert page.status_code == 400
    # Every problem at once, in the summary and beside its field, in a researcher's words.
    assert "Please fix these 3:" in html
    assert "<li>Email: enter an email address like name@example.org</li>" in html
    category = "“cs.NOPE.X” is not an arXiv category. Did you mean Neural and Evolutionary Computing (cs.NE)?"
    assert f"<li>Topic 1, arXiv categories: {category}</li>" in html
    assert f'<span class="field-error" id="topic-0-categories-error">{category}</span>' in html
    assert "Time zone: “Mars/Base” is not a time zone we know: type your city" in html
    assert '<span class="field-error" id="email-error">enter an email' in html
    assert ">diffusion models, score matching</textarea>" in html  # what was typed stays
    hostile = site.client.post("/subscribe", data=SIGN_UP | {"email": '"><script>x()</script>'})
    assert "<script>x()" not in hostile.get_data(as_text=True)  # escaped, never markup
    assert "&#34;&gt;&lt;script&gt;x()" in hostile.get_data(as_text=True)
    assert list(site.outbox.glob("*.eml")) == []


def test_one_click_unsubscribe_needs_no_cookie_and_never_redirects(site: Site) -> None:
    # The very URL a digest's List-Unsubscribe header carries (built by the mail stage).
    url = letterhead(site.config).links("ada@example.org").unsubscribe_url
    assert url.startswith("https://digest.example.org/unsubscribe?token=")

    shown = site.client.get(local(url))
    assert shown.status_code == 200 and "Unsubscribe?" in shown.get_data(as_text=True)
    assert site.status("ada@example.org") == "active"  # a GET changes nothing

    refused = site.client.post(local(url), data={"something": "else"})
    assert refused.status_code == 400 and site.status("ada@example.org") == "active"

    fresh = create_app(site.config, site.store).test_client(use_cookies=False)
    done = fresh.post(
        local(url),
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert done.status_code == 200 and "Location" not in done.headers
    assert "Set-Cookie" not in done.headers
    assert site.status("ada@example.org") == "unsubscribed"
    assert "ada@example.org" not in [p.email for p in active_subscribers(site.config, site.store)]
    again = fresh.post(local(url), data={"List-Unsubscribe": "One-Click"})  # idempotent
    assert again.status_code == 200
    multipart = fresh.post(
        local(url), data={"List-Unsubscribe": "One-Click"}, content_type="multipart/form-data"
    )
    assert multipart.status_code == 200


def test_tampered_and_cross_purpose_tokens_change_nothing(site: Site) -> None:
    secret = letterhead(site.config).secret
    manage = make_token(secret, "manage", "ada@example.org")
    unsubscribe = make_token(secret, "unsubscribe", "ada@example.org")
    tampered = unsubscribe[:-3] + ("AAA" if not unsubscribe.endswith("AAA") else "BBB")
    forged = make_token("another-secret-of-some-length", "unsubscribe", "ada@example.org")
    one_click = {"List-Unsubscribe": "One-Click"}

    for token in (tampered, forged, manage, "", "garbage"):
        answer = site.client.post(f"/unsubscribe?token={token}", data=one_click)
        assert answer.status_code == 400, token
    assert site.client.get(f"/manage?token={unsubscribe}").status_code == 400
    assert site.client.get(f"/confirm?token={manage}").status_code == 400
    assert site.status("ada@example.org") == "active"
    assert site.client.get(f"/manage?token={manage}").status_code == 200


def test_an_expired_confirmation_link_is_refused(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert site.client.post("/subscribe", data=SIGN_UP).status_code == 200
    secret = letterhead(site.config).secret
    two_days_ago = time.time() - 49 * 3600
    with monkeypatch.context() as m:  # a link mailed 49 hours ago
        m.setattr(time, "time", lambda: two_days_ago)
        old = make_token(secret, "confirm", "bob@example.org")
    page = site.client.post("/confirm", data={"token": old})
    assert page.status_code == 400 and "expired" in page.get_data(as_text=True)
    assert site.client.get(f"/confirm?token={old}").status_code == 400
    assert site.status("bob@example.org") == "pending"


def test_the_manage_form_needs_its_csrf_cookie(site: Site) -> None:
    html = sign_up_and_confirm(site)
    stranger = create_app(site.config, site.store).test_client()  # no cookie from this site
    answer = stranger.post(
        "/manage",
        data={"token": field(html, "token"), "csrf": field(html, "csrf"), "action": "unsubscribe"},
    )
    assert answer.status_code == 403 and site.status("bob@example.org") == "active"


def test_the_same_answer_whether_or_not_the_address_is_known(site: Site) -> None:
    def answer(email: str) -> tuple[int, str]:
        page = site.client.post("/subscribe", data=SIGN_UP | {"email": email})
        return page.status_code, page.get_data(as_text=True).replace(email, "EMAIL")

    assert answer("ada@example.org") == answer("zed@example.org")  # ada is in config.yaml
    # The owner of a known address is told by email, and nothing about them changed.
    (mail,) = site.mails("ada@example.org")
    assert mail["Subject"] == "You already get the paper digest"
    assert "/manage?token=" in site.link_in(mail, "manage")
    assert site.status("ada@example.org") == "active"
    (ada,) = [p for p in active_subscribers(site.config, site.store) if p.name == "ada"]
    assert ada.topics[0].name == "Retrieval"


def test_sign_ups_are_rate_limited_per_client_and_per_address(write_config, arxiv_api: str) -> None:  # type: ignore[no-untyped-def]
    for site in make_site(write_config, arxiv_api, per_ip=3, per_address=2):
        for _ in range(3):
            assert site.client.post("/subscribe", data=SIGN_UP).status_code == 200
        assert len(site.mails("bob@example.org")) == 2  # the third asked for no more mail

        page = site.client.post("/subscribe", data=SIGN_UP | {"email": "cy@example.org"})
        assert page.status_code == 429 and site.mails("cy@example.org") == []
        assert page.headers["Retry-After"] == "3600"
        other = site.client.post(
            "/subscribe",
            data=SIGN_UP | {"email": "cy@example.org"},
            environ_base={"REMOTE_ADDR": "192.0.2.7"},
        )
        assert other.status_code == 200 and len(site.mails("cy@example.org")) == 1


def test_digest_serve_answers_behind_a_local_proxy(
    write_config, tmp_path: Path, arxiv_api: str
) -> None:  # type: ignore[no-untyped-def]
    """The real command: waitress on a port, the proxy on 127.0.0.1 named in trusted_proxies."""
    port = free_port()
    text = CONFIG.format(per_ip=1, per_address=5, api=arxiv_api)
    path = write_config(text.replace("web:\n", "web:\n  trusted_proxies: [127.0.0.1]\n"))
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "digest", "--config", str(path), "serve", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    root = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=root, timeout=5) as client:
            for _ in range(100):  # up to 10 s to start
                try:
                    page = client.get("/")
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            assert page.status_code == 200 and "Subscribe" in page.text

            def sign_up(client_ip: str) -> int:
                headers = {"X-Forwarded-For": client_ip}
                return client.post("/subscribe", data=SIGN_UP, headers=headers).status_code

            assert sign_up("198.51.100.1") == 200
            assert sign_up("198.51.100.2") == 200  # another client behind the same proxy
            assert sign_up("198.51.100.1") == 429
            secret = "eyJzZWNyZXQiOiJ0b2tlbiJ9.abcdefghijklmnop"
            assert client.get(f"/manage?token={secret}&x=1").status_code == 400
            assert client.get(f"/unsubscribe/{secret}").status_code == 404
            # A request's line is written once its answer is sent: wait for the last one.
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and "/unsubscribe/" not in (
                tmp_path / "serve.log"
            ).read_text(encoding="utf-8"):
                time.sleep(0.05)
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()
    # One access-log line per request, the ordinary format, and no token in any of them.
    written = (tmp_path / "serve.log").read_text(encoding="utf-8")
    assert secret not in written and "abcdefghijklmnop" not in written
    requests = [
        [line.split('"')[1], line.split('"')[2].split()[0]]
        for line in written.splitlines()
        if line.count('"') == 2
    ]
    assert requests[-6:] == [
        ["GET / HTTP/1.1", "200"],
        ["POST /subscribe HTTP/1.1", "200"],
        ["POST /subscribe HTTP/1.1", "200"],
        ["POST /subscribe HTTP/1.1", "429"],
        ["GET /manage?token=-&x=- HTTP/1.1", "400"],
        ["GET /unsubscribe/- HTTP/1.1", "404"],
    ]
    assert re.match(
        r"127\.0\.0\.1 - - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d \+0000\] ", written.splitlines()[-1]
    )


def test_liked_ids_are_looked_up_when_saved_titles_shown_unknown_refused(site: Site) -> None:
    unknown = site.client.post("/subscribe", data=SIGN_UP | {"topic-0-papers": "0000.0000"})
    page = unknown.get_data(as_text=True)
    assert unknown.status_code == 400
    assert "arXiv has no paper 0000.0000 (check the id" in page
    assert site.status("bob@example.org") is None and site.mails("bob@example.org") == []

    answer = site.client.post("/subscribe", data=SIGN_UP)
    assert answer.status_code == 200
    assert "1605.08386: Heat-bath random walks with Markov bases" in answer.get_data(as_text=True)

    html = sign_up_and_confirm(site, "cy@example.org")
    form = {
        "token": field(html, "token"),
        "csrf": field(html, "csrf"),
        "action": "save",
        "name": "Cy",
        "timezone": "UTC",
        "send_at": "07:00",
        "topic-0-name": "Walks",
        "topic-0-keywords": "random walks",
        "topic-0-papers": "1605.08386, 0000.0000",
        "days": ["mon", "thu"],
    }
    refused = site.client.post("/manage", data=form)
    assert refused.status_code == 400
    assert "arXiv has no paper 0000.0000" in refused.get_data(as_text=True)
    entry = find(site.config, site.store, "cy@example.org")
    assert entry is not None and entry.profile.topics[0].papers == ["1605.08386"]

    saved = site.client.post(
        "/manage", data=form | {"topic-0-papers": "1605.08386, astro-ph/0601001"}
    )
    shown = saved.get_data(as_text=True)
    assert saved.status_code == 200 and "Saved." in shown
    assert "astro-ph/0601001: " in shown and "1605.08386: " not in shown  # only what is new


def test_x_forwarded_for_is_believed_only_from_a_trusted_proxy(
    write_config, arxiv_api: str
) -> None:  # type: ignore[no-untyped-def]
    def sign_ups(site: Site, peer: str, forwarded: list[str]) -> list[int]:
        return [
            site.client.post(
                "/subscribe",
                data=SIGN_UP | {"email": f"p{i}@example.org"},
                headers={"X-Forwarded-For": hop},
                environ_base={"REMOTE_ADDR": peer},
            ).status_code
            for i, hop in enumerate(forwarded)
        ]

    # No proxy trusted (the default): rotating the header gets nobody past the limit.
    for site in make_site(write_config, arxiv_api, per_ip=1):
        assert sign_ups(site, "127.0.0.1", ["198.51.100.1", "198.51.100.2"]) == [200, 429]
    # A proxy on ::1, named: its clients are told apart, and what a client wrote to the left
    # of the proxy's own entry is not believed.
    text = CONFIG.format(per_ip=1, per_address=5, api=arxiv_api)
    write_config(text.replace("web:\n", "web:\n  trusted_proxies: ['::1', 10.0.0.0/8]\n"))
    config = load_config(Path("config.yaml").resolve())
    store = open_configured_store(config)
    site = Site(config, store, create_app(config, store).test_client(), config.data_dir / "outbox")
    try:
        assert sign_ups(site, "::1", ["198.51.100.1", "198.51.100.2"]) == [200, 200]
        assert sign_ups(site, "::1", ["203.0.113.9, 198.51.100.1"]) == [429]
        assert sign_ups(site, "::1", ["198.51.100.3, 10.1.2.3"]) == [200]  # two proxies deep
        assert sign_ups(site, "192.0.2.50", ["198.51.100.4", "198.51.100.5"]) == [200, 429]
    finally:
        store.close()


def test_the_per_address_limit_counts_plus_address_variants_together(
    write_config, arxiv_api: str
) -> None:  # type: ignore[no-untyped-def]
    for site in make_site(write_config, arxiv_api, per_address=2):
        for i in range(4):
            email = f"victim+{i}@example.org" if i % 2 else f"Victim+x{i}@example.org"
            answer = site.client.post(
                "/subscribe",
                data=SIGN_UP | {"email": email},
                environ_base={"REMOTE_ADDR": f"192.0.2.{i + 1}"},
            )
            assert answer.status_code == 200  # the same answer, mail or not
        sent = [p for p in site.outbox.glob("*.eml") if b"victim" in p.read_bytes().lower()]
        assert len(sent) == 2


def test_an_unsubscribe_retires_older_manage_links_and_the_new_one_works(site: Site) -> None:
    # The links of a digest sent before Ada unsubscribed (built by the mail stage).
    old = letterhead(site.config).links("ada@example.org")
    page = site.client.get(local(old.manage_url))
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    done = site.client.post(local(old.unsubscribe_url), data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200 and site.status("ada@example.org") == "unsubscribed"

    gone = site.client.get(local(old.manage_url))
    assert gone.status_code == 410 and "you unsubscribed after it was sent" in gone.get_data(
        as_text=True
    )
    resume = {"token": field(html, "token"), "csrf": field(html, "csrf"), "action": "resume"}
    assert site.client.post("/manage", data=resume).status_code == 410
    assert site.status("ada@example.org") == "unsubscribed"  # the old page cannot resume

    # The page after the unsubscribe offers a fresh manage link: that one resumes.
    fresh = re.search(
        r'href="https://digest\.example\.org(/manage\?token=[^"]+)"', done.get_data(as_text=True)
    )
    assert fresh, done.get_data(as_text=True)
    again = site.client.get(fresh.group(1).replace("&amp;", "&"))
    assert again.status_code == 200
    html = again.get_data(as_text=True)
    resume = {"token": field(html, "token"), "csrf": field(html, "csrf"), "action": "resume"}
    assert site.client.post("/manage", data=resume).status_code == 200
    assert site.status("ada@example.org") == "active"
    assert site.client.get(local(old.manage_url)).status_code == 410  # still retired


def test_manage_links_expire_after_manage_link_days(write_config, arxiv_api: str) -> None:  # type: ignore[no-untyped-def]
    text = CONFIG.format(per_ip=5, per_address=5, api=arxiv_api)
    path = write_config(text.replace("web:\n", "web:\n  manage_link_days: 0.00001\n"))  # 0.86 s
    config = load_config(path)
    store = open_configured_store(config)
    try:
        client = create_app(config, store).test_client()
        link = letterhead(config).links("ada@example.org").manage_url
        assert client.get(local(link)).status_code == 200
        time.sleep(1.5)
        expired = client.get(local(link))
        assert expired.status_code == 410
        assert "every digest carries a fresh one" in expired.get_data(as_text=True)
    finally:
        store.close()


def test_a_stranger_cannot_replace_a_pending_sign_up(site: Site) -> None:
    mine = site.client.post("/subscribe", data=SIGN_UP)
    assert mine.status_code == 200
    theirs = site.client.post(
        "/subscribe",
        data=SIGN_UP
        | {
            "name": "Mallory <mallory@evil.example>",
            "topic-0-keywords": "casino bonus",
            "topic-0-categories": "",
            "topic-0-papers": "",
            "timezone": "Asia/Tokyo",
        },
        environ_base={"REMOTE_ADDR": "192.0.2.66"},
    )
    assert theirs.status_code == 200
    first, second = site.mails("bob@example.org")  # a new confirmation for each sign-up
    for mail in (first, second):
        assert mail["To"] == "bob@example.org"  # no name a stranger typed in our header
        assert "Mallory" not in mail.as_string()
    token = urlsplit(site.link_in(first, "confirm")).query.removeprefix("token=")
    assert site.client.post("/confirm", data={"token": token}).status_code == 200
    (bob,) = [
        p for p in active_subscribers(site.config, site.store) if p.email == "bob@example.org"
    ]
    assert bob.name == "Bob" and bob.timezone == "Europe/Paris"  # the profile in Bob's link
    assert [k.text for k in bob.topics[0].keywords] == ["diffusion models", "score matching"]
