"""Extract stage: a fetched page becomes an article, or is dropped as not one."""

from __future__ import annotations

from typing import Any

from scrapy.exceptions import DropItem

from crawler.extract import NotAnArticle, extract_article
from crawler.items import Article, FetchedPage


class ExtractPipeline:
    """Turns each :class:`FetchedPage` into an :class:`Article` (metadata cascade + body)."""

    stage = "extract"

    def process_item(self, item: Any) -> Article:
        if isinstance(item, Article):
            return item
        if not isinstance(item, FetchedPage):
            raise DropItem(f"unexpected-item:{type(item).__name__}")
        try:
            return extract_article(item)
        except NotAnArticle as exc:
            raise DropItem(str(exc)) from None
