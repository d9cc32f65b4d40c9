"""The command line. Each command parses its options and calls one function of the pipeline;
a `DigestError` becomes one line on stderr and a non-zero exit (`--debug` shows the traceback)."""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import webbrowser
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import click

from digest import __version__
from digest.blas import one_blas_thread
from digest.config import Config, config_path, load_config
from digest.config.advice import keyword_warnings
from digest.config.arxiv import category_problems
from digest.errors import ConfigError, DigestError
from digest.lazy import LazyModule as _LazyModule
from digest.lazy import lazy as _lazy
from digest.memory import limit_malloc_arenas

if TYPE_CHECKING:
    from digest import subscribe as subscriptions
    from digest.check import check_config, check_store
    from digest.mail.ledger import Ledger
    from digest.mail.report import ProgressBar, preview_lines, summary_lines
    from digest.mail.run import SendReport
    from digest.papers_file import read_papers
    from digest.pipeline import (
        SourceReport,
        active_subscribers,
        fetch_all,
        fetch_and_send,
        find_subscriber,
        open_configured_store,
        pick_subscriber,
        preview_channel,
        preview_digest,
        rank_for_subscriber,
        send_digests,
        tune_subscriber,
        watch_tuning,
        write_tuning_page,
    )
    from digest.rank.report import ranking_json, ranking_text
    from digest.store import utcnow
    from digest.tune import format_report
else:
    # Imported when a command first uses them: `digest --help` and `digest check` never load
    # the store, ranking, rendering or mail (seconds of imports), and each command loads only
    # what it runs.
    subscriptions = _LazyModule("digest.subscribe")
    check_config = _lazy("digest.check", "check_config")
    check_store = _lazy("digest.check", "check_store")
    Ledger = _lazy("digest.mail.ledger", "Ledger")
    ProgressBar = _lazy("digest.mail.report", "ProgressBar")
    preview_lines = _lazy("digest.mail.report", "preview_lines")
    summary_lines = _lazy("digest.mail.report", "summary_lines")
    read_papers = _lazy("digest.papers_file", "read_papers")
    active_subscribers = _lazy("digest.pipeline", "active_subscribers")
    fetch_all = _lazy("digest.pipeline", "fetch_all")
    fetch_and_send = _lazy("digest.pipeline", "fetch_and_send")
    find_subscriber = _lazy("digest.pipeline", "find_subscriber")
    open_configured_store = _lazy("digest.pipeline", "open_configured_store")
    pick_subscriber = _lazy("digest.pipeline", "pick_subscriber")
    preview_channel = _lazy("digest.pipeline", "preview_channel")
    preview_digest = _lazy("digest.pipeline", "preview_digest")
    rank_for_subscriber = _lazy("digest.pipeline", "rank_for_subscriber")
    send_digests = _lazy("digest.pipeline", "send_digests")
    tune_subscriber = _lazy("digest.pipeline", "tune_subscriber")
    watch_tuning = _lazy("digest.pipeline", "watch_tuning")
    write_tuning_page = _lazy("digest.pipeline", "write_tuning_page")
    ranking_json = _lazy("digest.rank.report", "ranking_json")
    ranking_text = _lazy("digest.rank.report", "ranking_text")
    utcnow = _lazy("digest.store.clock", "utcnow")
    format_report = _lazy("digest.tune", "format_report")


class _State:
    def __init__(self, config_file: str | None, debug: bool) -> None:
        self.config_file = config_file
        self.debug = debug
        self._config: Config | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(self.config_file)
        return self._config


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="Config file (default: $DIGEST_CONFIG, else ./config.yaml).",
)
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logs.")
@click.version_option(__version__, prog_name="digest")
@click.pass_context
def cli(ctx: click.Context, config_file: str | None, debug: bool) -> None:
    """paper digest: a daily, personalised email of new and trending research papers."""
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    ctx.obj = _State(config_file, debug)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object keyed by source.")
@click.option(
    "--date",
    "day",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="The day to fetch for dated sources (HF Daily Papers, bioRxiv); default today (UTC).",
)
@click.pass_obj
def fetch(state: _State, as_json: bool, day: Any) -> None:
    """Pull new papers from every configured source into the store.

    Prints one line per source (fetched / new / updated, or its error) and exits 1 if any
    source failed; the others are stored all the same.
    """
    config = state.config
    with open_configured_store(config) as store:
        reports = fetch_all(config, store, today=day.date() if day else None)
    if as_json:
        body = {r.name: {k: v for k, v in asdict(r).items() if k != "name"} for r in reports}
        click.echo(json.dumps(body, indent=2))
    else:
        _echo_sources(reports)
    failed = [r.name for r in reports if r.error]
    if not reports:
        click.echo("no sources configured (add some under sources: in config.yaml)", err=True)
    if failed:
        click.echo(
            f"error: {len(failed)} of {len(reports)} sources failed: {', '.join(failed)}",
            err=True,
        )
        sys.exit(1)


def _echo_sources(reports: list[SourceReport]) -> None:
    for r in reports:
        click.echo(r.line())


@cli.command()
@click.pass_obj
def daily(state: _State) -> None:
    """The main job (`make run`, cron): fetch every source, then send today's digests.

    The digests go out from what was fetched even when some sources failed; the exit status is
    1 all the same, and the last line names the failed sources. When every source failed,
    nothing is sent: the digests wait for the next run.
    """
    config = state.config
    bar = ProgressBar()
    with open_configured_store(config) as store:
        try:
            report = fetch_and_send(config, store, progress=bar)
        finally:
            bar.stop()
    _echo_sources(report.sources)
    if report.send is not None:
        _echo_send(config, report.send)
    failed = report.failed_sources
    if report.send is None:
        click.echo(
            f"error: every source failed ({', '.join(failed)}): no digest was sent; they wait "
            "for the next run",
            err=True,
        )
    elif failed:
        click.echo(
            f"error: {len(failed)} of {len(report.sources)} sources failed: {', '.join(failed)} "
            "(today's digests were sent from the others)",
            err=True,
        )
    if not report.ok:
        sys.exit(1)


@cli.command()
@click.argument("subscriber")
@click.option(
    "--papers",
    "papers_file",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="Rank the papers of this JSONL file (.gz too) instead of the store's new papers.",
)
@click.option(
    "--top",
    type=click.IntRange(min=1),
    default=None,
    help="Show the best N (default: as many as the digest may hold, max_papers).",
)
@click.option("--all", "show_all", is_flag=True, help="Show every paper ranked.")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help='Print [{"id", "score", "reasons", "in_digest"}] (every paper, unless --top).',
)
@click.pass_obj
def rank(
    state: _State,
    subscriber: str,
    papers_file: str | None,
    top: int | None,
    show_all: bool,
    as_json: bool,
) -> None:
    """Rank papers for SUBSCRIBER (name or email, any case) and print them best first with
    scores and reasons: as many as the digest may hold (its max_papers), a line where the
    digest ends, and how many more were ranked."""
    config = state.config
    papers = read_papers(papers_file) if papers_file else None
    with open_configured_store(config) as store:
        who = find_subscriber(config, store, subscriber)
        if top is None and not (show_all or as_json):
            top = who.max_papers
        ranking = rank_for_subscriber(config, store, who, papers=papers, limit=top)
    ranked = ranking.ranked[:top] if top else ranking.ranked
    cut = len(ranking.picked)
    click.echo(ranking_json(ranked, cut) if as_json else ranking_text(ranked, cut))
    more = len(ranking.ranked) - len(ranked)
    if more and not as_json:
        click.echo(
            f"… and {more} more below (--top N shows more, --all shows all {more + len(ranked)})"
        )


