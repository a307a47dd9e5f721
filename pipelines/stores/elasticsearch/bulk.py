"""ElasticsearchStore's bulk writes: batches analysed here while earlier ones are indexed."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from elasticsearch import helpers

from crawler.items import Article
from pipelines.stores.base import BulkOutcome, StoreError, StoreUnavailable
from pipelines.stores.elasticsearch.errors import _item_reason
from pipelines.stores.elasticsearch.mapping import _PREVIOUS, RETRY_STATUSES, SLOW_TIMEOUT

if TYPE_CHECKING:
    from pipelines.stores.elasticsearch.store import ElasticsearchStore


def upsert_many(
    store: ElasticsearchStore, articles: Iterable[Article], copy: bool = False
) -> BulkOutcome:
    """Upsert through the bulk API; see :meth:`ElasticsearchStore.upsert_many`."""
    store._ensure()
    outcome = BulkOutcome()
    with ThreadPoolExecutor(max_workers=store.concurrency) as pool:
        sending: deque[tuple[Future, set[str]]] = deque()

        def finish(count: int) -> None:
            while len(sending) > count:
                _finish_batch(store, sending.popleft()[0].result(), copy, outcome)

        for batch in _batches(store, articles):
            ids = {a.id for a in batch}
            if any(ids & sent for _, sent in sending):
                finish(0)  # an article still being written: its next version waits
            actions, pending = _prepare_batch(store, batch, copy)
            sending.append((pool.submit(_send_batch, store, actions, pending), ids))
            finish(store.concurrency - 1)
        finish(0)
    if outcome.outcomes:
        with store._errors("refresh the index"):
            store._slow.indices.refresh(index=store.alias)
    return outcome


def _batches(store: ElasticsearchStore, articles: Iterable[Article]) -> Iterator[list[Article]]:
    batch: list[Article] = []
    ids: set[str] = set()
    for article in articles:
        # An id twice in one batch starts a new one: the second write must see the first.
        if len(batch) >= store.chunk_size or article.id in ids:
            yield batch
            batch, ids = [], set()
        batch.append(article)
        ids.add(article.id)
    if batch:
        yield batch


def _prepare_batch(
    store: ElasticsearchStore, batch: list[Article], copy: bool
) -> tuple[list[dict], dict[str, tuple[Article, str]]]:
    """The bulk actions of a batch, conditional on what is stored now."""
    with store._errors("read articles"):
        found = store.client.mget(
            index=store.alias, ids=[a.id for a in batch], _source_includes=_PREVIOUS
        )["docs"]
    actions, pending = [], {}
    for article, previous in zip(batch, found, strict=True):
        previous = previous if previous.get("found") else None
        kind, doc = store._prepare(article, previous, copy)
        # create fails if the article appeared meanwhile, index if it changed meanwhile:
        # either way a conflict, written again one at a time.
        op_type = "create" if previous is None else "index"
        action: dict[str, Any] = {"_op_type": op_type, "_id": article.id, "_source": doc}
        if previous is not None:
            action["if_seq_no"] = previous["_seq_no"]
            action["if_primary_term"] = previous["_primary_term"]
        actions.append(action)
        pending[article.id] = (article, kind)
    return actions, pending


def _send_batch(
    store: ElasticsearchStore, actions: list[dict], pending: dict[str, tuple[Article, str]]
) -> tuple:
    """Send one batch (in a worker thread): (outcomes, conflicts, errors, refused)."""
    outcomes, conflicts, errors, refused = {}, [], {}, []
    # The helper retries 429 and 5xx with backoff; the transport must not retry too.
    client = store.client.options(retry_on_status=(), request_timeout=SLOW_TIMEOUT)
    with store._errors("write articles"):
        results = helpers.streaming_bulk(
            client,
            actions,
            index=store.alias,
            chunk_size=store.chunk_size,
            max_chunk_bytes=store.max_chunk_bytes,
            raise_on_error=False,
            max_retries=store.max_retries,
            initial_backoff=store.initial_backoff,
            max_backoff=30,
            retry_on_status=RETRY_STATUSES,
            require_alias=True,
        )
        for ok, item in results:
            info = next(iter(item.values()))
            article, kind = pending[info["_id"]]
            if ok:
                outcomes[article.id] = kind
            elif info.get("status") == 409:
                conflicts.append(article)
            else:
                errors[article.id] = store._clean(_item_reason(info))
                if info.get("status") in RETRY_STATUSES:
                    refused.append(errors[article.id])
    return outcomes, conflicts, errors, refused


def _finish_batch(store: ElasticsearchStore, sent: tuple, copy: bool, outcome: BulkOutcome) -> None:
    outcomes, conflicts, errors, refused = sent
    outcome.outcomes.update(outcomes)
    outcome.errors.update(errors)
    if refused:  # still refused after the retries: the cluster is overloaded or failing
        where = f"Elasticsearch at {store.url}" if store.url else "Elasticsearch"
        raise StoreUnavailable(f"{where}: cannot write articles: {refused[0]}")
    for article in conflicts:  # written by someone else meanwhile: one at a time
        try:
            outcome.outcomes[article.id] = store._upsert(article, copy, refresh=False)
        except StoreUnavailable:
            raise
        except StoreError as exc:
            outcome.errors[article.id] = str(exc)
