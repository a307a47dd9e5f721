"""Index stage: write each kept article to the configured store."""

from __future__ import annotations

from typing import Any

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem

from crawler.items import Article
from pipelines.stores import open_store
from pipelines.stores.base import Store, StoreError


class IndexPipeline:
    """Upserts articles by id and counts them as new, updated or unchanged.

    When the store fails (locked for too long, disk full) the crawl stops: fetching
    more pages that cannot be saved would only lose them.
    """

    def __init__(self, store: Store, crawler: Crawler) -> None:
        self.store = store
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> IndexPipeline:
        return cls(open_store(crawler.settings.get("NEWSWATCH_STORE"), crawler.settings), crawler)

    def close_spider(self, spider: Any = None) -> None:
        self.store.close()

    def process_item(self, item: Article, spider: Any = None) -> Article:
        try:
            outcome = self.store.upsert(item)
        except StoreError as exc:
            if spider is not None and hasattr(spider, "fail"):
                spider.fail(str(exc))
            if self.crawler.engine is not None and spider is not None:
                self.crawler.engine.close_spider(spider, "store-error")
            raise DropItem("store-error") from None
        self.crawler.stats.inc_value(f"newswatch/articles/{outcome}")
        return item
