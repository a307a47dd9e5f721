"""ElasticsearchStore: the same Store as SqliteStore, kept in an Elasticsearch cluster.

Layout, for an ``index`` name such as ``newswatch-articles``:

* an index template ``<index>`` for the indices ``<index>-v*`` (settings and a strict
  mapping), and the versioned index ``<index>-v1`` behind the alias ``<index>``. Every
  read and write goes through the alias, so a mapping change is a new versioned index,
  a copy and an atomic alias swap (:meth:`ElasticsearchStore.migrate`);
* ``<index>-runs``, the crawl history.

A document holds the filter fields as keywords and dates, the raw title and body for
display (not indexed), the analysed terms of ``search.analysis.index_terms`` in
``title_terms`` / ``body_terms`` (``whitespace`` analyzer: the terms are already analysed),
and the rest of the article in a non-indexed object, so ``get`` returns the whole
article. Queries are built from the analysed tree as bool / combined_fields / prefix /
match_phrase clauses on ``title_terms^3`` and ``body_terms`` (SqliteStore's BM25 column
weights); user text never reaches Elasticsearch as query syntax.

The semantics are SqliteStore's: the same matches, filters, sort orders, facets, story
collapse, upsert outcomes and revisions (``tests/pipelines/test_store_contract.py``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import ConnectionTimeout, TransportError
from elasticsearch import (
    ApiError,
    AuthenticationException,
    AuthorizationException,
    ConflictError,
    Elasticsearch,
    NotFoundError,
    helpers,
)

from crawler.items import Article
from pipelines.prepared import terms as prepared_terms
from pipelines.stores.base import (
    BulkOutcome,
    SearchRequest,
    SearchResult,
    StoreError,
    StoreUnavailable,
    make_hit,
    prepare_query,
)
from search.analysis import index_terms
from search.query import And, Not, Or, Phrase, Terms

# The client logs each retry and failed node as warnings; with no logging configured (the
# CLI) Python would print them to stderr around our one-line error. Configured logging
# (a crawl's log file) still gets them.
for _name in ("elastic_transport", "elasticsearch"):
    logging.getLogger(_name).addHandler(logging.NullHandler())

TITLE_BOOST = 3.0  # SqliteStore's BM25 column weights: title 3, body 1
MAX_WINDOW = 10_000  # Elasticsearch's default index.max_result_window
RETRY_STATUSES = (429, 500, 502, 503, 504)
MAX_CANDIDATES = 10  # near-duplicate candidates checked per article, as SqliteStore
SLOW_TIMEOUT = 120  # seconds for bulk, scroll and refresh requests; others have 10
OUTCOMES = ("new", "updated", "unchanged")
# Fields a write reads back to decide new / updated / unchanged like SqliteStore.
_PREVIOUS = ["title", "body", "published_at", "modified_at", "revision", "sequence",
             "article.story_id"]  # fmt: skip

_KEYWORD = {"type": "keyword", "ignore_above": 8191}  # 8191 chars stay under Lucene's term cap
_DATE = {"type": "date", "ignore_malformed": True}  # an odd date must not lose the article
_STORED = {"type": "text", "index": False}
_TERMS = {"type": "text", "analyzer": "whitespace"}

KEYWORDS = ("id", "source", "language", "topics", "story_id", "url", "canonical_url",
            "body_hash", "lsh_bands", "language_source")  # fmt: skip
SETTINGS = {
    "number_of_shards": 1,  # exact BM25 statistics, counts and collapse on one shard
    "auto_expand_replicas": "0-1",  # unless [store.elasticsearch] replicas says otherwise
}


def index_settings(replicas: int | None) -> dict[str, Any]:
    """The settings of newswatch's indices: ``replicas`` copies, or 0-1 by cluster size."""
    if replicas is None:
        return dict(SETTINGS)
    return {**SETTINGS, "number_of_replicas": replicas, "auto_expand_replicas": "false"}


MAPPINGS: dict[str, Any] = {
    "dynamic": "strict",
    # The analysed terms are derived from title and body; migrations recompute them.
    "_source": {"excludes": ["title_terms", "body_terms"]},
    "properties": {
        **dict.fromkeys(KEYWORDS, _KEYWORD),
        **dict.fromkeys(("published_at", "modified_at", "fetched_at", "indexed_at"), _DATE),
        "revision": {"type": "integer"},
        "sequence": {"type": "long"},  # first write order, SqliteStore's rowid order
        "title": _STORED,
        "body": _STORED,
        "title_terms": _TERMS,
        "body_terms": _TERMS,
        "article": {"type": "object", "enabled": False},
    },
}
RUNS_MAPPINGS: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "source": _KEYWORD,
        "started_at": _DATE,
        "finished_at": _DATE,
        "status": _KEYWORD,
        "error": _STORED,
        "stats": {"type": "object", "enabled": False},
        "sequence": {"type": "long"},
    },
}

