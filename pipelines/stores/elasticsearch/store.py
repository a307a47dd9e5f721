"""ElasticsearchStore: the same Store as SqliteStore, kept in an Elasticsearch cluster.

The package docstring (``pipelines/stores/elasticsearch/__init__.py``) describes the
indices and the documents; the semantics are SqliteStore's
(``tests/pipelines/test_store_contract.py``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Literal

from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import TransportError
from elasticsearch import (
    ApiError,
    AuthenticationException,
    AuthorizationException,
    ConflictError,
    Elasticsearch,
    NotFoundError,
)

from crawler.items import Article
from pipelines.stores.base import (
    BulkOutcome,
    SearchRequest,
    SearchResult,
    StoreError,
    StoreUnavailable,
    make_hit,
    prepare_query,
)
from pipelines.stores.elasticsearch import bulk
from pipelines.stores.elasticsearch import migrate as migrations
from pipelines.stores.elasticsearch import query as dsl
from pipelines.stores.elasticsearch.connect import connect
from pipelines.stores.elasticsearch.errors import _error_type, _one_line, _reason
from pipelines.stores.elasticsearch.mapping import (
    _PREVIOUS,
    MAX_CANDIDATES,
    MAX_WINDOW,
    RETRY_STATUSES,
    SLOW_TIMEOUT,
    _now,
    _run,
    article_from_source,
    document,
    index_settings,
    run_document,
    versioned_index,
)
from pipelines.stores.elasticsearch.migrate import MigrationReport

# The client logs each retry and failed node as warnings; with no logging configured (the
# CLI) Python would print them to stderr around our one-line error. Configured logging
# (a crawl's log file) still gets them.
for _name in ("elastic_transport", "elasticsearch"):
    logging.getLogger(_name).addHandler(logging.NullHandler())


class ElasticsearchStore:
    """Articles in Elasticsearch; see the package docstring.

    Nothing is sent when the store is created: the alias, the template and the runs
    index are made on first use if they are missing. Errors are :class:`StoreError`
    with a one-line message; an unreachable cluster, refused credentials, 429 and 5xx
    answers are :class:`StoreUnavailable` (the same call may work later). After a
    connection failure, calls fail at once for ``cooldown`` seconds instead of waiting
    for the network again.
    """

    def __init__(
        self,
        client: Elasticsearch,
        index: str,
        languages: list[str],
        *,
        url: str = "",
        secrets: Iterable[str] = (),
        refresh: bool = True,
        chunk_size: int = 500,
        max_chunk_bytes: int = 10 * 1024 * 1024,
        max_retries: int = 3,
        initial_backoff: float = 1.0,
        concurrency: int = 2,
        cooldown: float = 2.0,
        replicas: int | None = None,
    ) -> None:
        self.client = client
        self.alias = index
        self.runs_index = f"{index}-runs"
        self.languages = list(languages)
        self.url = url
        self.refresh = refresh  # single writes are visible to the next search at once
        self.chunk_size = chunk_size
        self.max_chunk_bytes = max_chunk_bytes
        self.max_retries = max_retries
        self.initial_backoff = initial_backoff
        self.concurrency = max(1, concurrency)  # bulk requests in flight at once
        self.cooldown = cooldown
        self.replicas = replicas
        self.settings = index_settings(replicas)
        self._secrets = [s for s in secrets if s]
        self._ready = False
        self._down_until = 0.0
        self._down_reason = ""
        self._last_sequence = 0

    @classmethod
    def from_config(
        cls,
        config: Any,
        languages: list[str],
        environ: Mapping[str, str] | None = None,
        **options: Any,
    ) -> ElasticsearchStore:
        """A store for an ``[store.elasticsearch]`` config section.

        ``NEWSWATCH_ES_URL`` (one URL, or several separated by commas),
        ``NEWSWATCH_ES_API_KEY``, ``NEWSWATCH_ES_USERNAME`` and ``NEWSWATCH_ES_PASSWORD``
        override the config's values. An API key wins over a username and password.

        Several URLs are nodes of one cluster: the client sends each request to the next
        node in turn, and a request that cannot reach its node goes to another one (a
        failed node is left alone for a while). The list is used as given: no sniffing,
        since the addresses nodes publish are often unreachable from the crawler (Docker,
        Kubernetes, a load balancer in front).
        """
        env = os.environ if environ is None else environ
        connection = connect(config, env)
        options.setdefault("replicas", getattr(config, "replicas", None))
        return cls(
            connection.client,
            connection.index,
            languages,
            url=connection.url,
            secrets=connection.secrets,
            **options,
        )

    def __repr__(self) -> str:
        return f"ElasticsearchStore(url={self.url!r}, index={self.alias!r})"

    # --- errors ----------------------------------------------------------------

    def _clean(self, text: str) -> str:
        # Credentials must never reach a message, a log or a terminal.
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return _one_line(text)

    @contextlib.contextmanager
    def _errors(self, doing: str, probe: bool = False) -> Iterator[None]:
        """Turn the client's exceptions into one-line StoreErrors saying what failed."""
        if not probe and time.monotonic() < self._down_until:
            raise StoreUnavailable(self._down_reason)
        where = f"Elasticsearch at {self.url}" if self.url else "Elasticsearch"
        try:
            yield
        except AuthenticationException:
            refused = (
                f"{where} refused the credentials (401): check api_key, or username and"
                " password (or NEWSWATCH_ES_API_KEY / NEWSWATCH_ES_USERNAME / _PASSWORD)"
            )
            raise StoreUnavailable(self._clean(refused)) from None
        except AuthorizationException as exc:
            raise StoreUnavailable(
                self._clean(f"{where}: not allowed to {doing} ({_reason(exc)})")
            ) from None
        except ApiError as exc:
            message = self._clean(f"{where}: cannot {doing}: {_reason(exc)}")
            if exc.status_code in RETRY_STATUSES:
                raise StoreUnavailable(message) from None
            raise StoreError(message) from None
        except (TransportConnectionError, TransportError) as exc:
            reason = self._clean(f"cannot reach {where} ({_reason(exc)})")
            self._down_until, self._down_reason = time.monotonic() + self.cooldown, reason
            raise StoreUnavailable(reason) from None

    # --- setup -------------------------------------------------------------------

    @property
    def _slow(self) -> Elasticsearch:
        """The client for requests that may take long: bulk, scroll, refresh."""
        return self.client.options(request_timeout=SLOW_TIMEOUT)

    def versioned(self, version: int) -> str:
        """The name of the versioned index ``version`` behind the alias."""
        return versioned_index(self.alias, version)

    def _ensure(self) -> None:
        """Create the template, the first versioned index, its alias and the runs index."""
        migrations.ensure(self)

    def init(self) -> str:
        """Create the template, the versioned index and alias, and the runs index if missing.

        Returns the name of the index behind the alias. A configured ``replicas`` is
        applied to the existing indices too.
        """
        return migrations.init(self)

    def current_index(self) -> str:
        """The versioned index the alias points to."""
        return migrations.current_index(self)

    def drop(self) -> None:
        """Delete every index and the template of this store (for tests and tooling)."""
        migrations.drop(self)

    def migrate(
        self,
        to_version: int | None = None,
        delete_old: bool = False,
        progress: Callable[[int], None] | None = None,
    ) -> MigrationReport:
        """Copy the articles into a new versioned index and swap the alias to it.

        The new index gets the current template's mapping and documents recomputed from
        the stored articles (so analysis changes migrate too). Searches keep working
        throughout. The old index is made read-only only for the final catch-up and the
        alias swap; writes refused in that moment go to the crawl's outbox. ``progress``
        is called with the number of documents copied in each batch.
        """
        return migrations.migrate(self, to_version, delete_old, progress)

    # --- writing -----------------------------------------------------------------

    def _next_sequence(self) -> int:
        self._last_sequence = max(time.time_ns(), self._last_sequence + 1)
        return self._last_sequence

    def _prepare(
        self, article: Article, previous: Mapping[str, Any] | None, copy: bool
    ) -> tuple[Literal["new", "updated", "unchanged"], dict[str, Any]]:
        """Outcome and document of a write, exactly as SqliteStore decides them."""
        outcome: Literal["new", "updated", "unchanged"] = "new"
        sequence = None
        if previous is not None:
            old = previous.get("_source") or {}
            fields = ("title", "body", "published_at", "modified_at")
            before = tuple(old.get(name) for name in fields)
            changed = before != tuple(getattr(article, name) for name in fields)
            outcome = "updated" if changed else "unchanged"
            if not copy:
                article.revision = (old.get("revision") or 1) + (1 if changed else 0)
                if not changed:
                    old_story = (old.get("article") or {}).get("story_id")
                    article.story_id = old_story or article.story_id
            sequence = old.get("sequence")
        if not copy or not article.indexed_at:
            article.indexed_at = _now()
        return outcome, document(article, sequence or self._next_sequence())

    def upsert(self, article: Article) -> Literal["new", "updated", "unchanged"]:
        self._ensure()
        return self._upsert(article, copy=False, refresh=self.refresh)

    def _upsert(
        self, article: Article, copy: bool, refresh: bool
    ) -> Literal["new", "updated", "unchanged"]:
        for _attempt in range(5):
            with self._errors(f"write article {article.id}"):
                try:
                    previous = self.client.get(
                        index=self.alias, id=article.id, _source_includes=_PREVIOUS
                    ).body
                except NotFoundError:
                    previous = None
                outcome, doc = self._prepare(article, previous, copy)
                where = {"index": self.alias, "id": article.id, "require_alias": True}
                try:
                    if previous is None:
                        self.client.create(**where, document=doc, refresh=refresh)
                    else:
                        self.client.index(
                            **where,
                            document=doc,
                            refresh=refresh,
                            if_seq_no=previous["_seq_no"],
                            if_primary_term=previous["_primary_term"],
                        )
                except ConflictError:
                    continue  # another writer got there first: read its version and retry
                return outcome
        raise StoreError(f"cannot write article {article.id}: it kept changing meanwhile")

    def upsert_many(self, articles: Iterable[Article], copy: bool = False) -> BulkOutcome:
        """Upsert through the bulk API in batches of ``chunk_size`` articles.

        While a batch is analysed here, the cluster indexes up to ``concurrency`` earlier
        ones. 429 and 5xx answers are retried ``max_retries`` times with exponential
        backoff from ``initial_backoff`` seconds; other refusals are in ``errors`` by
        article id. A cluster that stays unreachable or overloaded raises
        StoreUnavailable (the writes already made stay; writing the same articles again
        is harmless).
        """
        return bulk.upsert_many(self, articles, copy)

    def delete(self, article_id: str) -> bool:
        self._ensure()
        with self._errors(f"delete article {article_id}"):
            try:
                self.client.delete(index=self.alias, id=article_id, refresh=self.refresh)
            except NotFoundError as exc:
                if _error_type(exc) == "index_not_found_exception":
                    raise
                return False
        return True

    def record_run(self, run: dict) -> None:
        self._ensure()
        doc = run_document(run, self._next_sequence())
        with self._errors("record the run"):
            self.client.index(index=self.runs_index, document=doc, refresh=True)

    # --- reading -----------------------------------------------------------------

    def get(self, article_id: str) -> Article | None:
        self._ensure()
        with self._errors(f"read article {article_id}"):
            try:
                source = self.client.get(index=self.alias, id=article_id)["_source"]
            except NotFoundError as exc:
                if _error_type(exc) == "index_not_found_exception":
                    raise
                return None
        return article_from_source(source)

    def ids_starting(self, prefix: str, limit: int = 2) -> list[str]:
        query = {"prefix": {"id": {"value": prefix}}}
        found = self._search("find ids", query=query, sort=[{"id": "asc"}], size=limit)
        return [hit["_source"]["id"] for hit in found["hits"]["hits"]]

    def _search(self, doing: str, **body: Any) -> dict:
        self._ensure()
        with self._errors(doing):
            return self.client.search(index=body.pop("index", self.alias), **body).body

    def find_by_body_hash(self, body_hash: str, exclude_id: str) -> str | None:
        query = dsl.body_hash_query(body_hash, exclude_id)
        earliest = [{"sequence": "asc"}, {"id": "asc"}]
        found = self._search(
            "look up the body hash", query=query, sort=earliest, size=1, source=False
        )
        hits = found["hits"]["hits"]
        return hits[0]["_id"] if hits else None

    def find_by_bands(self, bands: list[str], exclude_id: str) -> list[Article]:
        if not bands:
            return []
        # As SqliteStore: the 10 sharing the most bands (each shared band scores 1), the
        # earliest first among equals.
        query = dsl.bands_query(bands, exclude_id)
        order = [{"_score": "desc"}, {"sequence": "asc"}, {"id": "asc"}]
        found = self._search(
            "look up near-duplicates", query=query, sort=order, size=MAX_CANDIDATES
        )
        hits = found["hits"]["hits"]
        return [article_from_source(h["_source"]) for h in hits]

    def count(self) -> int:
        self._ensure()
        with self._errors("count the articles"):
            return int(self.client.count(index=self.alias)["count"])

    def iter_articles(self, after_id: str = "") -> Iterator[Article]:
        last = after_id
        while True:
            extra = {"search_after": [last]} if last else {}
            found = self._search(
                "read the articles",
                query={"match_all": {}},
                sort=[{"id": "asc"}],
                size=500,
                **extra,
            )
            hits = found["hits"]["hits"]
            if not hits:
                return
            for hit in hits:
                yield article_from_source(hit["_source"])
            last = hits[-1]["sort"][0]

    def ping(self) -> bool:
        try:
            with self._errors("check the cluster", probe=True):
                health = self.client.cluster.health(timeout="5s")
        except StoreError:
            return False
        return health.get("status") in ("green", "yellow")

    # --- searching -----------------------------------------------------------------

    def search_body(self, request: SearchRequest) -> dict[str, Any]:
        """The search request body (client keyword arguments) for ``request``.

        Raises QuerySyntaxError for a query that cannot be understood.
        """
        return dsl.search_body(request, prepare_query(request, self.languages))

    def search(self, request: SearchRequest) -> SearchResult:
        query = prepare_query(request, self.languages)
        body = self.search_body(request)
        beyond = request.offset + request.size > MAX_WINDOW
        if beyond:
            body["from_"], body["size"] = 0, 0
            body.pop("collapse", None)
        response = self._search("search", **body)
        hits_total = response["hits"]["total"]["value"]
        aggs = response.get("aggregations", {})
        total = int(aggs["stories"]["value"]) if request.collapse else hits_total
        if beyond and request.offset < total:
            raise StoreError(
                f"cannot show results beyond the first {MAX_WINDOW:,}:"
                " narrow the search or sort by date"
            )
        hits = []
        for hit in response["hits"]["hits"]:
            copies = 1
            if request.collapse:
                copies = hit["inner_hits"]["copies"]["hits"]["total"]["value"]
            score = round(float(hit.get("_score") or 0.0), 6)
            found = article_from_source(hit["_source"])
            hits.append(make_hit(found, score, query, similar=copies - 1))
        result = SearchResult(total=total, hits=hits)
        if request.facets:
            result.facets, result.histogram = dsl.facets_of(aggs)
        return result

    # --- history and health --------------------------------------------------------

    def runs(self, source: str | None = None, limit: int = 50) -> list[dict]:
        query = {"term": {"source": source}} if source else {"match_all": {}}
        newest_first = [{"sequence": "desc"}]
        found = self._search(
            "read the crawl history",
            index=self.runs_index,
            query=query,
            sort=newest_first,
            size=limit,
        )
        hits = found["hits"]["hits"]
        return [_run(h["_source"]) for h in hits]

    def stats(self) -> dict:
        found = self._search("compute the statistics", size=0, aggs=dsl.stats_aggs())
        articles = found["aggregations"]["sources"]["buckets"]
        sources: dict[str, dict] = {}
        for bucket in articles:
            entry = sources.setdefault(bucket["key"], {"articles": 0, "languages": {}})
            entry["articles"] = bucket["doc_count"]
            for language in bucket["languages"]["buckets"]:
                key = language["key"] or "?"
                entry["languages"][key] = entry["languages"].get(key, 0) + language["doc_count"]
            newest = bucket["newest"]["hits"]["hits"]
            entry["newest_article"] = newest[0]["_source"].get("published_at") if newest else None
        found = self._search(
            "read the crawl history", index=self.runs_index, size=0, aggs=dsl.last_run_aggs()
        )
        latest = found["aggregations"]["sources"]["buckets"]
        for bucket in latest:
            run = _run(bucket["last"]["hits"]["hits"][0]["_source"])
            entry = sources.setdefault(run["source"], {"articles": 0, "languages": {}})
            shown = ("started_at", "finished_at", "status", "error")
            entry["last_crawl"] = {key: run[key] for key in shown}
            entry["dropped"] = run["stats"].get("dropped", {})
        return {"articles": self.count(), "sources": dict(sorted(sources.items()))}

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.close()