@cli.command()
@click.argument("subscriber", required=False)
@click.option(
    "--date",
    "day",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="The digest's day (default: today in each subscriber's time zone).",
)
@click.option("--dry-run", is_flag=True, help="Show what would be sent to whom; change nothing.")
@click.option(
    "--workers",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Processes to rank, render and send with (0: one per core, each taking at least 250 "
    "digests). With the semantic extra, vectors the store lacks are made first, in a process "
    "of their own.",
)
@click.pass_obj
def send(state: _State, subscriber: str | None, day: Any, dry_run: bool, workers: int) -> None:
    """Send the day's digest to every active subscriber (or the one named) who has not had it.

    Exactly once: a second run the same day sends nothing. Prints the counts, then one line
    per distinct reason a digest failed or was deferred. Exits 1 if any digest failed or was
    left for a later run (a digest that another running `digest send` is sending is its to
    report); stops at once when no connection reaches the SMTP server.
    """
    config = state.config
    bar = ProgressBar()
    with open_configured_store(config, create=not dry_run) as store:
        try:
            report = send_digests(
                config,
                store,
                subscriber=subscriber,
                day=day.date() if day else None,
                dry_run=dry_run,
                progress=bar,
                workers=workers or None,
            )
        finally:
            bar.stop()
    if dry_run:
        for line in preview_lines(report):
            click.echo(line)
    else:
        _echo_send(config, report)
    if not report.ok:
        sys.exit(1)


def _echo_send(config: Config, report: SendReport) -> None:
    for line in summary_lines(report):
        click.echo(line)
    if config.smtp is None and report.delivery.sent:
        from digest.mail.letterhead import OUTBOX

        click.echo(
            "no smtp: in the config, so the digests were written as .eml files "
            f"to {(config.data_dir / OUTBOX).resolve()} (open them in a mail program)"
        )
    if report.delivery.stopped:
        click.echo(f"error: {report.delivery.stopped}", err=True)


@cli.command()
@click.argument("subscriber", required=False)
@click.option(
    "--date",
    "day",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="The digest's day (default: today in the subscriber's time zone).",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The HTML file to write, a .txt beside it (default: data_dir/preview/NAME-DATE.html).",
)
@click.option(
    "--papers",
    "papers_file",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="Take the papers of this JSONL file (.gz too) instead of the store's new papers.",
)
@click.option("--open", "open_it", is_flag=True, help="Open the HTML in a web browser.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["html", "text", "atom", "json", "slack", "discord"]),
    default="html",
    show_default=True,
    help="html: the email, written to files; text (its plain part), atom (the feed's entries), "
    "json (the webhook payload), slack or discord (their webhook bodies): printed, or written "
    "to --out.",
)
@click.pass_obj
def preview(
    state: _State,
    subscriber: str | None,
    day: Any,
    out: Path | None,
    papers_file: str | None,
    open_it: bool,
    fmt: str,
) -> None:
    """Render SUBSCRIBER's digest (default: the first) to HTML and text files, or show it as
    another channel carries it (--format).

    Nothing is sent and nothing is recorded.
    """
    config = state.config
    papers = read_papers(papers_file) if papers_file else None
    if fmt != "html":
        with open_configured_store(config) as store:
            shown_text = preview_channel(
                config,
                store,
                fmt,
                subscriber=subscriber,
                day=day.date() if day else None,
                papers=papers,
            )
        if out is None:
            click.echo(shown_text, nl=False)
            return
        try:
            out.write_text(shown_text, encoding="utf-8")
        except OSError as e:
            raise DigestError(f"cannot write {out}: {e} (try another --out)") from e
        click.echo(str(out))
        return
    with open_configured_store(config) as store:
        shown = preview_digest(
            config,
            store,
            subscriber=subscriber,
            day=day.date() if day else None,
            out=out,
            papers=papers,
        )
    click.echo(f"{shown.subscriber}, {shown.day}: {shown.papers} papers")
    click.echo(f"  {shown.html_path}\n  {shown.text_path}")
    if not shown.would_send:
        click.echo("  (nothing new: no email would be sent; send_empty: true sends this note)")
    if open_it and not webbrowser.open(shown.html_path.resolve().as_uri()):
        click.echo(
            f"no web browser could be started: open {shown.html_path.resolve()} yourself "
            "(or set $BROWSER)",
            err=True,
        )


@cli.command()
@click.argument("subscriber", required=False)
@click.option(
    "--date", "day", type=click.DateTime(["%Y-%m-%d"]), help="Papers first seen that day (UTC)."
)
@click.option("--days", type=click.IntRange(min=1), help="Papers first seen in the last N days.")
@click.option(
    "--papers",
    "papers_file",
    type=click.Path(exists=True, dir_okay=False),
    help="Tune on the papers of a JSONL file (.gz too) instead of the store.",
)
@click.option("--watch", is_flag=True, help="Re-run whenever config.yaml changes.")
@click.option(
    "--html",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the digest as a page, the near misses greyed below it (and a .txt).",
)
@click.pass_obj
def tune(
    state: _State,
    subscriber: str | None,
    day: Any,
    days: int | None,
    papers_file: str | None,
    watch: bool,
    html: Path | None,
) -> None:
    """For topic tuning: what the digest would hold, the near misses just below the cut, what
    the excludes removed, and per topic what matched, what didn't, and terms to try."""
    if day is not None and days is not None:
        raise click.UsageError("give --date or --days, not both")
    since = until = None
    if day is not None:
        since = day.replace(tzinfo=UTC)
        until = since + timedelta(days=1)
    elif days is not None:
        since = utcnow() - timedelta(days=days)
    papers = read_papers(papers_file) if papers_file else None
    if watch:
        path = config_path(state.config_file)
        with contextlib.suppress(KeyboardInterrupt):
            watch_tuning(
                path, subscriber, _echo_block, papers=papers, since=since, until=until, html=html
            )
        return
    config = state.config
    with open_configured_store(config) as store:
        person = pick_subscriber(config, store, subscriber)
        report = tune_subscriber(config, store, person, papers=papers, since=since, until=until)
    click.echo(format_report(report))
    if html is not None:
        text = write_tuning_page(config, report, person, html, utcnow())
        click.echo(f"\nwrote {html} and {text}")


def _echo_block(text: str) -> None:
    click.echo(f"\n{'-' * 72}\n{text}")


@cli.command()
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    help="One line per job: plain text, or JSON objects for log collectors.",
)
@click.pass_obj
def run(state: _State, log_format: str) -> None:
    """The daemon: fetch at the configured times and send each digest at its subscriber's hour.

    Catches up on start, refuses to run twice on one store, reloads config.yaml on SIGHUP or
    when it changes, and on SIGTERM/SIGINT finishes the message in flight and exits 0.
    """
    from digest.schedule.daemon import Daemon, JsonFormatter

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter()
        if log_format == "json"
        else logging.Formatter("%(asctime)s %(levelname)s %(message)s")
    )
    daemon_log = logging.getLogger("digest.daemon")
    daemon_log.addHandler(handler)
    daemon_log.setLevel(logging.DEBUG if state.debug else logging.INFO)
    daemon_log.propagate = False
    sys.exit(Daemon(config_path(state.config_file)).run())


