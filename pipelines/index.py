"""Index stage: write each kept article to the configured store."""

from __future__ import annotations

import logging
from typing import Any

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from scrapy.utils.defer import deferred_from_coro

from crawler.items import Article
from pipelines.stores import open_store
from pipelines.stores.base import Store, StoreError
from pipelines.stores.outbox import Outbox, outbox_for

logger = logging.getLogger(__name__)


class IndexPipeline:
    """Upserts articles by id and counts them as new, updated or unchanged.

    When the store fails (locked for too long, disk full) the crawl stops: fetching
    more pages that cannot be saved would only lose them. A store with an outbox
    (Elasticsearch) does not stop the crawl: an article it cannot take is queued in the
    outbox, counted as ``queued``, and sent when the store is back.
    """

    stage = "index"

    def __init__(self, store: Store, crawler: Crawler, outbox: Outbox | None = None) -> None:
        self.store = store
        self.crawler = crawler
        self.outbox = outbox
        self._warned = False
        self._failed = False  # the store failed once: the crawl is stopping

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> IndexPipeline:
        config = crawler.settings.get("NEWSWATCH_STORE")
        return cls(open_store(config, crawler.settings), crawler, outbox_for(config))

    def close_spider(self, spider: Any = None) -> None:
        self.store.close()
        if self.outbox is not None:
            self.outbox.close()

    def process_item(self, item: Article) -> Article:
        if self._failed:  # the crawl is stopping: what is still in flight is not written
            raise DropItem("store-error")
        # An older copy still queued must be written first: this one queues behind it.
        if self.outbox is not None and self.outbox.has(item.id):
            return self._queue(item, None)
        try:
            outcome = self.store.upsert(item)
        except StoreError as exc:
            if self.outbox is not None:
                return self._queue(item, exc)
            self._stop(exc)
        self.crawler.stats.inc_value(f"newswatch/articles/{outcome}")
        return item

    def _stop(self, error: StoreError) -> None:
        """Fail the source with the store's message and stop its crawl."""
        self._failed = True
        spider = self.crawler.spider
        if spider is not None and hasattr(spider, "fail"):
            spider.fail(str(error))
        if self.crawler.engine is not None and spider is not None:
            # Paused at once: the close itself starts on a later turn of the event loop,
            # and no new page should be fetched in between only to be dropped.
            self.crawler.engine.pause()
            deferred_from_coro(self.crawler.engine.close_spider_async(reason="store-error"))
        raise DropItem("store-error")

    def _queue(self, item: Article, error: StoreError | None) -> Article:
        assert self.outbox is not None
        try:
            self.outbox.put(item)
        except StoreError as exc:  # neither the store nor the outbox: stop, as without one
            self._stop(exc)
        if error is not None and not self._warned:
            self._warned = True
            logger.warning("store unavailable, articles go to the outbox %s: %s",
                           self.outbox.path, error)  # fmt: skip
        self.crawler.stats.inc_value("newswatch/articles/queued")
        return item
