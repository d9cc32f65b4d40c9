"""One send run: plan the day's rows in the ledger, then deliver what is not done yet.

`send_run` is what `digest send` and the daemon call (through `pipeline.send_digests`). The
digest itself is made by a `write` callback (rank + render), so this module knows nothing of
ranking. A dry run reads the ledger and writes nothing at all.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from digest.config import Config
from digest.errors import DigestError, StoreDamaged
from digest.mail.deliver import DeliveryReport, Outcome, Outgoing, deliver_digests
from digest.mail.ledger import DONE, PLANNED, Delivery, Keep, Ledger
from digest.mail.letterhead import digest_email, letterhead, make_policy, make_transport
from digest.mail.message import Links
from digest.mail.shard import deliver_sharded, worker_count
from digest.mail.transport import Transport
from digest.memory import paused_gc
from digest.models import Subscriber
from digest.store import Store, utcnow
from digest.store.copies import CopyStore
from digest.store.subscribers import SubscriberStore, email_key

if TYPE_CHECKING:
    from digest.channels.send import ChannelReport

SUSPENDED_NOTE = "suspended after repeated permanent failures"
FEED_ONLY_NOTE = "feed only: on the web and in the Atom feed, no email"
CHAT_ONLY_NOTE = "no email: delivered to the chat channels in deliver:"
log = logging.getLogger(__name__)


def _reason(error: Exception) -> str:
    return (
        str(error)
        if isinstance(error, DigestError)
        else f"unexpected {type(error).__name__}: {error}"
    )


class Content(Protocol):
    """A rendered digest (digest.render.RenderedDigest fits)."""

    @property
    def subject(self) -> str: ...
    @property
    def html(self) -> str: ...
    @property
    def text(self) -> str: ...


# (subscriber, day, links) -> (the rendered digest, or None for "nothing to send"; paper count;
# what to keep of it once sent, written in the ledger's transaction, or None)
Write = Callable[[Subscriber, date, Links], tuple[Content | None, int, Keep | None]]


class Progress(Protocol):
    def start(self, total: int) -> None: ...
    def update(self, outcome: Outcome) -> None: ...


@dataclass(frozen=True)
class Preview:
    """What a dry run found for one subscriber."""

    subscriber: str
    email: str
    day: date
    papers: int = 0
    subject: str | None = None  # None: nothing would be sent
    note: str = ""  # with a subject: where it would go instead of an email


@dataclass
class SendReport:
    """A run's outcome: the delivery report, plus what earlier runs had already settled."""

    delivery: DeliveryReport = field(default_factory=DeliveryReport)
    already: int = 0
    previews: list[Preview] = field(default_factory=list)
    dry_run: bool = False
    suspended: list[str] = field(default_factory=list)  # skipped: their mail is suspended
    channels: ChannelReport | None = None  # the chat channels' deliveries, when any

    @property
    def ok(self) -> bool:
        return self.delivery.ok and (self.channels is None or self.channels.ok)


