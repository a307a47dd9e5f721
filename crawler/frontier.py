"""The shared crawl frontier of a cluster: one request queue and one seen set in Redis.

scrapy-redis supplies the parts: its scheduler keeps each spider's requests in one Redis
sorted set that every worker pulls from, and its duplicate filter keeps one set of
request fingerprints, so a URL is requested once across all workers. What it does not
do is survive a worker's death: its queue hands a request out by deleting it, and a
worker killed mid-page takes that page with it.

So a request taken here is *leased*, not deleted: :class:`LeasedQueue` moves it, in
one Redis script, from the queue to a lease table with a deadline. The worker renews
the deadlines of what it holds while it lives (:class:`FrontierLeases`) and gives a
lease back (acknowledges it) once the page is done: its response went through the
callback, every article it yielded through the item pipelines (stored or dropped),
and every link it found into the queue. A lease whose deadline passes, because its
worker died, is put back in the queue by whichever worker notices first.

Keys, for a spider named ``site:example`` and the prefix ``newswatch``:
``newswatch:site:example:requests`` (the queue), ``...:requests:leased`` and
``...:requests:scores`` (leased requests and their priorities, by lease id),
``...:requests:deadlines`` (lease id -> deadline), ``...:requests:lease-ids``
(a counter) and ``newswatch:site:example:dupefilter`` (the fingerprints).
"""

from __future__ import annotations

import logging
from typing import Any

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider, NotConfigured
from scrapy_redis.queue import PriorityQueue
from scrapy_redis.scheduler import Scheduler
from twisted.internet import task

logger = logging.getLogger(__name__)

LEASE = "newswatch_lease"  # request meta: the id of the lease its worker holds

# Redis scripts run atomically: no other worker sees a request half moved.
# Deadlines are read from Redis's clock (TIME), so workers' clocks need not agree.
_NOW = "local t = redis.call('TIME') local now = tonumber(t[1]) + tonumber(t[2]) / 1e6\n"


def _clocked(script: str) -> str:
    """A Lua script with ``now`` (seconds, Redis's clock) defined first."""
    return _NOW + script


_TAKE = _clocked("""
local item = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #item == 0 then return false end
redis.call('ZREM', KEYS[1], item[1])
local id = redis.call('INCR', KEYS[5])
redis.call('HSET', KEYS[2], id, item[1])
redis.call('HSET', KEYS[3], id, item[2])
redis.call('ZADD', KEYS[4], now + tonumber(ARGV[1]), id)
return {tostring(id), item[1]}
""")
# Puts leased requests back in the queue with their priority and forgets their leases.
_GIVE_BACK = """
local function give_back(ids)
  for _, id in ipairs(ids) do
    local data = redis.call('HGET', KEYS[2], id)
    if data then redis.call('ZADD', KEYS[1], redis.call('HGET', KEYS[3], id) or 0, data) end
    redis.call('HDEL', KEYS[2], id)
    redis.call('HDEL', KEYS[3], id)
    redis.call('ZREM', KEYS[4], id)
  end
  return #ids
end
"""
_REQUEUE = _clocked(_GIVE_BACK + "return give_back(redis.call('ZRANGEBYSCORE', KEYS[4], 0, now))")
_RELEASE = _GIVE_BACK + "return give_back(ARGV)"
_RENEW = _clocked("""
for i = 2, #ARGV do redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[1]), ARGV[i]) end
return 0
""")


class LeasedQueue(PriorityQueue):
    """scrapy-redis's priority queue, handing requests out on lease (module docstring).

    ``NEWSWATCH_CLUSTER_LEASE`` (seconds) is how long a lease lasts unrenewed.
    """

    def __init__(self, server: Any, spider: Any, key: str, serializer: Any = None) -> None:
        super().__init__(server, spider, key, serializer)
        self.lease_seconds = spider.settings.getfloat("NEWSWATCH_CLUSTER_LEASE", 60.0)
        self.keys = [
            self.key,
            *(f"{self.key}:{part}" for part in ("leased", "scores", "deadlines", "lease-ids")),
        ]
        self.held: set[str] = set()  # leases of this worker, renewed while it lives
        self._take = server.register_script(_TAKE)
        self._requeue = server.register_script(_REQUEUE)
        self._renew = server.register_script(_RENEW)
        self._release = server.register_script(_RELEASE)

    def pop(self, timeout: int = 0) -> Request | None:
        """The next request, leased to this worker, or None if the queue is empty."""
        taken = self._take(keys=self.keys, args=[self.lease_seconds])
        if not taken:
            return None
        lease = taken[0].decode() if isinstance(taken[0], bytes) else str(taken[0])
        request = self._decode_request(taken[1])
        request.meta[LEASE] = lease
        self.held.add(lease)
        return request

    def ack(self, lease: str) -> None:
        """The leased request is done: forget it (a lease already requeued is a no-op)."""
        self.held.discard(lease)
        _, leased, scores, deadlines, _ = self.keys
        pipe = self.server.pipeline()
        pipe.hdel(leased, lease).hdel(scores, lease).zrem(deadlines, lease)
        pipe.execute()

    def renew(self) -> None:
        """Push back the deadlines of every lease this worker holds."""
        if self.held:
            self._renew(keys=[self.keys[3]], args=[self.lease_seconds, *self.held])

    def release(self) -> int:
        """Put every request this worker holds back in the queue now (it is stopping)."""
        held, self.held = sorted(self.held), set()
        return int(self._release(keys=self.keys, args=held)) if held else 0

    def requeue_expired(self) -> int:
        """Put the requests of expired leases (dead workers) back in the queue."""
        return int(self._requeue(keys=self.keys))

    def leased(self) -> int:
        """Requests taken by some worker and not done yet, across the cluster."""
        return int(self.server.hlen(self.keys[1]))

    def clear(self) -> None:
        self.server.delete(*self.keys)
        self.held.clear()


