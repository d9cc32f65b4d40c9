"""The HTTP edge in isolation (httpx.MockTransport): retries, Retry-After, conditional GET and
the URL guard. The end-to-end behaviour against a real server is in test_fetch.py."""

from __future__ import annotations

import ipaddress

import httpx
import pytest

from digest.config import FetchSettings
from digest.errors import SourceError
from digest.sources.guard import is_public
from digest.sources.http import Fetcher, Validators, check_url, make_client


def fetcher_for(handler, retries: int = 3, known=None) -> tuple[Fetcher, list[float]]:  # type: ignore[no-untyped-def]
    waits: list[float] = []
    client = httpx.Client(transport=httpx.MockTransport(handler))
    settings = FetchSettings(retries=retries, backoff=0.5)
    return Fetcher(client, settings, known=known or {}, sleep=waits.append), waits


def test_429_honours_retry_after_then_succeeds() -> None:
    answers = iter(
        [
            httpx.Response(429, headers={"Retry-After": "7"}),
            httpx.Response(503),
            httpx.Response(200, text="ok"),
        ]
    )
    fetcher, waits = fetcher_for(lambda request: next(answers))
    response = fetcher.get("https://example.org/feed")
    assert response is not None and response.text == "ok"
    assert waits == [7.0, 1.0]  # Retry-After, then the second backoff step (0.5 * 2)


def test_retry_after_is_capped() -> None:
    answers = iter([httpx.Response(429, headers={"Retry-After": "100000"}), httpx.Response(200)])
    fetcher, waits = fetcher_for(lambda request: next(answers))
    fetcher.get("https://example.org/feed")
    assert waits == [120.0]


def test_timeouts_are_retried_then_reported() -> None:
    def hang(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    fetcher, waits = fetcher_for(hang, retries=2)
    with pytest.raises(SourceError, match=r"example.org did not answer within 30 s \(3 tries\)"):
        fetcher.get("https://example.org/feed")
    assert waits == [0.5, 1.0]


def test_client_errors_are_not_retried() -> None:
    calls = []

    def missing(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(404)

    fetcher, _ = fetcher_for(missing)
    with pytest.raises(SourceError, match="HTTP 404 Not Found from https://example.org/feed"):
        fetcher.get("https://example.org/feed")
    assert len(calls) == 1


def test_conditional_get_sends_validators_and_304_returns_none() -> None:
    seen_headers = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen_headers.update(request.headers)
        return httpx.Response(304)

    known = {"https://example.org/feed": Validators('"abc"', "Mon, 27 Apr 2026 04:00:00 GMT")}
    fetcher, _ = fetcher_for(handler, known=known)
    assert fetcher.get("https://example.org/feed") is None
    assert seen_headers["if-none-match"] == '"abc"'
    assert seen_headers["if-modified-since"] == "Mon, 27 Apr 2026 04:00:00 GMT"


def test_fetcher_remembers_new_validators() -> None:
    fetcher, _ = fetcher_for(lambda r: httpx.Response(200, headers={"ETag": '"v2"'}, text="x"))
    fetcher.get("https://example.org/feed", {"date": "2026-08-18"})
    assert fetcher.seen == {"https://example.org/feed?date=2026-08-18": Validators('"v2"', None)}


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://example.org/x",
        "http://127.0.0.1/feed",
        "http://10.1.2.3/x",
        "http://[::1]/x",
        "http://169.254.169.254/latest/meta-data",
        "http://localhost/x",
    ],
)
def test_unsafe_urls_are_refused(url: str) -> None:
    with pytest.raises(SourceError, match="refusing"):
        check_url(url)


def test_a_host_named_in_the_config_is_allowed_on_its_port_only() -> None:
    check_url("http://127.0.0.1:8080/feed", frozenset({("127.0.0.1", 8080)}))
    with pytest.raises(SourceError, match="refusing"):
        check_url("http://127.0.0.1:8081/feed", frozenset({("127.0.0.1", 8080)}))


@pytest.mark.parametrize(
    "url",
    [
        "http://[::127.0.0.1]/x",  # IPv4-compatible
        "http://[::ffff:127.0.0.1]/x",  # IPv4-mapped
        "http://[::ffff:10.0.0.1]/x",
        "http://[64:ff9b::7f00:1]/x",  # NAT64 of 127.0.0.1
        "http://[64:ff9b::a9fe:a9fe]/x",  # NAT64 of 169.254.169.254
        "http://[2002:7f00:1::]/x",  # 6to4 of 127.0.0.1
        "http://[2002:c0a8:101::1]/x",  # 6to4 of 192.168.1.1
        "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/x",  # Teredo
        "http://[fd00::1]/x",
        "http://[fe80::1]/x",
        "http://0.0.0.0/x",
        "http://100.64.0.1/x",  # carrier-grade NAT
        "http://224.0.0.1/x",
        "http://foo.localhost/x",
    ],
)
def test_private_addresses_inside_other_addresses_are_refused(url: str) -> None:
    with pytest.raises(SourceError, match="refusing"):
        check_url(url)


@pytest.mark.parametrize(
    "address",
    ["93.184.216.34", "2606:2800:220:1::1", "::ffff:93.184.216.34", "64:ff9b::5db8:d822"],
)
def test_public_addresses_pass(address: str) -> None:
    assert is_public(ipaddress.ip_address(address))


def test_redirect_to_a_private_address_is_refused() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "feeds.example.org":
            return httpx.Response(302, headers={"Location": "http://127.0.0.1/secret"})
        return httpx.Response(200, text="secret")

    client = make_client(
        FetchSettings(),
        frozenset({("feeds.example.org", 443)}),
        transport=httpx.MockTransport(handler),
    )
    fetcher = Fetcher(client, FetchSettings(retries=0))
    with pytest.raises(SourceError, match="refusing http://127.0.0.1/secret"):
        fetcher.get("https://feeds.example.org/feed")


def test_the_connection_goes_to_the_address_that_was_checked() -> None:
    """A name that resolves to loopback is refused at connect time (so DNS rebinding between a
    check and the connection is moot: the name is resolved once); allowed for this origin, the
    request goes to the checked address with the name still in the Host header."""
    from tests.hostile_server import HostileServer

    asked: list[tuple[str, int]] = []

    def resolve(host: str, port: int) -> list[str]:
        asked.append((host, port))
        return ["127.0.0.1"]

    with HostileServer() as server:
        url = f"http://feeds.test:{server.port}/feed?x=1"
        with make_client(FetchSettings(), resolve=resolve) as client:
            fetcher = Fetcher(client, FetchSettings(retries=0))
            with pytest.raises(SourceError, match=r"refusing feeds.test:\d+: it resolves to 127"):
                fetcher.get(url)
        assert server.queries == [] and asked == [("feeds.test", server.port)]

        allowed = frozenset({("feeds.test", server.port)})
        with make_client(FetchSettings(), allowed, resolve=resolve) as client:
            response = Fetcher(client, FetchSettings(retries=0)).get(url)
        assert response is not None and b"Asked with x=1" in response.content
        assert server.queries == ["x=1"]


def test_query_strings_survive_added_params() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, headers={"ETag": '"e"'}, text="x")

    fetcher, _ = fetcher_for(handler)
    fetcher.get("https://example.org/papers?topic=ai&x=1", {"date": "2026-08-18"})
    assert seen == ["https://example.org/papers?topic=ai&x=1&date=2026-08-18"]
    assert list(fetcher.seen) == seen


def test_a_body_over_the_cap_is_refused_with_the_setting_to_raise() -> None:
    fetcher, _ = fetcher_for(lambda r: httpx.Response(200, content=b"x" * 5000))
    fetcher.settings = FetchSettings(max_bytes="4kB", retries=0)
    with pytest.raises(SourceError, match=r"larger than fetch.max_bytes \(4 kB\); raise"):
        fetcher.get("https://example.org/big")