# What SQLite's FTS5 ``ascii`` tokenizer splits on: every ASCII character but letters and
# digits. The stores must see the same tokens, so ours are split the same way here.
_ASCII_SEPARATORS = re.compile(r"[\x00-\x2f\x3a-\x40\x5b-\x60\x7b-\x7f]+")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_MAX_TOKEN = 255  # the whitespace analyzer cuts longer tokens into pieces of this length


# Analysed text needs that splitting only if it holds ASCII other than a-z, 0-9 and single
# spaces, which it seldom does; checking first is much faster than splitting every text.
_NEEDS_SPLITTING = re.compile(r"[\x00-\x1f\x21-\x2f\x3a-\x60\x7b-\x7f]|  |^ | $")


def fts_tokens(text: str) -> list[str]:
    """The tokens SQLite's FTS5 ``ascii`` tokenizer makes of analysed ``text``."""
    return [t for t in _ASCII_SEPARATORS.split(text.translate(_ASCII_LOWER)) if t]


def analysed(text: str, language: str | None, terms: str | None = None) -> str:
    """What ``title_terms`` / ``body_terms`` hold: the article's index terms, FTS5-tokenised.

    ``terms``: the index terms of ``text`` when they are known already.
    """
    terms = index_terms(text, language) if terms is None else terms
    return " ".join(fts_tokens(terms)) if _NEEDS_SPLITTING.search(terms) else terms


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def document(article: Article, sequence: int) -> dict[str, Any]:
    """The Elasticsearch document of an article (its ``_id`` is ``article.id``)."""
    data = article.to_dict()
    title, body = data.pop("title"), data.pop("body")
    return {
        "id": article.id,
        "source": article.source,
        "language": article.language,
        "topics": list(article.topics),
        "story_id": article.story_id or article.id,  # SqliteStore's story_id column
        "url": article.url,
        "canonical_url": article.canonical_url,
        "body_hash": article.body_hash,
        "lsh_bands": list(article.lsh_bands),
        "language_source": article.language_source,
        "published_at": article.published_at,
        "modified_at": article.modified_at,
        "fetched_at": article.fetched_at,
        "indexed_at": article.indexed_at,
        "revision": article.revision,
        "sequence": sequence,
        "title": title,
        "body": body,
        "title_terms": analysed(title, article.language, prepared_terms(article, "title")),
        "body_terms": analysed(body, article.language, prepared_terms(article, "body")),
        "article": data,
    }


def article_from_source(source: Mapping[str, Any]) -> Article:
    """The article of a stored document's ``_source``."""
    data = dict(source.get("article") or {})
    data["title"], data["body"] = source.get("title") or "", source.get("body") or ""
    article = Article.from_dict(data)
    article.indexed_at = source.get("indexed_at")
    article.revision = source.get("revision") or 1
    return article


# --- query translation -------------------------------------------------------


def _on_both(kind: str, value: Any) -> list[dict]:
    """A clause on the title (weighted like SqliteStore's BM25) and one on the body."""
    if kind == "match_phrase":
        return [{kind: {"title_terms": {"query": value, "boost": TITLE_BOOST}}},
                {kind: {"body_terms": {"query": value}}}]  # fmt: skip
    return [{kind: {"title_terms": {"value": value, "boost": TITLE_BOOST}}},
            {kind: {"body_terms": {"value": value}}}]  # fmt: skip


def _any(clauses: list[dict]) -> dict:
    if not clauses:
        return {"match_none": {}}
    return {"bool": {"should": clauses, "minimum_should_match": 1}}


def _term_clauses(term: str, prefix: bool) -> list[dict]:
    tokens = fts_tokens(term)
    if not tokens:
        return []
    if len(tokens) == 1 and len(tokens[0]) <= _MAX_TOKEN:
        return _on_both("prefix" if prefix else "term", tokens[0])
    # FTS5 reads a quoted term it splits as a phrase; long tokens are cut by the analyzer,
    # and match_phrase cuts the query the same way.
    kind = "match_phrase_prefix" if prefix else "match_phrase"
    text = " ".join(tokens)
    return [{kind: {"title_terms": {"query": text, "boost": TITLE_BOOST}}},
            {kind: {"body_terms": {"query": text}}}]  # fmt: skip


