"""A static server for the demo site (and test fixture sites), on 127.0.0.1 only.

Feeds and sitemaps name absolute URLs; the site's files write the host as
``__HOST__``, replaced with ``127.0.0.1:PORT`` as each file is served (inside
gzipped files too). Every request is counted by path, for tests.
"""

from __future__ import annotations

import gzip
import mimetypes
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

PLACEHOLDER = b"__HOST__"
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".rss": "application/rss+xml; charset=utf-8",
    ".atom": "application/atom+xml; charset=utf-8",
    ".rdf": "application/rdf+xml; charset=utf-8",
    ".xml": "application/xml; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".gz": "application/gzip",
}


class SiteServer:
    """Serves a directory on 127.0.0.1 in a background thread; use as a context manager."""

    def __init__(self, root: Path, port: int = 0) -> None:
        self.root = root.resolve()
        self.requests: Counter[str] = Counter()
        self._lock = threading.Lock()
        handler = _handler_for(self)
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.host = f"127.0.0.1:{self.port}"
        self.url = f"http://{self.host}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> SiteServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def count(self, path: str) -> None:
        with self._lock:
            self.requests[path] += 1

    def resolve(self, path: str) -> Path | None:
        """The file for a URL path, or None if it is outside the root or missing."""
        relative = unquote(path).lstrip("/")
        target = (self.root / relative).resolve()
        if target.is_dir():
            target = target / "index.html"
        if not target.is_file() or self.root not in target.parents:
            return None
        return target

    def body(self, target: Path) -> bytes:
        data = target.read_bytes()
        if target.suffix == ".gz":
            return gzip.compress(gzip.decompress(data).replace(PLACEHOLDER, self.host.encode()))
        return data.replace(PLACEHOLDER, self.host.encode())


def _handler_for(server: SiteServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 (the http.server API)
            path = urlsplit(self.path).path
            server.count(path)
            target = server.resolve(path)
            if target is None:
                self._send(404, b"not found", "text/plain; charset=utf-8")
                return
            kind = TYPES.get(target.suffix) or mimetypes.guess_type(target.name)[0]
            self._send(200, server.body(target), kind or "application/octet-stream")

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # quiet: the crawl summary says what was fetched

    return Handler
