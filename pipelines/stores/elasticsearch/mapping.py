"""The indices of ElasticsearchStore: template, mapping, settings, names and documents.

A document holds the filter fields as keywords and dates, the raw title and body for
display (not indexed), the analysed terms of ``search.analysis.index_terms`` in
``title_terms`` / ``body_terms`` (``whitespace`` analyzer: the terms are already analysed),
and the rest of the article in a non-indexed object, so ``get`` returns the whole
article.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from crawler.items import Article
from pipelines.prepared import terms as prepared_terms
from search.analysis import index_terms

TITLE_BOOST = 3.0  # SqliteStore's BM25 column weights: title 3, body 1
MAX_WINDOW = 10_000  # Elasticsearch's default index.max_result_window
RETRY_STATUSES = (429, 500, 502, 503, 504)
MAX_CANDIDATES = 10  # near-duplicate candidates checked per article, as SqliteStore
SLOW_TIMEOUT = 120  # seconds for bulk, scroll and refresh requests; others have 10
OUTCOMES = ("new", "updated", "unchanged")
# Fields a write reads back to decide new / updated / unchanged like SqliteStore.
_PREVIOUS = [
    "title",
    "body",
    "published_at",
    "modified_at",
    "revision",
    "sequence",
    "article.story_id",
]

_KEYWORD = {"type": "keyword", "ignore_above": 8191}  # 8191 chars stay under Lucene's term cap
_DATE = {"type": "date", "ignore_malformed": True}  # an odd date must not lose the article
_STORED = {"type": "text", "index": False}
_TERMS = {"type": "text", "analyzer": "whitespace"}

KEYWORDS = (
    "id",
    "source",
    "language",
    "topics",
    "story_id",
    "url",
    "canonical_url",
    "body_hash",
    "lsh_bands",
    "language_source",
)
SETTINGS = {
    "number_of_shards": 1,  # exact BM25 statistics, counts and collapse on one shard
    "auto_expand_replicas": "0-1",  # unless [store.elasticsearch] replicas says otherwise
}


def index_settings(replicas: int | None) -> dict[str, Any]:
    """The settings of newswatch's indices: ``replicas`` copies, or 0-1 by cluster size."""
    if replicas is None:
        return dict(SETTINGS)
    return {**SETTINGS, "number_of_replicas": replicas, "auto_expand_replicas": "false"}


MAPPINGS: dict[str, Any] = {
    "dynamic": "strict",
    # The analysed terms are derived from title and body; migrations recompute them.
    "_source": {"excludes": ["title_terms", "body_terms"]},
    "properties": {
        **dict.fromkeys(KEYWORDS, _KEYWORD),
        **dict.fromkeys(("published_at", "modified_at", "fetched_at", "indexed_at"), _DATE),
        "revision": {"type": "integer"},
        "sequence": {"type": "long"},  # first write order, SqliteStore's rowid order
        "title": _STORED,
        "body": _STORED,
        "title_terms": _TERMS,
        "body_terms": _TERMS,
        "article": {"type": "object", "enabled": False},
    },
}
RUNS_MAPPINGS: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "source": _KEYWORD,
        "started_at": _DATE,
        "finished_at": _DATE,
        "status": _KEYWORD,
        "error": _STORED,
        "stats": {"type": "object", "enabled": False},
        "sequence": {"type": "long"},
    },
}


def index_template(alias: str, settings: Mapping[str, Any]) -> dict[str, Any]:
    """The ``put_index_template`` arguments of the template for ``alias``'s versioned indices."""
    return {
        "name": alias,
        "index_patterns": [f"{alias}-v*"],
        "template": {"settings": settings, "mappings": MAPPINGS},
        "priority": 200,
        "meta": {"managed_by": "newswatch"},
    }


def versioned_index(alias: str, version: int) -> str:
    """The name of the versioned index ``version`` behind ``alias``."""
    return f"{alias}-v{version}"


