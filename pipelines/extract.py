"""Extract stage: a fetched page becomes an article, or is dropped as not one."""

from __future__ import annotations

import asyncio
from typing import Any

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem

from crawler.extract import NotAnArticle, extract_article
from crawler.items import Article, FetchedPage
from crawler.profile import record
from pipelines.workers import SharedPool, default_workers, prepare


class ExtractPipeline:
    """Turns each :class:`FetchedPage` into an :class:`Article` (metadata cascade + body).

    With worker processes (``[crawler] workers``, by default one per core), the page
    goes to the pool, which also decides the article's language (the language stage
    then only filters); with none, extraction runs here.
    """

    stage = "extract"

    def __init__(self, crawler: Crawler | None = None, workers: int = 0) -> None:
        self.crawler = crawler
        self.workers = workers
        filters = crawler.settings.get("NEWSWATCH_FILTERS") if crawler else None
        self.threshold = getattr(filters, "min_language_probability", 0.8)
        self.pool = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ExtractPipeline:
        workers = crawler.settings.get("NEWSWATCH_WORKERS")
        return cls(crawler, default_workers() if workers is None else int(workers))

    def close_spider(self, spider: Any = None) -> None:
        if self.pool is not None:
            self.pool = None
            SharedPool.release()

    def process_item(self, item: Any) -> Any:
        if isinstance(item, Article):
            return item
        if not isinstance(item, FetchedPage):
            raise DropItem(f"unexpected-item:{type(item).__name__}")
        if self.workers:
            if self.pool is None:  # on the first page: a run that finds nothing new starts none
                self.pool = SharedPool.acquire(self.workers)
            return self._in_pool(item)
        try:
            return extract_article(item)
        except NotAnArticle as exc:
            raise DropItem(str(exc)) from None

    async def _in_pool(self, page: FetchedPage) -> Article:
        future = self.pool.submit(prepare, page, self.threshold)
        prepared = await asyncio.wrap_future(future)
        if self.crawler is not None:
            for stage, seconds in prepared.seconds.items():
                # The language stage counts its items itself: add only the time here.
                record(self.crawler.stats, stage, seconds, count=stage == self.stage)
        if prepared.article is None:
            raise DropItem(prepared.reason)
        return prepared.article
