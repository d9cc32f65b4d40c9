"""Polite, safe HTTP for the sources: timeouts, a descriptive User-Agent, gzip, conditional GET,
retries with backoff on 429 / 5xx / timeouts (honouring Retry-After), and no request to a
non-http(s) URL or a private address unless the config names that origin (see guard.py).

Every body is read as a stream and decompressed here, so `fetch.max_bytes` bounds the bytes kept
after decompression (a gzip bomb or an endless body stops at the cap); every request has a
deadline (`fetch.request_deadline`) and all of one source's requests another
(`fetch.source_deadline`). `Fetcher.get` returns the body, or None for a 304; it raises
`SourceError` with one line that says what failed and which setting to change.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from urllib.parse import urlsplit

import httpx

from digest import __version__
from digest.config import FetchSettings
from digest.errors import SourceError
from digest.sources.guard import (
    Origin,
    Refused,
    Resolver,
    check_url,
    deadline_scope,
    guarded_transport,
)

__all__ = ["Fetched", "Fetcher", "Validators", "check_url", "make_client"]

USER_AGENT = f"paper-digest/{__version__} (a personal research-paper digest; httpx)"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class Validators:
    """What a server said about a resource, to ask it "has this changed?" next time."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class Fetched:
    """A response read in full (within the cap), its body decompressed."""

    url: str
    status_code: int
    headers: httpx.Headers
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")


def make_client(
    settings: FetchSettings,
    allowed: Collection[Origin] = (),
    transport: httpx.BaseTransport | None = None,
    resolve: Resolver | None = None,
) -> httpx.Client:
    """An httpx client that refuses unsafe URLs on every request, redirects included, and
    checks the address each connection actually goes to. `allowed` are the origins (host, port)
    the config names for the one source this client fetches."""

    def guard(request: httpx.Request) -> None:
        check_url(str(request.url), allowed)

    return httpx.Client(
        timeout=httpx.Timeout(settings.timeout),
        headers={
            "User-Agent": settings.user_agent or USER_AGENT,
            # Decoded here, under the cap; nothing else is asked for.
            "Accept-Encoding": "gzip, deflate",
        },
        follow_redirects=True,
        max_redirects=5,
        event_hooks={"request": [guard]},
        transport=transport or guarded_transport(allowed, resolve),
    )


def with_params(url: str, params: Mapping[str, str | int] | None = None) -> str:
    """url with params added to (not replacing) the query it already has."""
    if not params:
        return str(httpx.URL(url))
    return str(httpx.URL(url).copy_merge_params(dict(params)))


