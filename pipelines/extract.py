"""Extract stage: a fetched page becomes an article, or is dropped as not one."""

from __future__ import annotations

import asyncio
from typing import Any

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem

from crawler.extract import NotAnArticle, extract_article
from crawler.items import Article, FetchedPage
from crawler.profile import record
from pipelines.workers import Recipe, SharedPool, default_workers, prepare

DEFAULT_LANGUAGES = ["en", "fr", "de", "es", "it"]  # as the language stage


class ExtractPipeline:
    """Turns each :class:`FetchedPage` into an :class:`Article` (metadata cascade + body).

    With worker processes (``[crawler] workers``, by default one per core), the page
    goes to the pool, which also does the CPU-bound work of the stages after this one
    (:func:`pipelines.workers.prepare`): they then only decide, look up and write.
    With none, extraction runs here and each stage does its own work.
    """

    stage = "extract"

    def __init__(self, crawler: Crawler | None = None, workers: int = 0) -> None:
        self.crawler = crawler
        self.workers = workers
        settings = crawler.settings if crawler else None
        filters = settings.get("NEWSWATCH_FILTERS") if settings else None
        languages = getattr(filters, "languages", None) or (
            settings.getlist("NEWSWATCH_LANGUAGES", DEFAULT_LANGUAGES) if settings else []
        )
        self.recipe = Recipe(
            threshold=getattr(filters, "min_language_probability", 0.8),
            languages=tuple(languages),
            topics=list(settings.get("NEWSWATCH_TOPICS") or []) if settings else [],
            keep_unmatched=bool(getattr(filters, "keep_unmatched", False)),
            ahead=settings.getbool("NEWSWATCH_WORK_AHEAD", True) if settings else True,
        )
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
        future = self.pool.submit(prepare, page, self.recipe)
        prepared = await asyncio.wrap_future(future)
        if self.crawler is not None:
            for stage, seconds in prepared.seconds.items():
                # The later stages count their items themselves: add only the time here.
                record(self.crawler.stats, stage, seconds, count=stage == self.stage)
        if prepared.article is None:
            raise DropItem(prepared.reason)
        return prepared.article
