""" "More like this" / "not for me" from a real sent digest: the signed links in both parts, a
link scanner that fetches every link and records nothing, the one-button page that does record,
idempotent and replaced marks, refused forgeries, the manage page that lists and forgets them,
and `digest feedback` that lists, exports and clears them. One world: a store holding 100
recorded arXiv papers, two config.yaml people and one web subscriber, digests sent to the
outbox by the real send path."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from flask.testing import FlaskClient

from digest.config import Config, load_config
from digest.mail.letterhead import letterhead
from digest.mail.tokens import make_feedback_token, make_token
from digest.pipeline import open_configured_store, send_digests
from digest.sources.arxiv import parse_api
from digest.store import Store, utcnow
from digest.store.feedback import FeedbackStore
from digest.subscribe import Changes, find, subscribe, topic_from_spec
from digest.web import create_app

RECORDED = "arxiv_api/query_all-testing_start0_max100.xml"
ROOT = "https://digest.example.org"
CONFIG = f"""
data_dir: ./data
base_url: {ROOT}
subscribers:
  - name: Ada
    email: ada@example.org
    max_papers: 5
    topics:
      - name: Software testing
        keywords: ["metamorphic testing", "software testing", "test generation"]
  - name: Bob
    email: bob@example.org
    max_papers: 5
    topics:
      - name: Software testing
        keywords: ["metamorphic testing", "software testing", "test generation"]
"""
CY = "Cy@Example.org"  # a web subscriber, spelled as they typed it


@dataclass
class World:
    path: Path  # config.yaml
    config: Config
    store: Store
    client: FlaskClient
    mails: dict[str, EmailMessage]  # by recipient, lower case

    def links(self, email: str) -> list[str]:
        """Every link of the email's HTML part (href) and text part, in order, deduplicated."""
        mail = self.mails[email.lower()]
        html, text = mail.get_body(("html",)), mail.get_body(("plain",))
        assert html is not None and text is not None
        found = re.findall(r'href="([^"]+)"', html.get_content())
        found += re.findall(r"https?://\S+", text.get_content())
        return list(dict.fromkeys(u.replace("&amp;", "&") for u in found))

    def feedback_links(self, email: str, purpose: str) -> list[str]:
        return [u for u in self.links(email) if f"/feedback/{purpose}?" in u]

    def marks(self, email: str) -> list[tuple[str, str, str]]:
        return [(m.paper.id, m.vote, m.topic) for m in FeedbackStore(self.store).of(email)]


def local(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path or '/'}?{parts.query}"


def token_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["token"][0]


@pytest.fixture
def world(write_config, real: Path) -> Iterator[World]:  # type: ignore[no-untyped-def]
    path = write_config(CONFIG)
    config = load_config(path)
    store = open_configured_store(config)
    papers, _ = parse_api((real / RECORDED).read_bytes())
    # Some upvoted, so that a digest has a trending section too.
    papers = [replace(p, upvotes=1) if i % 5 == 0 else p for i, p in enumerate(papers)]
    store.save_papers(papers, now=utcnow())
    topic = topic_from_spec("Software testing: metamorphic testing, software testing")
    subscribe(config, store, CY, Changes(name="Cy", topics=(topic,)), origin="web")
    report = send_digests(config, store)
    assert report.delivery.sent == 3, report
    mails = {}
    for eml in (config.data_dir / "outbox").glob("*.eml"):
        message = message_from_bytes(eml.read_bytes(), policy=policy.default)
        assert isinstance(message, EmailMessage)
        mails[message["To"].addresses[0].addr_spec.lower()] = message
    yield World(path, config, store, create_app(config, store).test_client(), mails)
    store.close()


def test_every_paper_has_both_links_in_both_parts_signed_for_its_reader(world: World) -> None:
    mail = world.mails["ada@example.org"]
    html, text = mail.get_body(("html",)), mail.get_body(("plain",))
    assert html is not None and text is not None
    cards = html.get_content().count('class="ph"')
    also = html.get_content().count('class="al ao"')  # each followed by its links' row
    trending = html.get_content().count('class="tr to"')  # each ended by its links' row
    assert cards == 5 and also >= 1 and trending >= 1
    papers = cards + also + trending  # each with its two links
    assert len(world.feedback_links("ada@example.org", "more")) == papers
    assert len(world.feedback_links("ada@example.org", "less")) == papers
    assert text.get_content().count("Not for me: https://") == papers
    assert text.get_content().count("More like this: https://") == papers
    # The same paper, for two readers: two different tokens.
    ada = set(map(token_of, world.feedback_links("ada@example.org", "less")))
    bob = set(map(token_of, world.feedback_links("bob@example.org", "less")))
    assert ada and bob and not ada & bob


def test_a_card_reads_title_why_summary_then_the_feedback_links_in_both_parts(
    world: World,
) -> None:
    mail = world.mails["ada@example.org"]
    html, text = mail.get_body(("html",)), mail.get_body(("plain",))
    assert html is not None and text is not None
    page = html.get_content()
    cards = page.split('class="ph"')[1:6]  # the five cards (the last one runs on: cut it)
    cards[-1] = cards[-1][: cards[-1].index("</tr>", cards[-1].index("Not for me")) + 5]
    for card in cards:
        why, summary = card.index('class="why"'), card.index('class="sum"')
        more, less = card.index(">More like this<"), card.index(">Not for me<")
        assert why < summary < more < less, card
        # The feedback row closes the card (its bottom border); the summary's row does not.
        assert re.search(r'<td class="pf" style="[^"]*border-bottom:1px solid', card), card
        assert 'class="pe"' not in card, card
    plain = text.get_content()
    blocks = plain.split("\n* ")[1:6]
    for block in blocks:
        lines = block.splitlines()
        why = next(i for i, line in enumerate(lines) if line.startswith("  Why: "))
        more = next(i for i, line in enumerate(lines) if line.startswith("  More like this: "))
        pdf = next(i for i, line in enumerate(lines) if line.startswith("  PDF: "))
        # Title, why, the summary's lines, its links, and last what to do about the paper.
        assert why + 1 < pdf < more, block
        assert lines[more + 1].startswith("  Not for me: "), block


def test_a_link_scanner_that_gets_every_link_of_a_sent_digest_records_nothing(
    world: World,
) -> None:
    for email in ("ada@example.org", CY):
        links = [u for u in world.links(email) if u.startswith(ROOT)]
        assert len(links) >= 12  # 10 feedback links, manage, unsubscribe, the site
        for url in links:
            answer = world.client.get(local(url))
            assert answer.status_code == 200, (url, answer.status_code)
    assert world.marks("ada@example.org") == [] and world.marks(CY) == []
    assert find(world.config, world.store, "ada@example.org").status == "active"  # type: ignore[union-attr]
    assert find(world.config, world.store, CY).status == "active"  # type: ignore[union-attr]


def test_not_for_me_asks_then_records_once_and_more_like_this_replaces_it(world: World) -> None:
    less = world.feedback_links("ada@example.org", "less")[1]
    page = world.client.get(local(less))
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "Not for me?" in text and "<script" not in text
    assert re.search(r'<form method="post" action="[^"]*/feedback/less">', text)
    assert world.marks("ada@example.org") == []

    token = token_of(less)
    done = world.client.post("/feedback/less", data={"token": token})
    assert done.status_code == 200 and "Not for me: noted" in done.get_data(as_text=True)
    (mark,) = FeedbackStore(world.store).of("ada@example.org")
    assert (mark.vote, mark.topic) == ("less", "Software testing")
    first_time = mark.created_at
    assert world.client.post("/feedback/less", data={"token": token}).status_code == 200
    (again,) = FeedbackStore(world.store).of("ada@example.org")
    assert again.created_at == first_time  # clicking twice is one mark

    more = world.feedback_links("ada@example.org", "more")[1]  # the same paper's other link
    assert world.client.post("/feedback/more", data={"token": token_of(more)}).status_code == 200
    assert world.marks("ada@example.org") == [(mark.paper.id, "more", "Software testing")]
    assert world.marks("bob@example.org") == []


def test_a_web_subscriber_marks_under_their_address_however_spelled(world: World) -> None:
    less = world.feedback_links(CY, "less")[0]
    assert world.client.post("/feedback/less", data={"token": token_of(less)}).status_code == 200
    assert [vote for _, vote, _ in world.marks("cy@example.org")] == ["less"]
    assert [vote for _, vote, _ in world.marks("CY@EXAMPLE.ORG")] == ["less"]


def _resigned_payload(token: str, email: str) -> str:
    """Ada's token with another address in its payload and Ada's signature kept."""
    body, signature = token.rsplit(".", 1)
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload[0] = email
    swapped = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode())
    return f"{swapped.rstrip(b'=').decode()}.{signature}"


def test_forged_cross_subscriber_and_cross_purpose_tokens_are_refused_and_record_nothing(
    world: World,
) -> None:
    secret = letterhead(world.config).secret
    more = token_of(world.feedback_links("ada@example.org", "more")[0])
    paper = json.loads(base64.urlsafe_b64decode(more.split(".")[0] + "==="))[1]
    bad = {
        "forged signature": ("more", more[:-3] + ("AAA" if not more.endswith("AAA") else "BBB")),
        "signed with another key": (
            "more",
            make_feedback_token(
                "another-secret-key-0123456789",
                "more",
                "ada@example.org",
                paper,
                "Software testing",
            ),
        ),
        "cross-subscriber": ("more", _resigned_payload(more, "bob@example.org")),
        "cross-purpose (more at less)": ("less", more),
        "a manage token": ("more", make_token(secret, "manage", "ada@example.org")),
        "an unsubscribe token": ("less", make_token(secret, "unsubscribe", "bob@example.org")),
        "no token": ("more", ""),
    }
    for what, (purpose, token) in bad.items():
        got = world.client.get(f"/feedback/{purpose}", query_string={"token": token})
        posted = world.client.post(f"/feedback/{purpose}", data={"token": token})
        assert (got.status_code, posted.status_code) == (400, 400), what
    # ... and a feedback token is no manage or unsubscribe token either.
    assert world.client.get("/manage", query_string={"token": more}).status_code == 400
    assert world.client.get("/unsubscribe", query_string={"token": more}).status_code == 400
    for email in ("ada@example.org", "bob@example.org", CY):
        assert world.marks(email) == []


def test_an_unsubscribe_retires_the_feedback_links_of_earlier_digests(world: World) -> None:
    less = token_of(world.feedback_links("bob@example.org", "less")[0])
    unsubscribe = next(u for u in world.links("bob@example.org") if "/unsubscribe?" in u)
    answer = world.client.post(local(unsubscribe), data={"List-Unsubscribe": "One-Click"})
    assert answer.status_code == 200
    assert world.client.post("/feedback/less", data={"token": less}).status_code == 410
    assert world.marks("bob@example.org") == []


def test_the_manage_page_lists_what_was_learned_and_forgets_one_or_all(world: World) -> None:
    client = world.client
    for purpose, i in (("more", 0), ("less", 1), ("less", 2)):
        url = world.feedback_links("ada@example.org", purpose)[i]
        assert client.post(f"/feedback/{purpose}", data={"token": token_of(url)}).status_code == 200
    marks = FeedbackStore(world.store).of("ada@example.org")
    manage = next(u for u in world.links("ada@example.org") if "/manage?" in u)
    page = client.get(local(manage)).get_data(as_text=True)
    section = page[page.index('id="feedback"') :]
    assert "What your digest learned" in section and "Software testing" in section
    assert section.index("More like this") < section.index("Not for me")
    for mark in marks:
        assert mark.paper.title.split()[0] in section
    csrf = re.search(r'name="csrf" value="([^"]*)"', page)
    token = re.search(r'name="token" value="([^"]*)"', page)
    assert csrf and token
    form = {"token": token.group(1), "csrf": csrf.group(1)}

    # No CSRF field: refused, nothing forgotten.
    refused = client.post(
        "/feedback/forget", data={"token": token.group(1), "paper": marks[0].paper.id}
    )
    assert refused.status_code == 403 and len(world.marks("ada@example.org")) == 3

    gone = client.post("/feedback/forget", data=form | {"paper": marks[1].paper.id})
    assert gone.status_code == 200 and "Forgot" in gone.get_data(as_text=True)
    assert [m[0] for m in world.marks("ada@example.org")] == [marks[0].paper.id, marks[2].paper.id]

    everything = client.post("/feedback/forget", data=form | {"action": "forget_all"})
    assert "Forgot all feedback (2 marks)" in everything.get_data(as_text=True)
    assert world.marks("ada@example.org") == []
    assert "Nothing yet" in everything.get_data(as_text=True)


