"""Polite, safe HTTP for the sources: timeouts, a descriptive User-Agent, gzip, conditional GET,
retries with backoff on 429 / 5xx / timeouts (honouring Retry-After), and no request to a
non-http(s) URL or a private address unless the config names that host.

`Fetcher.get` returns the response, or None for a 304; it raises `SourceError` with one line that
says what failed and what to check.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import httpx

from digest import __version__
from digest.config import FetchSettings
from digest.errors import SourceError

USER_AGENT = f"paper-digest/{__version__} (a personal research-paper digest; httpx)"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class Validators:
    """What a server said about a resource, to ask it "has this changed?" next time."""

    etag: str | None = None
    last_modified: str | None = None


def make_client(
    settings: FetchSettings,
    allowed_hosts: frozenset[str] = frozenset(),
    transport: httpx.BaseTransport | None = None,
) -> httpx.Client:
    """An httpx client that refuses unsafe URLs on every request, redirects included."""

    def guard(request: httpx.Request) -> None:
        check_url(str(request.url), allowed_hosts)

    return httpx.Client(
        timeout=httpx.Timeout(settings.timeout),
        headers={"User-Agent": settings.user_agent or USER_AGENT},
        follow_redirects=True,
        max_redirects=5,
        event_hooks={"request": [guard]},
        transport=transport,
    )


def check_url(url: str, allowed_hosts: frozenset[str] = frozenset()) -> None:
    """Refuse file:// and friends, and private or loopback addresses the config did not name."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise SourceError(f"refusing {url}: only http and https URLs are fetched")
    host = (parts.hostname or "").lower()
    if not host:
        raise SourceError(f"refusing {url}: it has no host")
    if host in allowed_hosts:
        return
    for address in _addresses(host):
        if not address.is_global:
            raise SourceError(
                f"refusing {url}: {host} is a private or local address "
                "(name it in a source url in config.yaml to allow it)"
            )


def _addresses(host: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return []  # unresolvable: the request itself will fail with a clear error
    found = []
    for info in infos:
        try:
            found.append(ipaddress.ip_address(info[4][0]))
        except ValueError:
            continue
    return found


@dataclass
class Fetcher:
    """GETs with retries; remembers the validators it saw so the caller can store them."""

    client: httpx.Client
    settings: FetchSettings = field(default_factory=FetchSettings)
    known: Mapping[str, Validators] = field(default_factory=dict)
    sleep: Callable[[float], None] = time.sleep
    seen: dict[str, Validators] = field(default_factory=dict)

    def get(
        self,
        url: str,
        params: Mapping[str, str | int] | None = None,
        *,
        conditional: bool = True,
        accept: frozenset[int] = frozenset(),
    ) -> httpx.Response | None:
        """The response to GET url, or None if the server says it has not changed (304)."""
        key = str(httpx.URL(url, params=params))
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
                response = self.client.get(key, headers=headers)
            except httpx.TimeoutException as e:
                if attempt == attempts:
                    raise SourceError(
                        f"{_host(key)} did not answer within {self.settings.timeout:g} s "
                        f"({attempts} tries); try again later or raise fetch.timeout"
                    ) from e
                self.sleep(self._backoff(attempt))
                continue
            except (httpx.RemoteProtocolError, httpx.ReadError) as e:
                if attempt == attempts:
                    raise SourceError(f"{_host(key)} dropped the connection ({e})") from e
                self.sleep(self._backoff(attempt))
                continue
            except httpx.TooManyRedirects as e:
                raise SourceError(f"{key}: too many redirects") from e
            except httpx.ConnectError as e:
                raise SourceError(
                    f"cannot reach {_host(key)} ({_reason(e)}); check the network and the "
                    "source url"
                ) from e
            except httpx.HTTPError as e:
                raise SourceError(f"{key}: {type(e).__name__}: {e}") from e
            if response.status_code == 304:
                return None
            if response.status_code in RETRY_STATUSES and attempt < attempts:
                self.sleep(self._retry_after(response) or self._backoff(attempt))
                continue
            if response.is_success or response.status_code in accept:
                if conditional and response.is_success:
                    self.seen[key] = Validators(
                        response.headers.get("ETag"), response.headers.get("Last-Modified")
                    )
                return response
            raise SourceError(
                f"HTTP {response.status_code} {response.reason_phrase} from {key}"
                + (f" after {attempts} tries" if response.status_code in RETRY_STATUSES else "")
            )
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _backoff(self, attempt: int) -> float:
        return float(self.settings.backoff * 2 ** (attempt - 1))

    def _retry_after(self, response: httpx.Response) -> float | None:
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
