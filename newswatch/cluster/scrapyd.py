"""The Scrapy project as scrapyd (and ``scrapy crawl``) runs it: the ``newswatch`` spider.

``crawler/settings.py`` lists this module among its spider modules.
``scrapy crawl newswatch -a source=NAME [-a config=PATH]``, which is what scrapyd
runs for ``schedule.json`` with ``spider=newswatch`` and ``source=NAME``, crawls one
configured source exactly as ``newswatch crawl --source NAME`` does: the config
file's settings, the source's lock, its crawl state, job directory and archive, and
its run recorded in the store.

With ``[cluster] redis_url`` in the config, the job is a cluster worker instead, as
``newswatch worker --source NAME`` is (``newswatch/cluster/workers.py``): it takes the source's
requests from the shared queue in Redis, claims no lock or job directory (several
workers, on several scrapyd hosts, work one source), and writes to the shared
Elasticsearch. It waits for more work until cancelled, or with ``-a exit_when_done=1``
ends once the queue is empty and no worker holds a request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import scrapy
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import CloseSpider
from scrapy.settings import SETTINGS_PRIORITIES


class ConfiguredSpider(scrapy.Spider):
    """``newswatch``: one source of a newswatch config, by name (see the module docstring).

    Arguments (``-a`` or scrapyd's ``schedule.json``): ``source``, the source's name;
    ``config``, the config file (default: $NEWSWATCH_CONFIG, ./newswatch.toml, the
    built-in defaults); ``exit_when_done`` (``1``), for a cluster worker only: end when
    the shared queue is empty. The crawl itself is the spider of the source's kind.
    """

    name = "newswatch"

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> scrapy.Spider:
        from crawler.spiders import SPIDERS
        from crawler.state import StateError
        from newswatch.cluster.workers import ClusterError, check_store, configure_worker, redis_of
        from newswatch.config import ConfigError, load_config
        from newswatch.runs.crawl import build_settings
        from newswatch.runs.jobs import claim, job_settings

        try:
            config = load_config(kwargs.pop("config", None))
            source = config.source(kwargs.pop("source", ""))
            exit_when_done = _flag("exit_when_done", kwargs.pop("exit_when_done", "0"))
            job = None
            if config.cluster.redis_url:
                # A cluster worker: the same one-line refusals as `newswatch worker`.
                check_store(config)
                redis_of(config)
            else:
                claims = claim(config, [source])
                if claims.busy:
                    return Refused(claims.busy[0], "busy")
                if claims.waiting:
                    return Refused(claims.waiting[0], "backoff")
                job = claims.jobs[0]
        except ClusterError as exc:
            return Refused(str(exc), "cluster-error")
        except (ConfigError, StateError) as exc:
            return Refused(str(exc), "config-error")
        # The config's settings, below any `-s` of the command line. Scrapy reads the
        # components (scheduler, extensions, middlewares) only after from_crawler.
        derived = build_settings(config)
        cmdline = SETTINGS_PRIORITIES["cmdline"]
        for key, value in derived.items():
            if derived.getpriority(key) == cmdline and not key.startswith("LOG_"):
                crawler.settings.set(key, value, priority="spider")
        if job is None:
            configure_worker(crawler.settings, config, exit_when_done, priority="spider")
        else:
            crawler.settings.setdict(job_settings(config, job), priority="spider")
        spider = SPIDERS[source.kind].from_crawler(crawler, *args, source=source, **kwargs)
        crawler.signals.connect(
            lambda: _finish(config, source, job, crawler), signal=signals.engine_stopped, weak=False
        )
        return spider


class Refused(scrapy.Spider):
    """A run that cannot start: it logs why in one line and closes with ``reason``.

    No class-level ``name``: Scrapy's spider loader must not list it.
    """

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(name="newswatch")
        self.message, self.reason = message, reason

    async def start(self) -> AsyncIterator[Any]:
        self.logger.error(self.message)
        raise CloseSpider(self.reason)
        yield  # an async generator, as Scrapy expects of start()


def _flag(name: str, value: Any) -> bool:
    """A yes/no spider argument: ``1`` or ``0`` (``true``/``false``, ``yes``/``no``)."""
    from newswatch.config import ConfigError

    text = str(value).strip().lower()
    if text in ("1", "true", "yes"):
        return True
    if text in ("0", "false", "no", ""):
        return False
    raise ConfigError(f"spider argument {name}: expected 1 or 0 (got {value!r})")


def _finish(config: Any, source: Any, job: Any, crawler: Crawler) -> None:
    """Record the run in the store and let go of the source (a cluster worker holds
    none: ``job`` is None), as ``newswatch crawl`` and ``newswatch worker`` do."""
    from newswatch.runs.crawl import _now, _record, _report  # the same report and record
    from newswatch.runs.jobs import release

    report = _report(source, crawler, _now())
    try:
        _record(config, [report])
    finally:
        if job is not None:
            release(job, report.finish_reason)
