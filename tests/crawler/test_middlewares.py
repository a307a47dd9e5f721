"""BackoffRetryMiddleware: Scrapy's RetryMiddleware whose retries wait, Retry-After first.

The middleware is built by Scrapy from settings (``get_crawler``) and given real
requests, responses and exceptions; the end-to-end waits are measured by the fixture
server in tests/e2e/test_hostile_transport.py.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from scrapy import Spider
from scrapy.exceptions import DownloadTimeoutError
from scrapy.http import Request, Response
from scrapy.utils.test import get_crawler

from crawler.middlewares import (
    RETRY_DELAY,
    BackoffRetryMiddleware,
    backoff_delay,
    retry_after_seconds,
)

NOW = datetime(2026, 11, 3, 10, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        (b"5", 5.0),
        (" 3 ", 3.0),
        ("0", 0.0),
        ("Tue, 03 Nov 2026 10:00:30 GMT", 30.0),
        ("Tuesday, 03-Nov-26 10:01:00 GMT", 60.0),  # RFC 850, still met
        ("Tue, 03 Nov 2026 09:00:00 GMT", 0.0),  # in the past: at once
        ("-5", None),
        ("1.5", None),  # delay-seconds are whole
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_seconds(value, seconds):
    assert retry_after_seconds(value, now=NOW) == seconds


@pytest.mark.parametrize(("retry", "delay"), [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (9, 10.0)])
def test_backoff_doubles_up_to_the_cap(retry, delay):
    assert backoff_delay(retry, base=0.5, cap=10.0) == delay


def make_middleware(**settings) -> BackoffRetryMiddleware:
    crawler = get_crawler(
        Spider,
        settings_dict={
            "RETRY_TIMES": 2,
            "NEWSWATCH_RETRY_BACKOFF": 0.5,
            "NEWSWATCH_RETRY_MAX_DELAY": 60.0,
            **settings,
        },
    )
    crawler.spider = Spider.from_crawler(crawler, name="t")
    crawler.stats.open_spider()
    return BackoffRetryMiddleware.from_crawler(crawler)


def response(status: int, request: Request, **headers: str) -> Response:
    return Response(request.url, status=status, headers=headers, request=request)


def test_a_5xx_is_retried_after_the_backoff_and_the_next_after_twice_that():
    middleware = make_middleware()
    request = Request("http://news.test/a")
    first = middleware.process_response(request, response(503, request))
    assert isinstance(first, Request)
    assert (first.meta["retry_times"], first.meta[RETRY_DELAY]) == (1, 0.5)
    second = middleware.process_response(first, response(502, first))
    assert isinstance(second, Request)
    assert (second.meta["retry_times"], second.meta[RETRY_DELAY]) == (2, 1.0)
    # RETRY_TIMES spent: the response goes on, to be reported as an HTTP error.
    last = response(500, second)
    assert middleware.process_response(second, last) is last


def test_retry_after_is_waited_when_longer_than_the_backoff():
    middleware = make_middleware()
    request = Request("http://news.test/a")
    retry = middleware.process_response(request, response(429, request, **{"Retry-After": "7"}))
    assert isinstance(retry, Request)
    assert retry.meta[RETRY_DELAY] == 7.0
    short = middleware.process_response(retry, response(503, retry, **{"Retry-After": "0"}))
    assert short.meta[RETRY_DELAY] == 1.0  # the backoff, when it is the longer


def test_a_retry_after_longer_than_the_max_delay_is_not_waited_for():
    middleware = make_middleware(NEWSWATCH_RETRY_MAX_DELAY=60.0)
    request = Request("http://news.test/a")
    answer = response(429, request, **{"Retry-After": "3600"})
    assert middleware.process_response(request, answer) is answer
    assert middleware.crawler.stats.get_value("newswatch/retry/retry-after-too-long") == 1


def test_exceptions_are_retried_with_the_backoff():
    middleware = make_middleware()
    request = Request("http://news.test/a")
    retry = middleware.process_exception(request, DownloadTimeoutError("took too long"))
    assert isinstance(retry, Request)
    assert retry.meta[RETRY_DELAY] == 0.5


def test_no_retry_when_the_request_says_so_or_the_status_is_not_retried():
    middleware = make_middleware()
    request = Request("http://news.test/a", meta={"dont_retry": True})
    answer = response(503, request)
    assert middleware.process_response(request, answer) is answer
    plain = Request("http://news.test/b")
    missing = response(404, plain)
    assert middleware.process_response(plain, missing) is missing


def test_a_first_request_goes_at_once():
    # No delay in its meta: process_request neither waits nor needs the reactor.
    middleware = make_middleware()
    request = Request("http://news.test/a")
    assert asyncio.run(middleware.process_request(request)) is None
