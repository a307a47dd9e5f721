"""A news site of a few hundred pages on 127.0.0.1 that counts every request.

``/`` links to ``sections`` section pages; each section links to ``per_section``
English articles (``/news/<n>.html``) about robot factories, which the cluster tests'
topic keeps. Every response is counted by path, with its time, so the tests can
assert that each page was fetched exactly once across all workers, and how far apart.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def article_text(number: int) -> list[str]:
    """Eight paragraphs of English about robot factories, distinct for each article."""
    return [
        f"Robot factory report {number}, part {n}: workers at plant {number} describe how"
        f" {number * 7 + n} new robot arms arrived this month, and why the factory manager"
        f" expects output to rise by {n + number % 13} percent before the winter holidays."
        for n in range(1, 9)
    ]


class ClusterSite:
    """The site and its HTTP server; use as a context manager."""

    def __init__(self, sections: int = 10, per_section: int = 32, delay: float = 0.0) -> None:
        self.sections = sections
        self.per_section = per_section
        self.delay = delay  # seconds each article waits before it is answered
        self.requests: Counter[str] = Counter()
        self.times: list[float] = []  # time.monotonic() of each page request (not robots.txt)
        self._lock = threading.Lock()
        self.httpd = _QuietServer(("127.0.0.1", 0), _handler(self))
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def __enter__(self) -> ClusterSite:
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def article_paths(self) -> list[str]:
        return [f"/news/{n}.html" for n in range(self.sections * self.per_section)]

    def page_paths(self) -> list[str]:
        """Every page of the site: the home page, the sections, the articles."""
        return ["/", *(f"/section/{s}.html" for s in range(self.sections)), *self.article_paths()]

    def article_url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def page_requests(self) -> Counter[str]:
        with self._lock:
            return Counter({p: c for p, c in self.requests.items() if p != "/robots.txt"})

    def respond(self, path: str) -> tuple[int, str, bytes]:
        with self._lock:
            self.requests[path] += 1
            if path != "/robots.txt":
                self.times.append(time.monotonic())
        if path == "/robots.txt":
            return 200, "text/plain", b"User-agent: *\nAllow: /\n"
        if path == "/":
            links = "".join(
                f'<li><a href="/section/{s}.html">Section {s}</a></li>'
                for s in range(self.sections)
            )
            return 200, "text/html", _page("Cluster Gazette", f"<ul>{links}</ul>")
        if path.startswith("/section/") and path.endswith(".html"):
            section = int(path.removeprefix("/section/").removesuffix(".html"))
            if 0 <= section < self.sections:
                first = section * self.per_section
                links = "".join(
                    f'<li><a href="/news/{n}.html">Report {n}</a></li>'
                    for n in range(first, first + self.per_section)
                )
                return 200, "text/html", _page(f"Section {section}", f"<ul>{links}</ul>")
        if path.startswith("/news/") and path.endswith(".html"):
            number = int(path.removeprefix("/news/").removesuffix(".html"))
            if 0 <= number < self.sections * self.per_section:
                if self.delay:
                    time.sleep(self.delay)
                return 200, "text/html", _article(number)
        return 404, "text/plain", b"not found"


def _page(title: str, body: str) -> bytes:
    return (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{title}</title>"
        f"</head><body><h1>{title}</h1>{body}</body></html>"
    ).encode()


def _article(number: int) -> bytes:
    paragraphs = "".join(f"<p>{p}</p>" for p in article_text(number))
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>Robot factory report {number}</title>"
        '<meta property="og:type" content="article">'
        f'<meta property="article:published_time" content="2026-11-{1 + number % 25:02d}T08:00:00Z">'
        '</head><body><nav><a href="/">Home</a></nav><article>'
        f"<h1>Robot factory report {number}</h1>{paragraphs}</article></body></html>"
    ).encode()


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a worker killed mid-response leaves a broken pipe: expected here


def _handler(site: ClusterSite) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 (the http.server API)
            status, kind, body = site.respond(self.path.split("?", 1)[0])
            self.send_response(status)
            self.send_header("Content-Type", f"{kind}; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler
