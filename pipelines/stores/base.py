"""The store interface: what every backend (SQLite, Elasticsearch) provides.

Everything both stores do alike lives outside them: text analysis and query
parsing (``search``), snippets (``search.snippets``), ids (``crawler.urls``).
A store only saves articles and translates an analysed query into its own form.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Literal, Protocol

from crawler.items import Article
from search.query import MAX_TERMS, AnalyzedQuery, QuerySyntaxError, analyze_query
from search.snippets import Snippet, highlight, make_snippet

FACET_FIELDS = ("language", "source", "topics")


class StoreError(Exception):
    """The store cannot do what was asked (unreachable, locked, full); a one-line message."""


class StoreUnavailable(StoreError):
    """The store cannot be reached or refuses service for now; the same call may work later."""


@dataclass
class SearchRequest:
    """A search: the user's query (empty to browse by date) and its filters."""

    query: str = ""
    languages: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)
    since: str | None = None  # YYYY-MM-DD or ISO timestamp, inclusive
    until: str | None = None  # YYYY-MM-DD (the whole day) or ISO timestamp, inclusive
    sort: Literal["relevance", "date"] = "relevance"
    page: int = 1
    size: int = 10
    facets: bool = False
    collapse: bool = False  # one hit per story, with the count of its other copies
    max_terms: int = MAX_TERMS  # MAX_SAVED_TERMS for a saved search

    def date_bounds(self) -> tuple[str | None, str | None]:
        """``(lower, upper)`` ISO bounds: published_at >= lower and < upper.

        Raises QuerySyntaxError for a value that is not a date and for an inverted range.
        """
        lower, upper = _bound(self.since, 0), _bound(self.until, 1)
        if lower is not None and upper is not None and lower >= upper:
            raise QuerySyntaxError(
                f"inverted date range: since {self.since!r} is after until {self.until!r}"
            )
        return lower, upper

    @property
    def offset(self) -> int:
        return (max(self.page, 1) - 1) * self.size


_RELATIVE = re.compile(r"([0-9]{1,5})([dh])")


def _bound(value: str | None, days: int) -> str | None:
    """A stored-timestamp bound: a day's start (plus ``days``), or a timestamp (plus a second)."""
    if not value:
        return None
    value = value.strip()
    if relative := _RELATIVE.fullmatch(value):  # 7d, 24h: that long before now
        unit = timedelta(days=1) if relative[2] == "d" else timedelta(hours=1)
        moment = datetime.now(UTC) - int(relative[1]) * unit + timedelta(seconds=days)
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    try:
        day = date.fromisoformat(value)
    except ValueError:
        from crawler.extract import to_utc_iso

        stamp = to_utc_iso(value)
        if stamp is None:
            raise QuerySyntaxError(f"not a date: {value!r} (expected YYYY-MM-DD)") from None
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00")) + timedelta(seconds=days)
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return (day + timedelta(days=days)).isoformat() + "T00:00:00Z"


@dataclass
class Hit:
    """One search result."""

    article: Article
    score: float
    title: Snippet
    snippet: Snippet
    similar: int = 0  # other copies of the same story collapsed into this hit


@dataclass
class SearchResult:
    total: int
    hits: list[Hit]
    facets: dict[str, dict[str, int]] = field(default_factory=dict)
    histogram: dict[str, int] = field(default_factory=dict)  # YYYY-MM-DD -> count


@dataclass
class BulkOutcome:
    """What ``upsert_many`` did: each article's outcome, and the ones it could not write."""

    outcomes: dict[str, str] = field(default_factory=dict)  # id -> new / updated / unchanged
    errors: dict[str, str] = field(default_factory=dict)  # id -> one-line reason

    def count(self, outcome: str) -> int:
        """How many articles had ``outcome`` (new, updated or unchanged)."""
        return sum(1 for value in self.outcomes.values() if value == outcome)


def make_hit(article: Article, score: float, query: AnalyzedQuery | None, similar: int = 0) -> Hit:
    """A hit with its title and body highlighted by the shared snippet code."""
    if query is None:
        return Hit(
            article, score, Snippet(article.title), make_snippet(article.body, None, None), similar
        )
    return Hit(
        article,
        score,
        highlight(article.title, article.language, query),
        make_snippet(article.body, article.language, query),
        similar,
    )


def prepare_query(request: SearchRequest, default_languages: list[str]) -> AnalyzedQuery | None:
    """The analysed query of a request (None to browse), or raise QuerySyntaxError."""
    if not request.query.strip():
        return None
    return analyze_query(request.query, request.languages or default_languages, request.max_terms)


class Store(Protocol):
    """What the pipelines, the CLI and the web layer need from a store."""

    def upsert(self, article: Article) -> Literal["new", "updated", "unchanged"]:
        """Save an article by id: a new row, an update in place, or nothing changed."""

    def upsert_many(self, articles: Iterable[Article], copy: bool = False) -> BulkOutcome:
        """Save many articles like ``upsert``, in batches; per-article errors are reported.

        With ``copy`` (reindexing), each article keeps its ``revision`` and ``indexed_at``.
        """

    def get(self, article_id: str) -> Article | None: ...

    def ids_starting(self, prefix: str, limit: int = 2) -> list[str]:
        """Up to ``limit`` stored ids that start with ``prefix``, in id order."""
        ...

    def delete(self, article_id: str) -> bool:
        """Remove an article; True if it was there."""

    def find_by_body_hash(self, body_hash: str, exclude_id: str) -> str | None:
        """The id of another article with exactly this body, if any."""

    def find_by_bands(self, bands: list[str], exclude_id: str) -> list[Article]:
        """Up to 10 articles sharing near-duplicate bands with these, most shared first."""

    def search(self, request: SearchRequest) -> SearchResult: ...

    def count(self) -> int: ...

    def iter_articles(self, after_id: str = "") -> Iterator[Article]:
        """Every article, ordered by id, starting after ``after_id`` (for reindexing)."""

    def record_run(self, run: dict) -> None:
        """Keep the record of a finished crawl run."""

    def runs(self, source: str | None = None, limit: int = 50) -> list[dict]: ...

    def stats(self) -> dict:
        """Per source: articles, languages, drops by reason, last crawl."""

    def ping(self) -> bool:
        """Whether the store is reachable."""

    def close(self) -> None: ...
