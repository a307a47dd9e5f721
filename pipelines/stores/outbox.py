"""The outbox: a durable local queue of writes for a store that is away.

When Elasticsearch cannot be reached (or refuses a write) during a crawl, the index
stage puts the article here instead of losing it; crawl runs that cannot be recorded
wait here too. The queue is a SQLite file (``[store.elasticsearch] outbox``, by default
``data/elasticsearch-outbox.db``). :meth:`Outbox.flush` sends what is queued, oldest
first, at the next crawl's start and end and with ``newswatch flush``.

An article is queued once: queueing it again replaces the older copy, so a flush
writes each article exactly once, in its latest version.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from crawler.items import Article
from pipelines.stores.base import Store, StoreError, StoreUnavailable

DEFAULT_PATH = "data/elasticsearch-outbox.db"

SCHEMA = """
CREATE TABLE IF NOT EXISTS queue (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,            -- 'article' or 'run'
    key TEXT NOT NULL,             -- the article id, or the run's source
    payload TEXT NOT NULL,         -- JSON
    queued_at TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS queue_key ON queue(kind, key);
"""


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class FlushReport:
    """What a flush sent, what it left queued and why."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0
    runs: int = 0
    dropped: dict[str, int] = field(default_factory=dict)  # reason -> count (duplicates)
    pending: int = 0  # articles still queued afterwards (crawl records not counted)
    failed: dict[str, str] = field(default_factory=dict)  # article id -> why it was refused
    error: str | None = None  # why the flush stopped early (the store is away)

    @property
    def sent(self) -> int:
        return self.new + self.updated + self.unchanged

    def summary(self) -> str:
        """One line: what was sent, dropped and left queued."""
        parts = [
            f"{self.sent} queued article(s) sent ({self.new} new, {self.updated} updated,"
            f" {self.unchanged} unchanged)"
        ]
        if self.dropped:
            parts.append(f"{sum(self.dropped.values())} dropped as duplicates")
        if self.runs:
            parts.append(f"{self.runs} crawl record(s) sent")
        if self.pending:
            parts.append(f"{self.pending} still queued")
        return ", ".join(parts)


class Outbox:
    """Writes waiting for the store, in a SQLite file; safe across processes.

    The file is created on the first ``put``: reading an outbox that does not exist
    finds it empty.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._db: sqlite3.Connection | None = None

    def __repr__(self) -> str:
        return f"Outbox({str(self.path)!r})"

    def _connect(self, create: bool) -> sqlite3.Connection | None:
        if self._db is not None:
            return self._db
        if not create and not self.path.exists():
            return None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(str(self.path), timeout=30, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")  # what is queued must survive a crash
            db.executescript(SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open the outbox {self.path}: {exc}") from None
        self._db = db
        return db

    def _execute(self, sql: str, params: tuple = (), create: bool = False) -> sqlite3.Cursor | None:
        db = self._connect(create)
        if db is None:
            return None
        try:
            return db.execute(sql, params)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot use the outbox {self.path}: {exc}") from None

    def put(self, article: Article) -> None:
        """Queue ``article``, replacing any older queued copy of it."""
        payload = json.dumps(article.to_dict(), ensure_ascii=False)
        db = self._connect(create=True)
        assert db is not None
        try:
            db.execute("BEGIN IMMEDIATE")
            db.execute("DELETE FROM queue WHERE kind = 'article' AND key = ?", (article.id,))
            db.execute(
                "INSERT INTO queue (kind, key, payload, queued_at) VALUES ('article', ?, ?, ?)",
                (article.id, payload, _now()),
            )
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            raise StoreError(f"cannot queue article {article.id} in {self.path}: {exc}") from None

    def put_run(self, run: dict) -> None:
        """Queue a crawl run record."""
        self._execute(
            "INSERT INTO queue (kind, key, payload, queued_at) VALUES ('run', ?, ?, ?)",
            (str(run.get("source", "")), json.dumps(run, default=str), _now()),
            create=True,
        )

    def has(self, article_id: str) -> bool:
        """Whether a copy of this article is waiting (a newer one must queue behind it)."""
        cursor = self._execute(
            "SELECT 1 FROM queue WHERE kind = 'article' AND key = ? LIMIT 1", (article_id,)
        )
        return cursor is not None and cursor.fetchone() is not None

    def pending(self, kind: str | None = "article") -> int:
        """How many articles are waiting (``kind=None``: crawl records too)."""
        if kind is None:
            cursor = self._execute("SELECT count(*) FROM queue")
        else:
            cursor = self._execute("SELECT count(*) FROM queue WHERE kind = ?", (kind,))
        return cursor.fetchone()[0] if cursor is not None else 0

    def ids(self) -> list[str]:
        """The ids of the queued articles, oldest first."""
        cursor = self._execute("SELECT key FROM queue WHERE kind = 'article' ORDER BY seq")
        return [row[0] for row in cursor.fetchall()] if cursor is not None else []

    def _items(self) -> Iterator[tuple[int, str, str]]:
        last = 0
        while True:
            cursor = self._execute(
                "SELECT seq, kind, payload FROM queue WHERE seq > ? ORDER BY seq LIMIT 100",
                (last,),
            )
            rows = cursor.fetchall() if cursor is not None else []
            if not rows:
                return
            yield from rows
            last = rows[-1][0]

    def flush(
        self, store: Store, prepare: Callable[[Article], Article | str] | None = None
    ) -> FlushReport:
        """Send the queued writes to ``store``, oldest first; each is removed once written.

        ``prepare`` runs on each article first (the crawl's duplicate stage, which could
        not look at the store while it was away); it returns the article to write, or a
        reason to drop it. A store that is still away stops the flush (the rest waits for
        the next one); an article the store refuses stays queued and the flush goes on.
        """
        report = FlushReport()
        for seq, kind, payload in self._items():
            try:
                if kind == "run":
                    store.record_run(json.loads(payload))
                    report.runs += 1
                else:
                    article = Article.from_dict(json.loads(payload))
                    ready = prepare(article) if prepare is not None else article
                    if isinstance(ready, str):
                        report.dropped[ready] = report.dropped.get(ready, 0) + 1
                    else:
                        outcome = store.upsert(ready)
                        setattr(report, outcome, getattr(report, outcome) + 1)
            except StoreUnavailable as exc:
                report.error = str(exc)
                self._execute(
                    "UPDATE queue SET attempts = attempts + 1, last_error = ? WHERE seq = ?",
                    (str(exc), seq),
                )
                break
            except StoreError as exc:
                key = json.loads(payload).get("id", str(seq)) if kind == "article" else str(seq)
                report.failed[key] = str(exc)
                self._execute(
                    "UPDATE queue SET attempts = attempts + 1, last_error = ? WHERE seq = ?",
                    (str(exc), seq),
                )
                continue
            self._execute("DELETE FROM queue WHERE seq = ?", (seq,))
        report.pending = self.pending()
        return report

    def close(self) -> None:
        if self._db is not None:
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
            self._db = None


def outbox_for(store_config: Any) -> Outbox | None:
    """The outbox of a ``[store]`` config section: Elasticsearch has one, SQLite none."""
    if getattr(store_config, "backend", "sqlite") != "elasticsearch":
        return None
    es = getattr(store_config, "elasticsearch", None)
    return Outbox(getattr(es, "outbox", None) or DEFAULT_PATH)


__all__ = ["DEFAULT_PATH", "FlushReport", "Outbox", "outbox_for"]
