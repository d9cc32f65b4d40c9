"""Semantic ranking over several sender processes: the run's vectors are made first, in a
process of their own.

torch's thread pool does not survive a fork, so a process that has loaded the sentence model
cannot fork senders, and senders that each loaded it would each embed the same new papers and
hold a model apiece. So before the senders fork, the day's candidate papers and the readers'
topic words that the store holds no vector for are embedded in one forked child, which loads
the model, keeps the vectors in the store and exits. The senders then read every vector back
and never load the model (a liked paper not embedded yet is embedded by the sender that ranks
its reader: a few, once).
"""

from __future__ import annotations

import logging
import multiprocessing
import sys
from collections.abc import Callable, Sequence
from datetime import date, datetime

from digest.day import candidate_span
from digest.models import Subscriber
from digest.rank.semantic import Embedder, topic_words
from digest.store import Store, open_store

log = logging.getLogger(__name__)

MakeEmbedder = Callable[[Store], Embedder]  # the run's (cached) embedder over a store


def embed_ahead(
    store: Store,
    make_embedder: MakeEmbedder,
    people: Sequence[Subscriber],
    now: datetime,
    day: date | None = None,
) -> bool:
    """Make sure the vectors `people`'s digests need are in the store without loading the
    model in this process. False when senders must not fork: this process has loaded torch
    already, or the child that embeds failed (the run then goes on in one process, which says
    why)."""
    if "torch" in sys.modules:
        return False
    if not people:
        return True
    since, until = candidate_span(people, now, day)
    texts = sorted({w for p in people for t in p.topics if (w := topic_words(t))})
    context = multiprocessing.get_context("fork")
    url = store.engine.url.render_as_string(hide_password=False)
    child = context.Process(
        target=_embed,
        args=(store, url, make_embedder, since, until, texts),
        name="digest-embed",
    )
    child.start()
    child.join()
    if child.exitcode != 0:
        log.warning(
            "embedding the day's papers ahead failed (exit code %s): sending in one process",
            child.exitcode,
        )
    return child.exitcode == 0


def _embed(
    inherited: Store,
    url: str,
    make_embedder: MakeEmbedder,
    since: datetime,
    until: datetime,
    texts: list[str],
) -> None:
    """In the child: what the store lacks is embedded and kept (what it has costs a query)."""
    inherited.engine.dispose(close=False)  # the parent's connections stay the parent's
    try:
        with open_store(url, create=False) as store:
            embedder = make_embedder(store)
            embedder.embed_papers(store.papers_first_seen(since, until))
            embedder.embed_texts(texts)
    except Exception:  # the run, in one process, meets it again and says what it is
        log.debug("embedding ahead failed", exc_info=True)
        raise SystemExit(1) from None