def index_version(alias: str, index: str) -> int:
    """The version of ``alias``'s versioned index ``index``; 0 for any other name."""
    match = re.fullmatch(re.escape(alias) + r"-v(\d+)", index)
    return int(match.group(1)) if match else 0


# --- documents -----------------------------------------------------------------

# What SQLite's FTS5 ``ascii`` tokenizer splits on: every ASCII character but letters and
# digits. The stores must see the same tokens, so ours are split the same way here.
_ASCII_SEPARATORS = re.compile(r"[\x00-\x2f\x3a-\x40\x5b-\x60\x7b-\x7f]+")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_MAX_TOKEN = 255  # the whitespace analyzer cuts longer tokens into pieces of this length


# Analysed text needs that splitting only if it holds ASCII other than a-z, 0-9 and single
# spaces, which it seldom does; checking first is much faster than splitting every text.
_NEEDS_SPLITTING = re.compile(r"[\x00-\x1f\x21-\x2f\x3a-\x60\x7b-\x7f]|  |^ | $")


def fts_tokens(text: str) -> list[str]:
    """The tokens SQLite's FTS5 ``ascii`` tokenizer makes of analysed ``text``."""
    return [t for t in _ASCII_SEPARATORS.split(text.translate(_ASCII_LOWER)) if t]


def analysed(text: str, language: str | None, terms: str | None = None) -> str:
    """What ``title_terms`` / ``body_terms`` hold: the article's index terms, FTS5-tokenised.

    ``terms``: the index terms of ``text`` when they are known already.
    """
    terms = index_terms(text, language) if terms is None else terms
    return " ".join(fts_tokens(terms)) if _NEEDS_SPLITTING.search(terms) else terms


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def document(article: Article, sequence: int) -> dict[str, Any]:
    """The Elasticsearch document of an article (its ``_id`` is ``article.id``)."""
    data = article.to_dict()
    title, body = data.pop("title"), data.pop("body")
    return {
        "id": article.id,
        "source": article.source,
        "language": article.language,
        "topics": list(article.topics),
        "story_id": article.story_id or article.id,  # SqliteStore's story_id column
        "url": article.url,
        "canonical_url": article.canonical_url,
        "body_hash": article.body_hash,
        "lsh_bands": list(article.lsh_bands),
        "language_source": article.language_source,
        "published_at": article.published_at,
        "modified_at": article.modified_at,
        "fetched_at": article.fetched_at,
        "indexed_at": article.indexed_at,
        "revision": article.revision,
        "sequence": sequence,
        "title": title,
        "body": body,
        "title_terms": analysed(title, article.language, prepared_terms(article, "title")),
        "body_terms": analysed(body, article.language, prepared_terms(article, "body")),
        "article": data,
    }


def article_from_source(source: Mapping[str, Any]) -> Article:
    """The article of a stored document's ``_source``."""
    data = dict(source.get("article") or {})
    data["title"], data["body"] = source.get("title") or "", source.get("body") or ""
    article = Article.from_dict(data)
    article.indexed_at = source.get("indexed_at")
    article.revision = source.get("revision") or 1
    return article


def _jsonable(value: Any) -> Any:
    """``value`` with anything JSON cannot hold turned into text (SqliteStore's default=str)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _run(source: Mapping[str, Any]) -> dict:
    return {
        "source": source.get("source"),
        "started_at": source.get("started_at"),
        "finished_at": source.get("finished_at"),
        "status": source.get("status"),
        "error": source.get("error"),
        "stats": source.get("stats") or {},
    }


def run_document(run: Mapping[str, Any], sequence: int) -> dict[str, Any]:
    """The ``<index>-runs`` document of a crawl run."""
    return {
        "source": run["source"],
        "started_at": run["started_at"],
        "finished_at": run.get("finished_at"),
        "status": run["status"],
        "error": run.get("error"),
        "stats": _jsonable(run.get("stats", {})),
        "sequence": sequence,
    }
