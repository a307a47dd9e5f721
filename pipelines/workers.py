"""The CPU-bound part of a crawl, run in a pool of worker processes.

Scrapy runs every callback and pipeline on one reactor thread: left there,
article extraction (trafilatura), language detection (langdetect), topic
matching, fingerprints and text analysis would use one core and hold up
fetching. ``ExtractPipeline`` hands each fetched page to :func:`prepare` in a
process pool instead, so every core works and the reactor stays free for I/O and
the decisions that need the store. One pool serves all the crawlers of a process.

:func:`prepare` does, for each stage, the work that needs nothing but the page
and the config: extraction, tidying (normalize), language, topic tags, the
duplicate fingerprints, the index terms. It stops where the stage after it will
drop the article (no text, a language not wanted, no topic), and marks what it
did (``pipelines/prepared.py``): the stages in the reactor only decide, look up
and write. The time each part takes is recorded under its stage.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import pickle
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from crawler.extract import NotAnArticle, extract_article
from crawler.items import Article, FetchedPage
from pipelines.duplicates import fingerprint
from pipelines.language import decide_language
from pipelines.normalize import tidy
from pipelines.prepared import compute_terms, mark
from pipelines.topics import tag_topics
from search.matcher import TopicMatcher


@dataclass
class Recipe:
    """What :func:`prepare` needs of the config: one per crawl, sent once to each worker.

    Pickled, a recipe is its key and its pickled rules; a worker unpickles each
    recipe once and keeps it with its compiled topic matcher.
    """

    threshold: float = 0.8
    languages: tuple[str, ...] = ()  # the languages kept (empty: any)
    topics: list[Any] = field(default_factory=list)
    keep_unmatched: bool = False
    ahead: bool = True  # run the later stages' work too (False: extract and language only)

    def __post_init__(self) -> None:
        self.keep_unmatched = self.keep_unmatched or not self.topics
        fields = (
            self.threshold,
            tuple(self.languages),
            self.topics,
            self.keep_unmatched,
            self.ahead,
        )
        self._blob = pickle.dumps(fields)
        self.key = hashlib.sha1(self._blob).hexdigest()
        self._matcher: TopicMatcher | None = None

    @property
    def matcher(self) -> TopicMatcher:
        if self._matcher is None:
            self._matcher = TopicMatcher(self.topics)
        return self._matcher

    def __reduce__(self) -> tuple:
        return _recipe, (self.key, self._blob)


_RECIPES: dict[str, Recipe] = {}


def _recipe(key: str, blob: bytes) -> Recipe:
    """A recipe from its pickled rules, unpickled once per process."""
    recipe = _RECIPES.get(key)
    if recipe is None:
        threshold, languages, topics, keep_unmatched, ahead = pickle.loads(blob)  # noqa: S301
        recipe = _RECIPES[key] = Recipe(threshold, languages, topics, keep_unmatched, ahead)
        recipe.key, recipe._blob = key, blob  # the sender's: pickling again may differ
    return recipe


@dataclass
class Prepared:
    """What a worker made of a page: an article (or why not), and its time per stage."""

    article: Article | None
    reason: str | None
    seconds: dict[str, float]


def prepare(page: FetchedPage, recipe: Recipe) -> Prepared:
    """Extract the article of ``page`` and do the later stages' work (in a worker process)."""
    seconds: dict[str, float] = {}
    start = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal start
        now = time.perf_counter()
        seconds[stage] = seconds.get(stage, 0.0) + now - start
        start = now

    try:
        article = extract_article(page)
    except NotAnArticle as exc:
        lap("extract")
        return Prepared(None, str(exc), seconds)
    lap("extract")
    if recipe.ahead:
        tidy(article)
        mark(article, "normalize")
        lap("normalize")
    article.language, probability, article.language_source = decide_language(
        article, page.source_language, article.feed_language, recipe.threshold
    )
    article.language_probability = round(probability, 4)
    lap("language")
    if not recipe.ahead or not article.title or not article.body:
        return Prepared(article, None, seconds)  # the normalize stage drops it
    if recipe.languages and article.language not in recipe.languages:
        return Prepared(article, None, seconds)  # the language stage drops it
    tag_topics(recipe.matcher, article)
    mark(article, "topics")
    lap("topics")
    if not article.topics and not recipe.keep_unmatched:
        return Prepared(article, None, seconds)  # the topic stage drops it
    fingerprint(article)
    mark(article, "duplicates")
    lap("duplicates")
    compute_terms(article)
    lap("index")
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
