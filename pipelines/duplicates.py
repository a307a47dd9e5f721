"""Duplicate stage: one copy of each text, near-copies linked into stories."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem

from crawler.items import Article
from pipelines.index import PendingWrites, pending_writes
from pipelines.prepared import done
from pipelines.stores import open_store
from pipelines.stores.base import Store, StoreUnavailable
from search.fingerprint import (
    NEAR_DUPLICATE_JACCARD,
    bands,
    decode,
    encode,
    fingerprints,
    signature,
    similarity,
)

logger = logging.getLogger(__name__)


def fingerprint(item: Article) -> np.ndarray:
    """Set the article's body hash, MinHash signature and bands; return the signature."""
    item.body_hash, mine = fingerprints(item.body)
    item.minhash = encode(mine)
    item.lsh_bands = bands(mine)
    return mine


def _precedence(article: Article) -> tuple[str, str]:
    # The earliest published copy is the original; undated copies come last; ties by id.
    return (article.published_at or "9999", article.id)


class DuplicatePipeline:
    """Keeps one article per text and links near-copies.

    Same canonical URL: same id, so the store updates it in place. Same body under
    another URL (a syndicated copy, a mirror): only the earliest published copy is
    kept, whatever the crawl order; the other is dropped as ``duplicate-of:<id>``.
    A near-copy (another headline, an extra paragraph) is kept and shares the
    ``story_id`` of the copy it resembles, so search can collapse the story.

    The copies looked at are the stored ones and those the index stage holds for its
    next batch (:class:`~pipelines.index.PendingWrites`): a held copy that must give
    way is withdrawn from the batch and dropped as a duplicate of the new one. The
    fingerprints may have been computed ahead, in a worker process.
    """

    stage = "duplicates"

    def __init__(
        self,
        store: Store,
        crawler: Crawler | None = None,
        outage_is_no_duplicate: bool = True,
        pending: PendingWrites | None = None,
    ) -> None:
        self.store = store
        self.crawler = crawler
        self.pending = pending if pending is not None else PendingWrites()
        # In a crawl, a store that is away finds no duplicate (its outbox flush checks
        # again); the flush itself must stop instead.
        self.outage_is_no_duplicate = outage_is_no_duplicate
        self._warned = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> DuplicatePipeline:
        store = open_store(crawler.settings.get("NEWSWATCH_STORE"), crawler.settings)
        return cls(store, crawler, pending=pending_writes(store))

    def close_spider(self, spider: Any = None) -> None:
        self.store.close()

    def process_item(self, item: Article) -> Article:
        mine = decode(item.minhash) if done(item, self.stage) else fingerprint(item)
        while held := self.pending.by_body_hash(item.body_hash, exclude_id=item.id):
            if _precedence(held) <= _precedence(item):
                raise DropItem(f"duplicate-of:{held.id}")
            self.pending.withdraw(held.id, f"duplicate-of:{item.id}")
        try:
            while original_id := self.store.find_by_body_hash(item.body_hash, exclude_id=item.id):
                original = self.store.get(original_id)
                if original is None or _precedence(original) <= _precedence(item):
                    raise DropItem(f"duplicate-of:{original_id}")
                # The stored copy is the later one: the new article replaces it.
                self.store.delete(original_id)
                self._report_replaced(original, item)
        except StoreUnavailable as exc:
            self._store_away(exc)
        best, best_similarity = None, NEAR_DUPLICATE_JACCARD
        candidates = self.pending.by_bands(item.lsh_bands, exclude_id=item.id)
        try:
            candidates += self.store.find_by_bands(item.lsh_bands, exclude_id=item.id)
        except StoreUnavailable as exc:
            self._store_away(exc)
        for candidate in candidates:
            theirs = decode(candidate.minhash) if candidate.minhash else signature(candidate.body)
            score = similarity(mine, theirs)
            if score >= best_similarity:
                best, best_similarity = candidate, score
        item.story_id = (best.story_id or best.id) if best is not None else item.id
        return item

    def _store_away(self, error: StoreUnavailable) -> None:
        """No duplicate found, said once: the outbox flush checks again when it is back."""
        if not self.outage_is_no_duplicate:
            raise error
        if not self._warned:
            self._warned = True
            logger.warning("store unavailable, duplicates are checked when it is back: %s", error)

    def _report_replaced(self, replaced: Article, item: Article) -> None:
        """Count and log the replaced copy as a drop, like any other duplicate."""
        if self.crawler is None:
            return
        self.crawler.signals.send_catch_log(
            signals.item_dropped,
            item=replaced,
            response=None,
            exception=DropItem(f"duplicate-of:{item.id}"),
            spider=self.crawler.spider,
        )
