"""Scrapy extensions: counting dropped items by reason, logging drops quietly."""

from __future__ import annotations

import logging
from typing import Any

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.logformatter import LogFormatter

DROP_PREFIX = "newswatch/dropped/"


def drop_reason(exception: BaseException) -> str:
    """The stats key part of a drop: ``duplicate-of:<id>`` counts as ``duplicate-of``."""
    reason = str(exception).strip() or type(exception).__name__
    return "duplicate-of" if reason.startswith("duplicate-of:") else reason


class DropReasons:
    """Counts every dropped item under ``newswatch/dropped/<reason>`` in the crawl stats."""

    def __init__(self, crawler: Crawler) -> None:
        self.stats = crawler.stats
        crawler.signals.connect(self.item_dropped, signal=signals.item_dropped)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> DropReasons:
        return cls(crawler)

    def item_dropped(
        self, item: Any, response: Any, exception: BaseException, spider: Spider
    ) -> None:
        self.stats.inc_value(DROP_PREFIX + drop_reason(exception))


class QuietDropFormatter(LogFormatter):
    """Logs a dropped item as its URL and reason at DEBUG, not the whole item at WARNING."""

    def dropped(self, item: Any, exception: BaseException, response: Any, spider: Spider) -> dict:
        return {
            "level": logging.DEBUG,
            "msg": "Dropped %(url)s: %(reason)s",
            "args": {"url": getattr(item, "url", "?"), "reason": exception},
        }
