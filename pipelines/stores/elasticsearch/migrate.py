"""Setting up ElasticsearchStore's indices, and migrating them (a copy and an alias swap).

Every read and write goes through the alias ``<index>``, so a mapping change is a new
versioned index ``<index>-v<N>``, a copy and an atomic alias swap (:func:`migrate`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from elasticsearch import ApiError, NotFoundError, helpers

from pipelines.stores.base import StoreError
from pipelines.stores.elasticsearch.errors import _error_type, _item_reason
from pipelines.stores.elasticsearch.mapping import (
    RETRY_STATUSES,
    RUNS_MAPPINGS,
    article_from_source,
    document,
    index_template,
    index_version,
)

if TYPE_CHECKING:
    from pipelines.stores.elasticsearch.store import ElasticsearchStore


@dataclass
class MigrationReport:
    """What ``migrate`` did."""

    alias: str
    old_index: str
    new_index: str
    copied: int
    deleted_old: bool


def put_template(store: ElasticsearchStore) -> None:
    """Create or update the index template of ``store``'s versioned indices."""
    store.client.indices.put_index_template(**index_template(store.alias, store.settings))


def ensure(store: ElasticsearchStore) -> None:
    """Create the template, the first versioned index, its alias and the runs index."""
    if store._ready:
        return
    with store._errors("prepare the index"):
        indices = store.client.indices
        if not indices.exists_alias(name=store.alias):
            _create_first(store)
        if not indices.exists(index=store.runs_index):
            try:
                indices.create(
                    index=store.runs_index, settings=store.settings, mappings=RUNS_MAPPINGS
                )
            except ApiError as exc:
                if _error_type(exc) != "resource_already_exists_exception":
                    raise  # not another process creating it at the same moment
    store._ready = True


def _create_first(store: ElasticsearchStore) -> None:
    if store.client.indices.exists(index=store.alias):
        raise StoreError(
            f"Elasticsearch index {store.alias!r} is a plain index, not an alias"
            " to versioned indices: choose another index name"
        )
    put_template(store)
    try:
        store.client.indices.create(index=store.versioned(1), aliases={store.alias: {}})
    except ApiError as exc:
        # Another process created it meanwhile: fine once the alias is there.
        if not store.client.indices.exists_alias(name=store.alias):
            raise exc from None


def init(store: ElasticsearchStore) -> str:
    """Create what is missing; see :meth:`ElasticsearchStore.init`."""
    with store._errors("prepare the index"):
        put_template(store)
    ensure(store)
    current = current_index(store)
    if store.replicas is not None:
        replicas = {k: v for k, v in store.settings.items() if k != "number_of_shards"}
        indices = [current, store.runs_index]
        with store._errors("set the number of replicas"):
            store.client.indices.put_settings(index=indices, settings=replicas)
    return current


def current_index(store: ElasticsearchStore) -> str:
    """The versioned index the alias points to."""
    with store._errors("read the alias"):
        try:
            names = list(store.client.indices.get_alias(name=store.alias).body)
        except NotFoundError:
            raise StoreError(
                f"alias {store.alias!r} does not exist: run `newswatch es init`"
            ) from None
    if len(names) != 1:
        raise StoreError(f"alias {store.alias!r} points to {len(names)} indices: {names}")
    return names[0]


def drop(store: ElasticsearchStore) -> None:
    """Delete every index and the template of ``store`` (for tests and tooling)."""
    with store._errors("delete the indices"):
        names = [f"{store.alias}-v*", store.runs_index]
        found = list(
            store.client.indices.get(
                index=names, expand_wildcards="all", ignore_unavailable=True
            ).body
        )
        if found:
            store.client.indices.delete(index=",".join(found), ignore_unavailable=True)
        with contextlib.suppress(NotFoundError):
            store.client.indices.delete_index_template(name=store.alias)
    store._ready = False