def send_run(
    config: Config,
    store: Store,
    people: Sequence[Subscriber],
    write: Write,
    *,
    day: date | None = None,
    now: datetime | None = None,
    dry_run: bool = False,
    transport: Transport | None = None,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
    workers: int | None = 1,
    prepare: Callable[[Collection[str] | None], None] | None = None,
    fork_ready: Callable[[Collection[str]], bool] | None = None,
) -> SendReport:
    """Send `day`'s digest (default: today in each subscriber's zone) to each of `people` who
    has not had it yet. A given `now` is the run's clock: the ledger's times start there.

    `workers`: processes to send with (None: one per core; see `shard`), used only with the
    configured transport and on runs long enough to gain from them. `prepare(emails)` makes
    what `write` needs for those readers (the day plan; None: everyone): with several
    processes, each makes its own, for its own slice of the rows, once forked, so the
    planning (libraries read, profiles compiled) is shared out too. `fork_ready(emails)`, asked
    before forking: False keeps the run to one process (see `rank.ahead`)."""
    clock = _clock_from(now) if now is not None else utcnow
    now = now or utcnow()
    ledger = Ledger(store)
    days = {p.email: day or p.local_date(now) for p in people}
    suspended = ledger.suspended()
    if dry_run:
        return _dry_run(config, ledger, people, days, suspended, write)
    head = letterhead(config)
    report = SendReport()
    rows: list[Delivery] = []
    with paused_gc():  # a row per reader, all kept (see digest.memory)
        for d in sorted(set(days.values())):
            todays = [p for p in people if days[p.email] == d]
            ledger.plan([(p.email, p.name) for p in todays], d, now)
            rows.extend(ledger.for_day(d, [p.email for p in todays]).values())
    todo = []
    for row in rows:
        if row.status in DONE:
            report.already += 1
        elif row.email in suspended and row.status == PLANNED:
            ledger.skip_unclaimed(row.id, SUSPENDED_NOTE, now)
            report.delivery.skipped += 1
            report.suspended.append(row.email)
        else:
            todo.append(row)
    by_email = {p.email: p for p in people}
    position = {p.email: i for i, p in enumerate(people)}
    todo.sort(key=lambda row: (row.day, position[row.email]))  # the order `write` ranks them in
    # The generation each manage link is signed with, read once for the run (not per email).
    generations = SubscriberStore(store).link_generations()
    feeds = {key: c.feed_generation for key, c in CopyStore(store).all_choices().items()}

    def compose(row: Delivery) -> Outgoing:
        person = by_email[row.email]
        key = email_key(person.email)
        links = head.links(
            person.email, generations.get(key, 0), day=row.day, feed_generation=feeds.get(key, 0)
        )
        content, papers, keep = write(person, row.day, links)
        if content is None:
            return Outgoing(None, papers, "nothing new: no email (send_empty is off)")
        if not person.email_digest:  # the web copy, feed and chat have it once marked sent
            note = FEED_ONLY_NOTE if person.feed_only else CHAT_ONLY_NOTE
            return Outgoing(None, papers, note, published=True, keep=keep)
        message = digest_email(
            head,
            person,
            subject=content.subject,
            text=content.text,
            html=content.html,
            message_id=row.message_id or head.new_message_id(),
            now=utcnow(),
            links=links,
        )
        return Outgoing(message, papers, keep=keep)

    def run_slice(
        rows: Sequence[Delivery],
        ledger: Ledger,
        report: Callable[[Outcome], None] | None,
        cancel: threading.Event | None,
    ) -> DeliveryReport:
        return deliver_digests(
            rows,
            compose,
            transport or make_transport(config, share=processes),
            ledger,
            sender=head.sender.addr_spec,
            message_id=head.new_message_id,
            policy=make_policy(config),
            progress=report,
            clock=clock,
            stop=cancel,
        )

    def start() -> None:
        if progress is not None:
            progress.start(len(todo))

    def run_planned_slice(
        rows: Sequence[Delivery],
        ledger: Ledger,
        report: Callable[[Outcome], None] | None,
        cancel: threading.Event | None,
    ) -> DeliveryReport:
        if prepare is not None:
            try:
                prepare({row.email for row in rows})
            except Exception:  # each row's `write` plans again, and says why it could not
                log.debug("planning a slice of the run failed", exc_info=True)
        return run_slice(rows, ledger, report, cancel)

    processes = worker_count(workers, len(todo)) if transport is None else 1
    if config.smtp is not None:  # a connection each at least: never more than the server allows
        processes = min(processes, config.smtp.max_connections)
    if processes > 1 and fork_ready is not None and not fork_ready({r.email for r in todo}):
        processes = 1
    if processes > 1:
        delivered = deliver_sharded(
            todo,
            run_planned_slice,
            store,
            processes,
            progress=progress.update if progress is not None else None,
            stop=stop,
            forked=start,
        )
    else:
        start()
        delivered = run_slice(todo, ledger, progress.update if progress else None, stop)
    delivered.skipped += report.delivery.skipped
    report.delivery = delivered
    return report


def _clock_from(start: datetime) -> Callable[[], datetime]:
    """A clock that reads `start` now and runs on from there."""
    origin = time.monotonic()
    return lambda: start + timedelta(seconds=time.monotonic() - origin)


def _dry_run(
    config: Config,
    ledger: Ledger,
    people: Sequence[Subscriber],
    days: dict[str, date],
    suspended: Collection[str],
    write: Write,
) -> SendReport:
    report = SendReport(dry_run=True)
    root = config.base_url.rstrip("/")
    placeholder = Links(f"{root}/unsubscribe", f"{root}/manage")  # no key is read or made
    for person in people:
        d = days[person.email]
        row = ledger.get(person.email, d)
        if row is not None and row.status in DONE:
            report.already += 1
            note = f"already {row.status}"
            report.previews.append(
                Preview(person.name, person.email, d, row.papers or 0, None, note)
            )
            continue
        if person.email in suspended:
            report.previews.append(Preview(person.name, person.email, d, note=SUSPENDED_NOTE))
            continue
        try:
            content, papers, _ = write(person, d, placeholder)
        except StoreDamaged:
            raise
        except Exception as e:  # like a real send: say why, and go on with the others
            if not isinstance(e, DigestError):
                log.exception("building the digest for %s failed", person.email)
            reason = f"could not build the digest: {_reason(e)}"
            report.delivery.failed.append(Outcome(person.email, person.name, "failed", reason))
            report.previews.append(Preview(person.name, person.email, d, note=reason))
            continue
        if content is None:
            report.previews.append(
                Preview(person.name, person.email, d, papers, None, "nothing new")
            )
        elif not person.email_digest:  # published on the web, feed or chat: no email
            note = FEED_ONLY_NOTE if person.feed_only else CHAT_ONLY_NOTE
            report.previews.append(
                Preview(person.name, person.email, d, papers, content.subject, note)
            )
        else:
            report.previews.append(Preview(person.name, person.email, d, papers, content.subject))
    return report
