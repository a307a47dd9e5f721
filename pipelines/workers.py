"""The CPU-bound part of a crawl, run in a pool of worker processes.

Scrapy runs every callback and pipeline on one reactor thread: left there,
article extraction (trafilatura) and language detection (langdetect) would use
one core and hold up fetching. ``ExtractPipeline`` hands each fetched page to
:func:`prepare` in a process pool instead, so every core works and the reactor
stays free for I/O. One pool serves all the crawlers of a process.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from crawler.extract import NotAnArticle, extract_article
from crawler.items import Article, FetchedPage
from pipelines.language import decide_language


@dataclass
class Prepared:
    """What a worker made of a page: an article (or why not), and its time per stage."""

    article: Article | None
    reason: str | None
    seconds: dict[str, float]


def prepare(page: FetchedPage, threshold: float) -> Prepared:
    """Extract the article of ``page`` and decide its language (in a worker process)."""
    start = time.perf_counter()
    try:
        article = extract_article(page)
    except NotAnArticle as exc:
        return Prepared(None, str(exc), {"extract": time.perf_counter() - start})
    extracted = time.perf_counter()
    article.language, probability, article.language_source = decide_language(
        article, page.source_language, article.feed_language, threshold
    )
    article.language_probability = round(probability, 4)
    seconds = {"extract": extracted - start, "language": time.perf_counter() - extracted}
    return Prepared(article, None, seconds)


def _watch_parent() -> None:
    """Worker start-up: leave Ctrl-C to the crawl, and exit when the crawl is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = os.getppid()

    def watch() -> None:
        # A crawl killed with SIGKILL cannot stop its workers: they notice instead.
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


def default_workers() -> int:
    """Worker processes when the config says nothing: one per core, none on one core."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return cores if cores and cores > 1 else 0


class SharedPool:
    """One process pool for the whole crawl process, opened by its first user."""

    _lock = threading.Lock()
    _pool: ProcessPoolExecutor | None = None
    _users = 0

    @classmethod
    def acquire(cls, workers: int) -> ProcessPoolExecutor:
        with cls._lock:
            if cls._pool is None:
                # spawn: a forked copy of a running Twisted reactor is not safe to use.
                context = multiprocessing.get_context("spawn")
                cls._pool = ProcessPoolExecutor(
                    max_workers=workers, mp_context=context, initializer=_watch_parent
                )
            cls._users += 1
            return cls._pool

    @classmethod
    def release(cls) -> None:
        with cls._lock:
            cls._users -= 1
            if cls._users <= 0 and cls._pool is not None:
                cls._pool.shutdown(wait=True, cancel_futures=True)
                cls._pool, cls._users = None, 0
