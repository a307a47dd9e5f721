"""A news site on 127.0.0.1 that changes while tests watch, for incremental-crawl tests.

It serves an RSS feed (``/feed.rss``) and a news sitemap (``/sitemap.xml``, listed by
``/sitemap-index.xml``) of the site's articles, each article as HTML, and ``robots.txt``. Unlike the static demo server it answers conditional
requests (ETag/Last-Modified, 304), can be made slow, can answer a path with any
status (429 with Retry-After), and counts every request by path: the tests assert
exactly what the crawler asked for.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

TOPIC_WORDS = ["robot", "factory", "chip"]  # the tests' topics match these


@dataclass
class Page:
    """An article of the site."""

    path: str
    title: str
    body: str  # paragraphs, one per line
    published: str  # ISO 8601, UTC
    modified: str | None = None
    in_feed: bool = True


def article_text(number: int, words: str = "robot factory") -> str:
    """Enough distinct English text to pass extraction and language detection."""
    return "\n".join(
        f"Paragraph {n} of report {number}: the {words} story continues as engineers in"
        f" district {number} explain how the new {words} line changes daily work for"
        f" {number + n} people, while the city council debates what comes next."
        for n in range(1, 9)
    )


class NewsSite:
    """The site and its HTTP server; use as a context manager."""

    def __init__(self, delay: float = 0.0) -> None:
        self.pages: dict[str, Page] = {}
        self.delay = delay  # seconds each article response waits: a slow site
        self.overrides: dict[str, tuple[int, dict[str, str]]] = {}  # path -> status, headers
        self.requests: Counter[str] = Counter()
        self.conditional: Counter[str] = Counter()  # requests with If-None-Match/-Since
        self.not_modified: Counter[str] = Counter()  # answered 304
        self._lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> NewsSite:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    # --- content -------------------------------------------------------------------------

    def add(self, number: int, published: str, words: str = "robot factory", **kw: object) -> Page:
        """Add article ``number`` (its path is ``/news/<number>.html``)."""
        page = Page(
            f"/news/{number}.html",
            f"Report {number}: the {words} question",
            article_text(number, words),
            published,
            **kw,
        )  # type: ignore[arg-type]
        with self._lock:
            self.pages[page.path] = page
        return page

    def article_requests(self) -> int:
        """Requests for article pages so far."""
        return sum(n for path, n in self.requests.items() if path.startswith("/news/"))

    def feed(self) -> bytes:
        items = "".join(
            f"<item><title>{p.title}</title><link>{self.url}{p.path}</link>"
            f"<guid>{self.url}{p.path}</guid>"
            f"<pubDate>{format_datetime(_parse(p.published), usegmt=True)}</pubDate></item>"
            for p in sorted(self.pages.values(), key=lambda p: p.path)
            if p.in_feed
        )
        return (
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>Test news</title><link>{self.url}/</link><language>en</language>"
            f"{items}</channel></rss>"
        ).encode()

    def sitemap(self) -> bytes:
        urls = "".join(
            f"<url><loc>{self.url}{p.path}</loc><news:news><news:publication_date>"
            f"{p.published}</news:publication_date><news:title>{p.title}</news:title>"
            "</news:news></url>"
            for p in sorted(self.pages.values(), key=lambda p: p.path)
            if p.in_feed
        )
        return (
            '<?xml version="1.0" encoding="utf-8"?>'
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
            ' xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">'
            f"{urls}</urlset>"
        ).encode()

    def html(self, page: Page) -> bytes:
        modified = (
            f'<meta property="article:modified_time" content="{page.modified}">'
            if page.modified
            else ""
        )
        paragraphs = "".join(f"<p>{line}</p>" for line in page.body.splitlines())
        return (
            f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f"<title>{page.title}</title>"
            f'<link rel="canonical" href="{self.url}{page.path}">'
            f'<meta property="og:type" content="article">'
            f'<meta property="article:published_time" content="{page.published}">{modified}'
            f"</head><body><article><h1>{page.title}</h1>{paragraphs}</article></body></html>"
        ).encode()

    def respond(self, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        """Status, headers and body for a GET of ``path``; counts it."""
        with self._lock:
            self.requests[path] += 1
            if "If-None-Match" in headers or "If-Modified-Since" in headers:
                self.conditional[path] += 1
            override = self.overrides.get(path)
            page = self.pages.get(path)
        if override is not None:
            status, extra = override
            return status, {"Content-Type": "text/plain", **extra}, b"slow down"
        if path == "/robots.txt":
            return 200, {"Content-Type": "text/plain"}, b"User-agent: *\nAllow: /\n"
        if path == "/feed.rss":
            body, kind = self.feed(), "application/rss+xml; charset=utf-8"
        elif path == "/sitemap.xml":
            body, kind = self.sitemap(), "application/xml; charset=utf-8"
        elif path == "/sitemap-index.xml":
            body = (
                '<?xml version="1.0" encoding="utf-8"?>'
                '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                f"<sitemap><loc>{self.url}/sitemap.xml</loc></sitemap></sitemapindex>"
            ).encode()
            kind = "application/xml; charset=utf-8"
        elif page is not None:
            if self.delay:
                time.sleep(self.delay)
            body, kind = self.html(page), "text/html; charset=utf-8"
        else:
            return 404, {"Content-Type": "text/plain"}, b"not found"
        etag = '"' + hashlib.sha1(body).hexdigest() + '"'
        if headers.get("If-None-Match") == etag:
            with self._lock:
                self.not_modified[path] += 1
            return 304, {"ETag": etag}, b""
        return 200, {"Content-Type": kind, "ETag": etag}, body


def _parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(UTC)


def _handler(site: NewsSite) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 (the http.server API)
            status, headers, body = site.respond(urlsplit(self.path).path, dict(self.headers))
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if body:
                self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler
