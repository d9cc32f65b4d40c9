"""The feedback pages: "more like this" and "not for me" from a digest, and forgetting marks.

    GET  /feedback/more, /feedback/less   a page with one button; records nothing (mail
                                          scanners fetch every link of a message)
    POST /feedback/more, /feedback/less   records the mark the link carries, says so, and
                                          links to the manage page where it can be undone
    POST /feedback/forget                 from the manage page (its token and CSRF field):
                                          forget one mark, or all of them

A feedback link's token is signed for one subscriber, one paper and one purpose ("more" or
"less", see `digest.mail.tokens`): a forged, altered or cross-purpose token is refused with
400 and records nothing; an unsubscribe since the digest was sent retires it (410).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable

from flask import Flask, Response, request

from digest.mail.tokens import FEEDBACK, FeedbackToken, TokenError, read_feedback_token
from digest.store.feedback import FeedbackStore
from digest.store.subscribers import SubscriberStore
from digest.subscribe import Entry, find
from digest.subscribe.feedback import FeedbackError, TopicMarks, by_topic, record_feedback
from digest.web.app import CSRF_COOKIE, _BadLink, _Pages, _Site

ASK = {
    "more": ("More like this?", "Yes, more like this"),
    "less": ("Not for me?", "Yes, not for me"),
}


def add_feedback_pages(app: Flask, site: _Site, pages: _Pages) -> None:
    """Register the feedback routes on the app."""
    views = _FeedbackPages(site, pages)
    for purpose in FEEDBACK:
        app.add_url_rule(
            f"/feedback/{purpose}",
            f"feedback_{purpose}",
            views.vote_view(purpose),
            methods=["GET", "POST"],
        )
    app.add_url_rule("/feedback/forget", "feedback_forget", views.forget, methods=["POST"])


def feedback_for(site: _Site, entry: Entry) -> list[TopicMarks]:
    """What the manage page lists: the subscriber's marks per topic, their topics first."""
    marks = FeedbackStore(site.store).of(entry.email)
    return by_topic(marks, [t.name for t in entry.profile.topics])


class _FeedbackPages:
    def __init__(self, site: _Site, pages: _Pages) -> None:
        self.site, self.pages = site, pages

    def vote_view(self, purpose: str) -> Callable[[], Response]:
        def view() -> Response:
            return self.vote(purpose)

        return view

    def _token(self, purpose: str, token: str | None) -> FeedbackToken:
        if not token:
            raise _BadLink("this link is incomplete: copy the whole link from the email")
        try:
            found = read_feedback_token(self.site.head.secret, purpose, token)
        except TokenError as e:
            raise _BadLink(str(e)) from e
        if found.generation != SubscriberStore(self.site.store).link_generation(found.email):
            raise _BadLink(
                "this link no longer works: you unsubscribed after this digest was sent", 410
            )
        return found

    def vote(self, purpose: str) -> Response:
        site = self.site
        token = request.args.get("token") or request.form.get("token")
        said = self._token(purpose, token)
        if find(site.config, site.store, said.email) is None:
            raise _BadLink("there is no subscription for this link", 404)
        title, button = ASK[purpose]
        if request.method == "GET":
            paper = site.store.get_papers([said.paper]).get(said.paper)
            return self.pages._page(
                "feedback_ask.html",
                purpose=purpose,
                title=title,
                button=button,
                paper_title=paper.title if paper else said.paper,
                topic=said.topic,
                token=token,
            )
        try:
            paper, _ = record_feedback(
                site.store, said.email, said.paper, purpose, said.topic, site.clock()
            )
        except FeedbackError as e:
            raise _BadLink(str(e), 410) from e
        return self.pages._page(
            "feedback_done.html",
            purpose=purpose,
            paper_title=paper.title,
            topic=said.topic,
            manage_link=site.link("manage", "manage", said.email) + "#feedback",
        )

    def forget(self) -> Response:
        sent, kept = request.form.get("csrf", ""), request.cookies.get(CSRF_COOKIE, "")
        if not sent or not kept or not hmac.compare_digest(sent, kept):
            raise _BadLink("this form has expired: open the link from your email again", 403)
        email = self.site.email_in(request.form.get("token"), "manage")
        entry = self.pages._entry(email)
        marks = FeedbackStore(self.site.store)
        paper = request.form.get("paper")
        if request.form.get("action") == "forget_all":
            count = marks.forget(entry.email)
            notice = f"Forgot all feedback ({_marks(count)})."
        elif paper:
            known = {m.paper.id: m for m in marks.of(entry.email)}
            gone = known.get(paper)
            marks.forget(entry.email, paper)
            notice = f"Forgot “{gone.paper.title}”." if gone else "That mark was already gone."
        else:
            raise _BadLink("this form is incomplete: use the buttons on the manage page")
        return self.pages._manage_page(entry, notice=notice)


def _marks(n: int) -> str:
    return f"{n} mark{'s' if n != 1 else ''}"
