"""What every newswatch spider shares: its source, URL rules, and article requests."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import scrapy
from scrapy.http import Response

from crawler.items import EntryHint, FetchedPage
from crawler.profile import record
from crawler.urls import normalize_url

HTML_TYPES = (b"text/html", b"application/xhtml+xml")


def _describe(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return " ".join(text.split())[:200]


class NewsSpider(scrapy.Spider):
    """A spider for one configured source (``source`` is its config section).

    Subclasses decide which URLs are articles; this class turns an article
    response into a :class:`FetchedPage` for the pipelines.
    """

    def __init__(self, source: Any, **kwargs: Any) -> None:
        super().__init__(name=f"{self.kind}:{source.name}", **kwargs)
        self.source = source
        self.allow = [re.compile(p) for p in source.allow]
        self.deny = [re.compile(p) for p in source.deny]
        self.errors: list[str] = []  # why the source failed, one line each, for the summary

    def start_request(self, url: str, callback: Any) -> scrapy.Request:
        """A request for one of the source's configured URLs; its failure fails the source."""
        return scrapy.Request(url, callback=callback, errback=self.start_failed, dont_filter=True)

    def start_failed(self, failure: Any) -> None:
        """Record why a configured URL could not be fetched (DNS, refused, HTTP 404...)."""
        request = failure.request if hasattr(failure, "request") else None
        response = getattr(failure.value, "response", None)
        url = request.url if request is not None else "?"
        reason = f"HTTP {response.status}" if response is not None else _describe(failure.value)
        self.fail(f"{url}: {reason}")

    def fail(self, message: str) -> None:
        self.errors.append(message)
        self.crawler.stats.inc_value("newswatch/errors/source")
        self.logger.error(message)

    kind = "news"

    def allowed(self, url: str) -> bool:
        """Whether the source's allow/deny patterns let ``url`` through (once normalised)."""
        url = normalize_url(url)
        if any(p.search(url) for p in self.deny):
            return False
        return not self.allow or any(p.search(url) for p in self.allow)

    def article_request(
        self, url: str, hint: EntryHint | None = None, **meta: Any
    ) -> scrapy.Request:
        """A request for an article page, normalised so that one article is fetched once."""
        return scrapy.Request(
            normalize_url(url),
            callback=self.parse_article,
            cb_kwargs={"hint": hint},
            meta=meta,
        )

    def parse_article(self, response: Response, hint: EntryHint | None = None) -> Any:
        """Yield the fetched page for extraction, if it is HTML."""
        record(self.crawler.stats, "fetch", response.meta.get("download_latency", 0.0))
        content_type = response.headers.get(b"Content-Type", b"text/html").lower()
        if not any(t in content_type for t in HTML_TYPES) or not hasattr(response, "text"):
            self.crawler.stats.inc_value("newswatch/skipped/not-html")
            return
        yield FetchedPage(
            url=response.url,
            requested_url=response.request.url if response.request else response.url,
            status=response.status,
            html=response.text,
            source=self.source.name,
            fetched_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            source_language=self.source.language,
            hint=hint,
            http_headers={
                k.decode("latin-1"): b", ".join(v).decode("latin-1")
                for k, v in response.headers.items()
            },
        )
