"""A hostile web on 127.0.0.1: routes that misbehave next to good articles.

The fault tests (``tests/e2e/test_hostile_*.py``) describe a site as routes, each a
*behaviour*: a page, a status, a delay, a connection reset, a gzip bomb, a redirect,
a huge stream, or a function of the request. The server records every request (path,
query, arrival time) and how many body bytes each route wrote, so a test can assert
what the crawler fetched, how often, how long it waited between tries, and how much
of a body it read; none of that depends on the test's own clock.

The module also writes the good articles, feeds and config files the tests need, and
runs ``newswatch crawl`` in a child process exactly as a user runs it.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import socket
import struct
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

PLACEHOLDER = "__HOST__"
HTML = "text/html; charset=utf-8"
RSS = "application/rss+xml; charset=utf-8"

# --- the server ----------------------------------------------------------------------


@dataclass
class Hit:
    """One request the server received."""

    path: str  # without the query
    target: str  # as requested, with the query
    at: float  # time.monotonic() when the request line was read
    number: int  # 0 for the first request of this path, 1 for the second...
    headers: dict[str, str]

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.target).query)


class Exchange:
    """One request being answered: what a behaviour reads and writes."""

    def __init__(self, server: HostileServer, handler: BaseHTTPRequestHandler, hit: Hit) -> None:
        self.server = server
        self.handler = handler
        self.hit = hit

    def head(self, status: int, headers: Iterable[tuple[str, str]]) -> None:
        self.handler.send_response(status)
        for name, value in headers:
            self.handler.send_header(name, value)
        self.handler.end_headers()

    def write(self, data: bytes) -> None:
        """Write body bytes, counted under the route's path once the socket took them."""
        self.handler.wfile.write(data)
        self.server.add_sent(self.hit.path, len(data))

    def send(
        self,
        status: int,
        body: bytes,
        content_type: str | None,
        headers: Iterable[tuple[str, str]] = (),
    ) -> None:
        fields = [("Content-Type", content_type)] if content_type else []
        fields += [*headers, ("Content-Length", str(len(body)))]
        self.head(status, fields)
        self.write(body)

    def reset(self) -> None:
        """Close the connection with a TCP reset (RST), not an orderly close."""
        self.handler.wfile.flush()
        sock = self.handler.connection
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
        self.handler.close_connection = True


Behaviour = Callable[[Exchange], None]


class HostileServer:
    """Serves routes on 127.0.0.1 in a background thread; use as a context manager.

    ``route(path, behaviour)`` answers one path (any query); ``route_prefix`` answers
    every path under a prefix. Anything else is a 404. ``__HOST__`` in a body becomes
    ``127.0.0.1:PORT``.
    """

    def __init__(self) -> None:
        self.routes: dict[str, Behaviour] = {}
        self.prefixes: list[tuple[str, Behaviour]] = []
        self.hits: list[Hit] = []
        self.sent: dict[str, int] = {}
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.host = f"127.0.0.1:{self.port}"
        self.url = f"http://{self.host}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()  # wakes delayed behaviours
        self.httpd.shutdown()
        self.httpd.server_close()

    def route(self, path: str, behaviour: Behaviour) -> str:
        """Answer ``path`` with ``behaviour``; returns its absolute URL."""
        self.routes[path] = behaviour
        return self.url + path

    def route_prefix(self, prefix: str, behaviour: Behaviour) -> None:
        self.prefixes.append((prefix, behaviour))

    def behaviour(self, path: str) -> Behaviour:
        if path in self.routes:
            return self.routes[path]
        for prefix, behaviour in self.prefixes:
            if path.startswith(prefix):
                return behaviour
        return Status(404)

    def record(self, target: str, headers: dict[str, str]) -> Hit:
        path = urlsplit(target).path
        with self._lock:
            number = sum(1 for h in self.hits if h.path == path)
            hit = Hit(path, target, time.monotonic(), number, headers)
            self.hits.append(hit)
        return hit

    def add_sent(self, path: str, count: int) -> None:
        with self._lock:
            self.sent[path] = self.sent.get(path, 0) + count

    def count(self, path: str) -> int:
        """How many requests ``path`` received (any query)."""
        with self._lock:
            return sum(1 for h in self.hits if h.path == path)

    def times(self, path: str) -> list[float]:
        """When each request of ``path`` arrived (monotonic seconds)."""
        with self._lock:
            return [h.at for h in self.hits if h.path == path]

    def paths(self) -> list[str]:
        with self._lock:
            return [h.path for h in self.hits]

    def targets(self) -> list[str]:
        with self._lock:
            return [h.target for h in self.hits]

    def fill(self, data: bytes) -> bytes:
        return data.replace(PLACEHOLDER.encode(), self.host.encode())


