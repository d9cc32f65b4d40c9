"""A real HTTP server on 127.0.0.1 that serves the recorded feeds in ../shared/data/real the way
the public services do (paths, query strings, ETag / 304), plus misbehaving routes for failures.

Routes:
  /atom/{cat}, /rss/{cat}             rss.arxiv.org listings (recorded categories only; else 404)
  /api/query?id_list=…|search_query=… export.arxiv.org API (HTTP 400 feed for a bad id)
  /api/daily_papers?date=YYYY-MM-DD   Hugging Face Daily Papers ([] for unrecorded days)
  /details/medrxiv/{from}/{to}/{n}    the medRxiv details API (page 0 recorded, then empty)
  /status/{code}                      always that status
  /hang                               accepts, then says nothing for `hang_seconds`
  /html, /malformed, /wrong-json      an HTML error page, cut-off XML, JSON of the wrong shape
"""

from __future__ import annotations

import hashlib
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit


class FeedServer:
    def __init__(self, real: Path, hang_seconds: float = 5.0) -> None:
        self.real = real
        self.hang_seconds = hang_seconds
        self.hits: Counter[str] = Counter()
        self.not_modified: Counter[str] = Counter()
        self.stop_hanging = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> FeedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_hanging.set()
        self._server.shutdown()
        self._server.server_close()

    # ------------------------------------------------------------ routing

    def route(self, path: str, query: dict[str, list[str]]) -> tuple[int, str, bytes]:
        real = self.real
        parts = [p for p in path.split("/") if p]
        if len(parts) == 2 and parts[0] in ("atom", "rss"):
            found = sorted((real / "arxiv_rss").glob(f"rss.arxiv.org_{parts[0]}_{parts[1]}_*"))
            if found:
                return 200, "application/xml", found[0].read_bytes()
            return 404, "text/plain", b"no such category"
        if path == "/api/query":
            return self._api(query)
        if path == "/api/daily_papers":
            day = query.get("date", [""])[0]
            file = real / "hf_daily_papers" / f"daily_papers_{day}.json"
            return 200, "application/json", file.read_bytes() if file.exists() else b"[]"
        if len(parts) == 5 and parts[0] == "details":
            if parts[4] == "0":
                file = real / "biorxiv_medrxiv" / "medrxiv_api_details_2026-09-15_excerpt.json"
                return 200, "application/json", file.read_bytes()
            empty = b'{"messages": [{"status": "no posts found"}], "collection": []}'
            return 200, "application/json", empty
        if len(parts) == 2 and parts[0] == "status":
            return int(parts[1]), "text/plain", b"recorded failure"
        if path == "/html":
            page = b"<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1></body></html>"
            return 200, "text/html", page
        if path == "/malformed":
            body = (
                real / "arxiv_rss" / "rss.arxiv.org_rss_cs.AI_2026-04-27_excerpt.xml"
            ).read_bytes()
            return 200, "application/xml", body[: len(body) // 2]
        if path == "/wrong-json":
            return 200, "application/json", b'{"error": "rate limited"}'
        return 404, "text/plain", b"not found"

    def _api(self, query: dict[str, list[str]]) -> tuple[int, str, bytes]:
        api = self.real / "arxiv_api"
        ids = query.get("id_list", [""])[0]
        search = query.get("search_query", [""])[0]
        if ids == "abc":
            return 400, "application/atom+xml", (api / "id_list_abc_http400_error.xml").read_bytes()
        if ids:
            name = f"id_list_{ids.replace('/', '_').replace(',', '_')}.xml"
            for candidate in (api / name, api / f"legacy2016_{name}"):
                if candidate.exists():
                    return 200, "application/atom+xml", candidate.read_bytes()
            return 200, "application/atom+xml", (api / "id_list_0000.0000_empty.xml").read_bytes()
        if search:
            if int(query.get("start", ["0"])[0]) > 0:
                body = (api / "id_list_0000.0000_empty.xml").read_bytes()
            else:
                body = (api / "query_all-testing_start0_max100.xml").read_bytes()
            return 200, "application/atom+xml", body
        return 400, "text/plain", b"no query"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                split = urlsplit(self.path)
                server.hits[split.path] += 1
                if split.path == "/hang":
                    server.stop_hanging.wait(server.hang_seconds)
                    return
                status, kind, body = server.route(split.path, parse_qs(split.query))
                etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
                if status == 200 and self.headers.get("If-None-Match") == etag:
                    server.not_modified[split.path] += 1
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                if status == 200:
                    self.send_header("ETag", etag)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler
