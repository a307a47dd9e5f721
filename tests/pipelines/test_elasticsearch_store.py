"""What only the Elasticsearch store has: its index layout, migrations, bulk writes, retries,
credentials and one-line errors. Against real nodes (tests/es_fixtures.py).

The behaviour it shares with SqliteStore is tested in test_store_contract.py.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from elasticsearch import BadRequestError, Elasticsearch

from crawler.items import Article
from crawler.urls import article_id
from newswatch.config import ElasticsearchConfig
from pipelines.stores.base import SearchRequest, StoreError, StoreUnavailable
from pipelines.stores.elasticsearch import ElasticsearchStore

LANGUAGES = ["en", "fr", "de", "es", "it"]
ROOT = Path(__file__).resolve().parents[2]


def article(number: int, **fields: object) -> Article:
    url = f"https://news.example/{number}.html"
    values: dict = {
        "id": article_id(url),
        "url": url,
        "canonical_url": url,
        "title": f"Nvidia chips, part {number}",
        "body": f"Data centres buy chips ({number}).",
        "source": "example",
        "fetched_at": "2026-11-20T00:00:00Z",
        "published_at": f"2026-11-{number % 28 + 1:02d}T08:00:00Z",
        "language": "en",
        "topics": ["chips"],
        "body_hash": f"hash-{number}",
        "lsh_bands": [f"band-{number}"],
    }
    return Article(**{**values, **fields})


def index_name() -> str:
    return f"newswatch-test-es-{uuid.uuid4().hex[:12]}"


def open_store(
    url: str, auth: tuple[str, str] | None, index: str | None = None, **options: object
) -> ElasticsearchStore:
    config = ElasticsearchConfig(
        url=url,
        index=index or index_name(),
        username=auth[0] if auth else None,
        password=auth[1] if auth else None,
    )
    return ElasticsearchStore.from_config(config, LANGUAGES, environ={}, **options)


@pytest.fixture
def store(es_url, es_auth, es_client):
    store = open_store(es_url, es_auth)
    yield store
    store.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_config(path: Path, elasticsearch: dict) -> Path:
    lines = ["[store]", 'backend = "elasticsearch"', "[store.elasticsearch]"]
    lines += [f"{key} = {json.dumps(value)}" for key, value in elasticsearch.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def newswatch(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    """The CLI in a child process, without any NEWSWATCH_* setting of ours."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWATCH_")}
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "newswatch", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )


# --- layout ---------------------------------------------------------------------------------


def test_alias_to_a_versioned_index_with_a_strict_mapping(store, es_client):
    store.upsert(article(1))
    alias = store.alias
    assert list(es_client.indices.get_alias(name=alias).body) == [f"{alias}-v1"]
    template = es_client.indices.get_index_template(name=alias)["index_templates"][0]
    assert template["index_template"]["index_patterns"] == [f"{alias}-v*"]
    mapping = es_client.indices.get_mapping(index=alias)[f"{alias}-v1"]["mappings"]
    assert mapping["dynamic"] == "strict"
    fields = mapping["properties"]
    keywords = [
        "id",
        "source",
        "language",
        "topics",
        "story_id",
        "url",
        "canonical_url",
        "body_hash",
        "lsh_bands",
        "language_source",
    ]
    assert {name: fields[name]["type"] for name in keywords} == dict.fromkeys(keywords, "keyword")
    assert {
        name: fields[name]["type"]
        for name in ("published_at", "modified_at", "fetched_at", "indexed_at")
    } == dict.fromkeys(("published_at", "modified_at", "fetched_at", "indexed_at"), "date")
    assert fields["title_terms"] == {"type": "text", "analyzer": "whitespace"}
    assert fields["body_terms"] == {"type": "text", "analyzer": "whitespace"}
    assert fields["title"] == fields["body"] == {"type": "text", "index": False}
    assert fields["article"] == {"type": "object", "enabled": False}
    runs = es_client.indices.get_mapping(index=store.runs_index)[store.runs_index]["mappings"]
    assert runs["dynamic"] == "strict"


def test_a_document_with_an_unknown_field_is_rejected(store, es_client):
    store.upsert(article(1))
    for index in (store.alias, store.runs_index):
        with pytest.raises(BadRequestError, match="strict_dynamic_mapping_exception"):
            es_client.index(index=index, id="x", document={"id": "x", "unexpected": 1})
    assert store.count() == 1


