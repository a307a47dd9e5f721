"""SqliteStore: the embedded default store, a SQLite file in WAL mode with FTS5.

Articles are rows keyed by their stable id; the FTS5 table indexes the analysed
terms of title and body (``search.analysis.index_terms``), and is queried with an
expression built from the parsed query tree, never from user text. Ranking is
BM25 with the title weighted above the body.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from crawler.items import Article
from pipelines.prepared import terms
from pipelines.stores.base import (
    BulkOutcome,
    SearchRequest,
    SearchResult,
    StoreError,
    make_hit,
    prepare_query,
)
from pipelines.stores.sqlite.query import (
    BODY_WEIGHT,
    TITLE_WEIGHT,
    _filters,
    _qualify,
    fts_expression,
)
from pipelines.stores.sqlite.schema import MATCHES_TABLE, SCHEMA, SCHEMA_VERSION

MAX_CANDIDATES = 10  # near-duplicate candidates checked per article


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _why(error: sqlite3.Error) -> str:
    """SQLite's message, and what a write error most likely means."""
    name = getattr(error, "sqlite_errorname", "") or ""
    if name == "SQLITE_FULL" or name.startswith("SQLITE_IOERR_WRITE"):
        # A full disk, or a file size limit (RLIMIT_FSIZE, quota): SQLite cannot tell.
        return f"{error} ({name}: the disk may be full)"
    return str(error)


