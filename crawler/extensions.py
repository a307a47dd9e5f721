"""Scrapy extensions: counting dropped pages by reason, logging drops quietly."""

from __future__ import annotations

import json
import logging
from typing import Any

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.logformatter import LogFormatter

logger = logging.getLogger(__name__)

DROP_PREFIX = "newswatch/dropped/"

# Sent by a spider for a page that never became an item: it could not be fetched
# (timeout, reset, HTTP error, too large, redirect loop, robots.txt) or is not HTML.
# Arguments: url, source, reason (a short token, the stats key) and detail (one line).
page_dropped = object()
# Sent for a feed or sitemap entry that names no page to fetch (no link, not http);
# the same arguments, ``url`` being the feed's. Counted and logged like a dropped page.
entry_dropped = object()


def drop_reason(exception: BaseException) -> str:
    """The stats key part of a drop: ``duplicate-of:<id>`` counts as ``duplicate-of``."""
    reason = str(exception).strip() or type(exception).__name__
    return "duplicate-of" if reason.startswith("duplicate-of:") else reason


class DropReasons:
    """Counts every dropped page under ``newswatch/dropped/<reason>`` in the crawl stats.

    Items dropped by a pipeline and pages a spider reports with :data:`page_dropped`
    count alike. With the ``NEWSWATCH_DROP_LOG`` setting (a path), each drop is also
    appended there as a JSON line ``{"url", "source", "reason"}`` (plus ``"detail"``,
    a one-line explanation, for pages that could not be fetched): why was this page
    not stored?
    """

    def __init__(self, crawler: Crawler) -> None:
        self.stats = crawler.stats
        self.log_path = crawler.settings.get("NEWSWATCH_DROP_LOG")
        self._log_failed = False
        crawler.signals.connect(self.item_dropped, signal=signals.item_dropped)
        crawler.signals.connect(self.page_dropped, signal=page_dropped)
        crawler.signals.connect(self.page_dropped, signal=entry_dropped)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> DropReasons:
        return cls(crawler)

    def item_dropped(
        self, item: Any, response: Any, exception: BaseException, spider: Spider
    ) -> None:
        self.stats.inc_value(DROP_PREFIX + drop_reason(exception))
        self._log(
            {
                "url": getattr(item, "url", None),
                "source": getattr(item, "source", None),
                "reason": str(exception),
            }
        )

    def page_dropped(self, url: str, source: str, reason: str, detail: str = "") -> None:
        self.stats.inc_value(DROP_PREFIX + reason)
        record = {"url": url, "source": source, "reason": reason}
        self._log({**record, "detail": detail} if detail else record)

    def _log(self, record: dict[str, Any]) -> None:
        if not self.log_path:
            return
        try:
            with open(self.log_path, "a", encoding="utf-8") as log:
                log.write(json.dumps(record, ensure_ascii=False) + "\n")
        except OSError as exc:  # a full disk loses the log line, never the crawl
            if not self._log_failed:
                self._log_failed = True
                logger.error("cannot write the drop log %s: %s", self.log_path, exc)


class QuietDropFormatter(LogFormatter):
    """Logs a dropped item as its URL and reason at DEBUG, not the whole item at WARNING."""

    def dropped(self, item: Any, exception: BaseException, response: Any, spider: Spider) -> dict:
        return {
            "level": logging.DEBUG,
            "msg": "Dropped %(url)s: %(reason)s",
            "args": {"url": getattr(item, "url", "?"), "reason": exception},
        }
