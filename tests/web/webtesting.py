"""Helpers of the web tests: store backends, hand-written articles, apps, a webhook receiver.

The tests talk to a store only through the Store protocol. ``BACKENDS`` names the
store kinds every test runs against; a backend makes a fresh, empty store for a
name and a factory that opens it again (the app opens one store per thread).
The Elasticsearch store joins by adding a backend here.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from crawler.items import Article
from crawler.urls import article_id
from newswatch.config import Config, config_from_dict
from newswatch.saved import SavedSearches
from pipelines.stores.base import Store
from pipelines.stores.sqlite import SqliteStore

with warnings.catch_warnings():
    # Starlette 1.x prefers httpx2 for its TestClient; httpx works on every supported version.
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

LANGUAGES = ["en", "fr", "de", "es", "it"]
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_newswatch(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the CLI in a child process, as a user does, without any config or token of ours."""
    environment = {k: v for k, v in os.environ.items() if k != "NEWSWATCH_WEB_TOKEN"}
    environment.update({"NEWSWATCH_CONFIG": "", **(env or {})})
    return subprocess.run(
        [sys.executable, "-m", "newswatch.cli", *args],
        cwd=cwd, env=environment, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


# --- stores --------------------------------------------------------------------------------


class SqliteBackend:
    name = "sqlite"

    def __init__(self, root: Path) -> None:
        self.root = root

    def config(self, key: str) -> dict[str, Any]:
        """The ``[store]`` section of a config that opens the store ``key``."""
        return {"backend": "sqlite", "path": str(self.root / f"{key}.db")}

    def create(self, key: str) -> Store:
        """A fresh, empty store named ``key``."""
        path = self.root / f"{key}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return SqliteStore(path, LANGUAGES)

    def factory(self, key: str) -> Callable[[], Store]:
        """Opens the existing store ``key`` again (one per thread in the app)."""
        path = self.root / f"{key}.db"
        return lambda: SqliteStore(path, LANGUAGES)


BACKENDS = {"sqlite": SqliteBackend}


# --- the demo crawl and hand-written articles -----------------------------------------------


@dataclass
class DemoCrawl:
    base: str  # http://127.0.0.1:PORT of the demo site during the crawl
    articles: list[Article] = field(default_factory=list)

    def path(self, url: str) -> str:
        assert url.startswith(self.base), url
        return url[len(self.base) :]

    def id(self, path: str) -> str:
        return article_id(self.base + path)


@dataclass
class Indexed:
    """A store of the backend under test, filled, with the factory an app needs."""

    key: str
    backend: Any
    store: Store
    factory: Callable[[], Store]
    demo: DemoCrawl | None = None


def make_article(number: int, **fields: Any) -> Article:
    """A hand-written article; every field may be given."""
    url = fields.pop("url", f"https://news.example/{number}.html")
    defaults: dict[str, Any] = {
        "id": article_id(f"https://news.example/{number}.html"),
        "url": url,
        "canonical_url": url,
        "title": f"Article {number}",
        "body": f"Body of article {number} about the AI race.",
        "source": "example",
        "fetched_at": "2026-11-20T00:00:00Z",
        "published_at": f"2026-11-{number:02d}T08:00:00Z",
        "language": "en",
        "topics": ["ai-race"],
    }
    return Article(**{**defaults, **fields})


# --- apps ----------------------------------------------------------------------------------


def web_config(index: Indexed, tmp: Path, **sections: Any) -> Config:
    return config_from_dict({"store": index.backend.config(index.key), **sections}, "<test>")


def make_client(index: Indexed, tmp: Path, token: str | None = None, **sections: Any) -> TestClient:
    return TestClient(make_app(index, tmp, token, **sections), base_url="http://127.0.0.1")


def toml_text(sections: dict[str, Any]) -> str:
    """A config file of tables (``{"store": {...}}``) and arrays of tables (lists of dicts)."""
    lines = []
    for name, value in sections.items():
        tables = value if isinstance(value, list) else [value]
        for table in tables:
            lines.append(f"[[{name}]]" if isinstance(value, list) else f"[{name}]")
            lines += [f"{k} = {json.dumps(v, ensure_ascii=False)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


class LiveServer:
    """uvicorn serving an app on a free 127.0.0.1 port, in a thread; a context manager."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                lifespan="on")  # fmt: skip
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        import time

        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def make_app(index: Indexed, tmp: Path, token: str | None = None, **sections: Any) -> Any:
    from newswatch.web.app import create_app

    config = web_config(index, tmp, **sections)
    return create_app(config, index.factory, SavedSearches(config, tmp / "saved.db"), token=token)


# --- a webhook receiver --------------------------------------------------------------------


class Receiver:
    """An HTTP server on 127.0.0.1 that records POSTed JSON; may fail the first requests."""

    def __init__(self, fail_first: int = 0, status: int = 500) -> None:
        self.bodies: list[dict] = []
        self.attempts = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the http.server API)
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                receiver.attempts += 1
                if receiver.attempts <= fail_first:
                    self.send_response(status)
                    self.end_headers()
                    return
                receiver.bodies.append(json.loads(body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def ids(self) -> list[str]:
        return [m["id"] for body in self.bodies for m in body["matches"]]
