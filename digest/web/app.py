"""The subscription pages (Flask). Every link they show or email is built from `base_url`.

    GET  /             the subscribe form
    POST /subscribe    store a pending sign-up and email a confirmation link; the same answer
                       whether or not the address is known; rate-limited per client and address
    GET  /confirm      a page with one button (mail scanners follow links; only people press)
    POST /confirm      the sign-up becomes active with the profile its link carries; the
                       manage page follows
    GET  /manage       edit topics, time and timezone, pause, unsubscribe (signed link)
    POST /manage       the same form sent back (CSRF: a cookie and a form field must agree)
    GET/POST /feedback/…  "more like this" / "not for me" from a digest (see feedback.py)
    GET  /unsubscribe  asks to confirm and changes nothing
    POST /unsubscribe  with List-Unsubscribe=One-Click: unsubscribes, no cookie needed, 200
                       (RFC 8058)

Links carry tokens signed by `digest.mail.tokens`, salted per purpose: a tampered, expired or
cross-purpose token gets a 4xx page and changes nothing.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from flask import Flask, Response, make_response, render_template, request

from digest.config import WEEKDAYS, Config
from digest.config.arxiv import categories, category_label
from digest.errors import DigestError
from digest.mail.letterhead import Letterhead, letterhead, make_transport
from digest.mail.tokens import TokenError, make_token, read_link_token, read_profile_token
from digest.mail.transport import Transport
from digest.render import templates_dir
from digest.store import Store, utcnow
from digest.store.subscribers import ACTIVE, PAUSED, UNSUBSCRIBED, SubscriberStore
from digest.subscribe import (
    Entry,
    Liked,
    SignUp,
    SubscriptionError,
    check_liked,
    confirm_subscription,
    find,
    look_up_liked,
    pending_profile,
    request_subscription,
    set_status,
    update_subscription,
)
from digest.subscribe.zones import schedule_in_words, zone_names
from digest.web.catch import Catch, todays_catch
from digest.web.copies import add_copy_routes
from digest.web.forms import (
    Form,
    field_problems,
    form_for,
    manage_changes,
    problem_labels,
    read_form,
    subscribe_changes,
    with_blank_topic,
    without_topic,
)
from digest.web.mailer import notice_email, send_email
from digest.web.ratelimit import RateLimiter, client_address, mailbox_key

log = logging.getLogger(__name__)

CSRF_COOKIE = "digest_csrf"
ONE_CLICK = ("List-Unsubscribe", "One-Click")
_TIMEZONES = zone_names()
_CATEGORY_LABELS = sorted((category_label(c) for c in categories()), key=str.lower)


class _BadLink(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class _Site:
    """What every page needs: the config, the store, how to sign links and send mail."""

    config: Config
    store: Store
    head: Letterhead
    transport: Transport
    clock: Callable[[], datetime]
    limiter: RateLimiter

    @property
    def root(self) -> str:
        return self.config.base_url.rstrip("/")

    def token(self, purpose: str, email: str) -> str:
        manage = purpose == "manage"
        generation = SubscriberStore(self.store).link_generation(email) if manage else 0
        return make_token(self.head.secret, purpose, email, generation)

    def link(self, path: str, purpose: str, email: str) -> str:
        return f"{self.root}/{path}?" + urlencode({"token": self.token(purpose, email)})

    def signup_in(self, token: str | None, max_age: float) -> tuple[str, dict[str, Any] | None]:
        """The email and the profile a confirmation link carries."""
        if not token:
            raise _BadLink("this link is incomplete: copy the whole link from the email")
        try:
            return read_profile_token(self.head.secret, "confirm", token, int(max_age))
        except TokenError as e:
            raise _BadLink(str(e)) from e

    def email_in(self, token: str | None, purpose: str, max_age: float | None = None) -> str:
        if not token:
            raise _BadLink("this link is incomplete: copy the whole link from the email")
        if purpose == "manage":  # manage links expire, and an unsubscribe retires older ones
            max_age = self.config.web.manage_link_days * 86400
        try:
            email, generation = read_link_token(
                self.head.secret, purpose, token, None if max_age is None else int(max_age)
            )
        except TokenError as e:
            if purpose == "manage" and "expired" in str(e):
                raise _BadLink(
                    "this link has expired: use the one in your latest digest (every digest "
                    f"carries a fresh one), or subscribe again at {self.root}/",
                    410,
                ) from e
            raise _BadLink(str(e)) from e
        if purpose == "manage" and generation != SubscriberStore(self.store).link_generation(email):
            raise _BadLink(
                "this link no longer works: you unsubscribed after it was sent. To get digests "
                f"again, subscribe at {self.root}/",
                410,
            )
        return email


def create_app(
    config: Config,
    store: Store,
    *,
    transport: Transport | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> Flask:
    """The web app over `store`; mail goes through `transport` (default: as configured)."""
    folder = templates_dir() / "web"
    app = Flask(
        __name__,
        template_folder=str(folder),
        static_folder=str(folder / "static"),
        static_url_path="/static",
    )
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    site = _Site(
        config,
        store,
        letterhead(config),
        transport or make_transport(config),
        clock,
        RateLimiter(store, clock),
    )
    pages = _Pages(site)
    app.add_url_rule("/", "home", pages.home, methods=["GET"])
    app.add_url_rule("/subscribe", "subscribe", pages.subscribe, methods=["GET", "POST"])
    app.add_url_rule("/confirm", "confirm", pages.confirm, methods=["GET", "POST"])
    app.add_url_rule("/manage", "manage", pages.manage, methods=["GET", "POST"])
    app.add_url_rule("/unsubscribe", "unsubscribe", pages.unsubscribe, methods=["GET", "POST"])
    add_copy_routes(app, site)
    from digest.web.feedback import add_feedback_pages  # it builds on this module's pages

    add_feedback_pages(app, site, pages)
    app.after_request(_secure_headers)
    app.register_error_handler(_BadLink, pages.bad_link)
    app.register_error_handler(DigestError, pages.failure)
    return app


def _secure_headers(response: Response) -> Response:
    # Links carry tokens: never leak them in a Referer, never cache a page made for one person.
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers.setdefault(  # a web copy sets its own (its styles are inline)
        "Content-Security-Policy",
        "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    )
    return response


class _Pages:
    def __init__(self, site: _Site) -> None:
        self.site = site

    # ------------------------------------------------------------ subscribing

    def home(self) -> Response:
        return self._page("subscribe.html", form=Form(timezone=""))

    def subscribe(self) -> Response:
        if request.method == "GET":
            return self.home()
        site, web = self.site, self.site.config.web
        now = site.clock()
        form = read_form(request.form)
        client = client_address(
            request.remote_addr, request.headers.get("X-Forwarded-For"), web.trusted_proxies
        )
        if not site.limiter.allow(f"ip:{client}", web.subscribe_per_ip_per_hour, _HOUR):
            busy = self._page(
                "message.html",
                429,
                title="Too many requests",
                text="Too many sign-ups from your network. Please try again in an hour.",
            )
            busy.headers["Retry-After"] = str(int(_HOUR.total_seconds()))
            return busy
        try:
            email, changes = subscribe_changes(form)
            liked = look_up_liked(site.config, site.store, changes.topics or ())
        except SubscriptionError as e:
            return self._page("subscribe.html", 400, form=form, problems=e.problems)
        self._tidy(now)
        # Past the per-address limit nothing is sent, and the page says the same as always.
        key = f"address:{mailbox_key(email)}"
        if site.limiter.allow(key, web.emails_per_address_per_day, _DAY):
            profile = pending_profile(site.config, site.store, email, changes)
            outcome = request_subscription(site.config, site.store, email, changes, now=now)
            self._send_notice(outcome, email, profile, now)
        return self._page(
            "check_inbox.html", email=email, hours=_hours(web.confirm_hours), liked=liked
        )

    def _send_notice(
        self, outcome: SignUp, email: str, profile: dict[str, Any], now: datetime
    ) -> None:
        site = self.site
        if outcome is SignUp.CONFIRM:
            template, subject = "email_confirm", "Confirm your paper digest subscription"
            token = make_token(site.head.secret, "confirm", email, profile=profile)
            link = f"{site.root}/confirm?" + urlencode({"token": token})
        else:
            template, subject = "email_already", "You already get the paper digest"
            link = site.link("manage", "manage", email)
        context = {
            "link": link,
            "hours": _hours(site.config.web.confirm_hours),
            "root": site.root,
            "subject": subject,
        }
        message = notice_email(
            site.head,
            to_name="",  # whoever filled in the form chose the name: not in a header of ours
            to_email=email,
            subject=subject,
            text=render_template(f"{template}.txt", **context),
            html=render_template(f"{template}.html", **context),
            now=now,
        )
        send_email(site.transport, message, site.head.sender.addr_spec, email)

    def _tidy(self, now: datetime) -> None:
        hours = timedelta(hours=self.site.config.web.confirm_hours)
        SubscriberStore(self.site.store).purge_unconfirmed(now - hours)
        self.site.limiter.forget_before(now - _DAY)

    def confirm(self) -> Response:
        site = self.site
        max_age = site.config.web.confirm_hours * 3600
        if request.method == "GET":
            token = request.args.get("token")
            email = site.email_in(token, "confirm", max_age)
            return self._page("confirm.html", email=email, token=token)
        email, profile = site.signup_in(request.form.get("token"), max_age)
        entry = confirm_subscription(
            site.config, site.store, email, profile=profile, now=site.clock()
        )
        if entry is None:
            raise _BadLink("there is no sign-up waiting for this link: subscribe again", 410)
        return self._manage_page(
            entry, notice="You are subscribed: your first digest comes at your send time."
        )

    # ------------------------------------------------------------ managing

    def manage(self) -> Response:
        site = self.site
        if request.method == "GET":
            entry = self._entry(site.email_in(request.args.get("token"), "manage"))
            return self._manage_page(entry)
        sent = request.form.get("csrf", "")
        kept = request.cookies.get(CSRF_COOKIE, "")
        if not sent or not kept or not hmac.compare_digest(sent, kept):
            raise _BadLink("this form has expired: open the link from your email again", 403)
        entry = self._entry(site.email_in(request.form.get("token"), "manage"))
        action = request.form.get("action", "save")
        now = site.clock()
        if action in _STATUS_ACTIONS:
            status, notice = _STATUS_ACTIONS[action]
            entry = set_status(site.config, site.store, entry.email, status, now=now)
            return self._manage_page(entry, notice=notice)
        form = read_form(request.form, request.form.getlist("days"))
        keep = list(entry.profile.topics)  # what the form does not show, by position
        if action.startswith("remove-") and action[7:].isdigit():
            gone = int(action[7:])
            form = without_topic(form, gone)
            keep = [t for i, t in enumerate(keep) if i != gone]
        if action == "preview":  # "What would this catch today?": ranked, not saved
            try:
                changes = manage_changes(form, keep, entry.email)
            except SubscriptionError as e:
                return self._manage_page(entry, form=with_blank_topic(form), problems=e.problems)
            catch = todays_catch(site.config, site.store, entry, changes, now)
            return self._manage_page(entry, form=with_blank_topic(form), catch=catch)
        try:
            changes = manage_changes(form, keep, entry.email)
            liked = check_liked(site.config, site.store, entry.email, changes)
            entry = update_subscription(site.config, site.store, entry.email, changes, now=now)
        except SubscriptionError as e:
            return self._manage_page(entry, form=with_blank_topic(form), problems=e.problems)
        return self._manage_page(entry, notice="Saved.", liked=liked)

    def _entry(self, email: str) -> Entry:
        entry = find(self.site.config, self.site.store, email)
        if entry is None:
            raise _BadLink("there is no subscription for this link", 404)
        return entry

    def _manage_page(
        self,
        entry: Entry,
        *,
        form: Form | None = None,
        notice: str = "",
        problems: list[str] | None = None,
        liked: list[Liked] | None = None,
        catch: Catch | None = None,
    ) -> Response:
        from digest.web.feedback import feedback_for

        csrf = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
        p = entry.profile
        try:
            when = schedule_in_words(p.timezone, p.send_at, p.days, self.site.clock())
        except ValueError:  # a zone this machine's tz database lacks: the form says so on save
            when = ""
        response = self._page(
            "manage.html",
            400 if problems else 200,
            entry=entry,
            form=form or form_for(entry),
            token=self.site.token("manage", entry.email),
            csrf=csrf,
            notice=notice,
            problems=problems or [],
            liked=liked or [],
            weekdays=WEEKDAYS,
            schedule_words=when,
            catch=catch,
            unsubscribe_link=self.site.link("unsubscribe", "unsubscribe", entry.email),
            feedback=feedback_for(self.site, entry),
        )
        response.set_cookie(
            CSRF_COOKIE,
            csrf,
            httponly=True,
            samesite="Strict",
            secure=self.site.root.startswith("https:"),
        )
        return response

    # ------------------------------------------------------------ leaving

    def unsubscribe(self) -> Response:
        site = self.site
        token = request.args.get("token") or request.form.get("token")
        email = site.email_in(token, "unsubscribe")
        if request.method == "GET":
            return self._page("unsubscribe.html", email=email, token=token, one_click=ONE_CLICK)
        if not _is_one_click():
            raise _BadLink("an unsubscribe request must say List-Unsubscribe=One-Click")
        with contextlib.suppress(SubscriptionError):  # unknown: they get nothing either way
            set_status(site.config, site.store, email, UNSUBSCRIBED, now=site.clock())
        return self._page(
            "unsubscribed.html", email=email, manage_link=site.link("manage", "manage", email)
        )

    # ------------------------------------------------------------ pages

    def _page(self, template: str, status: int = 200, **context: Any) -> Response:
        # Each problem goes beside its field (`errors`), and all of them in the summary on top.
        errors = field_problems(context.pop("problems", None) or [])
        html = render_template(
            template,
            root=self.site.root,
            timezones=_TIMEZONES,
            category_labels=_CATEGORY_LABELS,
            errors=errors,
            problems=problem_labels(errors),
            **context,
        )
        return make_response(html, status)

    def bad_link(self, error: _BadLink) -> Response:
        return self._page(
            "message.html", error.status, title="This link does not work", text=str(error)
        )

    def failure(self, error: DigestError) -> Response:
        log.error("%s", error)
        return self._page(
            "message.html",
            503,
            title="Something went wrong",
            text="We could not do that just now. Please try again in a few minutes.",
        )


_HOUR = timedelta(hours=1)
_DAY = timedelta(days=1)
_STATUS_ACTIONS = {
    "pause": (PAUSED, "Paused: no digests until you resume."),
    "resume": (ACTIVE, "Your digests are back on."),
    "unsubscribe": (UNSUBSCRIBED, "You are unsubscribed. You will get no more digests."),
}


def _is_one_click() -> bool:
    """The RFC 8058 body, as a form (urlencoded or multipart) or, from a sloppy client, raw."""
    if request.form.get(ONE_CLICK[0]) == ONE_CLICK[1]:
        return True
    return request.get_data(cache=True).strip() == f"{ONE_CLICK[0]}={ONE_CLICK[1]}".encode()


def _hours(hours: float) -> str:
    return f"{hours:g} hours" if hours != 1 else "1 hour"