def test_documents_hold_analysed_terms_and_the_whole_article(store, es_client):
    original = article(
        1,
        title="Les modèles d'OpenAI",
        body="La Société Générale teste.",
        language="fr",
        authors=["A. B."],
        minhash="00ff",
    )
    store.upsert(Article.from_dict(original.to_dict()))
    source = es_client.get(index=store.alias, id=original.id)["_source"]
    assert "title_terms" not in source  # derived: kept in the index, not in _source

    def matches(query: dict) -> int:
        return es_client.search(index=store.alias, query=query)["hits"]["total"]["value"]

    # The French analysis of search.analysis, indexed word by word in order.
    assert matches({"match_phrase": {"title_terms": "le model open"}}) == 1
    assert matches({"match_phrase": {"body_terms": "la societ general test"}}) == 1
    assert matches({"term": {"body_terms": "société"}}) == 0
    with pytest.raises(BadRequestError, match="not indexed"):  # the raw text is only kept
        matches({"term": {"title": "modèles"}})
    stored = store.get(original.id)
    assert stored.to_dict() == {**original.to_dict(), "indexed_at": stored.indexed_at}
    assert source["indexed_at"] == stored.indexed_at


def test_the_store_never_creates_a_plain_index_on_its_alias_name(es_url, es_auth, es_client):
    name = index_name()
    es_client.indices.create(index=name)
    store = open_store(es_url, es_auth, name)
    try:
        with pytest.raises(StoreError, match="is a plain index, not an alias"):
            store.upsert(article(1))
    finally:
        store.close()


# --- bulk writes ---------------------------------------------------------------------------


def test_bulk_indexing_is_idempotent(store, es_client):
    many = [article(n) for n in range(1, 1201)]
    first = store.upsert_many(Article.from_dict(a.to_dict()) for a in many)
    assert (first.count("new"), first.errors) == (1200, {})
    second = store.upsert_many(Article.from_dict(a.to_dict()) for a in many)
    assert (second.count("unchanged"), second.errors) == (1200, {})
    assert store.count() == 1200
    assert es_client.count(index=store.alias)["count"] == 1200
    assert store.search(SearchRequest("chips", size=1)).total == 1200


def test_bulk_errors_are_reported_per_document(store):
    good, bad = article(1), article(2, topics=[{"not": "a keyword"}])
    outcome = store.upsert_many([good, bad, article(3)])
    assert outcome.outcomes == {good.id: "new", article(3).id: "new"}
    assert list(outcome.errors) == [bad.id]
    assert outcome.errors[bad.id].startswith("400 document_parsing_exception: ")
    assert "\n" not in outcome.errors[bad.id]
    assert store.count() == 2


class FaultyProxy:
    """Forwards to Elasticsearch, but answers the first ``fail`` bulk requests ``status``."""

    def __init__(self, target: str, fail: int, status: int) -> None:
        self.bulk_requests = 0
        proxy = self
        parts = urlsplit(target)

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if "/_bulk" in self.path:
                    proxy.bulk_requests += 1
                    if proxy.bulk_requests <= fail:
                        error = {
                            "error": {
                                "type": "es_rejected_execution_exception",
                                "reason": "rejected for the test",
                            },
                            "status": status,
                        }
                        self._send(status, json.dumps(error).encode(), "application/json")
                        return
                connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                connection.request(self.command, self.path, body=body or None, headers=headers)
                response = connection.getresponse()
                data = response.read()
                self._send(response.status, data, response.getheader("Content-Type", ""))
                connection.close()

            do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = _any  # noqa: N815

            def _send(self, code: int, data: bytes, content_type: str) -> None:
                self.send_response(code)
                self.send_header("Content-Type", content_type)
                self.send_header("X-Elastic-Product", "Elasticsearch")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FaultyProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("status", [429, 503])
def test_bulk_retries_rejections_with_backoff(es_url, es_auth, es_client, status):
    with FaultyProxy(es_url, fail=2, status=status) as proxy:
        store = open_store(proxy.url, es_auth, max_retries=3, initial_backoff=0.05)
        try:
            outcome = store.upsert_many([article(n) for n in range(1, 11)])
        finally:
            store.close()
    assert (outcome.count("new"), outcome.errors) == (10, {})
    assert proxy.bulk_requests == 3  # two refused, the third written


