"""Scrapy extensions: counting dropped items by reason, logging drops quietly."""

from __future__ import annotations

import json
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
    """Counts every dropped item under ``newswatch/dropped/<reason>`` in the crawl stats.

    With the ``NEWSWATCH_DROP_LOG`` setting (a path), each drop is also appended there
    as a JSON line ``{"url", "source", "reason"}``: why was this page not stored?
    """

    def __init__(self, crawler: Crawler) -> None:
        self.stats = crawler.stats
        self.log_path = crawler.settings.get("NEWSWATCH_DROP_LOG")
        crawler.signals.connect(self.item_dropped, signal=signals.item_dropped)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> DropReasons:
        return cls(crawler)

    def item_dropped(
        self, item: Any, response: Any, exception: BaseException, spider: Spider
    ) -> None:
        self.stats.inc_value(DROP_PREFIX + drop_reason(exception))
        if self.log_path:
            record = {
                "url": getattr(item, "url", None),
                "source": getattr(item, "source", None),
                "reason": str(exception),
            }
            with open(self.log_path, "a", encoding="utf-8") as log:
                log.write(json.dumps(record, ensure_ascii=False) + "\n")


class QuietDropFormatter(LogFormatter):
    """Logs a dropped item as its URL and reason at DEBUG, not the whole item at WARNING."""

    def dropped(self, item: Any, exception: BaseException, response: Any, spider: Spider) -> dict:
        return {
            "level": logging.DEBUG,
            "msg": "Dropped %(url)s: %(reason)s",
            "args": {"url": getattr(item, "url", "?"), "reason": exception},
        }