def _words(node: Terms) -> dict:
    """A query word: any of its stems, scored like SqliteStore's BM25 with column weights.

    FTS5 weights a column by multiplying its term frequencies, under one document length;
    ``combined_fields`` scores the two fields the same way (BM25F), where a ``bool`` over
    both fields would add two separate BM25 scores. Stems FTS5 reads as phrases, and
    prefixes, keep their own clauses.
    """
    simple = [t for t in node.alternatives
              if len(tokens := fts_tokens(t)) == 1 and len(tokens[0]) <= _MAX_TOKEN]  # fmt: skip
    if node.prefix or not simple:
        return _any([c for t in node.alternatives for c in _term_clauses(t, node.prefix)])
    clauses = [{"combined_fields": {
        "query": " ".join(fts_tokens(t)[0] for t in simple), "operator": "or",
        "fields": [f"title_terms^{TITLE_BOOST:g}", "body_terms"]}}]  # fmt: skip
    clauses += [c for t in node.alternatives if t not in simple for c in _term_clauses(t, False)]
    return clauses[0] if len(clauses) == 1 else _any(clauses)


def to_query(node: Any) -> dict:
    """The Elasticsearch query of an analysed query tree (``search.query``)."""
    if isinstance(node, Terms):
        return _words(node)
    if isinstance(node, Phrase):
        clauses = []
        for sequence in node.alternatives:
            tokens = [token for word in sequence for token in fts_tokens(word)]
            if tokens:
                clauses += _on_both("match_phrase", " ".join(tokens))
        return _any(clauses)
    if isinstance(node, Or):
        return _any([to_query(c) for c in node.children])
    if isinstance(node, And):
        must = [to_query(c) for c in node.children if not isinstance(c, Not)]
        must_not = [to_query(c.child) for c in node.children if isinstance(c, Not)]
        return {"bool": {"must": must, "must_not": must_not}}
    raise TypeError(f"cannot translate {node!r}")


def _filters(request: SearchRequest) -> list[dict]:
    clauses: list[dict] = []
    for name, values in (("language", request.languages), ("source", request.sources),
                         ("topics", request.topics)):  # fmt: skip
        if values:
            clauses.append({"terms": {name: list(values)}})
    lower, upper = request.date_bounds()
    if lower or upper:
        bounds = {"gte": lower} if lower else {}
        if upper:
            bounds["lt"] = upper
        clauses.append({"range": {"published_at": bounds}})
    return clauses


def _sort(request: SearchRequest) -> list[dict]:
    by_date = [{"published_at": {"order": "desc", "missing": "_last"}}, {"id": {"order": "asc"}}]
    return by_date if request.sort == "date" else [{"_score": {"order": "desc"}}, *by_date]


# --- errors --------------------------------------------------------------------

_ERRNO = re.compile(r"\[Errno -?\d+\] ([^'\")\]]+)")


def _reason(exc: BaseException) -> str:
    """A short, one-line reason for a transport or API error."""
    if isinstance(exc, ConnectionTimeout):
        return "timed out"
    if isinstance(exc, ApiError):
        error = exc.body.get("error") if isinstance(exc.body, dict) else None
        if isinstance(error, dict):
            cause = (error.get("root_cause") or [error])[0]
            text = f"{cause.get('type', 'error')}: {cause.get('reason', '')}"
        else:
            text = str(error or exc.message)
        return f"{exc.status_code} {text}"
    text = str(exc)
    if match := _ERRNO.search(text):
        return match.group(1).strip().lower()
    if "timed out" in text.lower():
        return "timed out"
    return text


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _item_reason(info: Mapping[str, Any]) -> str:
    """The reason one bulk item failed."""
    error = info.get("error")
    if isinstance(error, dict):
        return _one_line(f"{info.get('status')} {error.get('type')}: {error.get('reason')}")
    return _one_line(f"{info.get('status')} {error}")


def _public_url(url: str) -> tuple[str, tuple[str, str] | None]:
    """``url`` without any ``user:password@``, and those credentials if it had them."""
    parts = urlsplit(url)
    if parts.username is None:
        return url, None
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port:
        netloc += f":{parts.port}"
    public = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return public, (parts.username, parts.password or "")


@dataclass
class MigrationReport:
    """What ``migrate`` did."""

    alias: str
    old_index: str
    new_index: str
    copied: int
    deleted_old: bool


