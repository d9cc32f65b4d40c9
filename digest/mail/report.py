"""How a send run shows itself on a terminal: a progress bar on long runs, then a summary.

The bar goes to stderr and only when stderr is a terminal, so logs and pipes stay clean.
"""

from __future__ import annotations

import sys
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from digest.mail.deliver import DeliveryReport, Outcome
from digest.mail.run import SendReport

LONG_RUN = 10  # digests; fewer finish before a bar is worth drawing


class ProgressBar:
    """A rich progress bar for a send run; silent when stderr is not a terminal."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.console = Console(file=stream or sys.stderr)
        self._bar: Progress | None = None
        self._task = None

    def start(self, total: int) -> None:
        if total < LONG_RUN or not self.console.is_terminal:
            return
        self._bar = Progress(
            TextColumn("sending"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.description}"),
            console=self.console,
            transient=True,
        )
        self._bar.start()
        self._task = self._bar.add_task("", total=total)  # type: ignore[assignment]

    def update(self, outcome: Outcome) -> None:
        if self._bar is None or self._task is None:
            return
        done = outcome.status != "deferred"  # a deferred digest is still to come
        self._bar.update(self._task, advance=1 if done else 0, description=outcome.email)

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


def preview_lines(report: SendReport) -> list[str]:
    """What a dry run would do, one line per subscriber."""
    lines = []
    for p in report.previews:
        who = f"{p.subscriber} <{p.email}> {p.day.isoformat()}"
        if p.subject is None:
            lines.append(f"{who}: not sent ({p.note})")
        elif p.note:  # feed or chat only
            lines.append(f"{who}: would publish {p.papers} papers, {p.note}: {p.subject}")
        else:
            lines.append(f"{who}: would send {p.papers} papers: {p.subject}")
    return lines


def summary_lines(report: SendReport) -> list[str]:
    """The end-of-run summary, then one line per distinct reason a digest failed or was
    deferred (with how many and whose), then what is left and for whom."""
    d = report.delivery
    line = f"sent {d.sent}, skipped {d.skipped}, retried {d.retried}, failed {len(d.failed)}"
    if report.already:
        line += f" ({report.already} already done by an earlier run)"
    lines = [line, *problem_lines(d)]
    lines += [
        f"not sent: {email}: mail suspended after repeated refusals "
        f"(once the address is fixed: digest reactivate {email})"
        for email in report.suspended
    ]
    if d.possible_duplicates:
        lines.append(
            f"{len(d.possible_duplicates)} possible duplicate(s): the connection was lost "
            "after the message was sent, so it was sent again and may have arrived twice "
            f"({_some(d.possible_duplicates)})"
        )
    if d.by_others:
        lines.append(f"{d.by_others} finished by another sender during this run")
    if d.elsewhere:
        lines.append(f"{d.elsewhere} still being sent by another sender (its run reports them)")
    if d.pending:
        lines.append(f"{d.pending} left for a later run (deferred or not reached)")
    chat = report.channels
    if chat is not None and (chat.sent or chat.failed or chat.pending):
        lines.append(f"chat: sent {chat.sent}, failed {len(chat.failed)}, left {len(chat.pending)}")
        lines += [f"chat failed: {line}" for line in chat.failed]
        lines += [f"chat left for a later run: {line}" for line in chat.pending]
    return lines


def problem_lines(delivery: DeliveryReport) -> list[str]:
    """One line per distinct reason a digest failed or was deferred: how many, why, whose."""
    order = {"failed": 0, "suspended": 1, "deferred": 2}
    problems = sorted(
        delivery.problems.items(), key=lambda item: (order[item[0][0]], -len(item[1]))
    )
    return [
        f"{len(emails)} {status}: {reason} ({_some(emails)})"
        for (status, reason), emails in problems
    ]


def _some(emails: list[str], shown: int = 3) -> str:
    """Up to `shown` distinct addresses, then how many more."""
    distinct = list(dict.fromkeys(emails))
    text = ", ".join(distinct[:shown])
    if len(distinct) > shown:
        text += f" and {len(distinct) - shown} more"
    return text
