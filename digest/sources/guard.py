"""Where fetching may go: http(s) only, and never a private, loopback or otherwise local address
unless the config names that exact origin (host and port) for the source being fetched.

The check that counts is made on the address actually connected to: `guarded_transport` resolves
a name once, refuses it if any of its addresses is not public, and connects to the address it
checked (TLS still verifies and sends SNI for the name). So a name that resolves differently a
moment later (DNS rebinding) cannot reach loopback. Addresses that embed an IPv4 address
(IPv4-mapped, IPv4-compatible, NAT64, 6to4, Teredo) are judged by the address they embed.

`check_url` is the cheap early check on the URL itself, run on every request and redirect; it
does not resolve names. A request also has a deadline (`deadline_scope`): every read and write on
the connection is bounded by the time left, so a server that trickles bytes cannot hold a fetch.
"""

from __future__ import annotations

import contextvars
import ipaddress
import socket
import ssl
import time
import typing
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import httpcore
import httpx

from digest.config.sources import origin_of
from digest.errors import SourceError

Origin = tuple[str, int]  # (lower-case host, port)
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]

_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("deadline", default=None)


class Refused(httpcore.ConnectError):
    """The guard refused a connection; the message is the one line shown to the user."""


def is_public(address: IPAddress) -> bool:
    """True for a global unicast address, judging any embedded IPv4 address on its own."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.teredo is not None:
            return False  # a tunnel to wherever its embedded addresses say: never needed
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return is_public(embedded)
    return bool(address.is_global) and not (
        address.is_multicast or address.is_reserved or address.is_unspecified
    )


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if any(address in net for net in _NAT64) or address in _IPV4_COMPATIBLE:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def check_url(url: str, allowed: Collection[Origin] = ()) -> None:
    """Refuse file:// and friends, and a literal private address (or `localhost`) the config did
    not name for this source; names are judged again by the address they connect to."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise SourceError(f"refusing {url}: only http and https URLs are fetched")
    origin = origin_of(url)
    if origin is None:
        raise SourceError(f"refusing {url}: it has no host")
    if origin in allowed:
        return
    host = origin[0]
    if host == "localhost" or host.endswith(".localhost"):
        raise _private(url, host)
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return
    if not is_public(address):
        raise _private(url, host)


def _private(url: str, host: str) -> SourceError:
    return SourceError(
        f"refusing {url}: {host} is a private or local address "
        "(name this host and port in the source's url in config.yaml to allow it)"
    )


# ---------------------------------------------------------------- deadlines


@contextmanager
def deadline_scope(deadline: float | None) -> Iterator[None]:
    """Bound every socket read and write inside the block by `deadline` (time.monotonic)."""
    token = _deadline.set(deadline)
    try:
        yield
    finally:
        _deadline.reset(token)


def _bounded(timeout: float | None, error: type[Exception]) -> float | None:
    deadline = _deadline.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise error("the request's deadline has passed")
    return left if timeout is None else min(timeout, left)


# ---------------------------------------------------------------- the transport


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class _Stream(httpcore.NetworkStream):
    """A connection whose reads and writes never outlive the request's deadline."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _bounded(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _bounded(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        bounded = _bounded(timeout, httpcore.ConnectTimeout)
        return _Stream(self._inner.start_tls(ssl_context, server_hostname, bounded))

    def get_extra_info(self, info: str) -> typing.Any:
        return self._inner.get_extra_info(info)


class GuardedBackend(httpcore.NetworkBackend):
    """Resolve once, refuse non-public addresses outside `allowed`, connect to what was checked."""

    def __init__(self, allowed: Collection[Origin] = (), resolve: Resolver | None = None) -> None:
        self.allowed = frozenset(allowed)
        self.resolve = resolve or system_resolver
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        timeout = _bounded(timeout, httpcore.ConnectTimeout)
        try:
            addresses = [ipaddress.ip_address(a.split("%")[0]) for a in self.resolve(host, port)]
        except (OSError, UnicodeError) as e:
            raise httpcore.ConnectError(f"{host} does not resolve ({e})") from e
        if not addresses:
            raise httpcore.ConnectError(f"{host} does not resolve")
        if (host.lower(), port) not in self.allowed:
            for address in addresses:
                if not is_public(address):
                    raise Refused(
                        f"refusing {host}:{port}: it resolves to {address}, a private or local "
                        "address (name this host and port in the source's url in config.yaml "
                        "to allow it)"
                    )
        problem: Exception | None = None
        for address in addresses:
            try:
                stream = self._inner.connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as e:
                problem = e
                continue
            return _Stream(stream)
        assert problem is not None
        raise problem

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        raise Refused("refusing a Unix socket: only http and https URLs are fetched")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class GuardedTransport(httpx.HTTPTransport):
    """httpx's own transport, on a connection pool whose connections go through GuardedBackend."""

    def __init__(self, backend: GuardedBackend) -> None:
        super().__init__()
        # httpx builds its pool without a way to pass a network backend; replace it with one
        # that uses ours, with httpx's defaults otherwise.
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=100,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            network_backend=backend,
        )


def guarded_transport(
    allowed: Collection[Origin] = (), resolve: Resolver | None = None
) -> httpx.HTTPTransport:
    return GuardedTransport(GuardedBackend(allowed, resolve))
