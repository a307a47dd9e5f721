"""What every newswatch spider shares: its source, URL rules, and article requests."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

import scrapy
from scrapy import signals
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
    StopDownload,
)
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet.error import ConnectError, ConnectionDone, ConnectionLost

from crawler.encoding import page_text
from crawler.extensions import page_dropped
from crawler.incremental import Incremental
from crawler.items import EntryHint, FetchedPage
from crawler.profile import record
from crawler.urls import normalize_url

HTML_TYPES = (b"text/html", b"application/xhtml+xml")
# Request meta: the request wants an HTML page; any other body is not downloaded.
HTML_ONLY = "newswatch_html_only"


def _describe(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return " ".join(text.split())[:200]


class NewsSpider(Incremental, scrapy.Spider):
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
        self.notes: list[str] = []  # what was wrong but survived, one line each

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> NewsSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider.headers_received, signal=signals.headers_received)
        crawler.signals.connect(spider.request_dropped, signal=signals.request_dropped)
        spider.open_state(crawler)  # incremental crawling, with NEWSWATCH_STATE
        return spider

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

    def note(self, message: str) -> None:
        """Report something wrong that the crawl survived (a malformed feed read anyway)."""
        self.notes.append(message)
        self.logger.warning(message)

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
        return self.page_request(url, self.parse_article, hint, **meta)

    def page_request(
        self, url: str, callback: Any, hint: EntryHint | None = None, **meta: Any
    ) -> scrapy.Request:
        """A request for an HTML page: normalised, only HTML downloaded, failures reported."""
        return scrapy.Request(
            normalize_url(url),
            callback=callback,
            errback=self.fetch_failed,
            cb_kwargs={"hint": hint},
            meta={HTML_ONLY: True, **meta},
        )

    def drop(self, url: str, reason: str, detail: str = "") -> None:
        """Report a page that will not be stored: counted by reason, in the drop log."""
        self.crawler.signals.send_catch_log(
            page_dropped, url=url, source=self.source.name, reason=reason, detail=detail
        )

    def fetch_failed(self, failure: Any) -> None:
        """Report why a page could not be fetched (after Scrapy's retries and redirects)."""
        request = failure.request
        reason, detail = fetch_failure(failure.value, request, self.crawler.settings)
        self.drop(_first_url(request), reason, detail)

    def headers_received(self, headers: Any, request: Any, **kwargs: Any) -> None:
        """Stop a page download at its headers when they announce something other than HTML.

        The response, without its body, still reaches the callback, which drops it
        as ``not-html``: a 100 MB PDF costs its headers, not its bytes.
        """
        content_type = headers.get(b"Content-Type")
        if request.meta.get(HTML_ONLY) and content_type and not _is_html(content_type):
            raise StopDownload(fail=False)

    def request_dropped(self, request: Any, **kwargs: Any) -> None:
        """Report a redirect that leads back to a URL of its own chain: a redirect loop.

        Scrapy's duplicate filter drops such a request silently (REDIRECT_MAX_TIMES only
        bounds chains of new URLs); any other duplicate is a page already requested.
        """
        chain = request.meta.get("redirect_urls")
        if not chain or not request.meta.get(HTML_ONLY):
            return
        if normalize_url(request.url) in {normalize_url(u) for u in chain}:
            self.drop(chain[0], "redirect-loop", f"redirects back to {request.url}")

    def parse_article(self, response: Response, hint: EntryHint | None = None) -> Any:
        """Yield the fetched page for extraction, if it is HTML."""
        record(self.crawler.stats, "fetch", response.meta.get("download_latency", 0.0))
        content_type = response.headers.get(b"Content-Type", b"text/html")
        if not _is_html(content_type) or not hasattr(response, "text"):
            self.crawler.stats.inc_value("newswatch/skipped/not-html")
            self.drop(response.url, "not-html", content_type.decode("latin-1")[:100])
            return
        languages = (hint.language if hint else None, self.source.language)
        yield FetchedPage(
            url=response.url,
            requested_url=response.request.url if response.request else response.url,
            status=response.status,
            html=page_text(response, languages),
            source=self.source.name,
            fetched_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            source_language=self.source.language,
            hint=hint,
            http_headers={
                k.decode("latin-1"): b", ".join(v).decode("latin-1")
                for k, v in response.headers.items()
            },
        )


def _is_html(content_type: bytes) -> bool:
    return any(t in content_type.lower() for t in HTML_TYPES)


def _first_url(request: Any) -> str:
    """The URL the source named, before any redirect."""
    chain = request.meta.get("redirect_urls")
    return chain[0] if chain else request.url


def fetch_failure(error: BaseException, request: Any, settings: Any) -> tuple[str, str]:
    """``(reason, detail)`` of a failed download: a stats token and one line for people."""
    attempts = request.meta.get("retry_times", 0) + 1
    tries = f" ({attempts} attempts)" if attempts > 1 else ""
    if isinstance(error, HttpError):
        response = error.response
        try:
            phrase = HTTPStatus(response.status).phrase
        except ValueError:
            phrase = ""
        detail = f"HTTP {response.status} {phrase}".rstrip()
        if retry_after := response.headers.get(b"Retry-After"):
            detail += f", Retry-After: {retry_after.decode('latin-1')[:40]}"
        return f"http-{response.status}", detail + tries
    if isinstance(error, IgnoreRequest):
        # Scrapy says why only in the message: robots.txt, redirects, decompression size.
        message = _describe(error)
        if "robots.txt" in message:
            return "robots-txt", "forbidden by robots.txt"
        if "max redirections" in message:
            limit = settings.getint("REDIRECT_MAX_TIMES")
            return "redirect-loop", f"more than {limit} redirects"
        if "DOWNLOAD_MAXSIZE" in message:
            limit = settings.getint("DOWNLOAD_MAXSIZE")
            return "too-large", f"over {limit} bytes once decompressed"
        return "ignored", message
    if isinstance(error, DownloadTimeoutError):
        timeout = request.meta.get("download_timeout", settings.getfloat("DOWNLOAD_TIMEOUT"))
        return "timeout", f"no complete response within {timeout:g} s{tries}"
    if isinstance(error, DownloadCancelledError):
        # The only cancellation of a running download is the size cap (DOWNLOAD_MAXSIZE).
        limit = request.meta.get("download_maxsize", settings.getint("DOWNLOAD_MAXSIZE"))
        return "too-large", f"over {limit} bytes"
    lost = (ResponseDataLossError, DownloadFailedError, ConnectionLost, ConnectionDone)
    if isinstance(error, lost):
        return "connection-lost", f"the server closed the connection mid-response{tries}"
    if isinstance(error, DownloadConnectionRefusedError | ConnectError):
        return "connection-refused", _describe(error) + tries
    if isinstance(error, CannotResolveHostError):
        return "dns-error", _describe(error) + tries
    return "fetch-error", _describe(error) + tries
