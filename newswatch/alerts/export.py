"""Export: the articles a search matches, as CSV or JSON Lines, streamed page by page.

Used by ``newswatch export`` and ``GET /api/export``. The store is read one page
at a time (newest first), so an export of any size holds one page in memory.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any, Literal

from crawler.items import Article
from pipelines.stores.base import SearchRequest, SearchResult, Store
from search.query import parse

COLUMNS = ("id", "url", "title", "source", "language", "published_at", "authors", "topics")
FORMATS = ("csv", "jsonl")
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}
PAGE = 200

Format = Literal["csv", "jsonl"]


def export_row(article: Article) -> dict[str, Any]:
    return {
        "id": article.id,
        "url": article.url,
        "title": article.title,
        "source": article.source,
        "language": article.language,
        "published_at": article.published_at,
        "authors": list(article.authors),
        "topics": list(article.topics),
    }


def check_request(request: SearchRequest) -> None:
    """Raise QuerySyntaxError now for a bad query or date, before any output is written."""
    if request.query.strip():
        parse(request.query)
    request.date_bounds()


def export_rows(store: Store, request: SearchRequest, page_size: int = PAGE) -> Iterator[dict]:
    """Every article the request matches, newest first, read ``page_size`` at a time.

    The first page is read when this is called (a bad query raises here); later
    pages are read as the rows are consumed. Each page is read through
    ``store.search`` at that moment, so a store that is bound to a thread may be
    a per-thread proxy.
    """
    base = replace(request, sort="date", size=page_size, facets=False, collapse=False)
    check_request(base)
    first = store.search(replace(base, page=1))
    return _rows(store, base, first)


def _rows(store: Store, base: SearchRequest, first: SearchResult) -> Iterator[dict]:
    result, page, seen = first, 1, 0
    while result.hits:
        for hit in result.hits:
            yield export_row(hit.article)
        seen += len(result.hits)
        if seen >= result.total:
            return
        page += 1
        result = store.search(replace(base, page=page))


def _safe_cell(value: str) -> str:
    # A cell that a spreadsheet would run as a formula (=, +, -, @) is kept as text.
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def csv_lines(rows: Iterator[dict]) -> Iterator[str]:
    """CSV text, one chunk per row, header first; lists are joined with '; '."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(COLUMNS)
    yield flush()
    for row in rows:
        cells = []
        for column in COLUMNS:
            value = row[column]
            value = "; ".join(value) if isinstance(value, list) else (value or "")
            cells.append(_safe_cell(str(value)))
        writer.writerow(cells)
        yield flush()


def jsonl_lines(rows: Iterator[dict]) -> Iterator[str]:
    """JSON Lines text: one object per article."""
    for row in rows:
        yield json.dumps(row, ensure_ascii=False) + "\n"


def export_lines(store: Store, request: SearchRequest, fmt: Format) -> Iterator[str]:
    """The export of ``request`` in ``fmt`` (the first page is read now)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r} (expected csv or jsonl)")
    rows = export_rows(store, request)
    return csv_lines(rows) if fmt == "csv" else jsonl_lines(rows)
