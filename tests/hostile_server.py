"""A real HTTP server on 127.0.0.1 that misbehaves on purpose, for the fetch-hardening tests.

Routes:
  /bomb               a gzip bomb: `bomb_mb` MB of zeros, about 1/1000 of that on the wire
  /endless            a chunked body of zeros that never ends (until the client hangs up)
  /trickle            one byte of a feed every `trickle_every` seconds, for up to 120 s
  /feed               an RSS feed naming the query string it was asked with (?topic=…)
  /body/N[/…]         the body registered under N in `bodies` (a file path, JSON items, feeds)
  /redirect/N         a 302 to the URL registered under N in `redirects`
  /atom/{cat}         a one-item arXiv-style Atom listing for the categories in `categories`;
                      404 for any other
"""

from __future__ import annotations

import contextlib
import threading
import time
import zlib
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit
from xml.sax.saxutils import escape


def rss(*titles: str, link: str = "https://example.org/p/{n}") -> bytes:
    items = "".join(
        f"<item><title>{escape(t)}</title><link>{link.format(n=n)}</link>"
        f"<description>About {escape(t)}.</description></item>"
        for n, t in enumerate(titles, 1)
    )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        f"<link>https://example.org/</link><description>d</description>{items}</channel></rss>"
    ).encode()


def atom_listing(category: str) -> bytes:
    number = {"cs.AI": "2604.00001", "cs.LG": "2604.00002"}.get(category, "2604.00009")
    return f"""<?xml version="1.0"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:arxiv="http://arxiv.org/schemas/atom"
      xmlns:dc="http://purl.org/dc/elements/1.1/">
  <updated>2026-04-27T00:00:00-04:00</updated>
  <entry>
    <id>oai:arXiv.org:{number}v1</id>
    <title>A paper listed in {category}</title>
    <summary>arXiv:{number}v1 Announce Type: new
Abstract: Something about {category}.</summary>
    <category term="{category}"/>
    <dc:creator>A. Author</dc:creator>
    <arxiv:announce_type>new</arxiv:announce_type>
  </entry>
</feed>""".encode()


def _gzip_of_zeros(megabytes: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(1 << 20)
    out = [packer.compress(block) for _ in range(megabytes)]
    out.append(packer.flush())
    return b"".join(out)


class HostileServer:
    def __init__(self, bomb_mb: int = 1024, trickle_every: float = 0.5) -> None:
        self.bomb_mb = bomb_mb
        self.trickle_every = trickle_every
        self.bodies: dict[str, bytes] = {}
        self.redirects: dict[str, str] = {}
        self.categories = {"cs.AI", "cs.LG"}
        self.hits: Counter[str] = Counter()
        self.queries: list[str] = []
        self.stop = threading.Event()
        self._bomb: bytes | None = None
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self._server.shutdown()
        self._server.server_close()

    def bomb(self) -> bytes:
        if self._bomb is None:
            self._bomb = _gzip_of_zeros(self.bomb_mb)
        return self._bomb

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def handle(self) -> None:
                # The client hanging up is exactly what a capped fetch does.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    super().handle()

            def do_GET(self) -> None:
                split = urlsplit(self.path)
                server.hits[split.path] += 1
                server.queries.append(split.query)
                self._route(split.path, split.query)

            def _route(self, path: str, raw_query: str) -> None:
                parts = [p for p in path.split("/") if p]
                if path == "/bomb":
                    self._send(200, server.bomb(), {"Content-Encoding": "gzip"})
                elif path == "/endless":
                    self.send_response(200)
                    self.send_header("Content-Type", "application/rss+xml")
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    chunk = b"%x\r\n%s\r\n" % (1 << 16, bytes(1 << 16))
                    for _ in range(1 << 15):  # 2 GB at most
                        if server.stop.is_set():
                            return
                        self.wfile.write(chunk)
                elif path == "/trickle":
                    body = rss("Slow")
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    deadline = time.monotonic() + 120
                    for byte in body:
                        if server.stop.wait(server.trickle_every) or time.monotonic() > deadline:
                            return
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                elif path == "/feed":
                    self._send(200, rss(f"Asked with {raw_query or 'no query'}"))
                elif len(parts) >= 2 and parts[0] == "body" and parts[1] in server.bodies:
                    self._send(200, server.bodies[parts[1]])
                elif len(parts) == 2 and parts[0] == "redirect" and parts[1] in server.redirects:
                    self.send_response(302)
                    self.send_header("Location", server.redirects[parts[1]])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                elif len(parts) == 2 and parts[0] == "atom" and parts[1] in server.categories:
                    self._send(200, atom_listing(parts[1]))
                else:
                    self._send(404, b"not found")

            def _send(
                self, status: int, body: bytes, headers: dict[str, str] | None = None
            ) -> None:
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler
