"""Per-domain politeness across a cluster: one clock per domain in Redis.

Scrapy's download delay and per-domain concurrency hold within one process: three
workers would each keep their own distance from a site, and together visit it three
times as often. :class:`ClusterPoliteness` makes the delay cluster-wide. Each domain
has one "next free moment" in Redis; a request reserves the first free moment in one
atomic script (which pushes the clock on by the delay) and waits until then. So the
requests of all workers to one domain start at least ``DOWNLOAD_DELAY`` seconds
apart, however many workers there are; a request that missed its moment (its process
was busy) takes a new one rather than crowd the next. Each worker's own Scrapy delay is
then set to 0 (``newswatch/cluster/workers.py``): the cluster's clock replaces it, not adds to it.
"""

from __future__ import annotations

import time
from typing import Any

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.task import deferLater

# Milliseconds of Redis's clock (TIME): workers' clocks need not agree.
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local free = tonumber(redis.call('GET', KEYS[1]) or '0')
local start = math.max(now, free)
local delay = tonumber(ARGV[1])
redis.call('SET', KEYS[1], start + delay, 'PX', start - now + delay + 60000)
return start - now
"""


class ClusterPoliteness:
    """Downloader middleware: wait for the domain's next free moment, shared in Redis.

    Settings: ``NEWSWATCH_CLUSTER_DELAY`` (seconds between two requests to one domain,
    across the cluster), ``NEWSWATCH_CLUSTER_KEY_PREFIX`` and the Redis connection of
    scrapy-redis (``REDIS_URL``).
    """

    def __init__(self, server: Any, prefix: str, delay: float) -> None:
        self.server = server
        self.prefix = prefix
        self.delay_ms = int(round(delay * 1000))
        self._reserve = server.register_script(_RESERVE)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ClusterPoliteness:
        settings = crawler.settings
        if not settings.get("NEWSWATCH_CLUSTER_LEASE"):
            raise NotConfigured("not a cluster worker")
        from scrapy_redis.connection import get_redis_from_settings

        delay = settings.getfloat("NEWSWATCH_CLUSTER_DELAY")
        if delay <= 0:
            raise NotConfigured("no delay between requests")
        prefix = settings.get("NEWSWATCH_CLUSTER_KEY_PREFIX", "newswatch")
        return cls(get_redis_from_settings(settings), prefix, delay)

    def key(self, request: Request) -> str:
        """The Redis key of the request's domain clock (host and port)."""
        return f"{self.prefix}:polite:{urlparse_cached(request).netloc.lower()}"

    async def process_request(self, request: Request) -> None:
        from twisted.internet import reactor  # the one Scrapy installed, so imported late

        while True:
            wait = int(self._reserve(keys=[self.key(request)], args=[self.delay_ms])) / 1000
            if wait <= 0:
                return
            due = time.monotonic() + wait
            await maybe_deferred_to_future(deferLater(reactor, wait, lambda: None))
            # A worker whose process was busy past its turn (a long callback holds the
            # reactor) would send right behind the next worker's request: it takes a new
            # turn instead, and the turn it missed goes unused.
            if time.monotonic() - due <= self.delay_ms / 2000:
                return
