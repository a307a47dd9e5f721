"""Crawling as a cluster: workers on several machines sharing one frontier in Redis.

With ``[cluster] redis_url`` set, ``newswatch enqueue`` puts each source's start
requests (its feeds, sitemaps, start pages) in the source's Redis queue, and every
``newswatch worker`` pulls from those queues: one Scrapy crawler per source, its
scheduler and duplicate filter those of scrapy-redis (``crawler/frontier.py``), its
per-domain delay a clock in Redis (``crawler/politeness.py``). Articles go to the
shared Elasticsearch; the embedded SQLite store is one machine's, so workers refuse it.

What a single-machine crawl keeps on its disk is left out here: the frontier replaces
the job directory and the crawl state (the seen set is the cluster's memory of what
was fetched), and each worker's own lock per source would stop the others.
"""

from __future__ import annotations

from typing import Any

from scrapy.crawler import Crawler, CrawlerProcess
from scrapy.settings import Settings

from crawler.spiders import SPIDERS
from newswatch.config import Config, ConfigError, SourceConfig, seconds
from newswatch.runs.crawl import CrawlReports, _now, _record, _report, build_settings


class ClusterError(ConfigError):
    """The cluster cannot be used (not configured, Redis away); one line."""


def cluster_settings(config: Config, exit_when_done: bool = False) -> dict[str, Any]:
    """The Scrapy settings that turn a crawl into a cluster worker."""
    cluster = config.cluster
    prefix = cluster.key_prefix
    return {
        "SCHEDULER": "crawler.frontier.FrontierScheduler",
        "SCHEDULER_QUEUE_CLASS": "crawler.frontier.LeasedQueue",
        "SCHEDULER_QUEUE_KEY": f"{prefix}:%(spider)s:requests",
        "SCHEDULER_DUPEFILTER_KEY": f"{prefix}:%(spider)s:dupefilter",
        "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
        "SCHEDULER_PERSIST": True,  # the frontier outlives every worker
        "REDIS_URL": cluster.redis_url,
        "NEWSWATCH_CLUSTER_LEASE": float(seconds(cluster.lease)),
        "NEWSWATCH_CLUSTER_KEY_PREFIX": prefix,
        "NEWSWATCH_CLUSTER_EXIT_WHEN_DONE": exit_when_done,
        # The delay between two requests to a domain holds across the cluster: the Redis
        # clock keeps it, and each worker's own delay would only add to it.
        "NEWSWATCH_CLUSTER_DELAY": config.crawler.download_delay,
        "DOWNLOAD_DELAY": 0,
        "DOWNLOAD_DELAY_JITTER": 0,
        "NEWSWATCH_STATE": None,
        "JOBDIR": None,
        "NEWSWATCH_ARCHIVE": None,
    }


def _check(config: Config) -> None:
    if not config.cluster.redis_url:
        raise ClusterError(
            f"{config.path}: cluster: no redis_url: set [cluster] redis_url"
            " to the Redis all workers share"
        )


def configure_worker(
    settings: Settings, config: Config, exit_when_done: bool = False, priority: str = "cmdline"
) -> None:
    """Turn ``settings`` (a crawl's) into a cluster worker's, at ``priority``.

    ``newswatch worker`` and ``enqueue`` use it, and so does the ``newswatch`` spider
    when scrapyd runs it with a cluster config (``newswatch/cluster/scrapyd.py``).
    """
    _check(config)
    settings.setdict(cluster_settings(config, exit_when_done), priority=priority)
    components = {
        # Last of the downloader middlewares: the wait ends just before the download.
        "DOWNLOADER_MIDDLEWARES": ("crawler.politeness.ClusterPoliteness", 950),
        "EXTENSIONS": ("crawler.frontier.FrontierLeases", 20),
        # A worker does not seed: `newswatch enqueue` (or the scheduler) does, once.
        "SPIDER_MIDDLEWARES": ("crawler.frontier.NoSeeds", 0),
    }
    for name, (component, order) in components.items():
        value = settings.getdict(name)
        value[component] = order
        settings.set(name, value, priority=priority)


def _settings(config: Config, exit_when_done: bool, log_file: str | None) -> Settings:
    settings = build_settings(config, log_file)
    configure_worker(settings, config, exit_when_done)
    settings.set("LOG_INSTALL_ROOT_HANDLER", log_file is not None, priority="cmdline")
    return settings


def redis_of(config: Config) -> Any:
    """A client of the cluster's Redis, checked with a PING (ClusterError if away)."""
    import redis

    _check(config)
    try:
        client = redis.Redis.from_url(config.cluster.redis_url, socket_connect_timeout=5)
        client.ping()
    except (redis.RedisError, ValueError) as exc:
        raise ClusterError(f"Redis at {_public(config.cluster.redis_url)}: {exc}") from None
    return client


def _public(url: str) -> str:
    """The Redis URL without its password."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def check_store(config: Config) -> None:
    """A worker writes to the shared Elasticsearch: ClusterError (one line) otherwise.

    ``newswatch worker`` and the ``newswatch`` spider under scrapyd both check it.
    """
    if config.store.backend != "elasticsearch":
        raise ClusterError(
            f"{config.path}: store.backend is {config.store.backend!r}: cluster workers"
            " write to one shared Elasticsearch (the SQLite store belongs to one machine)"
        )


def run_worker(
    config: Config,
    sources: list[SourceConfig],
    exit_when_done: bool = False,
    log_file: str | None = None,
) -> CrawlReports:
    """Work the cluster's queues of ``sources`` until stopped (or, ``exit_when_done``,
    until every queue is empty and no worker holds a request); one report per source."""
    check_store(config)
    redis_of(config)
    process = CrawlerProcess(_settings(config, exit_when_done, log_file))
    crawlers: list[tuple[SourceConfig, Crawler]] = []
    for source in sources:
        crawler = process.create_crawler(SPIDERS[source.kind])
        crawlers.append((source, crawler))
        process.crawl(crawler, source=source)
    started = _now()
    process.start()
    reports = CrawlReports(_report(source, crawler, started) for source, crawler in crawlers)
    _record(config, reports)
    return reports


def enqueue(config: Config, sources: list[SourceConfig]) -> dict[str, int]:
    """Put each source's start requests in its queue; how many per source."""
    import asyncio

    from scrapy_redis.dupefilter import RFPDupeFilter

    from crawler.frontier import LeasedQueue

    server = redis_of(config)
    settings = _settings(config, False, None)
    counts = {}
    for source in sources:
        crawler = Crawler(SPIDERS[source.kind], settings)
        spider = crawler.spidercls.from_crawler(crawler, source=source)
        key = settings["SCHEDULER_QUEUE_KEY"] % {"spider": spider.name}
        queue = LeasedQueue(server, spider, key)
        seen = RFPDupeFilter(server, settings["SCHEDULER_DUPEFILTER_KEY"] % {"spider": spider.name})

        async def seeds(spider: Any = spider) -> list:
            return [request async for request in spider.start()]

        requests = asyncio.run(seeds())
        for request in requests:
            # Queued even if seen before (a feed is polled again), and marked seen: a
            # page linking back to a start page does not queue it a second time.
            seen.request_seen(request)
            queue.push(request)
        counts[source.name] = len(requests)
    return counts
