"""ReparseSpider: a source's stored articles again, from the archive, without fetching.

For each article of the source still in the store, the newest archived response
(``crawler/archive.py``) is turned into a page by the spiders' own ``parse_article``
and yielded as an item, so it goes through every item pipeline of a crawl
(extract, normalize, language, topics, duplicates, index) with the current config.
No request is made. An article the stages now drop leaves the store (counted by
reason, like any drop); one they keep is updated in place, with its new topics.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from scrapy import signals
from scrapy.exceptions import DropItem

from crawler.archive import ArchivedPage, archived_pages
from crawler.extensions import drop_reason
from crawler.items import Article
from crawler.spiders.base import NewsSpider

ARCHIVED = "newswatch/reparse/archived"  # articles with an archived response
NOT_STORED = "newswatch/reparse/not-stored"  # archived, but no longer in the store
REPARSED = "newswatch/reparse/reparsed"
RETAGGED = "newswatch/reparse/retagged"  # kept with other topics than before
REMOVED = "newswatch/reparse/removed"  # dropped by the stages now: removed from the store


class ReparseSpider(NewsSpider):
    """Yields the archived pages of a source's stored articles; see the module docstring."""

    kind = "reparse"

    def __init__(self, source: Any, archive: str, **kwargs: Any) -> None:
        super().__init__(source, **kwargs)
        self.archive = archive
        self.originals: dict[str, Article] = {}  # page URL -> the stored article it was

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> ReparseSpider:
        from pipelines.stores import open_store

        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.store = open_store(crawler.settings.get("NEWSWATCH_STORE"), crawler.settings)
        crawler.signals.connect(spider.kept, signal=signals.item_scraped)
        crawler.signals.connect(spider.dropped, signal=signals.item_dropped)
        crawler.signals.connect(spider.closed_store, signal=signals.spider_closed)
        return spider

    async def start(self) -> AsyncIterator[Any]:
        newest: dict[str, ArchivedPage] = {}
        for page in archived_pages(self.archive, self.source.name):
            newest[page.article_id] = page  # files and records run oldest first
        stats = self.crawler.stats
        for article_id, archived in sorted(newest.items()):
            stats.inc_value(ARCHIVED)
            stored = self.store.get(article_id)
            if stored is None:  # removed since: a duplicate, or dropped by an earlier reparse
                stats.inc_value(NOT_STORED)
                continue
            self.originals[archived.response.url] = stored
            for page in self.parse_article(archived.response, archived.hint):
                page.fetched_at = archived.fetched_at
                stats.inc_value(REPARSED)
                yield page

    def kept(self, item: Any, response: Any = None, **_: Any) -> None:
        original = self.originals.get(getattr(item, "url", ""))
        if original is None or not isinstance(item, Article):
            return
        if item.id != original.id:  # the page now names another canonical URL
            self.store.delete(original.id)
        if sorted(item.topics) != sorted(original.topics):
            self.crawler.stats.inc_value(RETAGGED)

    def dropped(self, item: Any, exception: BaseException, **_: Any) -> None:
        original = self.originals.get(getattr(item, "url", ""))
        reason = drop_reason(exception)
        if original is None or reason == "store-error" or not isinstance(exception, DropItem):
            return
        if self.store.delete(original.id):
            self.crawler.stats.inc_value(REMOVED)
        if self.crawl_state is not None:  # a later crawl must not fetch it again either
            self.crawl_state.decided_article(original.id, reason)

    def closed_store(self, **_: Any) -> None:
        self.store.close()
