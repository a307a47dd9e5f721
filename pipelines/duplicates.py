"""Duplicate stage: drop exact copies of stored articles, link near-copies into stories."""

from __future__ import annotations

from typing import Any

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem

from crawler.items import Article
from pipelines.stores import open_store
from pipelines.stores.base import Store
from search.fingerprint import NEAR_DUPLICATE_JACCARD, bands, body_hash, jaccard, shingles


class DuplicatePipeline:
    """Same canonical URL: same id, updated in place by the store (nothing to do here).

    Same body under another URL: dropped as ``duplicate-of:<id>``. A near-copy (another
    headline, an extra paragraph) is kept and shares the ``story_id`` of the first copy.
    """

    def __init__(self, store: Store) -> None:
        self.store = store

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> DuplicatePipeline:
        return cls(open_store(crawler.settings.get("NEWSWATCH_STORE"), crawler.settings))

    def close_spider(self, spider: Any = None) -> None:
        self.store.close()

    def process_item(self, item: Article, spider: Any = None) -> Article:
        item.body_hash = body_hash(item.body)
        original = self.store.find_by_body_hash(item.body_hash, exclude_id=item.id)
        if original:
            raise DropItem(f"duplicate-of:{original}")
        mine = shingles(item.body)
        item.lsh_bands = bands(mine)
        existing = self.store.get(item.id)
        best, best_similarity = None, NEAR_DUPLICATE_JACCARD
        for candidate in self.store.find_by_bands(item.lsh_bands, exclude_id=item.id):
            similarity = jaccard(mine, shingles(candidate.body))
            if similarity >= best_similarity:
                best, best_similarity = candidate, similarity
        if best is not None:
            item.story_id = best.story_id or best.id
        elif existing is not None and existing.story_id:
            item.story_id = existing.story_id
        else:
            item.story_id = item.id
        return item