@cli.command()
@click.pass_obj
def schedule(state: _State) -> None:
    """Each subscriber's next send time (their time zone and UTC) and the next fetches."""
    from digest.schedule.plan import upcoming

    config = state.config
    with open_configured_store(config) as store:
        sends, fetches = upcoming(
            active_subscribers(config, store), config.schedule.fetch, utcnow()
        )
    click.echo("next digests:")
    for item in sends:
        click.echo(f"  {item.what:<20} {_when(item.when, item.zone)}")
    click.echo("next fetches:")
    for item in fetches:
        click.echo(f"  {item.what:<20} {_when(item.when, item.zone)}")


def _when(moment: datetime, zone: str) -> str:
    local = moment.astimezone(ZoneInfo(zone))
    utc = moment.astimezone(UTC)
    return f"{local:%a %Y-%m-%d %H:%M} {zone}  ({utc:%Y-%m-%d %H:%M} UTC)"


# ---------------------------------------------------------------- subscribers


@cli.command("subscribe")
@click.argument("email")
@click.option(
    "--topic",
    "topics",
    multiple=True,
    help='"Name: keyword, phrase, cs.IR, 2005.11401" (repeatable). Items like cs.IR are '
    "categories, arXiv ids are liked papers, the rest keywords.",
)
@click.option("--name", default=None, help="How the digest greets them (default: from EMAIL).")
@click.option("--timezone", default=None, help="IANA time zone, e.g. Europe/London.")
@click.option("--send-at", default=None, help='Local send time, e.g. "07:00".')
@click.option(
    "--reset",
    is_flag=True,
    help="For a config.yaml person: drop the profile they saved on the web, so the file's "
    "applies again.",
)
@click.pass_obj
def subscribe_command(
    state: _State,
    email: str,
    topics: tuple[str, ...],
    name: str | None,
    timezone: str | None,
    send_at: str | None,
    reset: bool,
) -> None:
    """Subscribe EMAIL now, without a confirmation email (also undoes an unsubscribe).

    Liked arXiv ids are looked up (store, then the arXiv API) and shown with their titles; an
    id arXiv does not know is refused. A config.yaml person's profile is changed in the file,
    not here (--reset drops what they saved on the web).
    """
    config = state.config
    changes = subscriptions.Changes(
        name=name,
        timezone=timezone,
        send_at=send_at,
        topics=tuple(subscriptions.topic_from_spec(t) for t in topics) or None,
    )
    if reset and changes != subscriptions.Changes():
        raise click.UsageError("--reset takes no --topic, --name, --timezone or --send-at")
    with open_configured_store(config) as store:
        if reset:
            entry = subscriptions.reset_profile(config, store, email)
            click.echo(f"{entry.email}: {entry.status} ({_topics_text(entry)}, from config.yaml)")
            return
        liked = subscriptions.check_liked(config, store, email, changes)
        entry = subscriptions.subscribe(config, store, email, changes, origin="cli")
    click.echo(f"{entry.email}: {entry.status} ({_topics_text(entry)})")
    for paper in liked:
        title = paper.title or "not checked: the arXiv API could not be reached"
        click.echo(f"  liked {paper.id}: {title}")


