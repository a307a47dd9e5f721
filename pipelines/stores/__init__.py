"""Stores: where articles are indexed and searched. ``open_store`` picks the backend."""

from __future__ import annotations

from typing import Any

from pipelines.stores.base import SearchRequest, SearchResult, Store, StoreError

DEFAULT_LANGUAGES = ["en", "fr", "de", "es", "it"]


def open_store(config: Any, settings: Any = None, languages: list[str] | None = None) -> Store:
    """Open the store a ``[store]`` config section describes.

    ``languages`` are the languages a query is analysed for when the search names
    none: the config's allowed languages.
    """
    if languages is None:
        filters = settings.get("NEWSWATCH_FILTERS") if settings is not None else None
        languages = list(getattr(filters, "languages", None) or DEFAULT_LANGUAGES)
    backend = getattr(config, "backend", "sqlite")
    if backend == "sqlite":
        from pipelines.stores.sqlite import SqliteStore

        return SqliteStore(
            getattr(config, "path", "data/newswatch.db"),
            languages,
            busy_timeout=getattr(config, "busy_timeout", 30),
        )
    if backend == "elasticsearch":
        from pipelines.stores.elasticsearch import ElasticsearchStore

        return ElasticsearchStore.from_config(config.elasticsearch, languages)
    raise StoreError(f"unknown store backend {backend!r}")


__all__ = ["SearchRequest", "SearchResult", "Store", "StoreError", "open_store"]