def _handler_for(server: HostileServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = 60  # a client that stops reading cannot hold a thread for ever

        def handle(self) -> None:
            # A client that gives up (timeout, size cap, StopDownload) closes its side
            # while a behaviour still writes: that is the point of these routes.
            try:
                super().handle()
            except (ConnectionError, TimeoutError, OSError):
                self.close_connection = True

        def do_GET(self) -> None:  # noqa: N802 (the http.server API)
            hit = server.record(self.path, {k.lower(): v for k, v in self.headers.items()})
            server.behaviour(hit.path)(Exchange(server, self, hit))

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


# --- behaviours ----------------------------------------------------------------------


def _bytes(body: str | bytes, encoding: str = "utf-8") -> bytes:
    return body.encode(encoding) if isinstance(body, str) else body


def Page(  # noqa: N802 (a behaviour reads like a noun)
    body: str | bytes,
    content_type: str | None = HTML,
    status: int = 200,
    headers: Iterable[tuple[str, str]] = (),
) -> Behaviour:
    """A complete response; ``str`` bodies are UTF-8, ``bytes`` are sent as they are."""
    data, fields = _bytes(body), list(headers)

    def serve(exchange: Exchange) -> None:
        exchange.send(status, exchange.server.fill(data), content_type, fields)

    return serve


def Status(code: int, headers: Iterable[tuple[str, str]] = ()) -> Behaviour:  # noqa: N802
    """A short plain-text response with ``code``."""
    return Page(f"{code}\n", "text/plain; charset=utf-8", code, headers)


def Delay(seconds: float, then: Behaviour) -> Behaviour:  # noqa: N802
    """Wait ``seconds`` before answering (before the status line)."""

    def serve(exchange: Exchange) -> None:
        if not exchange.server.stopping.wait(seconds):
            then(exchange)

    return serve


def WaitFor(condition: Callable[[], bool], then: Behaviour, timeout: float = 120) -> Behaviour:  # noqa: N802
    """Hold the request until ``condition()`` holds (checked every 50 ms), then answer;
    a test's way to order what the crawler does without guessing durations."""

    def serve(exchange: Exchange) -> None:
        deadline = time.monotonic() + timeout
        while not condition() and time.monotonic() < deadline:
            if exchange.server.stopping.wait(0.05):
                return
        then(exchange)

    return serve


def Sequence(*behaviours: Behaviour) -> Behaviour:  # noqa: N802
    """The first request gets the first behaviour, the second the second...; the last repeats."""

    def serve(exchange: Exchange) -> None:
        behaviours[min(exchange.hit.number, len(behaviours) - 1)](exchange)

    return serve


def Reset(partial: bytes | None = None, length: int = 0) -> Behaviour:  # noqa: N802
    """Reset the connection: at once, or after sending a head announcing ``length``
    bytes and only the ``partial`` bytes of the body."""

    def serve(exchange: Exchange) -> None:
        if partial is not None:
            exchange.head(200, [("Content-Type", HTML), ("Content-Length", str(length))])
            exchange.write(partial)
        exchange.reset()

    return serve


def Redirect(location: str, status: int = 302) -> Behaviour:  # noqa: N802
    return Page(b"", None, status, [("Location", location)])


def GzipBomb(expanded: int, content_type: str = HTML) -> Behaviour:  # noqa: N802
    """``Content-Encoding: gzip``: a small body that inflates to ``expanded`` bytes."""
    data = gzip.compress(b"<p>" + b" " * (expanded - 3), compresslevel=9)

    def serve(exchange: Exchange) -> None:
        exchange.send(200, data, content_type, [("Content-Encoding", "gzip")])

    return serve


def Stream(  # noqa: N802
    total: int, content_type: str, head: bytes = b"", length: bool = True, chunk: int = 65536
) -> Behaviour:
    """Write ``total`` bytes (``head`` first) chunk by chunk, for as long as the client
    reads; ``server.sent[path]`` says how many the socket took. Without ``length`` no
    Content-Length is announced: the body ends when the connection closes."""

    def serve(exchange: Exchange) -> None:
        if length:
            fields = [("Content-Type", content_type), ("Content-Length", str(total))]
        else:
            fields = [("Content-Type", content_type), ("Connection", "close")]
            exchange.handler.close_connection = True
        exchange.head(200, fields)
        written = 0
        block = head + b"\0" * (chunk - len(head))
        while written < total:
            piece = block[: min(chunk, total - written)]
            exchange.write(piece)
            written += len(piece)
            block = b"\0" * chunk

    return serve


# --- good articles, feeds and sites ---------------------------------------------------

# Common English words: random sentences of them read as English to the language
# detector, and two articles never share enough shingles to look like copies.
_VOCABULARY = """
about after again against also always another around because been before being below
between both business called came city come company could country court daily days
during each early even every family few first following found from general given good
government group have health high himself home house however important including
information into itself just know large last later least left less life like local long
made make many market might money more most much must national never night number
office often only open other over own part people place point police political power
president press program public question rather really report right said same school
season second several should show since small social some state still story such
system take than that their them then there these they thing think this those though
three through time today together told toward under until used very want water week
well were what when where which while white whole will with within without work world
would year years young
"""
WORDS = _VOCABULARY.split()


def text(seed: int, paragraphs: int = 6, words: int = 60) -> list[str]:
    """Paragraphs of English-looking sentences, the same for the same seed."""
    rng = random.Random(seed)
    out = []
    for _ in range(paragraphs):
        sentences = []
        left = words
        while left > 0:
            n = min(left, rng.randint(8, 16))
            sentence = " ".join(rng.choice(WORDS) for _ in range(n))
            sentences.append(sentence[0].upper() + sentence[1:] + ".")
            left -= n
        out.append(" ".join(sentences))
    return out


def article_html(
    title: str,
    seed: int,
    *,
    published: str | None = "2026-11-20T08:00:00Z",
    head: str = "",
    body_top: str = "",
    jsonld: bool = True,
    lang: str = "en",
    paragraphs: list[str] | None = None,
) -> str:
    """A good article page: JSON-LD ``NewsArticle`` (unless ``jsonld=False``), a headline
    and paragraphs of text; ``head`` and ``body_top`` add markup where a case needs it."""
    escaped = title.replace("&", "&amp;").replace("<", "&lt;")
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": title,
    }
    if published:
        data["datePublished"] = published
    ld = (
        f'<script type="application/ld+json">{json.dumps(data, ensure_ascii=False)}</script>'
        if jsonld
        else '<meta property="og:type" content="article">'
    )
    paras = "\n".join(f"<p>{p}</p>" for p in (paragraphs or text(seed)))
    return (
        f'<!DOCTYPE html>\n<html lang="{lang}"><head>{head}<title>{escaped}</title>{ld}</head>'
        f"<body>{body_top}<article><h1>{escaped}</h1>\n{paras}\n</article></body></html>\n"
    )


