"""Saved searches: named searches from the config file and from the web API.

Searches from ``[[saved_searches]]`` in the config are read-only; the ones created
through ``POST /api/saved-searches`` are kept in a small SQLite file next to the
SQLite store (``data/newswatch.db`` -> ``data/newswatch-web.db``), or in
``data/newswatch-web.db`` with Elasticsearch. The same file remembers, per saved
search, which articles its webhook was sent and how the last deliveries went.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from newswatch.config import Config, SavedSearchConfig, _describe
from pipelines.stores.base import SearchRequest
from search.query import MAX_SAVED_TERMS

DEFAULT_PATH = "data/newswatch-web.db"

SCHEMA = """
CREATE TABLE IF NOT EXISTS saved_searches (
    name TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS alert_sent (
    search TEXT NOT NULL,
    article_id TEXT NOT NULL,
    sent_at TEXT NOT NULL,
    PRIMARY KEY (search, article_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS alert_status (
    search TEXT PRIMARY KEY,
    last_attempt TEXT,
    last_success TEXT,
    last_error TEXT,
    sent INTEGER NOT NULL DEFAULT 0
);
"""


class SavedSearchError(Exception):
    """A saved search that cannot be created or deleted; ``str()`` is a one-line message."""

    def __init__(self, message: str, kind: Literal["invalid", "exists", "missing", "config"]):
        super().__init__(message)
        self.kind = kind


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class SavedSearch:
    """A named search and its filters."""

    name: str
    query: str
    lang: list[str] = field(default_factory=list)
    source: list[str] = field(default_factory=list)
    topic: list[str] = field(default_factory=list)
    webhook: str | None = None
    origin: Literal["config", "api"] = "api"

    def request(self, **options: Any) -> SearchRequest:
        """The store request of this search (``options``: sort, page, size...)."""
        return SearchRequest(
            query=self.query,
            languages=list(self.lang),
            sources=list(self.source),
            topics=list(self.topic),
            max_terms=MAX_SAVED_TERMS,
            **options,
        )

    def public(self) -> dict[str, Any]:
        """What the API shows: everything but the webhook URL, which may hold a secret."""
        return {
            "name": self.name,
            "query": self.query,
            "lang": list(self.lang),
            "source": list(self.source),
            "topic": list(self.topic),
            "has_webhook": self.webhook is not None,
            "origin": self.origin,
        }

    @classmethod
    def from_config(cls, entry: SavedSearchConfig, origin: Literal["config", "api"]) -> SavedSearch:
        return cls(
            entry.name,
            entry.query,
            list(entry.lang),
            list(entry.source),
            list(entry.topic),
            entry.webhook,
            origin,
        )


def saved_path(config: Config) -> Path:
    """Where the saved-search file of a configuration lives."""
    store = config.store
    if store.backend == "sqlite" and store.path != ":memory:":
        path = Path(store.path)
        return path.with_name(f"{path.stem}-web.db")
    return Path(DEFAULT_PATH)


class SavedSearches:
    """The saved searches of a configuration, and the alert bookkeeping of each.

    Every call opens its own short connection, so one instance serves any thread.
    The file is created on the first write; reading a missing file finds nothing.
    """

    def __init__(self, config: Config, path: str | Path | None = None) -> None:
        self.config = config
        self.path = Path(path) if path is not None else saved_path(config)

    @contextlib.contextmanager
    def _db(self, write: bool = False) -> Iterator[sqlite3.Connection | None]:
        if not write and not self.path.exists():
            yield None
            return
        if write:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(str(self.path), timeout=10, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)
            if write:
                db.execute("BEGIN IMMEDIATE")
                try:
                    yield db
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
                db.execute("COMMIT")
            else:
                yield db
        finally:
            db.close()

    # --- the searches ---------------------------------------------------------

    def all(self) -> list[SavedSearch]:
        """The config's searches first, then the API's, each group by name."""
        searches = [SavedSearch.from_config(s, "config") for s in self.config.saved_searches]
        with self._db() as db:
            if db is not None:
                for (data,) in db.execute("SELECT data FROM saved_searches ORDER BY name"):
                    entry = SavedSearchConfig.model_validate(json.loads(data))
                    searches.append(SavedSearch.from_config(entry, "api"))
        return searches

    def get(self, name: str) -> SavedSearch | None:
        return next((s for s in self.all() if s.name == name), None)

    def create(self, data: Any) -> SavedSearch:
        """Validate and store a search sent to the API, or raise :class:`SavedSearchError`."""
        if not isinstance(data, dict):
            raise SavedSearchError("expected a JSON object", "invalid")
        try:
            entry = SavedSearchConfig.model_validate(data)
        except ValidationError as exc:
            raise SavedSearchError(_describe(exc), "invalid") from None
        if any(s.name == entry.name for s in self.config.saved_searches):
            raise SavedSearchError(
                f"a saved search named {entry.name!r} is in the config file", "exists"
            )
        with self._db(write=True) as db:
            assert db is not None
            if db.execute("SELECT 1 FROM saved_searches WHERE name = ?", (entry.name,)).fetchone():
                raise SavedSearchError(f"a saved search named {entry.name!r} exists", "exists")
            db.execute(
                "INSERT INTO saved_searches (name, data, created_at) VALUES (?, ?, ?)",
                (entry.name, entry.model_dump_json(), now()),
            )
        return SavedSearch.from_config(entry, "api")

    def delete(self, name: str) -> None:
        """Delete a search created through the API, with its alert history."""
        if any(s.name == name for s in self.config.saved_searches):
            raise SavedSearchError(
                f"the saved search {name!r} is defined in the config file: remove it there",
                "config",
            )
        with self._db(write=True) as db:
            assert db is not None
            if not db.execute("DELETE FROM saved_searches WHERE name = ?", (name,)).rowcount:
                raise SavedSearchError(f"no saved search named {name!r}", "missing")
            db.execute("DELETE FROM alert_sent WHERE search = ?", (name,))
            db.execute("DELETE FROM alert_status WHERE search = ?", (name,))

    # --- alert bookkeeping ----------------------------------------------------

    def sent_ids(self, name: str) -> set[str]:
        with self._db() as db:
            if db is None:
                return set()
            rows = db.execute("SELECT article_id FROM alert_sent WHERE search = ?", (name,))
            return {r[0] for r in rows}

    def record_attempt(
        self, name: str, sent: list[str] | None = None, error: str | None = None
    ) -> None:
        """Note a delivery attempt: the article ids it sent, or the error it met."""
        stamp = now()
        with self._db(write=True) as db:
            assert db is not None
            db.execute(
                "INSERT INTO alert_status (search, last_attempt) VALUES (?, ?)"
                " ON CONFLICT(search) DO UPDATE SET last_attempt = excluded.last_attempt",
                (name, stamp),
            )
            if error is not None:
                db.execute("UPDATE alert_status SET last_error = ? WHERE search = ?", (error, name))
                return
            added = 0
            for article_id in sent or []:
                added += db.execute(
                    "INSERT OR IGNORE INTO alert_sent (search, article_id, sent_at) VALUES (?,?,?)",
                    (name, article_id, stamp),
                ).rowcount
            db.execute(
                "UPDATE alert_status SET last_success = ?, last_error = NULL, sent = sent + ?"
                " WHERE search = ?",
                (stamp, added, name),
            )

    def status(self) -> dict[str, dict[str, Any]]:
        """Per saved search with a webhook: last attempt, last success, last error, sent."""
        rows: dict[str, tuple] = {}
        with self._db() as db:
            if db is not None:
                for row in db.execute(
                    "SELECT search, last_attempt, last_success, last_error, sent FROM alert_status"
                ):
                    rows[row[0]] = row[1:]
        out = {}
        for search in self.all():
            if search.webhook is None and search.name not in rows:
                continue
            attempt, success, error, sent = rows.get(search.name, (None, None, None, 0))
            out[search.name] = {
                "last_attempt": attempt,
                "last_success": success,
                "last_error": error,
                "sent": sent,
            }
        return out
