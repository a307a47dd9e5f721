"""Tests of scripts/elasticsearch_node.py and tests/es_fixtures.py against real nodes."""

from __future__ import annotations

import pytest
from elasticsearch import AuthenticationException, Elasticsearch
from es_fixtures import cleanup_test_resources


def test_node_answers_root_with_9x_version(es_client):
    assert es_client.ping()
    info = es_client.info()
    assert info["version"]["number"].startswith("9."), info
    assert info["tagline"] == "You Know, for Search"
    assert es_client.cluster.health(wait_for_status="yellow")["status"] in {"green", "yellow"}


def test_es_client_cleanup_removes_test_indices_and_templates(es_client):
    es_client.indices.put_index_template(
        name="newswatch-test-tpl",
        index_patterns=["newswatch-test-tpl-*"],
        template={"settings": {"number_of_replicas": 0}},
    )
    es_client.index(index="newswatch-test-tpl-1", document={"title": "hello"}, refresh=True)
    es_client.indices.create(index="keep-me-not-a-test-index")
    try:
        assert es_client.count(index="newswatch-test-tpl-1")["count"] == 1
        cleanup_test_resources(es_client)
        assert not es_client.indices.exists(index="newswatch-test-tpl-1")
        assert not es_client.indices.exists_index_template(name="newswatch-test-tpl")
        assert es_client.indices.exists(index="keep-me-not-a-test-index")
    finally:
        es_client.indices.delete(index="keep-me-not-a-test-index", ignore_unavailable=True)


@pytest.fixture(scope="module")
def secure_node(es_node_module):
    node = es_node_module.ElasticsearchNode(security=True, user="nw-admin", password="s3cret-pw")
    node.start()
    try:
        yield node
    finally:
        node.close()


def test_security_basic_auth_and_api_key(secure_node):
    url = secure_node.url
    with Elasticsearch(url, basic_auth=("nw-admin", "s3cret-pw")) as es:
        assert es.cluster.health()["status"] in {"green", "yellow"}
        key = es.security.create_api_key(name="newswatch-test-key")

    with (
        Elasticsearch(url, basic_auth=("nw-admin", "wrong-password")) as bad,
        pytest.raises(AuthenticationException),
    ):
        bad.cluster.health()
    with Elasticsearch(url) as anonymous, pytest.raises(AuthenticationException):
        anonymous.cluster.health()

    with Elasticsearch(url, api_key=key["encoded"]) as es_key:
        me = es_key.security.authenticate()
        assert me["authentication_type"] == "api_key"
        assert me["api_key"]["name"] == "newswatch-test-key"
        assert es_key.cluster.health()["status"] in {"green", "yellow"}
        assert es_key.info()["version"]["number"].startswith("9.")


def test_restart_keeps_data_dir_and_port(secure_node):
    port, data_dir = secure_node.port, secure_node.data_dir
    auth = ("nw-admin", "s3cret-pw")
    with Elasticsearch(secure_node.url, basic_auth=auth) as es:
        es.index(index="newswatch-test-restart", id="1", document={"n": 1}, refresh=True)
    secure_node.restart()
    assert (secure_node.port, secure_node.data_dir) == (port, data_dir)
    with Elasticsearch(secure_node.url, basic_auth=auth) as es:
        es.cluster.health(index="newswatch-test-restart", wait_for_status="yellow", timeout="60s")
        assert es.get(index="newswatch-test-restart", id="1")["_source"] == {"n": 1}
