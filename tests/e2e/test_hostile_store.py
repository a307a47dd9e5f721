"""Our own parts failing: a store locked by another process, the crawler killed while it
writes, the disk full under the store.

Every case crawls good articles from a fixture server in a ``newswatch crawl`` child
process and then opens the store it left: SQLite's integrity check passes, every stored
article has its full-text entry, and what was committed is readable.
"""

from __future__ import annotations

import math
import os
import resource
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

from hostile import (
    RSS,
    Behaviour,
    Exchange,
    HostileServer,
    Page,
    WaitFor,
    add_articles,
    article_html,
    assert_no_traceback,
    feed_source,
    rss,
    run_crawl,
    start_crawl,
)

from pipelines.stores.sqlite import SqliteStore


def _feed(server: HostileServer, paths: list[str]) -> str:
    server.route("/feed.xml", Page(rss({"title": p, "link": server.url + p} for p in paths), RSS))
    return server.url + "/feed.xml"


def _new_store(tmp: Path) -> Path:
    path = tmp / "store.db"
    SqliteStore(path, ["en"]).close()
    return path


def assert_consistent(db: Path) -> int:
    """The store is sound and every article has its full-text row; returns the count."""
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        conn.execute("INSERT INTO articles_fts(articles_fts) VALUES ('integrity-check')")
        articles = conn.execute("SELECT count(*) FROM articles").fetchone()[0]
        assert conn.execute("SELECT count(*) FROM articles_fts").fetchone()[0] == articles
        assert (
            conn.execute(
                "SELECT count(*) FROM articles a WHERE NOT EXISTS"
                " (SELECT 1 FROM articles_fts f WHERE f.rowid = a.doc)"
            ).fetchone()[0]
            == 0
        )
        assert conn.execute("SELECT count(DISTINCT id) FROM articles").fetchone()[0] == articles
    return articles


class LockHolder:
    """Another process holding the store's write lock until :meth:`release`."""

    def __init__(self, db: Path) -> None:
        script = (
            "import sqlite3, sys, time\n"
            f"db = sqlite3.connect({str(db)!r}, isolation_level=None)\n"
            "db.execute('BEGIN IMMEDIATE')\n"
            "print('locked', flush=True)\n"
            "sys.stdin.readline()\n"
            "print(time.time(), flush=True)\n"
            "db.execute('COMMIT')\n"
        )
        self.process = subprocess.Popen(
            [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout.readline() == "locked\n"

    def release(self) -> float:
        """Commit; returns the wall-clock time just before the lock went."""
        self.process.stdin.write("\n")
        self.process.stdin.flush()
        released = float(self.process.stdout.readline())
        self.process.wait(timeout=30)
        return released

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)


def test_a_store_locked_for_a_while_is_waited_for(tmp_path):
    db = _new_store(tmp_path)
    holder = LockHolder(db)
    try:
        with HostileServer() as server:
            good = add_articles(server, "/good", 5)
            feed = _feed(server, good)

            def release_after_the_fetches() -> None:
                # Every page is fetched while the lock is held, and for a while after:
                # the writes must wait for it.
                while not all(server.count(p) for p in good):
                    time.sleep(0.05)
                time.sleep(2)
                released.append(holder.release())

            released: list[float] = []
            releaser = threading.Thread(target=release_after_the_fetches, daemon=True)
            releaser.start()
            result = run_crawl(tmp_path, server, [feed_source("waits", feed)])
            releaser.join(timeout=60)
    finally:
        holder.stop()
    assert result.returncode == 0, result.output
    assert_no_traceback(result)
    assert sorted(result.stored()) == sorted(good)
    # Written after the lock went (indexed_at has whole seconds).
    floor = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(math.floor(released[0])))
    assert all(a.indexed_at >= floor for a in result.stored().values())
    assert assert_consistent(db) == 5


