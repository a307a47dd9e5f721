"""Downloader middlewares: retries that wait before they try again.

Scrapy's RetryMiddleware retries a failed request (a 5xx, a 429, a timeout, a reset)
at once. :class:`BackoffRetryMiddleware` is that middleware, in its place, with one
change: a retry waits first. It waits what the server asked for in ``Retry-After``
(seconds or an HTTP date) when the response carries one, otherwise an exponential
backoff: ``NEWSWATCH_RETRY_BACKOFF`` seconds before the first retry, twice that before
the second, and so on, never more than ``NEWSWATCH_RETRY_MAX_DELAY``. A server that
asks for a longer pause than that is not retried: the response goes on as it is and
the page is reported as an HTTP error (``http-429``).

The wait happens in ``process_request`` of the retried request, so it holds that one
request (and one of the ``CONCURRENT_REQUESTS`` slots), not the crawl.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.http import Request, Response
from scrapy.settings import BaseSettings
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.task import deferLater

RETRY_AFTER = "newswatch_retry_after"  # meta: the Retry-After of the response being retried
RETRY_DELAY = "newswatch_retry_delay"  # meta: seconds a retried request waits before it goes


def retry_after_seconds(value: bytes | str | None, now: datetime | None = None) -> float | None:
    """A ``Retry-After`` header value in seconds (0 for a date in the past); None if unreadable."""
    if value is None:
        return None
    text = (value.decode("latin-1") if isinstance(value, bytes) else value).strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # HTTP dates are GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def backoff_delay(retry: int, base: float, cap: float) -> float:
    """Seconds before retry ``retry`` (1, 2, ...): ``base``, then doubling, at most ``cap``."""
    return min(cap, base * 2 ** (retry - 1))


class BackoffRetryMiddleware(RetryMiddleware):
    """Scrapy's RetryMiddleware with a wait before each retry (see the module docstring)."""

    def __init__(self, settings: BaseSettings) -> None:
        super().__init__(settings)
        self.backoff = settings.getfloat("NEWSWATCH_RETRY_BACKOFF", 1.0)
        self.max_delay = settings.getfloat("NEWSWATCH_RETRY_MAX_DELAY", 60.0)

    async def process_request(self, request: Request) -> None:
        delay = request.meta.pop(RETRY_DELAY, 0.0)
        if delay > 0:
            from twisted.internet import reactor  # the one Scrapy installed, so imported late

            await maybe_deferred_to_future(deferLater(reactor, delay, lambda: None))

    def process_response(self, request: Request, response: Response) -> Request | Response:
        if response.status in self.retry_http_codes and not request.meta.get("dont_retry"):
            wait = retry_after_seconds(response.headers.get(b"Retry-After"))
            if wait is not None and wait > self.max_delay:
                self.crawler.stats.inc_value("newswatch/retry/retry-after-too-long")
                return response  # not retried: the page is reported with its status
            request.meta[RETRY_AFTER] = wait
        return super().process_response(request, response)

    def _retry(self, request: Request, reason: Any) -> Request | None:
        retry = super()._retry(request, reason)
        wait = request.meta.pop(RETRY_AFTER, None)
        if retry is not None:
            retry.meta.pop(RETRY_AFTER, None)
            delay = backoff_delay(retry.meta["retry_times"], self.backoff, self.max_delay)
            retry.meta[RETRY_DELAY] = max(delay, wait or 0.0)
        return retry