def migrate(
    store: ElasticsearchStore,
    to_version: int | None = None,
    delete_old: bool = False,
    progress: Callable[[int], None] | None = None,
) -> MigrationReport:
    """Copy ``store``'s articles into a new versioned index and swap the alias to it.

    See :meth:`ElasticsearchStore.migrate`.
    """
    ensure(store)
    alias, indices = store.alias, store.client.indices
    old = current_index(store)
    version = to_version if to_version is not None else index_version(alias, old) + 1
    new = store.versioned(version)
    if new == old:
        raise StoreError(f"the alias {alias!r} already points to {new}")
    with store._errors("create the new index"):
        if indices.exists(index=new):
            raise StoreError(
                f"index {new} exists already: delete it or choose another --to-version"
            )
        put_template(store)
        indices.create(index=new)
    started = datetime.now(UTC) - timedelta(seconds=2)  # indexed_at has whole seconds
    blocked = False
    try:
        copied = _copy(store, old, new, {"match_all": {}}, progress)
        with store._errors("make the old index read-only"):
            indices.add_block(index=old, block="write")
            blocked = True
            # A bulk write that ended just before the block may not be searchable yet.
            store._slow.indices.refresh(index=old)
        since = started.strftime("%Y-%m-%dT%H:%M:%SZ")
        _copy(store, old, new, {"range": {"indexed_at": {"gte": since}}}, None)
        _remove_deleted(store, old, new)
        with store._errors("swap the alias"):
            store._slow.indices.refresh(index=new)
            in_old = store.client.count(index=old)["count"]
            in_new = store.client.count(index=new)["count"]
            if in_old != in_new:
                raise StoreError(
                    f"copy incomplete: {old} has {in_old} articles, {new} has {in_new}"
                )
            swap = [
                {"remove": {"index": old, "alias": alias}},
                {"add": {"index": new, "alias": alias}},
            ]
            indices.update_aliases(actions=swap)
    except BaseException:
        with contextlib.suppress(Exception):
            if blocked:
                indices.put_settings(index=old, settings={"index.blocks.write": None})
            indices.delete(index=new, ignore_unavailable=True)
        raise
    if delete_old:
        with store._errors("delete the old index"):
            indices.delete(index=old)
    return MigrationReport(alias, old, new, copied, delete_old)


def _copy(
    store: ElasticsearchStore,
    old: str,
    new: str,
    query: dict,
    progress: Callable[[int], None] | None,
) -> int:
    """Copy ``old``'s documents matching ``query`` into ``new`` (scroll + bulk)."""

    def actions() -> Iterator[dict]:
        for hit in helpers.scan(store._slow, index=old, query={"query": query}, size=500):
            source = hit["_source"]
            article = article_from_source(source)
            sequence = source.get("sequence") or store._next_sequence()
            yield {"_index": new, "_id": hit["_id"], "_source": document(article, sequence)}

    chunk_size = store.chunk_size
    copied = 0
    with store._errors(f"copy {old} to {new}"):
        results = helpers.streaming_bulk(
            store._slow,
            actions(),
            chunk_size=chunk_size,
            max_chunk_bytes=store.max_chunk_bytes,
            max_retries=store.max_retries,
            initial_backoff=store.initial_backoff,
            retry_on_status=RETRY_STATUSES,
            raise_on_error=False,
        )
        for ok, item in results:
            if not ok:
                info = next(iter(item.values()))
                failed = f"cannot copy article {info.get('_id')} to {new}: {_item_reason(info)}"
                raise StoreError(store._clean(failed))
            copied += 1
            if progress is not None and copied % chunk_size == 0:
                progress(chunk_size)
    if progress is not None and copied % chunk_size:
        progress(copied % chunk_size)
    return copied


def _ids(store: ElasticsearchStore, index: str) -> set[str]:
    query = {"query": {"match_all": {}}, "_source": False}
    hits = helpers.scan(store._slow, index=index, query=query, size=5000)
    return {hit["_id"] for hit in hits}


def _remove_deleted(store: ElasticsearchStore, old: str, new: str) -> None:
    """Delete from ``new`` what was deleted from ``old`` while it was being copied."""
    with store._errors(f"compare {old} and {new}"):
        store._slow.indices.refresh(index=new)
        gone = _ids(store, new) - _ids(store, old)
        if gone:
            deletions = ({"_op_type": "delete", "_index": new, "_id": i} for i in gone)
            helpers.bulk(store._slow, deletions)
