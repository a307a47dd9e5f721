"""End to end with Elasticsearch: `newswatch crawl` of the demo site into a real node.

The crawl runs in a child process with a config built from the default config and the
demo's sources (``newswatch demo`` itself is SQLite-only). It must store exactly what the
SQLite demo crawl stores. In the outage test the node is stopped in the middle of a
crawl: the articles wait in the outbox, and arrive once each when the node is back.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
import tomllib
import uuid
from importlib import resources
from pathlib import Path
from typing import Any

from test_demo_crawl import GW1, STORED

from crawler.urls import article_id
from newswatch.config import ElasticsearchConfig, default_config_text
from newswatch.demo import SITE
from newswatch.demo.server import SiteServer
from pipelines.stores.base import SearchRequest
from pipelines.stores.elasticsearch import ElasticsearchStore
from pipelines.stores.outbox import Outbox

LANGUAGES = ["en", "fr", "de", "es", "it"]


def toml_value(value: Any) -> str:
    """A TOML value on one line (inline tables and arrays)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # JSON string escapes are TOML's
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"no TOML for {value!r}")


def crawl_config(host: str, elasticsearch: dict) -> str:
    """The default config's filters and topics, the demo's sources, an Elasticsearch store."""
    base = tomllib.loads(default_config_text())
    text = resources.files("newswatch.demo").joinpath("sources.toml").read_text(encoding="utf-8")
    demo = tomllib.loads(text.replace("__HOST__", host))
    merged = {
        **base,
        "crawler": {**base.get("crawler", {}), **demo.get("crawler", {})},
        "sources": demo["sources"],
        "store": {"backend": "elasticsearch", "elasticsearch": elasticsearch},
    }
    return "".join(f"{key} = {toml_value(value)}\n" for key, value in merged.items())


def newswatch(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWATCH_")}
    return subprocess.run(
        [sys.executable, "-m", "newswatch", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )


def totals(output: str) -> dict[str, int]:
    """The crawl summary's total row, by column."""
    lines = output.splitlines()
    header = lines[0].split()
    total = next(line.split() for line in lines if line.startswith("total"))
    numbers = header[header.index("pages") : header.index("dropped")]
    return dict(zip(numbers, map(int, total[1 : 1 + len(numbers)]), strict=True))


class Crawl:
    """The demo site on one port, a config for a store, and the CLI run against them."""

    def __init__(self, tmp: Path, server: SiteServer, url: str, auth: tuple | None) -> None:
        self.tmp = tmp
        self.server = server
        self.index = f"newswatch-test-crawl-{uuid.uuid4().hex[:12]}"
        self.outbox = tmp / "data" / "elasticsearch-outbox.db"
        es = {"url": url, "index": self.index, "outbox": str(self.outbox)}
        if auth:
            es |= {"username": auth[0], "password": auth[1]}
        self.es = es
        self.config = tmp / "newswatch.toml"
        self.config.write_text(crawl_config(server.host, es), encoding="utf-8")

    def run(self, *args: str) -> subprocess.CompletedProcess:
        return newswatch("--config", str(self.config), *args, cwd=self.tmp)

    def store(self) -> ElasticsearchStore:
        return ElasticsearchStore.from_config(ElasticsearchConfig(**self.es), LANGUAGES, environ={})

    def paths(self) -> list[str]:
        store = self.store()
        try:
            return sorted(self.path(a.canonical_url) for a in store.iter_articles())
        finally:
            store.close()

    def path(self, url: str) -> str:
        assert url.startswith(self.server.url), url
        return url[len(self.server.url) :]

    def ids(self) -> list[str]:
        return sorted(article_id(self.server.url + path) for path in STORED)


def test_the_demo_crawl_stores_what_the_sqlite_crawl_stores(tmp_path, es_url, es_auth, es_client):
    with SiteServer(SITE) as server:
        crawl = Crawl(tmp_path, server, es_url, es_auth)
        first = crawl.run("crawl")
        assert first.returncode == 0, first.stdout + first.stderr
        assert crawl.paths() == sorted(STORED)
        assert es_client.count(index=crawl.index)["count"] == len(STORED)
        assert "queued" not in first.stdout and "outbox" not in first.stdout
        assert totals(first.stdout)["pages"] == 65

        second = crawl.run("crawl")
        assert second.returncode == 0, second.stdout + second.stderr
        assert totals(second.stdout) == {"pages": 65, "new": 0, "updated": 0, "unchanged": 23}
        store = crawl.store()
        try:
            assert sorted(a.id for a in store.iter_articles()) == crawl.ids()
            assert all(a.revision == 1 for a in store.iter_articles())
            assert len(store.runs()) == 10  # five sources, two crawls
            # The SQLite demo's matches (tests/e2e/test_demo_crawl.py), newest first.
            hits = store.search(SearchRequest("superintelligence", sort="date", size=50)).hits
            assert sorted(crawl.path(h.article.canonical_url) for h in hits) == sorted(
                [
                    "/corriere-tecnologico/tecnologia/superintelligenza-meta-recluta-in-italia.html",
                    "/quotidien-numerique/tech/superintelligence-meta-recrute-chercheurs-parisiens.html",
                    GW1,
                    "/quotidien-numerique/tech/intelligence-artificielle-generale-hassabis-cooperation.html",
                    "/daily-circuit/tech/agi-timelines-altman-hassabis-amodei.html",
                    "/daily-circuit/tech/zuckerberg-lab-lures-openai-staff.html",
                    "/daily-circuit/tech/new-albany-weighs-meta-data-centre.html",
                ]
            )
            dates = [h.article.published_at for h in hits]
            assert dates == sorted(dates, reverse=True)
        finally:
            store.close()
        assert not crawl.outbox.exists()


class OutageSite(SiteServer):
    """The demo site; at the ``after``-th article page it stops the Elasticsearch node.

    It first waits until the node holds an article, so the crawl writes some articles
    before the outage and queues the rest; the page is served once the node is down, and
    so are the article pages after it (the index stage writes in batches: without the
    wait, they could all be written before the outage).
    """

    def __init__(self, node: Any, index: str, after: int) -> None:
        super().__init__(SITE)
        self.node, self.index, self.after = node, index, after
        self.pages = 0
        self.stopped = threading.Event()
        self.stored_before = 0

    def count(self, path: str) -> None:
        super().count(path)
        if not path.endswith(".html") or path.endswith("index.html"):
            return
        with self._lock:
            self.pages += 1
            page = self.pages
        if page > self.after:
            self.stopped.wait(120)
        if page != self.after:
            return
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                self.stored_before = self.node.request("GET", f"/{self.index}/_count")["count"]
            except OSError:  # the index does not exist before the first write
                self.stored_before = 0
            if self.stored_before:
                break
            time.sleep(0.1)
        self.node.stop()
        self.stopped.set()


def test_an_outage_in_the_middle_of_a_crawl_loses_nothing(tmp_path, es_node_factory):
    node = es_node_factory()
    index = f"newswatch-test-outage-{uuid.uuid4().hex[:12]}"
    with OutageSite(node, index, after=12) as server:
        crawl = Crawl(tmp_path, server, node.url, None)
        crawl.index = index
        crawl.es["index"] = index
        crawl.config.write_text(crawl_config(server.host, crawl.es), encoding="utf-8")

        result = crawl.run("crawl")
        assert server.stopped.is_set()
        assert result.returncode == 0, result.stdout + result.stderr
        counted = totals(result.stdout)
        outbox = Outbox(crawl.outbox)
        pending = outbox.pending()
        assert server.stored_before > 0 and counted["queued"] > 0
        # Queued: what came after the outage, including pages of articles stored before it
        # that another source (the sitemaps) fetched again.
        assert pending > 0
        assert result.stdout.splitlines()[-1] == (
            f"newswatch: {pending} article(s) queued in {crawl.outbox}, not yet in the store"
            f" (cannot reach Elasticsearch at {node.url} (connection refused)); they are sent"
            " at the next crawl or with `newswatch flush`"
        )
        assert outbox.pending(kind=None) == pending + 5  # and the five crawl records
        outbox.close()

        node.start()
        # Back, once its shards are: until then a flush stops at once, and says so.
        node.request("GET", f"/_cluster/health/{index}?wait_for_status=yellow&timeout=60s")
        flushed = crawl.run("flush")
        assert (flushed.returncode, flushed.stderr) == (0, ""), flushed.stdout + flushed.stderr
        # Sent, or dropped as the copy of an article stored before the outage.
        summary = re.fullmatch(
            r"(\d+) queued article\(s\) sent \(\d+ new, \d+ updated, \d+ unchanged\)"
            r"(?:, (\d+) dropped as duplicates)?, 5 crawl record\(s\) sent\n",
            flushed.stdout,
        )
        assert summary, flushed.stdout
        assert int(summary[1]) + int(summary[2] or 0) == pending
        assert Outbox(crawl.outbox).pending(kind=None) == 0

        # Every article exactly once: the same ids as a crawl without an outage.
        assert crawl.paths() == sorted(STORED)
        store = crawl.store()
        try:
            assert store.count() == len(STORED)
            assert sorted(a.id for a in store.iter_articles()) == crawl.ids()
            assert len(store.runs()) == 5
            # The duplicate stage ran again on the queued articles: stories are linked.
            story = store.get(article_id(server.url + GW1)).story_id
            assert (
                story
                == store.get(
                    article_id(
                        server.url + "/daily-circuit/tech/zuckerberg-lab-lures-openai-staff.html"
                    )
                ).story_id
            )
        finally:
            store.close()

        again = crawl.run("crawl")
        assert again.returncode == 0, again.stdout + again.stderr
        assert totals(again.stdout) == {"pages": 65, "new": 0, "updated": 0, "unchanged": 23}
        assert crawl.paths() == sorted(STORED)


def test_flush_with_nothing_queued_and_with_a_sqlite_store(tmp_path, es_url, es_auth, es_client):
    with SiteServer(SITE) as server:
        crawl = Crawl(tmp_path, server, es_url, es_auth)
        result = crawl.run("flush")
        assert (result.returncode, result.stdout) == (
            0,
            "0 queued article(s) sent (0 new, 0 updated, 0 unchanged)\n",
        )
    sqlite = tmp_path / "sqlite.toml"
    sqlite.write_text('[store]\nbackend = "sqlite"\npath = "x.db"\n', encoding="utf-8")
    result = newswatch("--config", str(sqlite), "flush", cwd=tmp_path)
    assert (result.returncode, result.stderr) == (
        2,
        "newswatch: the store is SQLite: it has no outbox\n",
    )