class ElasticsearchStore:
    """Articles in Elasticsearch; see the module docstring.

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
        if env.get("NEWSWATCH_ES_URL"):
            urls = [u for u in env["NEWSWATCH_ES_URL"].split(",") if u.strip()]
        else:
            url = getattr(config, "url", "http://127.0.0.1:9200")
            urls = [url] if isinstance(url, str) else list(url)
        api_key = env.get("NEWSWATCH_ES_API_KEY") or getattr(config, "api_key", None)
        username = env.get("NEWSWATCH_ES_USERNAME") or getattr(config, "username", None)
        password = env.get("NEWSWATCH_ES_PASSWORD") or getattr(config, "password", None)
        ca_certs = getattr(config, "ca_certs", None)
        index = getattr(config, "index", "newswatch-articles")
        publics, in_urls = [], set()
        if not urls:
            raise StoreError("NEWSWATCH_ES_URL holds no URL")
        for url in urls:
            public, in_url = _public_url(url.strip())
            publics.append(public.rstrip("/"))
            if in_url:
                in_urls.add(in_url)
        shown = ", ".join(publics)
        if len(in_urls) > 1:  # the client has one set of credentials for every node
            raise StoreError(f"Elasticsearch at {shown}: the URLs hold different credentials")
        if in_urls and not username:
            username, password = in_urls.pop()
        if username and password is None:
            raise StoreError(f"Elasticsearch at {shown}: a username needs a password")
        auth: dict[str, Any] = {}
        if api_key:
            auth["api_key"] = api_key
        elif username:
            auth["basic_auth"] = (username, password or "")
        if ca_certs:
            auth["ca_certs"] = ca_certs
        try:
            client = Elasticsearch(
                publics, request_timeout=10, retry_on_timeout=True,
                # a request that fails on one node is retried on the others
                max_retries=max(2, len(publics)), **auth,
            )  # fmt: skip
        except (ValueError, TypeError, TransportError) as exc:
            bad = f"URL {publics[0]!r}" if len(publics) == 1 else f"URLs {shown!r}"
            raise StoreError(f"Elasticsearch {bad}: {_one_line(str(exc))}") from None
        options.setdefault("replicas", getattr(config, "replicas", None))
        return cls(client, index, languages, url=shown,
                   secrets=[api_key or "", password or ""], **options)  # fmt: skip

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
            raise StoreUnavailable(self._clean(
                f"{where} refused the credentials (401): check api_key, or username and"
                " password (or NEWSWATCH_ES_API_KEY / NEWSWATCH_ES_USERNAME / _PASSWORD)"
            )) from None  # fmt: skip
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
        return f"{self.alias}-v{version}"

    def _put_template(self) -> None:
        self.client.indices.put_index_template(
            name=self.alias,
            index_patterns=[f"{self.alias}-v*"],
            template={"settings": self.settings, "mappings": MAPPINGS},
            priority=200,
            meta={"managed_by": "newswatch"},
        )

    def _ensure(self) -> None:
        """Create the template, the first versioned index, its alias and the runs index."""
        if self._ready:
            return
        with self._errors("prepare the index"):
            if not self.client.indices.exists_alias(name=self.alias):
                self._create_first()
            if not self.client.indices.exists(index=self.runs_index):
                try:
                    self.client.indices.create(
                        index=self.runs_index, settings=self.settings, mappings=RUNS_MAPPINGS
                    )
                except ApiError as exc:
                    if _error_type(exc) != "resource_already_exists_exception":
                        raise  # not another process creating it at the same moment
        self._ready = True

    def _create_first(self) -> None:
        if self.client.indices.exists(index=self.alias):
            raise StoreError(f"Elasticsearch index {self.alias!r} is a plain index, not an alias"
                             " to versioned indices: choose another index name")  # fmt: skip
        self._put_template()
        try:
            self.client.indices.create(index=self.versioned(1), aliases={self.alias: {}})
        except ApiError as exc:
            # Another process created it meanwhile: fine once the alias is there.
            if not self.client.indices.exists_alias(name=self.alias):
                raise exc from None

    def init(self) -> str:
        """Create the template, the versioned index and alias, and the runs index if missing.

        Returns the name of the index behind the alias. A configured ``replicas`` is
        applied to the existing indices too.
        """
        with self._errors("prepare the index"):
            self._put_template()
        self._ensure()
        current = self.current_index()
        if self.replicas is not None:
            replicas = {k: v for k, v in self.settings.items() if k != "number_of_shards"}
            with self._errors("set the number of replicas"):
                self.client.indices.put_settings(index=[current, self.runs_index],
                                                 settings=replicas)  # fmt: skip
        return current

    def current_index(self) -> str:
        """The versioned index the alias points to."""
        with self._errors("read the alias"):
            try:
                names = list(self.client.indices.get_alias(name=self.alias).body)
            except NotFoundError:
                raise StoreError(
                    f"alias {self.alias!r} does not exist: run `newswatch es init`"
                ) from None
        if len(names) != 1:
            raise StoreError(f"alias {self.alias!r} points to {len(names)} indices: {names}")
        return names[0]

    def drop(self) -> None:
        """Delete every index and the template of this store (for tests and tooling)."""
        with self._errors("delete the indices"):
            names = [f"{self.alias}-v*", self.runs_index]
            found = list(
                self.client.indices.get(
                    index=names, expand_wildcards="all", ignore_unavailable=True
                ).body
            )
            if found:
                self.client.indices.delete(index=",".join(found), ignore_unavailable=True)
            with contextlib.suppress(NotFoundError):
                self.client.indices.delete_index_template(name=self.alias)
        self._ready = False

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
            before = (old.get("title"), old.get("body"), old.get("published_at"),
                      old.get("modified_at"))  # fmt: skip
            changed = before != (article.title, article.body, article.published_at,
                                 article.modified_at)  # fmt: skip
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
                try:
                    if previous is None:
                        self.client.create(index=self.alias, id=article.id, document=doc,
                                           refresh=refresh, require_alias=True)  # fmt: skip
                    else:
                        self.client.index(
                            index=self.alias, id=article.id, document=doc, refresh=refresh,
                            if_seq_no=previous["_seq_no"],
                            if_primary_term=previous["_primary_term"], require_alias=True,
                        )  # fmt: skip
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
        self._ensure()
        outcome = BulkOutcome()
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            sending: deque[tuple[Future, set[str]]] = deque()

            def finish(count: int) -> None:
                while len(sending) > count:
                    self._finish_batch(sending.popleft()[0].result(), copy, outcome)

            for batch in self._batches(articles):
                ids = {a.id for a in batch}
                if any(ids & sent for _, sent in sending):
                    finish(0)  # an article still being written: its next version waits
                actions, pending = self._prepare_batch(batch, copy)
                sending.append((pool.submit(self._send_batch, actions, pending), ids))
                finish(self.concurrency - 1)
            finish(0)
        if outcome.outcomes:
            with self._errors("refresh the index"):
                self._slow.indices.refresh(index=self.alias)
        return outcome

    def _batches(self, articles: Iterable[Article]) -> Iterator[list[Article]]:
        batch: list[Article] = []
        ids: set[str] = set()
        for article in articles:
            # An id twice in one batch starts a new one: the second write must see the first.
            if len(batch) >= self.chunk_size or article.id in ids:
                yield batch
                batch, ids = [], set()
            batch.append(article)
            ids.add(article.id)
        if batch:
            yield batch

    def _prepare_batch(
        self, batch: list[Article], copy: bool
    ) -> tuple[list[dict], dict[str, tuple[Article, str]]]:
        """The bulk actions of a batch, conditional on what is stored now."""
        with self._errors("read articles"):
            found = self.client.mget(
                index=self.alias, ids=[a.id for a in batch], _source_includes=_PREVIOUS
            )["docs"]
        actions, pending = [], {}
        for article, previous in zip(batch, found, strict=True):
            previous = previous if previous.get("found") else None
            kind, doc = self._prepare(article, previous, copy)
            # create fails if the article appeared meanwhile, index if it changed meanwhile:
            # either way a conflict, written again one at a time.
            action: dict[str, Any] = {"_op_type": "create" if previous is None else "index",
                                      "_id": article.id, "_source": doc}  # fmt: skip
            if previous is not None:
                action["if_seq_no"] = previous["_seq_no"]
                action["if_primary_term"] = previous["_primary_term"]
            actions.append(action)
            pending[article.id] = (article, kind)
        return actions, pending

    def _send_batch(self, actions: list[dict], pending: dict[str, tuple[Article, str]]) -> tuple:
        """Send one batch (in a worker thread): (outcomes, conflicts, errors, refused)."""
        outcomes, conflicts, errors, refused = {}, [], {}, []
        # The helper retries 429 and 5xx with backoff; the transport must not retry too.
        client = self.client.options(retry_on_status=(), request_timeout=SLOW_TIMEOUT)
        with self._errors("write articles"):
            for ok, item in helpers.streaming_bulk(
                client, actions, index=self.alias, chunk_size=self.chunk_size,
                max_chunk_bytes=self.max_chunk_bytes, raise_on_error=False,
                max_retries=self.max_retries, initial_backoff=self.initial_backoff,
                max_backoff=30, retry_on_status=RETRY_STATUSES, require_alias=True,
            ):  # fmt: skip
                info = next(iter(item.values()))
                article, kind = pending[info["_id"]]
                if ok:
                    outcomes[article.id] = kind
                elif info.get("status") == 409:
                    conflicts.append(article)
                else:
                    errors[article.id] = self._clean(_item_reason(info))
                    if info.get("status") in RETRY_STATUSES:
                        refused.append(errors[article.id])
        return outcomes, conflicts, errors, refused

    def _finish_batch(self, sent: tuple, copy: bool, outcome: BulkOutcome) -> None:
        outcomes, conflicts, errors, refused = sent
        outcome.outcomes.update(outcomes)
        outcome.errors.update(errors)
        if refused:  # still refused after the retries: the cluster is overloaded or failing
            where = f"Elasticsearch at {self.url}" if self.url else "Elasticsearch"
            raise StoreUnavailable(f"{where}: cannot write articles: {refused[0]}")
        for article in conflicts:  # written by someone else meanwhile: one at a time
            try:
                outcome.outcomes[article.id] = self._upsert(article, copy, refresh=False)
            except StoreUnavailable:
                raise
            except StoreError as exc:
                outcome.errors[article.id] = str(exc)

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
        doc = {
            "source": run["source"], "started_at": run["started_at"],
            "finished_at": run.get("finished_at"), "status": run["status"],
            "error": run.get("error"), "stats": _jsonable(run.get("stats", {})),
            "sequence": self._next_sequence(),
        }  # fmt: skip
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

    def _search(self, doing: str, **body: Any) -> dict:
        self._ensure()
        with self._errors(doing):
            return self.client.search(index=body.pop("index", self.alias), **body).body

    def find_by_body_hash(self, body_hash: str, exclude_id: str) -> str | None:
        hits = self._search(
            "look up the body hash",
            query={"bool": {"filter": [{"term": {"body_hash": body_hash}}],
                            "must_not": [{"ids": {"values": [exclude_id]}}]}},
            sort=[{"sequence": "asc"}, {"id": "asc"}], size=1, source=False,
        )["hits"]["hits"]  # fmt: skip
        return hits[0]["_id"] if hits else None

    def find_by_bands(self, bands: list[str], exclude_id: str) -> list[Article]:
        if not bands:
            return []
        # As SqliteStore: the 10 sharing the most bands (each shared band scores 1), the
        # earliest first among equals.
        shared = [{"constant_score": {"filter": {"term": {"lsh_bands": band}}, "boost": 1.0}}
                  for band in dict.fromkeys(bands)]  # fmt: skip
        hits = self._search(
            "look up near-duplicates",
            query={"bool": {"should": shared, "minimum_should_match": 1,
                            "must_not": [{"ids": {"values": [exclude_id]}}]}},
            sort=[{"_score": "desc"}, {"sequence": "asc"}, {"id": "asc"}],
            size=MAX_CANDIDATES,
        )["hits"]["hits"]  # fmt: skip
        return [article_from_source(h["_source"]) for h in hits]

    def count(self) -> int:
        self._ensure()
        with self._errors("count the articles"):
            return int(self.client.count(index=self.alias)["count"])

    def iter_articles(self, after_id: str = "") -> Iterator[Article]:
        last = after_id
        while True:
            extra = {"search_after": [last]} if last else {}
            hits = self._search(
                "read the articles", query={"match_all": {}}, sort=[{"id": "asc"}], size=500,
                **extra,
            )["hits"]["hits"]  # fmt: skip
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
        query = prepare_query(request, self.languages)
        clauses: dict[str, Any] = {"filter": _filters(request)}
        if query is not None:
            clauses["must"] = [to_query(query.tree)]
        body: dict[str, Any] = {
            "query": {"bool": clauses} if query is not None else {"constant_score": {
                "filter": {"bool": clauses}, "boost": 0.0}},
            "sort": _sort(request),
            "track_total_hits": True,
            "track_scores": True,
            "from_": request.offset,
            "size": request.size,
            "aggs": {},
        }  # fmt: skip
        if request.collapse:
            body["collapse"] = {"field": "story_id",
                                "inner_hits": {"name": "copies", "size": 0}}  # fmt: skip
            # Exact below the threshold (far above any one search's stories in practice).
            body["aggs"]["stories"] = {"cardinality": {"field": "story_id",
                                                       "precision_threshold": 40000}}  # fmt: skip
        if request.facets:
            order = [{"_count": "desc"}, {"_key": "asc"}]  # SqliteStore's ORDER BY 2 DESC, 1
            for name in ("language", "source", "topics"):
                body["aggs"][name] = {"terms": {"field": name, "size": 10000, "order": order}}
            body["aggs"]["days"] = {"date_histogram": {
                "field": "published_at", "calendar_interval": "day", "format": "yyyy-MM-dd",
                "min_doc_count": 1, "time_zone": "UTC"}}  # fmt: skip
        if not body["aggs"]:
            del body["aggs"]
        return body

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
            raise StoreError(f"cannot show results beyond the first {MAX_WINDOW:,}:"
                             " narrow the search or sort by date")  # fmt: skip
        hits = []
        for hit in response["hits"]["hits"]:
            copies = 1
            if request.collapse:
                copies = hit["inner_hits"]["copies"]["hits"]["total"]["value"]
            score = round(float(hit.get("_score") or 0.0), 6)
            hits.append(make_hit(article_from_source(hit["_source"]), score, query,
                                 similar=copies - 1))  # fmt: skip
        result = SearchResult(total=total, hits=hits)
        if request.facets:
            result.facets = {
                name: {str(b["key"]): b["doc_count"] for b in aggs[name]["buckets"]}
                for name in ("language", "source", "topics")
            }
            result.histogram = {b["key_as_string"]: b["doc_count"]
                                for b in aggs["days"]["buckets"]}  # fmt: skip
        return result

    # --- history and health --------------------------------------------------------

    def runs(self, source: str | None = None, limit: int = 50) -> list[dict]:
        query = {"term": {"source": source}} if source else {"match_all": {}}
        hits = self._search(
            "read the crawl history", index=self.runs_index, query=query,
            sort=[{"sequence": "desc"}], size=limit,
        )["hits"]["hits"]  # fmt: skip
        return [_run(h["_source"]) for h in hits]

    def stats(self) -> dict:
        articles = self._search(
            "compute the statistics", size=0, aggs={"sources": {
                "terms": {"field": "source", "size": 10000},
                "aggs": {
                    "languages": {"terms": {"field": "language", "size": 10000,
                                            "missing": "?"}},
                    "newest": {"top_hits": {
                        "size": 1, "_source": {"includes": ["published_at"]},
                        "sort": [{"published_at": {"order": "desc", "missing": "_last"}}]}},
                },
            }},
        )["aggregations"]["sources"]["buckets"]  # fmt: skip
        sources: dict[str, dict] = {}
        for bucket in articles:
            entry = sources.setdefault(bucket["key"], {"articles": 0, "languages": {}})
            entry["articles"] = bucket["doc_count"]
            for language in bucket["languages"]["buckets"]:
                key = language["key"] or "?"
                entry["languages"][key] = entry["languages"].get(key, 0) + language["doc_count"]
            newest = bucket["newest"]["hits"]["hits"]
            entry["newest_article"] = newest[0]["_source"].get("published_at") if newest else None
        latest = self._search(
            "read the crawl history", index=self.runs_index, size=0, aggs={"sources": {
                "terms": {"field": "source", "size": 10000},
                "aggs": {"last": {"top_hits": {"size": 1, "sort": [{"sequence": "desc"}]}}},
            }},
        )["aggregations"]["sources"]["buckets"]  # fmt: skip
        for bucket in latest:
            run = _run(bucket["last"]["hits"]["hits"][0]["_source"])
            entry = sources.setdefault(run["source"], {"articles": 0, "languages": {}})
            entry["last_crawl"] = {key: run[key] for key in
                                   ("started_at", "finished_at", "status", "error")}  # fmt: skip
            entry["dropped"] = run["stats"].get("dropped", {})
        return {"articles": self.count(), "sources": dict(sorted(sources.items()))}

    # --- migration -------------------------------------------------------------------

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
        self._ensure()
        old = self.current_index()
        match = re.fullmatch(re.escape(self.alias) + r"-v(\d+)", old)
        current = int(match.group(1)) if match else 0
        version = to_version if to_version is not None else current + 1
        new = self.versioned(version)
        if new == old:
            raise StoreError(f"the alias {self.alias!r} already points to {new}")
        with self._errors("create the new index"):
            if self.client.indices.exists(index=new):
                raise StoreError(f"index {new} exists already: delete it or choose another"
                                 " --to-version")  # fmt: skip
            self._put_template()
            self.client.indices.create(index=new)
        started = datetime.now(UTC) - timedelta(seconds=2)  # indexed_at has whole seconds
        blocked = False
        try:
            copied = self._copy(old, new, {"match_all": {}}, progress)
            with self._errors("make the old index read-only"):
                self.client.indices.add_block(index=old, block="write")
                blocked = True
                # A bulk write that ended just before the block may not be searchable yet.
                self._slow.indices.refresh(index=old)
            since = started.strftime("%Y-%m-%dT%H:%M:%SZ")
            self._copy(old, new, {"range": {"indexed_at": {"gte": since}}}, None)
            self._remove_deleted(old, new)
            with self._errors("swap the alias"):
                self._slow.indices.refresh(index=new)
                counts = (self.client.count(index=old)["count"],
                          self.client.count(index=new)["count"])  # fmt: skip
                if counts[0] != counts[1]:
                    raise StoreError(f"copy incomplete: {old} has {counts[0]} articles,"
                                     f" {new} has {counts[1]}")  # fmt: skip
                self.client.indices.update_aliases(actions=[
                    {"remove": {"index": old, "alias": self.alias}},
                    {"add": {"index": new, "alias": self.alias}},
                ])  # fmt: skip
        except BaseException:
            with contextlib.suppress(Exception):
                if blocked:
                    self.client.indices.put_settings(
                        index=old, settings={"index.blocks.write": None}
                    )
                self.client.indices.delete(index=new, ignore_unavailable=True)
            raise
        if delete_old:
            with self._errors("delete the old index"):
                self.client.indices.delete(index=old)
        return MigrationReport(self.alias, old, new, copied, delete_old)

    def _copy(self, old: str, new: str, query: dict, progress: Callable[[int], None] | None) -> int:
        """Copy ``old``'s documents matching ``query`` into ``new`` (scroll + bulk)."""

        def actions() -> Iterator[dict]:
            for hit in helpers.scan(self._slow, index=old, query={"query": query}, size=500):
                source = hit["_source"]
                article = article_from_source(source)
                sequence = source.get("sequence") or self._next_sequence()
                yield {"_index": new, "_id": hit["_id"], "_source": document(article, sequence)}

        copied = 0
        with self._errors(f"copy {old} to {new}"):
            for ok, item in helpers.streaming_bulk(
                self._slow, actions(), chunk_size=self.chunk_size,
                max_chunk_bytes=self.max_chunk_bytes, max_retries=self.max_retries,
                initial_backoff=self.initial_backoff, retry_on_status=RETRY_STATUSES,
                raise_on_error=False,
            ):  # fmt: skip
                if not ok:
                    info = next(iter(item.values()))
                    raise StoreError(self._clean(f"cannot copy article {info.get('_id')} to"
                                                 f" {new}: {_item_reason(info)}"))  # fmt: skip
                copied += 1
                if progress is not None and copied % self.chunk_size == 0:
                    progress(self.chunk_size)
        if progress is not None and copied % self.chunk_size:
            progress(copied % self.chunk_size)
        return copied

    def _ids(self, index: str) -> set[str]:
        query = {"query": {"match_all": {}}, "_source": False}
        return {hit["_id"] for hit in helpers.scan(self._slow, index=index, query=query,
                                                   size=5000)}  # fmt: skip

    def _remove_deleted(self, old: str, new: str) -> None:
        """Delete from ``new`` what was deleted from ``old`` while it was being copied."""
        with self._errors(f"compare {old} and {new}"):
            self._slow.indices.refresh(index=new)
            gone = self._ids(new) - self._ids(old)
            if gone:
                helpers.bulk(self._slow, ({"_op_type": "delete", "_index": new, "_id": i}
                                           for i in gone))  # fmt: skip

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.close()


def _error_type(exc: ApiError) -> str:
    error = exc.body.get("error") if isinstance(exc.body, dict) else None
    return error.get("type", "") if isinstance(error, dict) else ""


def _jsonable(value: Any) -> Any:
    """``value`` with anything JSON cannot hold turned into text (SqliteStore's default=str)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _run(source: Mapping[str, Any]) -> dict:
    return {
        "source": source.get("source"),
        "started_at": source.get("started_at"),
        "finished_at": source.get("finished_at"),
        "status": source.get("status"),
        "error": source.get("error"),
        "stats": source.get("stats") or {},
    }
