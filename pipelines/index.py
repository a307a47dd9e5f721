"""Index stage: write each kept article to the configured store, in batches."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from scrapy.utils.defer import deferred_from_coro

from crawler.items import Article
from crawler.profile import record
from pipelines.stores import open_store
from pipelines.stores.base import BulkOutcome, Store, StoreError
from pipelines.stores.outbox import Outbox, outbox_for

logger = logging.getLogger(__name__)

BATCH_SIZE = 100  # articles per write (NEWSWATCH_INDEX_BATCH)
BATCH_SECONDS = 2.0  # the longest an article waits for its batch (NEWSWATCH_INDEX_BATCH_SECONDS)
MAX_HELD_CANDIDATES = 10  # near-duplicate candidates among held articles, like the stores


@dataclass
class _Held:
    article: Article
    future: asyncio.Future | None  # resolved when written (None: nobody waits)
    owner: IndexPipeline | None = None  # the stage (of which crawler) that holds it


class PendingWrites:
    """The articles the index stage holds for its next write, in arrival order.

    The duplicate stage looks here as well as in the store: a held article is not in
    the store yet, but will be. One instance per store for the whole process
    (:func:`pending_writes`): the crawlers of one run (one per source) see each
    other's held articles, and any of them may write them all. At most one article
    per id (a newer version is written after the older one).
    """

    def __init__(self) -> None:
        self._held: dict[str, _Held] = {}

    def __len__(self) -> int:
        return len(self._held)

    def __contains__(self, article_id: object) -> bool:
        return article_id in self._held

    def add(
        self, article: Article, future: asyncio.Future | None = None, owner: Any = None
    ) -> None:
        assert article.id not in self._held, "write the held version first"
        self._held[article.id] = _Held(article, future, owner)

    def take(self) -> list[_Held]:
        """Everything held, to write now; nothing is held afterwards."""
        held, self._held = list(self._held.values()), {}
        return held

    def by_body_hash(self, body_hash: str | None, exclude_id: str) -> Article | None:
        """The first held article with exactly this body, other than ``exclude_id``."""
        for held in self._held.values():
            if held.article.body_hash == body_hash and held.article.id != exclude_id:
                return held.article
        return None

    def by_bands(self, bands: list[str], exclude_id: str) -> list[Article]:
        """Held articles sharing near-duplicate bands with these, most shared first."""
        wanted = set(bands)
        shared = [
            (len(wanted.intersection(held.article.lsh_bands)), position, held.article)
            for position, held in enumerate(self._held.values())
            if held.article.id != exclude_id
        ]
        shared = sorted((s for s in shared if s[0]), key=lambda s: (-s[0], s[1]))
        return [article for _, _, article in shared[:MAX_HELD_CANDIDATES]]

    def withdraw(self, article_id: str, reason: str) -> None:
        """Take an article out of the batch: it is dropped for ``reason``, not written."""
        held = self._held.pop(article_id)
        if held.future is not None and not held.future.done():
            held.future.set_exception(DropItem(reason))


_PENDING: dict[str, PendingWrites] = {}


def store_key(store: Any) -> str:
    """What names a store's data: its file, else its description (URL and index)."""
    path = getattr(store, "path", None)
    if path is not None and str(path) != ":memory:":
        return f"{type(store).__name__}:{Path(path).resolve()}"
    return f"{type(store).__name__}:{id(store)}" if path is not None else repr(store)


def pending_writes(store: Any) -> PendingWrites:
    """The articles held for ``store`` by the index stages of this process."""
    return _PENDING.setdefault(store_key(store), PendingWrites())


class IndexPipeline:
    """Upserts articles by id and counts them as new, updated or unchanged.

    Articles are written in batches: one ``upsert_many`` (one SQLite transaction, one
    bulk request) for every ``batch_size`` articles, or for what arrived within
    ``batch_seconds`` of the first one, and whatever is left when the spider closes.
    An article's item finishes only once it is written (or queued, or dropped), so
    what a crawl reports as stored is stored; the duplicate stage sees held articles
    through :class:`PendingWrites`.

    When the store fails (locked for too long, disk full) the crawl stops: fetching
    more pages that cannot be saved would only lose them. A batch the store refuses is
    written again one article at a time, so every article it can still take is kept;
    from the first that fails on, they are dropped as ``store-error`` (their pages are
    asked for again next time).
    A store with an outbox (Elasticsearch) does not stop the crawl: an article it
    cannot take is queued in the outbox, counted as ``queued``, and sent when the
    store is back.
    """

    stage = "index"

    def __init__(
        self,
        store: Store,
        crawler: Crawler,
        outbox: Outbox | None = None,
        batch_size: int = BATCH_SIZE,
        batch_seconds: float = BATCH_SECONDS,
        pending: PendingWrites | None = None,
    ) -> None:
        self.store = store
        self.crawler = crawler
        self.outbox = outbox
        self.batch_size = max(1, batch_size)
        self.batch_seconds = batch_seconds
        self.pending = pending if pending is not None else pending_writes(store)
        self._timer: asyncio.TimerHandle | None = None
        self._warned = False
        self._failed = False  # the store failed once: the crawl is stopping

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> IndexPipeline:
        config = crawler.settings.get("NEWSWATCH_STORE")
        return cls(
            open_store(config, crawler.settings),
            crawler,
            outbox_for(config),
            batch_size=crawler.settings.getint("NEWSWATCH_INDEX_BATCH", BATCH_SIZE),
            batch_seconds=crawler.settings.getfloat("NEWSWATCH_INDEX_BATCH_SECONDS", BATCH_SECONDS),
        )

    def close_spider(self, spider: Any = None) -> None:
        try:
            self.flush()  # normally empty: the crawl waits for its items to finish
        finally:
            self.store.close()
            if self.outbox is not None:
                self.outbox.close()

    def process_item(self, item: Article) -> Any:
        if self._failed:  # the crawl is stopping: what is still in flight is not written
            raise DropItem("store-error")
        # An older copy still queued must be written first: this one queues behind it.
        if self.outbox is not None and self.outbox.has(item.id):
            return self._queue(item, None)
        if item.id in self.pending:  # its previous version is held: that one goes first
            self.flush()
            if self._failed:
                raise DropItem("store-error")
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self.pending.add(item, future, self)
        if len(self.pending) >= self.batch_size:
            self.flush()
        elif self._timer is None:
            self._timer = loop.call_later(self.batch_seconds, self.flush)
        return self._written(future)

    @staticmethod
    async def _written(future: asyncio.Future) -> Article:
        return await future

    def flush(self) -> None:
        """Write every held article now; each waiting item finishes with its outcome."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        held = self.pending.take()
        if not held:
            return
        start = time.perf_counter()
        error: StoreError | None = None
        try:
            outcome = self.store.upsert_many([h.article for h in held])
        except StoreError as exc:
            outcome, error = BulkOutcome(), exc
            if self.outbox is None:  # one at a time: keep every article the store can take
                error = self._one_by_one(held, outcome)
        seconds = (time.perf_counter() - start) / len(held)
        for entry in held:
            owner = entry.owner or self  # the crawler whose item it is counts it
            record(owner.crawler.stats, self.stage, seconds)
            article = entry.article
            written = outcome.outcomes.get(article.id)
            try:
                if written is not None:
                    owner.crawler.stats.inc_value(f"newswatch/articles/{written}")
                    result = article
                else:
                    why = error or StoreError(outcome.errors.get(article.id, "not written"))
                    result = owner._not_written(article, why)
            except DropItem as exc:
                if entry.future is not None and not entry.future.done():
                    entry.future.set_exception(exc)
                continue
            if entry.future is not None and not entry.future.done():
                entry.future.set_result(result)

    def _one_by_one(self, held: list[_Held], outcome: BulkOutcome) -> StoreError | None:
        """Write ``held`` one article at a time up to the first failure, which is returned."""
        for entry in held:
            try:
                outcome.outcomes[entry.article.id] = self.store.upsert(entry.article)
            except StoreError as exc:
                return exc
        return None

    def _not_written(self, item: Article, error: StoreError) -> Article:
        if self.outbox is not None:
            return self._queue(item, error)
        self._stop(error)
        raise DropItem("store-error")

    def _stop(self, error: StoreError) -> None:
        """Fail the source with the store's message and stop its crawl (once)."""
        if self._failed:
            return
        self._failed = True
        spider = self.crawler.spider
        if spider is not None and hasattr(spider, "fail"):
            spider.fail(str(error))
        if self.crawler.engine is not None and spider is not None:
            # Paused at once: the close itself starts on a later turn of the event loop,
            # and no new page should be fetched in between only to be dropped.
            self.crawler.engine.pause()
            deferred_from_coro(self.crawler.engine.close_spider_async(reason="store-error"))

    def _queue(self, item: Article, error: StoreError | None) -> Article:
        assert self.outbox is not None
        try:
            self.outbox.put(item)
        except StoreError as exc:  # neither the store nor the outbox: stop, as without one
            self._stop(exc)
            raise DropItem("store-error") from None
        if error is not None and not self._warned:
            self._warned = True
            logger.warning(
                "store unavailable, articles go to the outbox %s: %s", self.outbox.path, error
            )
        self.crawler.stats.inc_value("newswatch/articles/queued")
        return item
