"""Helpers of the web tests: store backends, hand-written articles, apps, a webhook receiver.

The tests talk to a store only through the Store protocol. ``BACKENDS`` names the
store kinds every test runs against; a backend makes a fresh, empty store for a
name and a factory that opens it again (the app opens one store per thread).
``ElasticsearchBackend`` keeps each store in its own ``newswatch-test-web-*`` index of
the test node (``$NEWSWATCH_TEST_ES_URL``, else a node of its own for the session).
"""

from __future__ import annotations

import atexit
import hashlib
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
from newswatch.alerts.saved import SavedSearches
from newswatch.config import Config, ElasticsearchConfig, config_from_dict
from pipelines.stores.base import Store
from pipelines.stores.elasticsearch import ElasticsearchStore
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
        [sys.executable, "-m", "newswatch", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )


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


_NODE: dict[str, Any] = {}


def test_node() -> tuple[str, tuple[str, str] | None]:
    """The Elasticsearch node of the tests: ``$NEWSWATCH_TEST_ES_URL``, else one started once.

    The backends are made without pytest's fixtures (``conftest.py`` passes a directory
    only), so they cannot share the session node of ``es_fixtures``: they start their own,
    stopped when the tests end.
    """
    url = os.environ.get("NEWSWATCH_TEST_ES_URL")
    if url:
        user = os.environ.get("NEWSWATCH_TEST_ES_USER")
        password = os.environ.get("NEWSWATCH_TEST_ES_PASSWORD", "")
        return url.rstrip("/"), (user, password) if user else None
    if "node" not in _NODE:
        from es_fixtures import load_node_module

        node = load_node_module().ElasticsearchNode()
        node.start()
        atexit.register(node.close)
        _NODE["node"] = node
    node = _NODE["node"]
    return node.url, node.auth


class ElasticsearchBackend:
    name = "elasticsearch"

    def __init__(self, root: Path) -> None:
        self.root = root
        self.url, self.auth = test_node()
        self.run = hashlib.sha1(str(root).encode()).hexdigest()[:8]
        atexit.register(self._delete_indices)

    def _delete_indices(self) -> None:
        # A shared node ($NEWSWATCH_TEST_ES_URL) keeps nothing of these tests.
        from elasticsearch import Elasticsearch

        try:
            with Elasticsearch(self.url, basic_auth=self.auth) as client:
                client.indices.delete(
                    index=f"newswatch-test-web-{self.run}-*",
                    expand_wildcards="all",
                    ignore_unavailable=True,
                )
                client.options(ignore_status=404).indices.delete_index_template(
                    name=f"newswatch-test-web-{self.run}-*"
                )
        except Exception:  # the node may be gone already: nothing left to clean
            pass

    def _settings(self, key: str) -> dict[str, Any]:
        # Index names are lower case and short: a digest of the key names the index.
        digest = hashlib.sha1(key.encode()).hexdigest()[:16]
        settings: dict[str, Any] = {
            "url": self.url,
            "index": f"newswatch-test-web-{self.run}-{digest}",
            "outbox": str(self.root / f"{digest}-outbox.db"),
        }
        if self.auth:
            settings |= {"username": self.auth[0], "password": self.auth[1]}
        return settings

    def config(self, key: str) -> dict[str, Any]:
        """The ``[store]`` section of a config that opens the store ``key``."""
        return {"backend": "elasticsearch", "elasticsearch": self._settings(key)}

    def create(self, key: str) -> Store:
        """A fresh, empty store named ``key``."""
        store = self.factory(key)()
        store.drop()  # type: ignore[attr-defined]
        return store

    def factory(self, key: str) -> Callable[[], Store]:
        """Opens the existing store ``key`` again (one per thread in the app)."""
        config = ElasticsearchConfig(**self._settings(key))
        return lambda: ElasticsearchStore.from_config(config, LANGUAGES, environ={})


BACKENDS = {"sqlite": SqliteBackend, "elasticsearch": ElasticsearchBackend}


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
            lines += [f"{k} = {_toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


def _toml_value(value: Any) -> str:
    # JSON writes TOML's strings, numbers, booleans and arrays; tables are inline tables.
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + "}"
    return json.dumps(value, ensure_ascii=False)


class LiveServer:
    """uvicorn serving an app on a free 127.0.0.1 port, in a thread; a context manager."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
        )
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