@cli.command("unsubscribe")
@click.argument("email")
@click.pass_obj
def unsubscribe_command(state: _State, email: str) -> None:
    """Unsubscribe EMAIL (config.yaml people too: the store's unsubscribe wins over the file)."""
    config = state.config
    with open_configured_store(config) as store:
        entry = subscriptions.unsubscribe(config, store, email)
    click.echo(f"{entry.email}: {entry.status}")


@cli.command("subscribers")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@click.pass_obj
def subscribers_command(state: _State, as_json: bool) -> None:
    """Everyone known, from config.yaml and the store, with their status."""
    config = state.config
    with open_configured_store(config) as store:
        everyone = subscriptions.roster(config, store)
        suspended = Ledger(store).suspended()
    rows: list[dict[str, Any]] = [
        {
            "email": e.email,
            "name": e.profile.name,
            "status": e.status,
            "origin": e.origin,
            "where": "+".join(w for w, y in (("config", e.in_config), ("store", e.stored)) if y),
            "topics": [t.name for t in e.profile.topics],
            "mail_suspended": suspended.get(e.email),  # the last refusal, or None
        }
        for e in everyone
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no subscribers (add some to config.yaml, or run `digest subscribe`)")
    for r in rows:
        click.echo(
            f"{r['status']:<13} {r['where']:<13} {r['email']}  {r['name']}  "
            f"[{', '.join(r['topics'])}]"
        )
        if r["mail_suspended"] is not None:
            click.echo(
                f"  mail suspended after repeated refusals (last: {r['mail_suspended']}); "
                f"once the address is fixed: digest reactivate {r['email']}"
            )


@cli.command("feedback")
@click.argument("email")
@click.option("--json", "as_json", is_flag=True, help="Print the marks as a JSON list.")
@click.option("--clear", is_flag=True, help="Forget every mark of EMAIL.")
@click.option("--bibtex", is_flag=True, help="Print the liked papers as BibTeX (for Zotero).")
@click.option("--jsonl", is_flag=True, help="Print the liked papers as a papers JSONL.")
@click.pass_obj
def feedback_command(
    state: _State, email: str, as_json: bool, clear: bool, bibtex: bool, jsonl: bool
) -> None:
    """What EMAIL told the digest with "more like this" and "not for me", per topic. The
    liked papers export as BibTeX or JSONL, for Zotero or a topic's `library:`."""
    from digest.subscribe import feedback

    if sum((as_json, clear, bibtex, jsonl)) > 1:
        raise click.UsageError("give at most one of --json, --clear, --bibtex, --jsonl")
    with open_configured_store(state.config) as store:
        groups = feedback.read_feedback(state.config, store, email)
        if clear:
            click.echo(f"{email}: forgot {feedback.forget_feedback(store, email)} marks")
            return
    marks = [m for g in groups for m in (*g.more, *g.less)]
    if bibtex:
        click.echo(feedback.liked_bibtex(marks), nl=False)
    elif jsonl:
        click.echo(feedback.liked_jsonl(marks), nl=False)
    elif as_json:
        click.echo(json.dumps(feedback.marks_json(groups), indent=2, ensure_ascii=False))
    else:
        click.echo("\n".join(feedback.feedback_lines(email, groups)))


@cli.command("reactivate")
@click.argument("email")
@click.pass_obj
def reactivate_command(state: _State, email: str) -> None:
    """Send to EMAIL again after its mail was suspended for repeated permanent refusals (5xx,
    `smtp.max_permanent_failures`): fix the address or the mailbox first."""
    with open_configured_store(state.config) as store:
        ledger = Ledger(store)
        wanted = email.strip().lower()
        match = next((e for e in ledger.suspended() if e.lower() == wanted), None)
        if match is None and subscriptions.find(state.config, store, email) is None:
            click.echo(f"{email}: no such subscriber (see `digest subscribers`)", err=True)
            sys.exit(1)
        if match is None or not ledger.reactivate(match, utcnow()):
            click.echo(f"{email}: mail is not suspended (see `digest subscribers`)", err=True)
            sys.exit(1)
    click.echo(f"{match}: mail reactivated; the next digest is sent as usual")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=8025, show_default=True)