def test_bulk_gives_up_after_max_retries(es_url, es_auth, es_client):
    with FaultyProxy(es_url, fail=100, status=503) as proxy:
        store = open_store(proxy.url, es_auth, max_retries=2, initial_backoff=0.01)
        try:
            with pytest.raises(StoreUnavailable, match="503 es_rejected_execution_exception"):
                store.upsert_many([article(n) for n in range(1, 4)])
        finally:
            store.close()
    assert proxy.bulk_requests == 3  # the first try and two retries


# --- migration ------------------------------------------------------------------------------


def test_es_init_and_migrate_swap_the_alias_with_documents_intact(
    es_url, es_auth, es_client, tmp_path
):
    index = index_name()
    auth = {"username": es_auth[0], "password": es_auth[1]} if es_auth else {}
    config = write_config(tmp_path / "newswatch.toml", {"url": es_url, "index": index, **auth})
    result = newswatch("--config", str(config), "es", "init", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"alias {index} -> {index}-v1; crawl history in {index}-runs\n"
    store = open_store(es_url, es_auth, index)
    try:
        outcome = store.upsert_many([article(n) for n in range(1, 1101)])
        assert outcome.count("new") == 1100
        store.delete(article(7).id)
        store.record_run(
            {"source": "example", "started_at": "2026-11-20T00:00:00Z", "status": "ok", "stats": {}}
        )
        before = [a.to_dict() for a in store.iter_articles()]
        result = newswatch("--config", str(config), "es", "migrate", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert result.stdout == (
            f"copied 1099 article(s) from {index}-v1 to {index}-v2; alias"
            f" {index} -> {index}-v2 ({index}-v1 kept, read-only)\n"
        )
        assert list(es_client.indices.get_alias(name=index).body) == [f"{index}-v2"]
        assert [a.to_dict() for a in store.iter_articles()] == before
        assert store.search(SearchRequest('"data centres"', size=1)).total == 1099
        assert len(store.runs()) == 1
        # The old index stays, frozen; new writes reach the new one.
        assert es_client.count(index=f"{index}-v1")["count"] == 1099
        assert store.upsert(article(7)) == "new"
        assert es_client.count(index=f"{index}-v2")["count"] == 1100
        result = newswatch(
            "--config",
            str(config),
            "es",
            "migrate",
            "--to-version",
            "5",
            "--delete-old",
            cwd=tmp_path,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.endswith(f"alias {index} -> {index}-v5 ({index}-v2 deleted)\n")
        assert not es_client.indices.exists(index=f"{index}-v2")
        assert store.count() == 1100
        result = newswatch(
            "--config", str(config), "es", "migrate", "--to-version", "1", cwd=tmp_path
        )
        assert (result.returncode, result.stdout) == (2, "")
        assert result.stderr == (
            f"newswatch: index {index}-v1 exists already: delete it or"
            " choose another --to-version\n"
        )
    finally:
        store.close()


def test_migrate_copies_what_was_written_and_deleted_during_the_copy(store, es_client):
    store.upsert_many([article(n) for n in range(1, 1001)])
    seen = []

    def meanwhile(copied: int) -> None:
        # Called between batches of the copy: the crawl goes on writing to the old index.
        seen.append(copied)
        if len(seen) == 1:
            changed = article(999, title="Changed while migrating")
            store.upsert(changed)
            store.upsert(article(5000))
            store.delete(article(998).id)

    report = store.migrate(progress=meanwhile)
    assert (report.old_index, report.new_index) == (f"{store.alias}-v1", f"{store.alias}-v2")
    assert sum(seen) == report.copied
    assert store.count() == 1000
    assert store.get(article(999).id).title == "Changed while migrating"
    assert store.get(article(5000).id) is not None
    assert store.get(article(998).id) is None


# --- connection, credentials, errors --------------------------------------------------------


def test_unreachable_cluster_is_a_one_line_error(tmp_path):
    url = f"http://127.0.0.1:{free_port()}"
    config = write_config(tmp_path / "newswatch.toml", {"url": url, "index": index_name()})
    result = newswatch("--config", str(config), "search", "chips", cwd=tmp_path)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == f"newswatch: cannot reach Elasticsearch at {url} (connection refused)\n"
    store = ElasticsearchStore.from_config(ElasticsearchConfig(url=url), LANGUAGES, environ={})
    assert store.ping() is False
    with pytest.raises(StoreUnavailable):
        store.count()


def test_the_environment_overrides_the_config(es_url, es_auth, es_client, tmp_path):
    index = index_name()
    dead = f"http://127.0.0.1:{free_port()}"
    config = write_config(tmp_path / "newswatch.toml", {"url": dead, "index": index})
    env = {"NEWSWATCH_ES_URL": es_url}
    if es_auth:
        env |= {"NEWSWATCH_ES_USERNAME": es_auth[0], "NEWSWATCH_ES_PASSWORD": es_auth[1]}
    result = newswatch("--config", str(config), "search", "--json", "chips", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["total"] == 0
    assert es_client.indices.exists_alias(name=index)


def test_credentials_basic_auth_and_api_key(es_node_factory, tmp_path):
    password = "s3cret-pw-for-the-test"
    node = es_node_factory(security=True, user="nw-admin", password=password)
    index = index_name()
    with Elasticsearch(node.url, basic_auth=("nw-admin", password)) as admin:
        api_key = admin.security.create_api_key(name="newswatch-test-key")["encoded"]

    # Basic auth, through the store.
    store = open_store(node.url, ("nw-admin", password), index)
    try:
        store.upsert(article(1))
        assert store.search(SearchRequest("chips")).total == 1
        assert store.ping() is True
        assert password not in repr(store)
    finally:
        store.close()

    # An API key, through the store and the CLI.
    config = ElasticsearchConfig(url=node.url, index=index, api_key=api_key)
    store = ElasticsearchStore.from_config(config, LANGUAGES, environ={})
    try:
        assert store.get(article(1).id).title == "Nvidia chips, part 1"
        assert api_key not in repr(store)
    finally:
        store.close()
    key_config = write_config(
        tmp_path / "key.toml", {"url": node.url, "index": index, "api_key": api_key}
    )
    result = newswatch("--config", str(key_config), "search", "--json", "chips", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert [hit["id"] for hit in json.loads(result.stdout)["hits"]] == [article(1).id]

    # Basic auth through the CLI, from the config and from the environment.
    basic = write_config(
        tmp_path / "basic.toml",
        {"url": node.url, "index": index, "username": "nw-admin", "password": password},
    )
    result = newswatch("--config", str(basic), "search", "--json", "chips", cwd=tmp_path)
    assert (result.returncode, json.loads(result.stdout)["total"]) == (0, 1), result.stderr
    bare = write_config(tmp_path / "bare.toml", {"url": node.url, "index": index})
    result = newswatch(
        "--config",
        str(bare),
        "search",
        "--json",
        "chips",
        cwd=tmp_path,
        env={"NEWSWATCH_ES_USERNAME": "nw-admin", "NEWSWATCH_ES_PASSWORD": password},
    )
    assert (result.returncode, json.loads(result.stdout)["total"]) == (0, 1), result.stderr

    # A wrong password, a wrong API key, no credentials: one line, nothing secret in it.
    for name, values in (
        ("wrong.toml", {"username": "nw-admin", "password": "wrong-" + password}),
        ("badkey.toml", {"api_key": "bm90OmFrZXk="}),
        ("none.toml", {}),
    ):
        wrong = write_config(tmp_path / name, {"url": node.url, "index": index, **values})
        result = newswatch("--config", str(wrong), "search", "chips", cwd=tmp_path)
        assert (result.returncode, result.stdout) == (2, ""), name
        assert result.stderr == (
            f"newswatch: Elasticsearch at {node.url} refused the credentials (401): check"
            " api_key, or username and password (or NEWSWATCH_ES_API_KEY /"
            " NEWSWATCH_ES_USERNAME / _PASSWORD)\n"
        ), name
        assert "Traceback" not in result.stderr
        assert password not in result.stderr and "bm90OmFrZXk=" not in result.stderr

    # Credentials in the URL are taken out of it, and out of every message.
    url = urlsplit(node.url)
    secret_url = f"http://nw-admin:{password}@{url.hostname}:{url.port}"
    store = ElasticsearchStore.from_config(
        ElasticsearchConfig(url=secret_url, index=index), LANGUAGES, environ={}
    )
    try:
        assert store.count() == 1
        assert repr(store) == f"ElasticsearchStore(url={node.url!r}, index={index!r})"
    finally:
        store.close()