class SqliteStore:
    """Articles in a SQLite file; see the module docstring."""

    def __init__(self, path: str | Path, languages: list[str], busy_timeout: float = 30) -> None:
        self.path = Path(path)
        self.languages = list(languages)
        # How long a write waits for another process's write lock, all retries included.
        self.busy_timeout = busy_timeout
        try:
            if str(path) != ":memory:":
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(str(path), timeout=busy_timeout, isolation_level=None)
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            # A store already set up is opened without writing: another process may hold
            # the write lock for a while, and readers must not wait for it.
            if self.db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.executescript(SCHEMA)  # idempotent: every statement is IF NOT EXISTS
                self.db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open the store {path}: {exc}") from None

    def _transaction(self) -> Any:
        store = self

        class _Tx:
            def __enter__(self) -> sqlite3.Connection:
                store.db.execute("BEGIN IMMEDIATE")
                return store.db

            def __exit__(self, kind: Any, exc: Any, tb: Any) -> None:
                if kind is None:
                    try:
                        store.db.execute("COMMIT")
                        return
                    except sqlite3.Error:
                        self._rollback()
                        raise
                self._rollback()

            @staticmethod
            def _rollback() -> None:
                # After SQLITE_FULL or an I/O error SQLite may have rolled back already;
                # the error that got us here is the one to report, not this one.
                if store.db.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        store.db.execute("ROLLBACK")

        return _Tx()

    # --- writing -------------------------------------------------------------

    def upsert(self, article: Article) -> Literal["new", "updated", "unchanged"]:
        try:
            return self._retry(lambda: self._upsert(article))
        except sqlite3.Error as exc:
            why = _why(exc)
            raise StoreError(f"cannot write article {article.id} to {self.path}: {why}") from None

    def _retry(self, action: Any) -> Any:
        # SQLite's busy handler waits for a lock up to busy_timeout; some lock conflicts
        # in WAL mode fail at once instead (a snapshot gone stale), and are tried again
        # until the same budget is spent.
        deadline = time.monotonic() + self.busy_timeout
        attempt = 0
        while True:
            try:
                return action()
            except sqlite3.OperationalError as exc:
                locked = "locked" in str(exc) or "busy" in str(exc)
                if not locked or time.monotonic() >= deadline:
                    raise
                attempt += 1
                time.sleep(min(0.2 * attempt, max(0.0, deadline - time.monotonic())))

    def upsert_many(self, articles: Iterable[Article], copy: bool = False) -> BulkOutcome:
        """Upsert in transactions of 500 articles; with ``copy``, keep revision and indexed_at."""
        outcome = BulkOutcome()
        batch: list[Article] = []

        def write() -> None:
            def action() -> dict[str, str]:
                with self._transaction() as db:
                    return {article.id: self._write(db, article, copy) for article in batch}

            try:
                outcome.outcomes.update(self._retry(action))
            except sqlite3.Error as exc:
                more = f" and {len(batch) - 1} more" if len(batch) > 1 else ""
                raise StoreError(
                    f"cannot write article {batch[0].id}{more} to {self.path}: {_why(exc)}"
                ) from None
            batch.clear()

        for article in articles:
            batch.append(article)
            if len(batch) >= 500:
                write()
        if batch:
            write()
        return outcome

    def _upsert(self, article: Article) -> Literal["new", "updated", "unchanged"]:
        with self._transaction() as db:
            return self._write(db, article, copy=False)

    def _write(
        self, db: sqlite3.Connection, article: Article, copy: bool
    ) -> Literal["new", "updated", "unchanged"]:
        """Insert or update ``article`` inside the caller's transaction."""
        row = db.execute(
            "SELECT doc, revision, data FROM articles WHERE id = ?", (article.id,)
        ).fetchone()
        outcome: Literal["new", "updated", "unchanged"] = "new"
        if row is not None:
            old = Article.from_dict(json.loads(row[2]))
            before = (old.title, old.body, old.published_at, old.modified_at)
            now = (article.title, article.body, article.published_at, article.modified_at)
            changed = before != now
            outcome = "updated" if changed else "unchanged"
            if not copy:
                article.revision = row[1] + (1 if changed else 0)
                if not changed:
                    article.story_id = old.story_id or article.story_id
        if not copy or not article.indexed_at:
            article.indexed_at = _now()
        values = (
            article.id,
            article.source,
            article.language,
            article.published_at,
            article.story_id or article.id,
            article.body_hash,
            article.indexed_at,
            article.revision,
            json.dumps(article.to_dict(), ensure_ascii=False),
        )
        if row is None:
            doc = db.execute(
                "INSERT INTO articles (id, source, language, published_at, story_id,"
                " body_hash, indexed_at, revision, data) VALUES (?,?,?,?,?,?,?,?,?)",
                values,
            ).lastrowid
        else:
            doc = row[0]
            db.execute(
                "UPDATE articles SET id=?, source=?, language=?, published_at=?, story_id=?,"
                " body_hash=?, indexed_at=?, revision=?, data=? WHERE doc=?",
                (*values, doc),
            )
            for table in ("article_topics", "article_bands"):
                db.execute(f"DELETE FROM {table} WHERE doc = ?", (doc,))  # noqa: S608
            db.execute("DELETE FROM articles_fts WHERE rowid = ?", (doc,))
        db.executemany(
            "INSERT OR IGNORE INTO article_topics (topic, doc) VALUES (?, ?)",
            [(t, doc) for t in article.topics],
        )
        db.executemany(
            "INSERT OR IGNORE INTO article_bands (band, doc) VALUES (?, ?)",
            [(b, doc) for b in article.lsh_bands],
        )
        analysed = (doc, terms(article, "title"), terms(article, "body"))
        db.execute("INSERT INTO articles_fts (rowid, title, body) VALUES (?, ?, ?)", analysed)
        return outcome

    def delete(self, article_id: str) -> bool:
        def action() -> bool:
            with self._transaction() as db:
                row = db.execute("SELECT doc FROM articles WHERE id = ?", (article_id,)).fetchone()
                if row is None:
                    return False
                for table in ("article_topics", "article_bands"):
                    db.execute(f"DELETE FROM {table} WHERE doc = ?", row)  # noqa: S608
                db.execute("DELETE FROM articles_fts WHERE rowid = ?", row)
                db.execute("DELETE FROM articles WHERE doc = ?", row)
                return True

        try:
            return self._retry(action)
        except sqlite3.Error as exc:
            raise StoreError(
                f"cannot delete article {article_id} from {self.path}: {exc}"
            ) from None

    def record_run(self, run: dict) -> None:
        try:
            with self._transaction() as db:
                stats = json.dumps(run.get("stats", {}), default=str)
                row = (
                    run["source"],
                    run["started_at"],
                    run.get("finished_at"),
                    run["status"],
                    run.get("error"),
                    stats,
                )
                db.execute(
                    "INSERT INTO runs (source, started_at, finished_at, status, error, stats)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    row,
                )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot record the run in {self.path}: {_why(exc)}") from None

    # --- reading -------------------------------------------------------------

    def _article(self, row: tuple) -> Article:
        article = Article.from_dict(json.loads(row[0]))
        article.indexed_at, article.revision = row[1], row[2]
        return article

    def get(self, article_id: str) -> Article | None:
        row = self._read(
            "SELECT data, indexed_at, revision FROM articles WHERE id = ?", (article_id,)
        ).fetchone()
        return self._article(row) if row else None

    def ids_starting(self, prefix: str, limit: int = 2) -> list[str]:
        rows = self._read(
            "SELECT id FROM articles WHERE id >= ? ORDER BY id LIMIT ?", (prefix, limit)
        ).fetchall()
        return [row[0] for row in rows if row[0].startswith(prefix)]

    def find_by_body_hash(self, body_hash: str, exclude_id: str) -> str | None:
        row = self._read(
            "SELECT id FROM articles WHERE body_hash = ? AND id != ? ORDER BY doc LIMIT 1",
            (body_hash, exclude_id),
        ).fetchone()
        return row[0] if row else None

    def find_by_bands(self, bands: list[str], exclude_id: str) -> list[Article]:
        if not bands:
            return []
        marks = ",".join("?" * len(bands))
        # The candidates sharing the most bands first: the likeliest near-copies.
        rows = self._read(
            "SELECT a.data, a.indexed_at, a.revision FROM"
            f" (SELECT doc, count(*) AS shared FROM article_bands WHERE band IN ({marks})"
            "  GROUP BY doc) b JOIN articles a ON a.doc = b.doc WHERE a.id != ?"
            f" ORDER BY b.shared DESC, a.doc LIMIT {MAX_CANDIDATES}",
            (*bands, exclude_id),
        ).fetchall()
        return [self._article(r) for r in rows]

    def count(self) -> int:
        return self._read("SELECT count(*) FROM articles").fetchone()[0]

    def iter_articles(self, after_id: str = "") -> Iterator[Article]:
        last = after_id
        while True:
            rows = self._read(
                "SELECT data, indexed_at, revision, id FROM articles WHERE id > ?"
                " ORDER BY id LIMIT 500",
                (last,),
            ).fetchall()
            if not rows:
                return
            for row in rows:
                yield self._article(row)
            last = rows[-1][3]

    def _read(self, sql: str, params: tuple | list = ()) -> sqlite3.Cursor:
        try:
            return self._retry(lambda: self.db.execute(sql, params))
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read the store {self.path}: {exc}") from None

    def ping(self) -> bool:
        try:
            self.db.execute("SELECT 1").fetchone()
        except sqlite3.Error:
            return False
        return True

    # --- searching -----------------------------------------------------------

    def search(self, request: SearchRequest) -> SearchResult:
        query = prepare_query(request, self.languages)
        where, params = _filters(request)
        columns = "a.doc, a.id, a.published_at, a.story_id, a.language, a.source"
        source = (
            "articles_fts JOIN articles a INDEXED BY articles_cover"
            f" ON a.doc = articles_fts.rowid WHERE articles_fts MATCH ? AND {where}"
        )
        rank = f"bm25(articles_fts, {TITLE_WEIGHT}, {BODY_WEIGHT})"
        if query is None:  # browsing: the rows are read once per statement, by index
            matched = f"(SELECT {columns}, 0.0 AS rank FROM articles a WHERE {where})"
        elif request.facets:
            # Facets read every match several times: the full-text match runs once, and
            # its articles, their rank and what the filters, the order, the collapse and
            # the facets need go to a temporary table of this connection.
            self._read(MATCHES_TABLE)
            self._read("DELETE FROM temp.search_matches")
            self._read(
                f"INSERT INTO temp.search_matches SELECT {columns}, {rank} FROM {source}",
                [fts_expression(query.tree), *params],
            )
            matched, params = "temp.search_matches", []
        else:
            # What the filters and the order need of each match comes from the narrow
            # covering index, not from the wide rows (each holds its article).
            matched = f"(SELECT {columns}, {rank} AS rank FROM {source})"
            params = [fts_expression(query.tree), *params]
        if request.sort == "date":
            order = "published_at IS NULL, published_at DESC, id"
        else:
            order = "rank, published_at IS NULL, published_at DESC, id"
        if request.collapse:
            total_sql = f"SELECT count(*) FROM (SELECT DISTINCT story_id FROM {matched})"
            top = (
                "SELECT doc, rank, published_at, id, copies FROM (SELECT *, ROW_NUMBER() OVER"
                f" (PARTITION BY story_id ORDER BY {order}) AS position, COUNT(*) OVER"
                f" (PARTITION BY story_id) AS copies FROM {matched}) WHERE position = 1"
            )
        else:
            total_sql = f"SELECT count(*) FROM {matched}"
            if query is not None and not request.facets and where == "1 = 1":
                # Nothing to filter: the full-text index counts alone, without ranking.
                total_sql = "SELECT count(*) FROM articles_fts WHERE articles_fts MATCH ?"
            top = f"SELECT doc, rank, published_at, id, 1 AS copies FROM {matched}"
        page_sql = (
            "SELECT p.rank, p.copies, a.data, a.indexed_at, a.revision"
            f" FROM ({top} ORDER BY {order} LIMIT ? OFFSET ?) p"
            f" JOIN articles a ON a.doc = p.doc ORDER BY {_qualify(order, 'p')}"
        )
        total = self._read(total_sql, params).fetchone()[0]
        rows = self._read(page_sql, [*params, request.size, request.offset]).fetchall()
        hits = [
            make_hit(self._article(row[2:]), round(-row[0], 6), query, similar=row[1] - 1)
            for row in rows
        ]
        result = SearchResult(total=total, hits=hits)
        if request.facets:
            result.facets, result.histogram = self._facets(matched, params)
        if matched == "temp.search_matches":
            self._read("DELETE FROM temp.search_matches")
        return result

    def _facets(self, matched: str, params: list) -> tuple[dict, dict]:
        """Counts by language, source and topic, and by day, of every match (``matched``)."""
        languages: dict[str, int] = {}
        sources: dict[str, int] = {}
        days: dict[str, int] = {}
        # One pass over the matches for language, source and day; one for the topics.
        for language, source, day, count in self._read(
            "SELECT language, source, substr(published_at, 1, 10), count(*)"
            f" FROM {matched} GROUP BY 1, 2, 3",
            params,
        ).fetchall():
            for counts, key in ((languages, language), (sources, source), (days, day)):
                if key is not None:
                    counts[str(key)] = counts.get(str(key), 0) + count
        # One pass over the topics table: it is keyed by topic, not by article.
        by_topic = self._read(
            f"SELECT topic, count(*) FROM article_topics WHERE doc IN (SELECT doc FROM {matched})"
            " GROUP BY 1",
            params,
        )
        topics = dict(by_topic.fetchall())

        def by_count(counts: dict[str, int]) -> dict[str, int]:
            return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))

        topics = {str(k): v for k, v in topics.items() if k is not None}
        facets = {
            "language": by_count(languages),
            "source": by_count(sources),
            "topics": by_count(topics),
        }
        return facets, dict(sorted(days.items()))

    # --- history and health --------------------------------------------------

    def runs(self, source: str | None = None, limit: int = 50) -> list[dict]:
        sql = "SELECT source, started_at, finished_at, status, error, stats FROM runs"
        params: list[Any] = []
        if source:
            sql += " WHERE source = ?"
            params.append(source)
        sql += " ORDER BY run DESC LIMIT ?"
        rows = self._read(sql, [*params, limit]).fetchall()
        keys = ("source", "started_at", "finished_at", "status", "error", "stats")
        return [dict(zip(keys, (*r[:5], json.loads(r[5])), strict=True)) for r in rows]

    def stats(self) -> dict:
        sources: dict[str, dict] = {}
        for source, language, count in self._read(
            "SELECT source, language, count(*) FROM articles GROUP BY 1, 2 ORDER BY 1, 3 DESC"
        ).fetchall():
            entry = sources.setdefault(source, {"articles": 0, "languages": {}})
            entry["articles"] += count
            entry["languages"][language or "?"] = count
        for source, newest in self._read(
            "SELECT source, max(published_at) FROM articles GROUP BY 1"
        ).fetchall():
            sources[source]["newest_article"] = newest
        for run in self._read(
            "SELECT source, started_at, finished_at, status, error, stats FROM runs"
            " WHERE run IN (SELECT max(run) FROM runs GROUP BY source)"
        ).fetchall():
            entry = sources.setdefault(run[0], {"articles": 0, "languages": {}})
            stats = json.loads(run[5])
            entry["last_crawl"] = {
                "started_at": run[1],
                "finished_at": run[2],
                "status": run[3],
                "error": run[4],
            }
            entry["dropped"] = stats.get("dropped", {})
        return {"articles": self.count(), "sources": dict(sorted(sources.items()))}

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self.db.close()
