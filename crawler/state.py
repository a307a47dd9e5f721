"""The crawl state: what the crawler remembers between runs, and one run per source at a time.

``CrawlState`` is a local SQLite file, kept apart from the article store (whichever
backend that is). Per polled feed or sitemap URL it keeps the validators of the
last response (ETag, Last-Modified, a hash of the body), the number of polls, the
current polling interval and how long the source is backed off. Per article URL
it keeps when it was first seen and last fetched, the last HTTP status, a hash of
the body, what became of it ("stored" or the reason it was dropped), its article
id and revision, and how to ask for it again (the feed's hint, the link depth).

A URL with no outcome yet is *pending*: it was discovered but its page has not
been decided on (the crawl was killed, the server failed). Every run asks for the
pending URLs of its source again, so nothing discovered is lost.

``SourceLock`` is an OS file lock (``fcntl.flock``) per source: the kernel releases
it when the process exits, however it exits.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

MAX_ATTEMPTS = 3  # runs that may fail to fetch a pending URL before it is given up

SCHEMA = """
CREATE TABLE IF NOT EXISTS polls (
    source TEXT NOT NULL,
    url TEXT NOT NULL,
    etag TEXT,
    last_modified TEXT,
    content_hash TEXT,
    polls INTEGER NOT NULL DEFAULT 0,
    interval INTEGER,
    backoff_until TEXT,
    last_polled TEXT,
    last_status INTEGER,
    PRIMARY KEY (source, url)
);
CREATE TABLE IF NOT EXISTS articles (
    url TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    last_fetched TEXT,
    last_status INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0,
    content_hash TEXT,
    outcome TEXT,
    article_id TEXT,
    revision INTEGER,
    published_at TEXT,
    request TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS articles_source ON articles(source, outcome);
CREATE INDEX IF NOT EXISTS articles_article_id ON articles(article_id);
"""


def now_iso() -> str:
    """The current time as stored: ISO 8601 in UTC, to the second."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class StateError(Exception):
    """The crawl state file cannot be used; ``str()`` is a one-line message."""


@dataclass(frozen=True)
class Poll:
    """What the last polls of one feed or sitemap URL left behind."""

    source: str
    url: str
    etag: str | None = None
    last_modified: str | None = None
    content_hash: str | None = None
    polls: int = 0
    interval: int | None = None  # seconds; None: the source's configured interval
    backoff_until: str | None = None
    last_polled: str | None = None
    last_status: int | None = None


@dataclass(frozen=True)
class SourceSchedule:
    """A source's polling over all its URLs: when last, how often, backed off until."""

    last_polled: str | None = None
    interval: int | None = None  # the shortest interval of its URLs
    backoff_until: str | None = None


@dataclass(frozen=True)
class ArticleState:
    """What the crawler knows about one article URL."""

    url: str
    source: str
    first_seen: str
    last_fetched: str | None = None
    last_status: int | None = None
    attempts: int = 0
    content_hash: str | None = None
    outcome: str | None = None  # None: pending; "stored"; or why the page was dropped
    article_id: str | None = None
    revision: int | None = None
    published_at: str | None = None
    request: dict[str, Any] = field(default_factory=dict)  # {"hint": {...}, "depth": n}


_POLL_COLUMNS = (
    "source, url, etag, last_modified, content_hash, polls, interval, backoff_until,"
    " last_polled, last_status"
)
_ARTICLE_COLUMNS = (
    "url, source, first_seen, last_fetched, last_status, attempts, content_hash, outcome,"
    " article_id, revision, published_at, request"
)


def _article(row: tuple) -> ArticleState:
    return ArticleState(*row[:-1], request=json.loads(row[-1] or "{}"))


class CrawlState:
    """The crawl state in a SQLite file (WAL mode: crawls of several sources share it)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            if str(path) != ":memory:":
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(str(path), timeout=30, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.executescript(SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            raise StateError(f"cannot open the crawl state {path}: {exc}") from None

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self.db.close()

    def _run(self, sql: str, params: tuple | list = ()) -> sqlite3.Cursor:
        try:
            return self.db.execute(sql, params)
        except sqlite3.Error as exc:
            raise StateError(f"cannot use the crawl state {self.path}: {exc}") from None

    def _many(self, sql: str, rows: list[tuple]) -> None:
        try:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                self.db.executemany(sql, rows)
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StateError(f"cannot write the crawl state {self.path}: {exc}") from None

    # --- polls of feeds and sitemaps -----------------------------------------------------

    def poll(self, source: str, url: str) -> Poll:
        """The state of one polled URL (an empty one if it was never polled)."""
        row = self._run(
            f"SELECT {_POLL_COLUMNS} FROM polls WHERE source = ? AND url = ?", (source, url)
        ).fetchone()
        return Poll(*row) if row else Poll(source, url)

    def polls(self, source: str) -> list[Poll]:
        """Every polled URL of a source."""
        rows = self._run(
            f"SELECT {_POLL_COLUMNS} FROM polls WHERE source = ? ORDER BY url", (source,)
        ).fetchall()
        return [Poll(*row) for row in rows]

    def record_poll(
        self,
        source: str,
        url: str,
        status: int,
        *,
        interval: int | None,
        etag: str | None = None,
        last_modified: str | None = None,
        content_hash: str | None = None,
    ) -> None:
        """Count a poll of ``url``; validators and hash given as None keep their old value."""
        self._run(
            "INSERT INTO polls (source, url, etag, last_modified, content_hash, polls, interval,"
            " last_polled, last_status) VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?)"
            " ON CONFLICT (source, url) DO UPDATE SET etag = coalesce(excluded.etag, etag),"
            " last_modified = coalesce(excluded.last_modified, last_modified),"
            " content_hash = coalesce(excluded.content_hash, content_hash),"
            " polls = polls + 1, interval = excluded.interval,"
            " last_polled = excluded.last_polled, last_status = excluded.last_status",
            (source, url, etag, last_modified, content_hash, interval, now_iso(), status),
        )

    def back_off(self, source: str, urls: list[str], until: str) -> None:
        """Leave ``source`` alone until ``until`` (the server asked for it)."""
        self._many(
            "INSERT INTO polls (source, url, backoff_until) VALUES (?, ?, ?)"
            " ON CONFLICT (source, url) DO NOTHING",
            [(source, url, until) for url in urls],
        )
        self._run("UPDATE polls SET backoff_until = ? WHERE source = ?", (until, source))

    def schedule(self, source: str) -> SourceSchedule:
        """When ``source`` was last polled, its shortest interval, and its backoff."""
        row = self._run(
            "SELECT max(last_polled), min(interval), max(backoff_until) FROM polls"
            " WHERE source = ?",
            (source,),
        ).fetchone()
        return SourceSchedule(*row) if row else SourceSchedule()

    # --- article URLs --------------------------------------------------------------------

    def articles(self, urls: list[str]) -> dict[str, ArticleState]:
        """The known state of each of ``urls`` (absent: never seen)."""
        found: dict[str, ArticleState] = {}
        for start in range(0, len(urls), 500):
            chunk = urls[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for row in self._run(
                f"SELECT {_ARTICLE_COLUMNS} FROM articles WHERE url IN ({marks})", chunk
            ).fetchall():
                found[row[0]] = _article(row)
        return found

    def article(self, url: str) -> ArticleState | None:
        return self.articles([url]).get(url)

    def discover(self, source: str, entries: list[tuple[str, dict[str, Any]]]) -> set[str]:
        """Remember newly seen URLs (url, how to request it); return the ones not seen before."""
        seen = set(self.articles([url for url, _ in entries]))
        new = [(url, request) for url, request in entries if url not in seen]
        stamp = now_iso()
        self._many(
            "INSERT OR IGNORE INTO articles (url, source, first_seen, request) VALUES (?,?,?,?)",
            [(url, source, stamp, json.dumps(request, ensure_ascii=False)) for url, request in new],
        )
        return {url for url, _ in new}

    def fetched(self, url: str, status: int, content_hash: str | None) -> None:
        """A response arrived for ``url``: one more attempt, its status and body hash."""
        self._run(
            "UPDATE articles SET last_fetched = ?, last_status = ?, attempts = attempts + 1,"
            " content_hash = coalesce(?, content_hash) WHERE url = ?",
            (now_iso(), status, content_hash, url),
        )

    def failed(self, url: str) -> None:
        """A fetch of ``url`` failed without a response (DNS, refused, timeout)."""
        self._run("UPDATE articles SET attempts = attempts + 1 WHERE url = ?", (url,))

    def decided(
        self,
        url: str,
        outcome: str,
        article_id: str | None = None,
        revision: int | None = None,
        published_at: str | None = None,
    ) -> None:
        """What became of ``url``: "stored" (with the article's id and revision) or a drop."""
        self._run(
            "UPDATE articles SET outcome = ?, attempts = 0,"
            " article_id = coalesce(?, article_id), revision = coalesce(?, revision),"
            " published_at = coalesce(?, published_at) WHERE url = ?",
            (outcome, article_id, revision, published_at, url),
        )

    def decided_article(self, article_id: str, outcome: str) -> None:
        """What became of a stored article when it was processed again (``reparse``)."""
        self._run("UPDATE articles SET outcome = ? WHERE article_id = ?", (outcome, article_id))

    def pending(self, source: str) -> list[ArticleState]:
        """URLs of ``source`` discovered but not decided on, not yet given up."""
        rows = self._run(
            f"SELECT {_ARTICLE_COLUMNS} FROM articles WHERE source = ? AND outcome IS NULL"
            " AND attempts < ? ORDER BY first_seen, url",
            (source, MAX_ATTEMPTS),
        ).fetchall()
        return [_article(row) for row in rows]

    def refresh_due(
        self, source: str, published_after: str, fetched_before: str
    ) -> list[ArticleState]:
        """Stored articles of ``source`` young enough to change and not fetched lately.

        An article without a publication date counts from when it was first seen.
        """
        rows = self._run(
            f"SELECT {_ARTICLE_COLUMNS} FROM articles WHERE source = ? AND outcome = 'stored'"
            " AND coalesce(published_at, first_seen) >= ? AND last_fetched <= ?"
            " ORDER BY url",
            (source, published_after, fetched_before),
        ).fetchall()
        return [_article(row) for row in rows]


class SourceBusy(Exception):
    """Another process is crawling the source; ``str()`` is a one-line message."""


class SourceLock:
    """An exclusive OS lock on ``<directory>/<source>.lock`` for one crawl of a source.

    The file holds the pid of the process that has it. The kernel drops the lock
    when that process exits, even killed, so a lock is never left stale.
    """

    def __init__(self, directory: str | Path, source: str) -> None:
        self.source = source
        self.path = Path(directory) / f"{source}.lock"
        self._file: Any = None

    def acquire(self) -> None:
        """Take the lock, or raise :class:`SourceBusy` naming the source."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+", encoding="ascii")  # noqa: SIM115 (held until release)
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip()
            handle.close()
            by = f" (pid {holder})" if holder.isdigit() else ""
            raise SourceBusy(
                f"source {self.source!r} is already being crawled by another process{by}"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._file = handle

    def release(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None

    def __enter__(self) -> SourceLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
