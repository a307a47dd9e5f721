"""Fixtures of the web tests: the backend under test, the demo crawl, stores, a client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from webtesting import (
    BACKENDS,
    LANGUAGES,
    DemoCrawl,
    Indexed,
    TestClient,
    free_port,
    make_client,
    run_newswatch,
)

from crawler.items import Article
from pipelines.stores.sqlite import SqliteStore


@pytest.fixture(scope="session", params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    return BACKENDS[request.param](tmp_path_factory.mktemp(f"stores-{request.param}"))


@pytest.fixture(autouse=True)
def _no_token_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NEWSWATCH_WEB_TOKEN", raising=False)


@pytest.fixture(scope="session")
def demo_crawl(tmp_path_factory: pytest.TempPathFactory) -> DemoCrawl:
    """The articles of a real ``newswatch demo`` crawl, run once in a child process."""
    tmp = tmp_path_factory.mktemp("demo")
    port = free_port()
    result = run_newswatch("demo", "--store", str(tmp / "demo.db"), "--port", str(port), cwd=tmp)
    assert result.returncode == 0, result.stdout + result.stderr
    store = SqliteStore(tmp / "demo.db", LANGUAGES)
    try:
        articles = list(store.iter_articles())
    finally:
        store.close()
    assert len(articles) == 23
    return DemoCrawl(f"http://127.0.0.1:{port}", articles)


@pytest.fixture(scope="session")
def demo_index(backend: Any, demo_crawl: DemoCrawl) -> Iterator[Indexed]:
    """The demo crawl's articles in a store of the backend under test (read-only in tests)."""
    store = backend.create("demo")
    for article in demo_crawl.articles:
        store.upsert(Article.from_dict(article.to_dict()))
    yield Indexed("demo", backend, store, backend.factory("demo"), demo_crawl)
    store.close()


@pytest.fixture
def empty_index(backend: Any, request: pytest.FixtureRequest) -> Iterator[Indexed]:
    """A fresh, empty store of the backend under test for one test."""
    key = "t-" + "".join(c if c.isalnum() else "-" for c in request.node.name)[:80]
    store = backend.create(key)
    yield Indexed(key, backend, store, backend.factory(key))
    store.close()


@pytest.fixture
def demo_client(demo_index: Indexed, tmp_path: Path) -> Iterator[TestClient]:
    with make_client(demo_index, tmp_path) as client:
        yield client