def rss(items: Iterable[dict[str, str]], extra: str = "", encoding: str = "utf-8") -> str:
    """An RSS 2.0 feed; each item's keys are its elements (``title``, ``link``, ``pubDate``...).
    Values are written as they are: escape them first when they need it."""
    entries = "\n".join(
        "<item>" + "".join(f"<{k}>{v}</{k}>" for k, v in item.items()) + "</item>" for item in items
    )
    return (
        f'<?xml version="1.0" encoding="{encoding}"?>\n<rss version="2.0"{extra}><channel>'
        f"<title>Hostile feed</title><link>http://{PLACEHOLDER}/</link>"
        f"<description>d</description>\n{entries}\n</channel></rss>\n"
    )


def add_articles(server: HostileServer, prefix: str, count: int) -> list[str]:
    """Serve ``count`` good articles under ``prefix``; returns their paths."""
    paths = []
    for n in range(count):
        path = f"{prefix}/good-{n}.html"
        seed = zlib.crc32(path.encode())  # texts of their own: no article is a copy
        server.route(path, Page(article_html(f"Good article {prefix} number {n}", seed)))
        paths.append(path)
    return paths


# --- running a crawl -----------------------------------------------------------------


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML for {value!r}")


def write_config(
    path: Path,
    sources: list[dict[str, Any]],
    *,
    crawler: dict[str, Any] | None = None,
    store: dict[str, Any] | None = None,
    filters: dict[str, Any] | None = None,
) -> Path:
    """A config for a fast crawl of 127.0.0.1: no delays, every topic kept."""
    sections = {
        "crawler": {
            "download_delay": 0,
            "autothrottle": False,
            "concurrent_requests_per_domain": 8,
            "download_timeout": 20,
            "retry_backoff": 0.1,
            **(crawler or {}),
        },
        "filters": {
            "languages": ["en", "fr", "de", "pl", "cs"],
            "keep_unmatched": True,
            **(filters or {}),
        },
        "store": {"path": str(path.parent / "store.db"), **(store or {})},
    }
    lines = []
    for name, values in sections.items():
        lines.append(f"[{name}]")
        lines += [f"{k} = {toml_value(v)}" for k, v in values.items()]
        lines.append("")
    for source in sources:
        lines.append("[[sources]]")
        lines += [f"{k} = {toml_value(v)}" for k, v in source.items()]
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


