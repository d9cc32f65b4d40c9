"""A real HTTP server on 127.0.0.1 that plays Slack, Discord and a generic webhook: it records
every POST (path, headers, body) and answers from a script per path: a list of answers used in
turn (then 200), each a status, headers, and how long to hang before answering."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    hang: float = 0.0


@dataclass(frozen=True)
class Request:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic() when it arrived


class HookServer:
    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.scripts: dict[str, list[Answer]] = {}
        self.lock = threading.Lock()
        self.released = threading.Event()  # ends every hang at once (shutdown)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def to(self, path: str) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.path == path]

    def __enter__(self) -> HookServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.released.set()
        self._server.shutdown()
        self._server.server_close()

    def _answer(self, path: str) -> Answer:
        with self.lock:
            script = self.scripts.get(path, [])
            return script.pop(0) if script else Answer()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with server.lock:
                    arrived = Request(self.path, dict(self.headers), body, time.monotonic())
                    server.requests.append(arrived)
                answer = server._answer(self.path)
                if answer.hang and server.released.wait(answer.hang):
                    return
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        return Handler