@dataclass
class Fetcher:
    """GETs with retries for one source; remembers the validators it saw so the caller can store
    them. Its clock starts when it is made: all its requests share `fetch.source_deadline`."""

    client: httpx.Client
    settings: FetchSettings = field(default_factory=FetchSettings)
    known: Mapping[str, Validators] = field(default_factory=dict)
    sleep: Callable[[float], None] = time.sleep
    seen: dict[str, Validators] = field(default_factory=dict)
    clock: Callable[[], float] = time.monotonic
    started: float | None = None
    _request_deadline: float | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.started is None:
            self.started = self.clock()

    def get(
        self,
        url: str,
        params: Mapping[str, str | int] | None = None,
        *,
        conditional: bool = True,
        accept: frozenset[int] = frozenset(),
    ) -> Fetched | None:
        """The response to GET url, or None if the server says it has not changed (304)."""
        key = with_params(url, params)
        headers: dict[str, str] = {}
        cached = self.known.get(key) if conditional else None
        if cached is not None:
            if cached.etag:
                headers["If-None-Match"] = cached.etag
            if cached.last_modified:
                headers["If-Modified-Since"] = cached.last_modified
        attempts = self.settings.retries + 1
        for attempt in range(1, attempts + 1):
            try:
                response = self._request(key, headers, accept)
            except httpx.TimeoutException as e:
                self._check_deadlines(key, e)
                if attempt == attempts:
                    raise SourceError(
                        f"{_host(key)} did not answer within {self.settings.timeout:g} s "
                        f"({attempts} tries); try again later or raise fetch.timeout"
                    ) from e
                self._pause(self._backoff(attempt), key)
                continue
            except (httpx.RemoteProtocolError, httpx.ReadError) as e:
                if attempt == attempts:
                    raise SourceError(f"{_host(key)} dropped the connection ({e})") from e
                self._pause(self._backoff(attempt), key)
                continue
            except httpx.TooManyRedirects as e:
                raise SourceError(f"{key}: too many redirects") from e
            except httpx.ConnectError as e:
                if isinstance(e.__cause__, Refused):
                    raise SourceError(str(e.__cause__)) from e
                raise SourceError(
                    f"cannot reach {_host(key)} ({_reason(e)}); check the network and the "
                    "source url"
                ) from e
            except httpx.HTTPError as e:
                raise SourceError(f"{key}: {type(e).__name__}: {e}") from e
            if response.status_code == 304:
                return None
            if response.status_code in RETRY_STATUSES and attempt < attempts:
                self._pause(self._retry_after(response) or self._backoff(attempt), key)
                continue
            if 200 <= response.status_code < 300 or response.status_code in accept:
                if conditional and 200 <= response.status_code < 300:
                    self.seen[key] = Validators(
                        response.headers.get("ETag"), response.headers.get("Last-Modified")
                    )
                return response
            raise SourceError(
                f"HTTP {response.status_code} {_phrase(response.status_code)} from {key}"
                + (f" after {attempts} tries" if response.status_code in RETRY_STATUSES else "")
            )
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def out_of_time(self) -> bool:
        """True once this source has used up fetch.source_deadline."""
        assert self.started is not None
        return self.clock() >= self.started + self.settings.source_deadline

    def _request(self, url: str, headers: dict[str, str], accept: frozenset[int]) -> Fetched:
        """One GET, its body read under the cap and the deadline."""
        self._request_deadline = None
        self._check_deadlines(url)
        deadline = self._deadline()
        self._request_deadline = deadline
        left = max(0.001, deadline - self.clock())
        timeout = httpx.Timeout(min(self.settings.timeout, left))
        with (
            deadline_scope(deadline),
            self.client.stream("GET", url, headers=headers, timeout=timeout) as response,
        ):
            status = response.status_code
            if not (200 <= status < 300 or status in accept):
                return Fetched(str(response.url), status, response.headers, b"")
            body = self._read(response, url)
        return Fetched(str(response.url), status, response.headers, body)

    def _read(self, response: httpx.Response, url: str) -> bytes:
        cap = int(self.settings.max_bytes)
        encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
        declared = response.headers.get("Content-Length", "")
        if encoding == "identity" and declared.isdigit() and int(declared) > cap:
            raise self._too_big(url)
        if response.is_stream_consumed:  # an in-memory response (a mock transport's)
            if len(response.content) > cap:
                raise self._too_big(url)
            return response.content
        decoder = _Decoder(encoding, url)
        body = bytearray()
        for raw in response.iter_raw():
            body += decoder.decode(raw, cap - len(body) + 1)
            if len(body) > cap:
                raise self._too_big(url)
            self._check_deadlines(url)
        body += decoder.flush(cap - len(body) + 1)
        if len(body) > cap:
            raise self._too_big(url)
        return bytes(body)

    def _too_big(self, url: str) -> SourceError:
        return SourceError(
            f"{url}: the response is larger than fetch.max_bytes "
            f"({_size(int(self.settings.max_bytes))}); raise fetch.max_bytes if the source is "
            "really that big"
        )

    def _deadline(self) -> float:
        assert self.started is not None
        return min(
            self.clock() + self.settings.request_deadline,
            self.started + self.settings.source_deadline,
        )

    def _check_deadlines(self, url: str, cause: Exception | None = None) -> None:
        """Raise if this source or this request has run out of time."""
        assert self.started is not None
        now = self.clock()
        if now >= self.started + self.settings.source_deadline:
            raise SourceError(
                f"{_host(url)}: this source took longer than fetch.source_deadline "
                f"({self.settings.source_deadline:g} s) in all; raise it if the source is "
                "just slow"
            ) from cause
        if self._request_deadline is not None and now >= self._request_deadline:
            raise SourceError(
                f"{url}: no complete answer within fetch.request_deadline "
                f"({self.settings.request_deadline:g} s); raise it if the source is just slow"
            ) from cause

    def _pause(self, seconds: float, url: str) -> None:
        """Wait before a retry, unless that would run past the source's deadline."""
        assert self.started is not None
        if self.clock() + seconds >= self.started + self.settings.source_deadline:
            self._check_deadlines(url)
            raise SourceError(
                f"{_host(url)}: a retry in {seconds:g} s would run past fetch.source_deadline "
                f"({self.settings.source_deadline:g} s); try again later"
            )
        self.sleep(seconds)

    def _backoff(self, attempt: int) -> float:
        return float(self.settings.backoff * 2 ** (attempt - 1))

    def _retry_after(self, response: Fetched) -> float | None:
        value = response.headers.get("Retry-After")
        if not value:
            return None
        try:
            seconds = float(value)
        except ValueError:
            try:
                when = parsedate_to_datetime(value)
            except (TypeError, ValueError):
                return None
            seconds = when.timestamp() - time.time()
        return max(0.0, min(seconds, self.settings.max_retry_after))


class _Decoder:
    """Content-Encoding undone chunk by chunk, never producing more than asked for."""

    def __init__(self, encoding: str, url: str) -> None:
        self.encoding = encoding
        if encoding in ("gzip", "x-gzip"):
            self._zlib: zlib._Decompress | None = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._zlib = None  # zlib-wrapped or raw: decided on the first bytes
        elif encoding in ("identity", ""):
            self._zlib = None
        else:
            raise SourceError(f"{url}: the server sent Content-Encoding {encoding!r} unasked")

    def decode(self, data: bytes, limit: int) -> bytes:
        if self.encoding in ("identity", ""):
            return data
        if self._zlib is None:
            raw = bool(data) and (data[0] & 0x0F) != 8
            self._zlib = zlib.decompressobj(-zlib.MAX_WBITS if raw else zlib.MAX_WBITS)
        out = bytearray()
        try:
            while data and len(out) < limit:
                out += self._zlib.decompress(data, limit - len(out))
                data = self._zlib.unconsumed_tail
                if self._zlib.eof and self._zlib.unused_data:  # another gzip member follows
                    data = self._zlib.unused_data
                    self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        except zlib.error as e:
            raise SourceError(f"the {self.encoding} body is corrupt ({e})") from e
        return bytes(out)

    def flush(self, limit: int) -> bytes:
        if self._zlib is None:
            return b""
        return self._zlib.flush(limit) if limit > 0 else b""


def _size(n: int) -> str:
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if n >= scale:
            return f"{n / scale:g} {unit}"
    return f"{n} bytes"


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _host(url: str) -> str:
    parts = urlsplit(url)
    return parts.netloc or url


def _reason(error: httpx.ConnectError) -> str:
    text = str(error) or type(error).__name__
    if "Name or service not known" in text or "nodename nor servname" in text:
        return "its name does not resolve"
    if "Temporary failure in name resolution" in text:
        return "no DNS: is this machine offline?"
    if "Connection refused" in text:
        return "connection refused"
    return text
