"""SitemapSpider: sitemap indexes, urlsets and Google News sitemaps, gzipped or not."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

from lxml import etree
from scrapy.http import Response
from scrapy.utils.gz import gunzip, gzip_magic_number

from crawler.extract import to_utc_iso
from crawler.incremental import BACKOFF_STATUSES
from crawler.items import EntryHint
from crawler.spiders.base import NewsSpider

NS = {
    "sm": "http://www.sitemaps.org/schemas/sitemap/0.9",
    "news": "http://www.google.com/schemas/sitemap-news/0.9",
}
# Entities and network access are off: a sitemap is untrusted input.
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True, recover=True)


class SitemapSpider(NewsSpider):
    """Reads a source's sitemaps and requests the article pages they list.

    A ``since`` bound in the source skips entries whose publication date (or
    lastmod) is older; entries with no date at all are kept.
    """

    kind = "sitemap"

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        if not self.poll_changed(response):  # 304, the same sitemap as last time, or a backoff
            # An index that did not change may list sitemaps that did: poll those.
            if response.status not in BACKOFF_STATUSES:
                yield from self.child_polls(self.parse)
            return
        body = self._body(response)
        try:
            root = etree.fromstring(body, parser=_PARSER) if body else None
        except etree.XMLSyntaxError:
            root = None
        stats = self.crawler.stats
        if root is None:
            stats.inc_value("newswatch/sitemap/unreadable")
            self.fail(f"{response.url}: not a readable sitemap")
            return
        try:
            tag = etree.QName(root).localname
        except ValueError:  # lxml's recovery can make a root of no valid name ("<:")
            tag = str(root.tag)
        if tag == "sitemapindex":
            for loc in root.xpath(
                "./sm:sitemap/sm:loc/text() | ./sitemap/loc/text()", namespaces=NS
            ):
                yield self.poll_request(response.urljoin(loc.strip()), self.parse, first=False)
            self.new_requests(response, [])  # records the poll of the index
            return
        if tag != "urlset":
            stats.inc_value("newswatch/sitemap/unreadable")
            self.fail(f"{response.url}: not a sitemap (root element <{tag}>)")
            return
        since = self.source.since
        links = []
        for url in root.xpath("./sm:url | ./url", namespaces=NS):
            loc = _first(url, "sm:loc|loc")
            if not loc:
                continue
            loc = response.urljoin(loc)
            published = to_utc_iso(_first(url, "news:news/news:publication_date"))
            lastmod = to_utc_iso(_first(url, "sm:lastmod|lastmod"))
            when = published or lastmod
            if since and when and date.fromisoformat(when[:10]) < since:
                stats.inc_value("newswatch/skipped/older-than-since")
                continue
            if not self.allowed(loc):
                stats.inc_value("newswatch/skipped/url-rule")
                continue
            stats.inc_value("newswatch/sitemap/entries")
            hint = EntryHint(
                title=_first(url, "news:news/news:title"),
                published_at=published,
                language=_first(url, "news:news/news:publication/news:language"),
                origin="news-sitemap" if published else "sitemap",
            )
            links.append((loc, hint))
        yield from self.new_requests(response, links)  # those not fetched before

    def _body(self, response: Response) -> bytes | None:
        body = response.body
        if gzip_magic_number(response):
            try:
                # Cap the unpacked size: a gzip bomb must not exhaust memory.
                body = gunzip(body, max_size=self.crawler.settings.getint("DOWNLOAD_MAXSIZE"))
            except Exception as exc:  # a truncated or oversized archive
                self.fail(f"{response.url}: cannot unpack the sitemap ({exc})")
                return None
        return body


def _first(element: Any, path: str) -> str | None:
    union = " | ".join(f"./{alternative}/text()" for alternative in path.split("|"))
    values = element.xpath(union, namespaces=NS)
    return values[0].strip() if values and values[0].strip() else None
