"""Incremental crawling: the spider's side of the crawl state (``crawler/state.py``).

:class:`Incremental` is mixed into every newswatch spider. With the
``NEWSWATCH_STATE`` setting (the state file) a spider

- polls feeds and sitemaps conditionally (``If-None-Match``/``If-Modified-Since``);
  a 304 or a body with the hash of the last poll means "unchanged", and nothing
  in it is parsed. Every ``NEWSWATCH_UNCONDITIONAL_EVERY``-th poll sends no
  validators, so a server with broken ETags is still read: the hash decides;
- requests only article URLs it has not decided on yet (``newswatch/skipped/known``
  counts the others), plus stored articles young enough to change and not fetched
  lately (``NEWSWATCH_REFRESH_YOUNGER_THAN``, ``NEWSWATCH_REFRESH_AFTER``);
- asks again, at the start of each run, for the URLs a previous run discovered but
  never finished (killed, or the server failed): nothing discovered is lost;
- adapts each feed's polling interval to how much of it is new (``adaptive``);
- backs the whole source off when the server answers 429 or 503, for as long as
  its ``Retry-After`` asks, and stops the run (finish reason ``backoff``).

Without the setting a spider fetches everything, as ``scrapy crawl`` does.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import scrapy
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.http import Response
from scrapy.utils.defer import deferred_from_coro

from crawler.extensions import drop_reason, page_dropped
from crawler.items import Article, EntryHint
from crawler.middlewares import retry_after_seconds
from crawler.state import ArticleState, CrawlState, iso
from crawler.urls import normalize_url

# Request meta keys.
KEY = "newswatch_key"  # the normalised URL an article request is known by in the state
POLL = "newswatch_poll"  # a feed or sitemap poll: {"conditional": bool}

# Stats keys.
NOT_MODIFIED = "newswatch/polls/not-modified"  # polls answered 304
UNCHANGED = "newswatch/polls/unchanged"  # polls answered 304 or with the same body as before
BACKED_OFF = "newswatch/polls/backoff"
SKIPPED_KNOWN = "newswatch/skipped/known"
REVISIT_PENDING = "newswatch/revisits/pending"
REVISIT_REFRESH = "newswatch/revisits/refresh"

BACKOFF_STATUSES = (429, 503)
MAX_BACKOFF = 7 * 86400  # seconds: a Retry-After of a month is read as a week
SHRINK_AT = 0.5  # this share of new links or more in a poll: poll twice as often
GROW_AT = 0.2  # this share or less (a 304 counts as none): poll half again as rarely
# Drops that settle an article URL: asking again would bring the same answer. Other
# failures (timeouts, resets, 5xx, 408, 429) leave it pending, to be asked again.
_SETTLED_HTTP = {f"http-{s}" for s in range(400, 500)} - {"http-408", "http-429"}
SETTLED_FETCH_FAILURES = _SETTLED_HTTP | {"not-html", "too-large", "robots-txt", "redirect-loop"}


def next_interval(source: Any, current: int | None, listed: int, new: int, first: bool) -> int:
    """A URL's polling interval in seconds after a poll that listed ``listed`` links, ``new`` new.

    A source without adaptive polling keeps its configured interval; the first poll of
    a URL (everything is new) only starts from it.
    """
    low, high = source.min_interval, source.max_interval
    interval = min(max(current or source.interval, low), high)
    if not source.is_adaptive:
        return source.interval
    if first:
        return interval
    share = new / listed if listed else 0.0
    if share >= SHRINK_AT:
        interval //= 2
    elif share <= GROW_AT:
        interval = interval * 3 // 2
    return min(max(interval, low), high)


def _settled(state: ArticleState | None, follow: bool) -> bool:
    """Whether a URL needs no new request: decided on, and not an index page to follow."""
    if state is None or state.outcome is None:
        return False
    return not follow or state.outcome != "not-article"


def _hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def _header(response: Response, name: bytes) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None


class Incremental:
    """Spider methods for incremental crawling; see the module docstring.

    The spider calls :meth:`poll_request` for its feeds and sitemaps,
    :meth:`poll_changed` first thing in their callback, :meth:`new_requests` for the
    links it found, and :meth:`revisits` at the start.
    """

    crawl_state: CrawlState | None = None
    # Provided by the spider.
    source: Any
    crawler: Crawler
    fail: Callable[[str], None]
    article_request: Callable[..., scrapy.Request]
    page_request: Callable[..., scrapy.Request]

    def open_state(self, crawler: Crawler) -> None:
        """Open the crawl state named by ``NEWSWATCH_STATE`` and follow the crawl's signals."""
        path = crawler.settings.get("NEWSWATCH_STATE")
        if not path:
            return
        self.crawl_state = CrawlState(path)
        settings = crawler.settings
        self.unconditional_every = settings.getint("NEWSWATCH_UNCONDITIONAL_EVERY", 10)
        self.refresh_younger_than = settings.getint("NEWSWATCH_REFRESH_YOUNGER_THAN", 48 * 3600)
        self.refresh_after = settings.getint("NEWSWATCH_REFRESH_AFTER", 6 * 3600)
        self._backed_off = False
        for handler, signal in (
            (self._response_received, signals.response_received),
            (self._item_scraped, signals.item_scraped),
            (self._item_dropped, signals.item_dropped),
            (self._page_dropped, page_dropped),
            (self._closed, signals.spider_closed),
        ):
            crawler.signals.connect(handler, signal=signal)

    # --- feeds and sitemaps --------------------------------------------------------------

    def poll_request(
        self, url: str, callback: Any, conditional: bool = True, first: bool = True
    ) -> scrapy.Request:
        """A request for a feed or sitemap (``first``: one the source names; its failure
        fails the source), with the validators of the last poll when ``conditional``."""
        errback = getattr(self, "start_failed", None) if first else None
        if self.crawl_state is None:
            return scrapy.Request(url, callback=callback, errback=errback, dont_filter=first)
        poll = self.crawl_state.poll(self.source.name, url)
        headers = {}
        if conditional and poll.polls % self.unconditional_every:
            if poll.etag:
                headers["If-None-Match"] = poll.etag
            if poll.last_modified:
                headers["If-Modified-Since"] = poll.last_modified
        return scrapy.Request(
            url,
            callback=callback,
            errback=errback,
            dont_filter=first,
            headers=headers,
            meta={
                POLL: {"url": url, "conditional": conditional},
                "handle_httpstatus_list": [304, *BACKOFF_STATUSES],
            },
        )

    async def start(self) -> AsyncIterator[scrapy.Request]:
        """Poll each configured URL (a feed, a sitemap), then revisit what is due."""
        for url in self.source.urls:
            yield self.poll_request(url, self.parse)
        for request in self.revisits():
            yield request

    def child_polls(self, callback: Any) -> Iterator[scrapy.Request]:
        """Polls of the URLs an earlier poll led to (the sitemaps of an index)."""
        if self.crawl_state is None:
            return
        for poll in self.crawl_state.polls(self.source.name):
            if poll.url not in self.source.urls:
                yield self.poll_request(poll.url, callback, first=False)

    def poll_changed(self, response: Response) -> bool:
        """Whether a response is worth parsing: not a 304, a backoff, or the same body again.

        An unchanged poll is recorded here; a changed one when its links are known
        (:meth:`new_requests`), so that a crash in between reads it again next time.
        """
        poll = response.meta.get(POLL)
        if self.crawl_state is None or poll is None:
            return True
        if response.status in BACKOFF_STATUSES:
            return False  # the source is backed off (see _response_received)
        stats = self.crawler.stats
        if response.status == 304:
            stats.inc_value(NOT_MODIFIED)
            stats.inc_value(UNCHANGED)
            self._record_poll(response, listed=0, new=0, content_hash=None)
            return False
        if not poll["conditional"]:
            return True
        state = self.crawl_state.poll(self.source.name, poll["url"])
        if state.content_hash and state.content_hash == _hash(response.body):
            stats.inc_value(UNCHANGED)
            self._record_poll(response, listed=0, new=0, content_hash=state.content_hash)
            return False
        return True

    def _record_poll(
        self, response: Response, listed: int, new: int, content_hash: str | None
    ) -> None:
        assert self.crawl_state is not None
        url = response.meta[POLL]["url"]  # as requested: a redirect does not change its key
        state = self.crawl_state.poll(self.source.name, url)
        interval = next_interval(self.source, state.interval, listed, new, first=not state.polls)
        self.crawl_state.record_poll(
            self.source.name,
            url,
            response.status,
            interval=interval,
            etag=_header(response, b"ETag"),
            last_modified=_header(response, b"Last-Modified"),
            content_hash=content_hash,
        )

    # --- article URLs --------------------------------------------------------------------

    def new_requests(
        self,
        response: Response,
        links: list[tuple[str, EntryHint | None]],
        callback: Any = None,
        follow: bool = False,
    ) -> list[scrapy.Request]:
        """Requests for the links of a page that are not known yet, and the poll recorded.

        ``follow``: the links are pages to follow (a site crawl); one that was not an
        article (an index page) is fetched again for its links. ``callback`` defaults
        to the article parser.
        """
        links = list(
            {normalize_url(url): (normalize_url(url), hint) for url, hint in links}.values()
        )
        meta = {} if callback is None else {"depth": response.meta.get("depth", 0) + 1}
        if self.crawl_state is None:
            return [self._request(url, hint, callback) for url, hint in links]
        known = self.crawl_state.articles([url for url, _ in links])
        wanted = []
        for url, hint in links:
            if _settled(known.get(url), follow):
                self.crawler.stats.inc_value(SKIPPED_KNOWN)
                continue
            wanted.append((url, hint))
        new = self.crawl_state.discover(
            self.source.name,
            [
                (url, {"hint": dataclasses.asdict(hint) if hint else None, **meta})
                for url, hint in wanted
            ],
        )
        if POLL in response.meta:
            self._record_poll(response, len(links), len(new), _hash(response.body))
        return [self._request(url, hint, callback) for url, hint in wanted]

    def _request(
        self, url: str, hint: EntryHint | None, callback: Any, **meta: Any
    ) -> scrapy.Request:
        if callback is None:
            return self.article_request(url, hint, **{KEY: url}, **meta)
        return self.page_request(url, callback, hint, **{KEY: url}, **meta)

    def revisits(self, callback: Any = None) -> Iterator[scrapy.Request]:
        """Requests for the URLs of earlier runs still pending, and for articles due a refresh."""
        if self.crawl_state is None:
            return
        now = datetime.now(UTC)
        pending = self.crawl_state.pending(self.source.name)
        due = self.crawl_state.refresh_due(
            self.source.name,
            published_after=iso(now - timedelta(seconds=self.refresh_younger_than)),
            fetched_before=iso(now - timedelta(seconds=self.refresh_after)),
        )
        for states, stat in ((pending, REVISIT_PENDING), (due, REVISIT_REFRESH)):
            for state in states:
                self.crawler.stats.inc_value(stat)
                hint = state.request.get("hint")
                meta = {"depth": state.request["depth"]} if "depth" in state.request else {}
                yield self._request(
                    state.url, EntryHint(**hint) if hint else None, callback, **meta
                )

    # --- what became of each request (signals) -----------------------------------------

    def _response_received(self, response: Response, request: scrapy.Request, **_: Any) -> None:
        assert self.crawl_state is not None
        if key := request.meta.get(KEY):
            body_hash = _hash(response.body) if response.status == 200 else None
            self.crawl_state.fetched(key, response.status, body_hash)
        if response.status in BACKOFF_STATUSES and not request.url.endswith("/robots.txt"):
            self._back_off(response)

    def _back_off(self, response: Response) -> None:
        """Leave the source alone for as long as the server asked, and stop this run."""
        assert self.crawl_state is not None
        if self._backed_off:
            return
        self._backed_off = True
        wait = retry_after_seconds(response.headers.get(b"Retry-After"))
        if wait is None:  # no Retry-After: skip the next poll or so
            current = self.crawl_state.schedule(self.source.name).interval or self.source.interval
            wait = min(2 * current, self.source.max_interval)
        until = iso(datetime.now(UTC) + timedelta(seconds=min(wait, MAX_BACKOFF)))
        self.crawl_state.back_off(self.source.name, list(self.source.urls), until)
        self.crawler.stats.inc_value(BACKED_OFF)
        self.fail(f"{response.url}: HTTP {response.status}, backed off until {until}")
        # The queue stays in the job directory: the next run, after the backoff, resumes it.
        deferred_from_coro(self.crawler.engine.close_spider_async(reason="backoff"))

    def _item_scraped(self, item: Any, response: Response | None, **_: Any) -> None:
        assert self.crawl_state is not None
        key = response.meta.get(KEY) if response is not None else None
        if key and isinstance(item, Article):
            self.crawl_state.decided(key, "stored", item.id, item.revision, item.published_at)

    def _item_dropped(
        self, item: Any, response: Response | None, exception: BaseException, **_: Any
    ) -> None:
        assert self.crawl_state is not None
        key = response.meta.get(KEY) if response is not None else None
        reason = drop_reason(exception)
        if key and reason != "store-error":  # a store error: the page is asked for again
            self.crawl_state.decided(key, reason)

    def _page_dropped(self, url: str, reason: str, **_: Any) -> None:
        assert self.crawl_state is not None
        key = normalize_url(url)
        if reason in SETTLED_FETCH_FAILURES:
            self.crawl_state.decided(key, reason)
        elif not reason.startswith("http-"):  # no response: not counted as one yet
            self.crawl_state.failed(key)

    def _closed(self, **_: Any) -> None:
        if self.crawl_state is not None:
            self.crawl_state.close()
