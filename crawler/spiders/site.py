"""SiteSpider: start pages and the links within the source's domains."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlsplit

from scrapy.http import Response
from scrapy.linkextractors import LinkExtractor

from crawler.items import EntryHint
from crawler.spiders.base import NewsSpider
from crawler.urls import normalize_url, same_site


class SiteSpider(NewsSpider):
    """Follows links from start pages, bounded by depth and page count.

    Every HTML page is offered to the extract stage, which keeps only pages that
    look like articles; section and index pages are only followed.
    """

    kind = "site"

    def __init__(self, source: Any, **kwargs: Any) -> None:
        super().__init__(source, **kwargs)
        self.domains = {urlsplit(u).hostname or "" for u in source.urls} - {""}
        self.allowed_domains = sorted(self.domains)
        # Domains are checked by host name below: LinkExtractor's allow_domains compares
        # host:port, which misses sites served on a port.
        self.links = LinkExtractor(allow=source.allow, deny=source.deny, unique=True)
        self.seen: set[str] = set()  # normalised URLs already requested: counts toward max_pages

    async def start(self) -> AsyncIterator[Any]:
        for url in self.source.urls:
            self.seen.add(normalize_url(url))
            yield self.poll_request(normalize_url(url), self.parse_page, conditional=False)
        for request in self.revisits(self.parse_page):
            self.seen.add(request.url)
            yield request

    def parse_page(self, response: Response, hint: EntryHint | None = None) -> Iterator[Any]:
        if not self.poll_changed(response):  # a start page answered 429 or 503: backed off
            return
        yield from self.parse_article(response)
        if not hasattr(response, "text"):
            return
        depth = response.meta.get("depth", 0)
        if depth >= self.source.max_depth:
            self.crawler.stats.inc_value("newswatch/skipped/max-depth")  # pages not followed
            return
        links = []
        for link in self.links.extract_links(response):
            url = normalize_url(link.url)
            if url in self.seen or not same_site(url, self.domains):
                continue
            if len(self.seen) >= self.source.max_pages:
                self.crawler.stats.inc_value("newswatch/skipped/max-pages")
                break
            self.seen.add(url)
            links.append((url, None))
        # Pages stored or dropped before are not fetched again; index pages are.
        yield from self.new_requests(response, links, self.parse_page, follow=True)
