"""Shared fixtures: the real Elasticsearch node (tests/es_fixtures.py) for every test."""

pytest_plugins = ["es_fixtures"]
