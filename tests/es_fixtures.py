"""Pytest fixtures for tests against a real Elasticsearch node.

``tests/conftest.py`` loads this module as a pytest plugin
(``pytest_plugins = ["es_fixtures"]``), so every test can use its fixtures.

* ``es_url`` (session): ``$NEWSWATCH_TEST_ES_URL`` if set (it must answer, else the
  tests fail; credentials from ``$NEWSWATCH_TEST_ES_USER``/``_PASSWORD`` if
  set), otherwise a node started by ``scripts/elasticsearch_node.py`` for the
  session.  Never skips: no Elasticsearch means failing tests.
* ``es_auth`` (session): ``(user, password)`` for ``es_url`` or ``None``.
* ``es_client`` (function): an ``elasticsearch.Elasticsearch`` for ``es_url``;
  after each test it deletes indices, index templates and component templates
  named ``newswatch-test-*`` -- so name everything a test creates that way.
* ``es_node_factory`` (function): ``es_node_factory(**ElasticsearchNode kwargs)``
  starts extra nodes (security, restarts, clusters); closed after the test.
  ``es_module_node_factory`` does the same for nodes a module's tests share.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
import urllib.error
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest

TEST_PREFIX = "newswatch-test-"
_SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "elasticsearch_node.py"


def load_node_module() -> ModuleType:
    """scripts/elasticsearch_node.py as a module (it is not in a package)."""
    name = "newswatch_elasticsearch_node"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, _SCRIPT)
    assert spec is not None and spec.loader is not None, _SCRIPT
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def cleanup_test_resources(client) -> None:
    """Delete indices, index templates and component templates named newswatch-test-*."""
    from elasticsearch import NotFoundError

    pattern = f"{TEST_PREFIX}*"
    indices = list(client.indices.get(index=pattern, expand_wildcards="all").keys())
    if indices:
        # explicit names: works even where action.destructive_requires_name=true
        client.indices.delete(index=",".join(indices), ignore_unavailable=True)
    try:  # a wildcard that matches nothing answers 404
        templates = client.indices.get_index_template(name=pattern)["index_templates"]
    except NotFoundError:
        templates = []
    for template in templates:
        client.indices.delete_index_template(name=template["name"])
    try:
        components = client.cluster.get_component_template(name=pattern)["component_templates"]
    except NotFoundError:
        components = []
    for component in components:
        client.cluster.delete_component_template(name=component["name"])


@pytest.fixture(scope="session")
def es_node_module() -> ModuleType:
    return load_node_module()


@pytest.fixture(scope="session")
def _es_session(es_node_module) -> Iterator[tuple[str, tuple[str, str] | None]]:
    url = os.environ.get("NEWSWATCH_TEST_ES_URL")
    if url:
        url = url.rstrip("/")
        user = os.environ.get("NEWSWATCH_TEST_ES_USER")
        auth = (user, os.environ.get("NEWSWATCH_TEST_ES_PASSWORD", "")) if user else None
        try:
            es_node_module.http_json(url, "GET", "/_cluster/health", auth=auth, timeout=10)
        except (OSError, ValueError) as e:  # URLError and HTTPError are OSErrors
            pytest.fail(f"NEWSWATCH_TEST_ES_URL={url} is not usable: {e}", pytrace=False)
        yield url, auth
        return
    node = es_node_module.ElasticsearchNode()
    try:
        node.start()
    except (RuntimeError, TimeoutError, OSError) as e:
        node.close()
        pytest.fail(f"could not start Elasticsearch for the tests: {e}", pytrace=False)
    try:
        yield node.url, node.auth
    finally:
        node.close()


@pytest.fixture(scope="session")
def es_url(_es_session) -> str:
    return _es_session[0]


@pytest.fixture(scope="session")
def es_auth(_es_session) -> tuple[str, str] | None:
    return _es_session[1]


@pytest.fixture
def es_client(es_url, es_auth) -> Iterator[object]:
    from elasticsearch import Elasticsearch

    client = Elasticsearch(es_url, basic_auth=es_auth, request_timeout=30)
    try:
        yield client
    finally:
        try:
            cleanup_test_resources(client)
        finally:
            client.close()


@contextlib.contextmanager
def node_factory(module: ModuleType) -> Iterator[Callable[..., object]]:
    """``start(wait=True, **ElasticsearchNode kwargs)``; what it started is closed at the end.

    ``wait=False`` returns at once (``node.wait_ready()`` later), so that the nodes of a
    cluster start together; not from other threads: a node dies with the thread that
    started it (``PR_SET_PDEATHSIG``).
    """
    nodes = []

    def start(wait: bool = True, **kwargs):
        node = module.ElasticsearchNode(**kwargs)
        nodes.append(node)
        return node.start(wait=wait)

    try:
        yield start
    finally:
        errors = []
        for node in reversed(nodes):
            try:
                node.close()
            except (OSError, urllib.error.URLError) as e:  # pragma: no cover
                errors.append(e)
        if errors:  # pragma: no cover
            raise errors[0]


@pytest.fixture
def es_node_factory(es_node_module) -> Iterator[Callable[..., object]]:
    with node_factory(es_node_module) as start:
        yield start


@pytest.fixture(scope="module")
def es_module_node_factory(es_node_module) -> Iterator[Callable[..., object]]:
    """``es_node_factory`` for nodes the tests of a module share (a cluster)."""
    with node_factory(es_node_module) as start:
        yield start
