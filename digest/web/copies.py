"""A digest where its reader reads: its web copy, their private Atom feed, and the delivery
choices on the manage page.

    GET  /d/<token>            the web copy of one sent digest, from what the ledger recorded
    GET  /feed/<token>.xml     the subscriber's Atom feed (conditional GET: ETag, Last-Modified)
    POST /manage/delivery      feed only, daily or weekly, a new feed link (CSRF as /manage)

A web copy's token names (email, day) and expires after `web.copy_days`; a feed token names the
email and its feed generation, which a reset bumps. A tampered, expired or retired token, or a
digest that was never sent, is a 404 that says nothing about whom it was for.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from flask import Flask, Response, make_response, render_template, request

from digest.channels.feed import SentDigest, atom_feed
from digest.channels.record import digest_from_record, recorded_ids
from digest.config import WEEKDAYS
from digest.mail.tokens import (
    FeedbackLinks,
    TokenError,
    make_copy_token,
    make_token,
    read_copy_token,
    read_link_token,
)
from digest.models import Digest
from digest.render import Renderer
from digest.store.copies import CopyStore, SentCopy
from digest.store.subscribers import UNSUBSCRIBED, SubscriberStore
from digest.subscribe import find

if TYPE_CHECKING:
    from digest.web.app import _Site

# The copy is a web page: no email client clips it, so no paper is left out.
PAGE_BUDGET = 10**9
FEED_DIGESTS = 60  # at most this many digests in a feed, however long `web.feed_days`
# The copy's own styles are inline (it is the email's HTML); nothing else is allowed in.
COPY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
NOT_FOUND = "There is no digest at this address: the link may be incomplete, altered or expired."


def add_copy_routes(app: Flask, site: _Site) -> None:
    """Answer the web copy, feed and delivery-choice routes on `app`."""
    pages = _CopyPages(site)
    app.add_url_rule("/d/<token>", "web_copy", pages.web_copy, methods=["GET"])
    app.add_url_rule("/feed/<token>.xml", "feed", pages.feed, methods=["GET"])
    app.add_url_rule("/manage/delivery", "delivery", pages.delivery, methods=["POST"])
    app.context_processor(lambda: {"delivery_for": pages.delivery_for})


class _CopyPages:
    def __init__(self, site: _Site) -> None:
        self.site = site
        self.copies = CopyStore(site.store)

    # ------------------------------------------------------------ the web copy

    def web_copy(self, token: str) -> Response:
        site = self.site
        try:
            email, day = read_copy_token(
                site.head.secret, token, int(site.config.web.copy_days * 86400)
            )
        except TokenError:
            return self._not_found()
        copy = self.copies.sent(email, day)
        if copy is None:
            return self._not_found()
        # The reader's "more like this" / "not for me" beside each paper, as in the email (a
        # click still asks before it records); never their manage or unsubscribe link.
        generation = SubscriberStore(site.store).link_generation(email)
        feedback = FeedbackLinks(site.config.base_url, email, generation, site.head.secret)
        rendered = _page_renderer().render(
            self._digest(copy),
            base_url=site.config.base_url,
            always=True,
            web_copy=True,  # it may be forwarded: no one's manage or unsubscribe link
            feedback=feedback.url,
        )
        assert rendered is not None  # always=True renders even an empty digest
        response = make_response(rendered.html, 200)
        response.headers["Content-Security-Policy"] = COPY_POLICY
        response.headers["X-Robots-Tag"] = "noindex"
        return response

    def _digest(self, copy: SentCopy) -> Digest:
        papers = self.site.store.get_papers(recorded_ids(copy.content))
        return digest_from_record(
            copy.content, name=copy.subscriber, email=copy.email, day=copy.day, papers=papers
        )

    # ------------------------------------------------------------ the feed

    def feed(self, token: str) -> Response:
        site = self.site
        try:
            email, generation = read_link_token(site.head.secret, "feed", token)
        except TokenError:
            return self._not_found()
        entry = find(site.config, site.store, email)
        choices = self.copies.choices(email)
        if entry is None or entry.status == UNSUBSCRIBED or generation != choices.feed_generation:
            return self._not_found()
        since = site.clock().date() - timedelta(days=site.config.web.feed_days)
        copies = self.copies.recent(entry.email, since, FEED_DIGESTS)
        # The validators come from what was sent (not the body, whose web copy links are signed
        # afresh): a new digest, a re-recorded one or a new name changes them.
        seen = [entry.profile.name, token] + [f"{c.day}|{c.sent_at}|{c.subject}" for c in copies]
        etag = '"' + hashlib.sha256("\n".join(seen).encode("utf-8")).hexdigest()[:32] + '"'
        modified = max((c.sent_at for c in copies if c.sent_at is not None), default=None)
        if _not_modified(etag, modified):
            response = make_response("", 304)
            return _feed_headers(response, etag, modified)
        sent = [
            SentDigest(self._digest(c), c.sent_at or site.clock(), self._copy_url(c))
            for c in copies
        ]
        body = atom_feed(
            sent,
            owner=entry.email,
            title=f"Paper digest for {entry.profile.name}",
            feed_url=f"{site.root}/feed/{token}.xml",
            site_url=f"{site.root}/",
        )
        response = make_response(body, 200)
        response.headers["Content-Type"] = "application/atom+xml; charset=utf-8"
        return _feed_headers(response, etag, modified)

    def _copy_url(self, copy: SentCopy) -> str:
        return f"{self.site.root}/d/{make_copy_token(self.site.head.secret, copy.email, copy.day)}"

    # ------------------------------------------------------------ the manage page's part

    def delivery_for(self, email: str) -> dict[str, Any]:
        """What the manage page shows of how this person takes their digest."""
        entry = find(self.site.config, self.site.store, email)
        choices = self.copies.choices(email)
        token = make_token(self.site.head.secret, "feed", email, choices.feed_generation)
        profile = entry.profile if entry is not None else None
        return {
            "feed_url": f"{self.site.root}/feed/{token}.xml",
            "feed_only": bool(profile.feed_only) if profile else False,
            "frequency": profile.frequency if profile else "daily",
            "weekly_on": profile.weekly_on if profile else "mon",
            "weekdays": WEEKDAYS,
        }

    def delivery(self) -> Response:
        site = self.site
        sent, kept = request.form.get("csrf", ""), request.cookies.get("digest_csrf", "")
        if not sent or not kept or not hmac.compare_digest(sent, kept):
            return self._message(403, "This form has expired: open the link from your email again.")
        token = request.form.get("token")
        email = site.email_in(token, "manage")  # a bad link: the app's own 4xx page
        entry = find(site.config, site.store, email)
        if entry is None:
            return self._not_found()
        now = site.clock()
        if request.form.get("action") == "reset_feed":
            self.copies.reset_feed(entry.email, now)
        else:
            frequency = request.form.get("frequency", "daily")
            weekly_on = request.form.get("weekly_on", "mon")
            if frequency not in ("daily", "weekly") or weekly_on not in WEEKDAYS:
                return self._message(400, "Choose daily or weekly, and a day of the week.")
            feed_only = request.form.get("feed_only") == "yes"
            self.copies.set_choices(
                entry.email, now, feed_only=feed_only, frequency=frequency, weekly_on=weekly_on
            )
        back = f"{site.root}/manage?" + urlencode({"token": token or ""}) + "#delivery"
        response = make_response("", 303)
        response.headers["Location"] = back
        return response

    # ------------------------------------------------------------ answers

    def _not_found(self) -> Response:
        return self._message(404, NOT_FOUND)

    def _message(self, status: int, text: str) -> Response:
        html = render_template(
            "message.html", root=self.site.root, title="This link does not work", text=text
        )
        return make_response(html, status)


def _feed_headers(response: Response, etag: str, modified: datetime | None) -> Response:
    response.headers["ETag"] = etag
    if modified is not None:
        response.headers["Last-Modified"] = format_datetime(modified, usegmt=True)
    # Private, and always revalidated: a reset must not leave a cached copy behind.
    response.headers["Cache-Control"] = "private, no-cache"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


def _not_modified(etag: str, modified: datetime | None) -> bool:
    """RFC 9110: If-None-Match decides when given; else If-Modified-Since."""
    given = request.headers.get("If-None-Match")
    if given is not None:
        return any(tag.strip().removeprefix("W/") in (etag, "*") for tag in given.split(","))
    since = request.headers.get("If-Modified-Since")
    if since is None or modified is None:
        return False
    try:
        when = parsedate_to_datetime(since)
    except (TypeError, ValueError):
        return False
    return when is not None and modified.replace(microsecond=0) <= when


@lru_cache(maxsize=1)
def _page_renderer() -> Renderer:
    return Renderer(size_budget=PAGE_BUDGET)
