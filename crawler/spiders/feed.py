"""FeedSpider: RSS and Atom feeds, fetched by Scrapy and parsed with feedparser."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import feedparser
from scrapy.http import Response
from w3lib.html import remove_tags, replace_entities

from crawler.items import EntryHint
from crawler.spiders.base import NewsSpider


def _iso(struct: time.struct_time | None) -> str | None:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", struct) if struct else None


def _plain(html: str | None) -> str | None:
    text = " ".join(replace_entities(remove_tags(html or "")).split())
    return text or None


class FeedSpider(NewsSpider):
    """Fetches a source's feeds and follows each entry's link to its article page."""

    kind = "feed"

    async def start(self) -> AsyncIterator[Any]:
        for url in self.source.urls:
            yield self.start_request(url, self.parse)

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        headers = {
            k.decode("latin-1").lower(): b", ".join(v).decode("latin-1")
            for k, v in response.headers.items()
        }
        # feedparser resolves relative links against the response URL and xml:base.
        headers.setdefault("content-location", response.url)
        feed = feedparser.parse(response.body, response_headers=headers, sanitize_html=False)
        stats = self.crawler.stats
        if feed.bozo and not feed.entries:
            stats.inc_value("newswatch/feed/unreadable")
            self.fail(f"{response.url}: not a readable feed ({feed.get('bozo_exception')})")
            return
        if feed.bozo:
            stats.inc_value("newswatch/feed/malformed-but-read")
        language = (feed.feed.get("language") or "").strip() or None
        for entry in feed.entries:
            link = entry.get("link")
            if not link or not link.startswith(("http://", "https://")):
                stats.inc_value("newswatch/feed/entry-without-link")
                continue
            if not self.allowed(link):
                stats.inc_value("newswatch/skipped/url-rule")
                continue
            stats.inc_value("newswatch/feed/entries")
            hint = EntryHint(
                title=(entry.get("title") or "").strip() or None,
                published_at=_iso(entry.get("published_parsed") or entry.get("updated_parsed")),
                authors=[a.get("name") for a in entry.get("authors", []) if a.get("name")],
                summary=_plain(entry.get("summary")),
                language=language,
                origin=feed.version or "feed",
            )
            yield self.article_request(link, hint)
