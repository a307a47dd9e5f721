"""Shared fixtures: the real Elasticsearch node (tests/es_fixtures.py)."""

from es_fixtures import es_auth, es_client, es_node_factory, es_url  # noqa: F401