@dataclass
class CrawlResult:
    """What ``newswatch crawl`` printed and left behind."""

    returncode: int
    stdout: str
    stderr: str
    drop_log: Path
    db: Path
    base: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def drops(self) -> list[dict[str, Any]]:
        """The drop log's records, URLs relative to the server."""
        if not self.drop_log.exists():
            return []
        records = [json.loads(line) for line in self.drop_log.read_text().splitlines()]
        for record in records:
            if isinstance(record.get("url"), str) and record["url"].startswith(self.base):
                record["url"] = record["url"][len(self.base) :]
        return records

    def drop_reasons(self) -> dict[str, str]:
        """``{path: reason}`` for every dropped page."""
        return {d["url"]: d["reason"] for d in self.drops()}

    def row(self, source: str) -> list[str]:
        """The summary row of ``source``, split on whitespace."""
        for line in self.stdout.splitlines():
            if line.split()[:1] == [source]:
                return line.split()
        raise AssertionError(f"no summary row for {source}:\n{self.stdout}")

    def dropped_column(self, source: str) -> dict[str, int]:
        """The summary's dropped column of ``source`` as ``{reason: count}``."""
        cells = " ".join(self.row(source)[7:])
        if cells == "-":
            return {}
        out = {}
        for cell in cells.split(", "):
            reason, count = cell.rsplit(" ", 1)
            out[reason] = int(count)
        return out

    def stored(self) -> dict[str, Any]:
        """``{url path: article}`` of every stored article."""
        from pipelines.stores.sqlite import SqliteStore

        store = SqliteStore(self.db, ["en"])
        try:
            return {a.url[len(self.base) :]: a for a in store.iter_articles()}
        finally:
            store.close()

    def runs(self) -> list[dict[str, Any]]:
        from pipelines.stores.sqlite import SqliteStore

        store = SqliteStore(self.db, ["en"])
        try:
            return store.runs()
        finally:
            store.close()


def crawl_command(config: Path, drop_log: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "newswatch",
        "--config",
        str(config),
        "crawl",
        "--drop-log",
        str(drop_log),
    ]


def child_env() -> dict[str, str]:
    # No proxy may take a request to 127.0.0.1 elsewhere.
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    return {**env, "NEWSWATCH_CONFIG": "", "PYTHONUNBUFFERED": "1"}


def run_crawl(
    tmp: Path,
    server: HostileServer,
    sources: list[dict[str, Any]],
    *,
    timeout: float = 300,
    preexec_fn: Callable[[], None] | None = None,
    **config: Any,
) -> CrawlResult:
    """Write a config for ``sources`` and run ``newswatch crawl`` in a child process."""
    path = write_config(tmp / "newswatch.toml", sources, **config)
    drop_log = tmp / "drops.jsonl"
    done = subprocess.run(
        crawl_command(path, drop_log),
        cwd=tmp,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=preexec_fn,
    )
    return CrawlResult(
        done.returncode, done.stdout, done.stderr, drop_log, _store_path(path), server.url
    )


def start_crawl(
    tmp: Path,
    server: HostileServer,
    sources: list[dict[str, Any]],
    *,
    preexec_fn: Callable[[], None] | None = None,
    **config: Any,
) -> tuple[subprocess.Popen, Callable[[], CrawlResult]]:
    """Like :func:`run_crawl`, but return at once: the child process, and a function
    that waits for it and returns the result."""
    path = write_config(tmp / "newswatch.toml", sources, **config)
    drop_log = tmp / "drops.jsonl"
    child = subprocess.Popen(
        crawl_command(path, drop_log),
        cwd=tmp,
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=preexec_fn,
    )

    def finish(timeout: float = 300) -> CrawlResult:
        stdout, stderr = child.communicate(timeout=timeout)
        return CrawlResult(
            child.returncode, stdout, stderr, drop_log, _store_path(path), server.url
        )

    return child, finish


def _store_path(config: Path) -> Path:
    import tomllib

    return Path(tomllib.loads(config.read_text())["store"]["path"])


def feed_source(name: str, *urls: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "kind": "feed", "urls": list(urls), **extra}


def assert_no_traceback(result: CrawlResult) -> None:
    assert "Traceback" not in result.stdout, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
