"""One access-log line per request, in the common log format, with every query value and every
token-like path segment replaced by `-`: links carry signed tokens, and a log must not hand
anyone a working manage or unsubscribe link.

    127.0.0.1 - - [01/Dec/2026:13:30:00 +0000] "GET /manage?token=- HTTP/1.1" 200 2154
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

log = logging.getLogger("digest.web.access")

_TOKENISH = re.compile(r"^[A-Za-z0-9_.~-]{24,}$")  # a path segment long enough to be a token

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def redacted_target(path: str, query: str) -> str:
    """The request's path and query with no secret left in it."""
    segments = ["-" if _TOKENISH.match(part) else part for part in path.split("/")]
    target = "/".join(segments)
    if query:
        keys = [key for key, _ in parse_qsl(query, keep_blank_values=True)]
        target += "?" + "&".join(f"{key[:40]}=-" for key in keys) if keys else "?-"
    return target


class AccessLog:
    """WSGI middleware: logs each request once its response has been sent."""

    def __init__(self, app: WsgiApp, clock: Callable[[], datetime] | None = None) -> None:
        self.app = app
        self.clock = clock or (lambda: datetime.now(UTC))

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterator[bytes]:
        status = ["-"]

        def start(code: str, headers: list[tuple[str, str]], *args: Any) -> Any:
            status[0] = code.split(" ", 1)[0]
            return start_response(code, headers, *args)

        size = 0
        body = self.app(environ, start)
        try:
            for chunk in body:
                size += len(chunk)
                yield chunk
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()
            log.info(
                '%s - - [%s] "%s %s %s" %s %s',
                environ.get("REMOTE_ADDR", "-"),
                self.clock().strftime("%d/%b/%Y:%H:%M:%S %z"),
                environ.get("REQUEST_METHOD", "-"),
                redacted_target(environ.get("PATH_INFO", ""), environ.get("QUERY_STRING", "")),
                environ.get("SERVER_PROTOCOL", "-"),
                status[0],
                size or "-",
            )