def test_a_store_locked_too_long_stops_the_crawl_with_one_line(tmp_path):
    db = _new_store(tmp_path)
    holder = LockHolder(db)
    drop_log = tmp_path / "drops.jsonl"

    def store_failed() -> bool:
        return drop_log.exists() and "store-error" in drop_log.read_text()

    served = []  # article requests answered at once
    lock = threading.Lock()

    def first_three_then_wait(page: Page) -> Behaviour:
        # Whatever order the crawler asks in, three articles are answered at once and
        # every later request waits until the store has failed: none should follow.
        held = WaitFor(store_failed, page)

        def serve(exchange: Exchange) -> None:
            with lock:
                now = len(served) < 3
                if now:
                    served.append(exchange.hit.path)
            (page if now else held)(exchange)

        return serve

    try:
        with HostileServer() as server:
            paths = [f"/articles/{n}.html" for n in range(100)]
            for n, path in enumerate(paths):
                server.route(path, first_three_then_wait(Page(article_html(path, 700 + n))))
            feed = _feed(server, paths)
            result = run_crawl(
                tmp_path, server, [feed_source("locked", feed)], store={"busy_timeout": 1}
            )
            requested = sum(server.count(p) for p in paths)
    finally:
        holder.stop()
    assert result.returncode == 1, result.output
    assert_no_traceback(result)
    assert result.row("locked")[2] == "failed"
    errors = [line for line in result.stdout.splitlines() if line.startswith("locked: ")]
    assert len(errors) == 1
    assert errors[0].startswith("locked: cannot write article ")
    assert errors[0].endswith(f" to {db}: database is locked")
    assert result.stderr.splitlines() == [
        f"newswatch: could not record the crawl history: cannot record the run in {db}:"
        " database is locked",
        "newswatch: 1 source(s) failed: locked",
    ]
    # The crawl stopped: besides the three, only the requests already handed to the
    # downloader when the store failed (at most CONCURRENT_REQUESTS, 16) were made.
    assert requested <= 3 + 16
    assert {d["reason"] for d in result.drops()} == {"store-error"}
    assert assert_consistent(db) == 0


def test_a_crawl_killed_while_writing_leaves_a_sound_store_and_the_next_completes_it(tmp_path):
    db = _new_store(tmp_path)
    with HostileServer() as server:
        good = add_articles(server, "/good", 40)
        feed = _feed(server, good)
        sources = [feed_source("killed", feed)]
        # One page at a time, a quarter second apart, no worker processes: the crawl
        # takes 10 s, so the kill finds it mid-way, some of the index stage's batches
        # (every 2 s) written and not all.
        crawler = {"concurrent_requests_per_domain": 1, "workers": 0, "download_delay": 0.25}
        child, finish = start_crawl(tmp_path, server, sources, crawler=crawler)
        with sqlite3.connect(db) as reader:
            while reader.execute("SELECT count(*) FROM articles").fetchone()[0] < 5:
                assert child.poll() is None, "the crawl ended before it could be killed"
                time.sleep(0.02)
        os.kill(child.pid, signal.SIGKILL)
        killed = finish()
        assert killed.returncode == -signal.SIGKILL
        written = assert_consistent(db)
        assert 5 <= written < 40
        again = run_crawl(tmp_path, server, sources, crawler=crawler)
    assert again.returncode == 0, again.output
    assert_no_traceback(again)
    assert sorted(again.stored()) == sorted(good)
    assert assert_consistent(db) == 40


def _limit_file_size(limit: int):
    def limit_in_child() -> None:
        # Python ignores SIGXFSZ: a write past the limit fails with EFBIG instead.
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return limit_in_child


def test_a_full_disk_stops_the_crawl_and_keeps_what_was_committed(tmp_path):
    db = _new_store(tmp_path)
    with HostileServer() as server:
        good = add_articles(server, "/good", 30)
        feed = _feed(server, good)
        # Room for the files the crawl writes, but the store's write-ahead log fills
        # up after a few articles.
        result = run_crawl(
            tmp_path, server, [feed_source("full", feed)], preexec_fn=_limit_file_size(256 * 1024)
        )
    assert result.returncode == 1, result.output
    assert_no_traceback(result)
    assert result.row("full")[2] == "failed"
    errors = [line for line in result.stdout.splitlines() if line.startswith("full: ")]
    assert len(errors) == 1
    assert errors[0].startswith("full: cannot write article ")
    assert errors[0].endswith(
        f" to {db}: disk I/O error (SQLITE_IOERR_WRITE: the disk may be full)"
    )
    stored = assert_consistent(db)
    assert 0 < stored < 30
    assert set(result.stored()) < set(good)