@click.pass_obj
def serve(state: _State, host: str, port: int) -> None:
    """The web app: subscribe, confirm, manage, one-click unsubscribe (links use base_url)."""
    from digest.web import serve as serve_web

    access = logging.getLogger("digest.web.access")  # one line per request, tokens redacted
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    access.addHandler(handler)
    access.setLevel(logging.INFO)
    access.propagate = False
    config = state.config
    click.echo(f"serving on http://{host}:{port}/ (links in emails use {config.base_url})")
    with open_configured_store(config) as store:
        serve_web(config, store, host, port)


def _topics_text(entry: subscriptions.Entry) -> str:
    names = [t.name for t in entry.profile.topics]
    return "topics: " + ", ".join(names) if names else "no topics"


@cli.command()
@click.option(
    "--store", "with_store", is_flag=True, help="Also check the database (integrity_check)."
)
@click.pass_obj
def check(state: _State, with_store: bool) -> None:
    """Validate config.yaml: report every problem at once and exit 1 on any.

    Beyond the file itself: base_url (required with smtp:, https unless
    allow_http_base_url: true), that each library file reads, and the semantic extra.
    Keywords that can match nothing (only stop words) are warned about.
    """
    path = config_path(state.config_file)
    try:
        config = load_config(path)
    except ConfigError as e:
        for problem in e.problems or [str(e)]:
            click.echo(f"{path}: {problem}" if e.problems else problem, err=True)
        sys.exit(1)
    for warning in keyword_warnings(config):
        click.echo(f"{path}: warning: {warning}", err=True)
    problems = category_problems(config.sources) + check_config(config)
    if with_store:
        problems += check_store(config)
    for problem in problems:
        click.echo(f"{path}: {problem}", err=True)
    if problems:
        sys.exit(1)
    click.echo(f"{path}: ok ({len(config.sources)} sources, {len(config.subscribers)} subscribers)")


def main(argv: list[str] | None = None) -> None:
    """The console script: run the CLI, turning DigestErrors into one clean line."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    limit_malloc_arenas()  # before any thread starts (see digest.memory)
    one_blas_thread()  # before numpy is imported (see digest.blas)
    try:
        cli.main(args=argv, prog_name="digest", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except DigestError as e:
        if debug:
            raise
        click.echo(f"error: {e}", err=True)
        sys.exit(1)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)


if __name__ == "__main__":  # pragma: no cover
    main()
