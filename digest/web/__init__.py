"""`digest serve`: the subscription pages, on Flask behind the waitress server.

access.py     one access-log line per request, tokens redacted
app.py        the pages: subscribe, confirm, manage, one-click unsubscribe (RFC 8058)
catch.py      the manage page's "What would this catch today?" (the digest's own ranking)
feedback.py   "more like this" / "not for me" from a digest, and forgetting them
forms.py      what the forms send, made into validated changes (pure)
mailer.py     the confirmation and "already subscribed" emails
ratelimit.py  request counters in the store, shared by every worker
"""

from __future__ import annotations

from digest.config import Config
from digest.store import Store
from digest.web.access import AccessLog
from digest.web.app import create_app

__all__ = ["create_app", "serve"]


def serve(config: Config, store: Store, host: str = "127.0.0.1", port: int = 8025) -> None:
    """Serve the pages until interrupted. Put a TLS-terminating proxy in front in production and
    name it in `web.trusted_proxies`: only then is its X-Forwarded-For believed (the app reads
    it; waitress leaves the peer's address alone)."""
    import waitress

    waitress.serve(
        AccessLog(create_app(config, store)),
        host=host,
        port=port,
        threads=4,
        clear_untrusted_proxy_headers=False,  # the app decides whom to believe
        ident="paper-digest",
    )