def test_a_mark_reaches_that_readers_next_ranking_and_no_one_elses(world: World) -> None:
    from digest.pipeline import active_subscribers, plan_run

    people = [p for p in active_subscribers(world.config, world.store) if p.name in ("Ada", "Bob")]
    now = utcnow()

    def picked() -> dict[str, list[str]]:
        run = plan_run(world.config, world.store, people, now=now, papers=world_papers)
        return {
            p.name: [r.paper.id for r in run.ranking(p, p.local_date(now)).picked] for p in people
        }

    world_papers = world.store.papers_first_seen(now.replace(year=2000))
    before = picked()
    assert before["Ada"] == before["Bob"]  # the same topic
    less = world.feedback_links("ada@example.org", "less")[0]
    world.client.post("/feedback/less", data={"token": token_of(less)})
    ((gone, _, _),) = world.marks("ada@example.org")
    after = picked()
    assert gone in before["Ada"] and gone not in after["Ada"]
    assert after["Bob"] == before["Bob"]
    # `digest tune` reads the marks too, and says what they did.
    from digest.pipeline import tune_subscriber

    ada = next(p for p in people if p.name == "Ada")
    report = tune_subscriber(world.config, world.store, ada, papers=world_papers)
    assert any(line.endswith("(you marked it)") for line in report.feedback)


def test_digest_feedback_lists_exports_the_liked_for_a_library_and_clears(
    world: World, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from digest.cli import cli
    from digest.papers_file import read_papers
    from digest.rank.library import parse_bibtex

    for purpose, i in (("more", 0), ("more", 1), ("less", 2)):
        url = world.feedback_links("ada@example.org", purpose)[i]
        world.client.post(f"/feedback/{purpose}", data={"token": token_of(url)})
    liked = {p for p, vote, _ in world.marks("ada@example.org") if vote == "more"}

    def run(*args: str) -> str:
        result = CliRunner().invoke(cli, ["--config", str(world.path), "feedback", *args])
        assert result.exit_code == 0, result.output
        return result.output

    text = run("Ada@Example.org")
    assert "3 marks" in text and "Software testing" in text
    assert text.count("more like this") == 2 and text.count("not for me") == 1
    listed = json.loads(run("ada@example.org", "--json"))
    assert sorted(m["vote"] for m in listed) == ["less", "more", "more"]
    assert {m["topic"] for m in listed} == {"Software testing"}

    # Both exports read back as a topic's `library:` would read them.
    assert {p.id for p in parse_bibtex(run("ada@example.org", "--bibtex"))} == liked
    (tmp_path / "liked.jsonl").write_text(run("ada@example.org", "--jsonl"), encoding="utf-8")
    assert {p.id for p in read_papers(tmp_path / "liked.jsonl")} == liked

    assert "forgot 3 marks" in run("ada@example.org", "--clear")
    assert world.marks("ada@example.org") == []
    assert "no feedback yet" in run("ada@example.org")
    unknown = CliRunner().invoke(cli, ["--config", str(world.path), "feedback", "x@example.org"])
    assert unknown.exit_code == 1 and "no such subscriber" in str(unknown.exception)


def test_feedback_tokens_are_those_itsdangerous_signs_with_its_own_key_derivation() -> None:
    """The signer derives its key once; links in digests already sent (signed by a `Signer`
    deriving it per call) must keep working, and new ones must be the same bytes."""
    import hashlib

    from itsdangerous import Signer

    from digest.mail.tokens import read_feedback_token

    secret = "a-secret-key-0123456789abcdef"
    token = make_feedback_token(secret, "less", "ada@example.org", "2401.00001", "Testing", 2)
    body = token.rsplit(".", 1)[0].encode("ascii")
    reference = Signer(secret, salt="paper-digest/less", digest_method=hashlib.sha256)
    assert reference.sign(body).decode("ascii") == token
    assert read_feedback_token(secret, "less", reference.sign(body).decode()).generation == 2
    # The payload is json.dumps's, byte for byte, whatever the topic's name holds.
    for topic in ("Testing", 'Ünïcode "quoted" \\ topic', "emoji 😀\ttab"):
        token = make_feedback_token(secret, "more", "ada@example.org", "2401.00001", topic, 0)
        payload = json.dumps(["ada@example.org", "2401.00001", topic, 0], separators=(",", ":"))
        expected = base64.urlsafe_b64encode(payload.encode()).rstrip(b"=").decode()
        assert token.rsplit(".", 1)[0] == expected
