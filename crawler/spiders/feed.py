"""FeedSpider: RSS and Atom feeds, fetched by Scrapy and parsed with feedparser."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any
from xml.sax import SAXParseException

import feedparser
from scrapy.http import Response
from w3lib.html import remove_tags, replace_entities

from crawler.extensions import entry_dropped
from crawler.extract import to_utc_iso
from crawler.items import EntryHint
from crawler.spiders.base import NewsSpider

_ISO_DATE = re.compile(r"^\s*[+-]?\d{4}-\d{1,2}-\d{1,2}")


def _iso(struct: time.struct_time | None) -> str | None:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", struct) if struct else None


def _published(entry: Any) -> str | None:
    """The entry's date in UTC, or None.

    The raw text is read first: feedparser takes zone names it does not know (CET) for
    UTC and misreads some numeric dates (2026/11/03 as 1 November). Its own reading is
    the fallback for the formats only it knows, but not for an ISO date that failed
    (2026-02-30, which it would turn into 2 March).
    """
    raw = entry.get("published") or entry.get("updated")
    if iso := to_utc_iso(raw):
        return iso
    if isinstance(raw, str) and _ISO_DATE.match(raw):
        return None
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    return _iso(parsed) if parsed and 1900 <= parsed.tm_year <= 9999 else None


def _unreadable(feed: Any, response: Response) -> str:
    """Why a feed could not be read, in one line."""
    error = feed.get("bozo_exception")
    if isinstance(error, SAXParseException):  # its str() starts with "<unknown>:1:81:"
        return (
            f"line {error.getLineNumber()}, column {error.getColumnNumber()}: {error.getMessage()}"
        )
    if feed.bozo:
        return " ".join(str(error).split())[:200]
    content_type = response.headers.get(b"Content-Type", b"").decode("latin-1")
    return f"no RSS or Atom in this {content_type or 'response'}"


def _plain(html: str | None) -> str | None:
    text = " ".join(replace_entities(remove_tags(html or "")).split())
    return text or None


class FeedSpider(NewsSpider):
    """Fetches a source's feeds and follows each entry's link to its article page."""

    kind = "feed"

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        if not self.poll_changed(response):  # 304, the same feed as last time, or a backoff
            return
        headers = {
            k.decode("latin-1").lower(): b", ".join(v).decode("latin-1")
            for k, v in response.headers.items()
        }
        # feedparser resolves relative links against the response URL and xml:base.
        headers.setdefault("content-location", response.url)
        feed = feedparser.parse(response.body, response_headers=headers, sanitize_html=False)
        stats = self.crawler.stats
        if not feed.entries and (feed.bozo or not feed.get("version")):
            # No entries, and broken or of no feed format at all (an HTML page, a login
            # wall): the source fails. An empty feed of a known format is just quiet.
            stats.inc_value("newswatch/feed/unreadable")
            self.fail(f"{response.url}: not a readable feed ({_unreadable(feed, response)})")
            return
        if feed.bozo:
            stats.inc_value("newswatch/feed/malformed-but-read")
            self.note(
                f"{response.url}: malformed feed, {len(feed.entries)} entries read anyway"
                f" ({_unreadable(feed, response)})"
            )
        language = (feed.feed.get("language") or "").strip() or None
        links = []
        for entry in feed.entries:
            link = entry.get("link")
            if not link or not link.startswith(("http://", "https://")):
                stats.inc_value("newswatch/feed/entry-without-link")
                what = " ".join((entry.get("title") or entry.get("id") or "untitled").split())
                self.crawler.signals.send_catch_log(
                    entry_dropped,
                    url=response.url,
                    source=self.source.name,
                    reason="entry-without-link",
                    detail=f"entry {what[:80]!r}: link {link!r}",
                )
                continue
            if not self.allowed(link):
                stats.inc_value("newswatch/skipped/url-rule")
                continue
            stats.inc_value("newswatch/feed/entries")
            hint = EntryHint(
                title=(entry.get("title") or "").strip() or None,
                published_at=_published(entry),
                authors=[a.get("name") for a in entry.get("authors", []) if a.get("name")],
                summary=_plain(entry.get("summary")),
                language=language,
                origin=feed.version or "feed",
            )
            links.append((link, hint))
        yield from self.new_requests(response, links)  # those not fetched before