class FrontierScheduler(Scheduler):
    """scrapy-redis's scheduler over a :class:`LeasedQueue`.

    A request Scrapy schedules again in place of a leased one (a redirect, a retry:
    Scrapy copies the request's meta, lease included) settles that lease once the new
    request is safely in the queue, or known as seen.
    """

    queue: LeasedQueue

    def enqueue_request(self, request: Request) -> bool:
        lease = request.meta.pop(LEASE, None)  # never stored: a lease belongs to one worker
        queued = super().enqueue_request(request)
        if lease is not None:
            self.queue.ack(lease)
        return queued

    def close(self, reason: str) -> None:
        """Put what this worker took and did not finish (stopped by SIGTERM, Ctrl-C) back
        in the queue at once, rather than when its leases run out."""
        try:
            released = self.queue.release()
        except Exception as exc:  # Redis away: the leases run out and come back anyway
            logger.warning("cluster: could not put back unfinished requests: %s", exc)
        else:
            if released:
                logger.info("cluster: %d unfinished request(s) put back in the queue", released)
        super().close(reason)


class FrontierLeases:
    """Keeps this worker's leases alive, settles them, and decides when the worker is done.

    * Every third of the lease time it renews the leases it holds and requeues expired
      ones of dead workers (counted as ``newswatch/cluster/requeued``).
    * It settles a lease when Scrapy has finished with the leased request's response or
      failure: callback, item pipelines and new requests all done.
    * While the queue holds requests or any worker holds a lease, the spider stays open
      (a lease may still yield links, or come back); when both are empty, it closes if
      ``NEWSWATCH_CLUSTER_EXIT_WHEN_DONE`` is set, and otherwise waits for new work.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.exit_when_done = crawler.settings.getbool("NEWSWATCH_CLUSTER_EXIT_WHEN_DONE")
        self.lease_seconds = crawler.settings.getfloat("NEWSWATCH_CLUSTER_LEASE", 60.0)
        self.loop: task.LoopingCall | None = None
        crawler.signals.connect(self.engine_started, signal=signals.engine_started)
        crawler.signals.connect(self.spider_idle, signal=signals.spider_idle)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> FrontierLeases:
        if not crawler.settings.get("NEWSWATCH_CLUSTER_LEASE"):
            raise NotConfigured("not a cluster worker")
        return cls(crawler)

    @property
    def queue(self) -> LeasedQueue | None:
        engine = self.crawler.engine
        scheduler = getattr(getattr(engine, "_slot", None), "scheduler", None)
        return getattr(scheduler, "queue", None)

    def engine_started(self) -> None:
        scraper = self.crawler.engine.scraper
        finish = scraper.enqueue_scrape

        # Scrapy signals nothing when a response and everything it produced are done,
        # which is the moment a lease may be given back; the scraper's enqueue_scrape
        # returns exactly that: a Deferred fired after the callback or errback, the item
        # pipelines of each item and the scheduling of each new request.
        def enqueue_scrape(result: Any, request: Request) -> Any:
            done = finish(result, request)
            lease = request.meta.get(LEASE)
            if lease is not None:
                done.addBoth(self._settle, lease)
            return done

        scraper.enqueue_scrape = enqueue_scrape
        self.loop = task.LoopingCall(self.heartbeat)
        self.loop.start(max(0.2, self.lease_seconds / 3), now=False)

    def _settle(self, result: Any, lease: str) -> Any:
        queue = self.queue
        if queue is not None:
            queue.ack(lease)
        return result

    def heartbeat(self) -> None:
        queue = self.queue
        if queue is None:
            return
        try:
            queue.renew()
            self._requeue(queue)
        except Exception as exc:  # Redis away for a moment: the next beat tries again
            logger.warning("cluster: could not renew leases: %s", exc)

    def _requeue(self, queue: LeasedQueue) -> int:
        requeued = queue.requeue_expired()
        if requeued:
            self.crawler.stats.inc_value("newswatch/cluster/requeued", requeued)
            logger.info(
                "cluster: %d request(s) of a stopped worker put back in the queue", requeued
            )
        return requeued

    def spider_idle(self) -> None:
        queue = self.queue
        if queue is None:
            return
        # Exact, not a guess: a lease is settled only after its links are in the queue.
        busy = self._requeue(queue) or len(queue) or queue.leased()
        if busy or not self.exit_when_done:
            raise DontCloseSpider

    def spider_closed(self) -> None:
        if self.loop is not None and self.loop.running:
            self.loop.stop()


class NoSeeds:
    """Spider middleware of a cluster worker: the spider's own start requests are not sent.

    A source's start requests (its feeds, sitemaps, start pages) are put in the queue
    once, by ``newswatch enqueue`` or the scheduler; every worker starting would poll
    each feed once more.
    """

    async def process_start(self, start: Any) -> Any:
        return
        yield  # an async generator that yields nothing
