"""Fixtures of the cluster tests: a real Redis, a counting site, a worker's config."""

from __future__ import annotations

import importlib.util
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from clustersite import ClusterSite

_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "redis_server.py"


def _redis_module():
    name = "newswatch_redis_server"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, _SCRIPT)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def free_port() -> int:
    return _redis_module().free_port()


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A fresh redis-server (Debian's) on a free loopback port, for one test."""
    with _redis_module().RedisServer() as server:
        yield server.url


@pytest.fixture
def site() -> Iterator[ClusterSite]:
    with ClusterSite() as running:
        yield running


def cluster_config(
    tmp: Path,
    site_url: str,
    redis_url: str | None,
    es_url: str,
    index: str,
    delay: float = 0.0,
    lease: str = "60s",
    backend: str = "elasticsearch",
    every: str = "1h",
) -> Path:
    """A config of one site source, the shared Redis and Elasticsearch; its path."""
    cluster = f'[cluster]\nredis_url = "{redis_url}"\nlease = "{lease}"\n' if redis_url else ""
    path = tmp / f"cluster-{uuid.uuid4().hex[:8]}.toml"
    path.write_text(f"""
[[sources]]
name = "gazette"
kind = "site"
urls = ["{site_url}"]
language = "en"
max_depth = 3
max_pages = 5000
every = "{every}"

[[topics]]
name = "robots"
any = ["robot"]

[filters]
languages = ["en"]

[crawler]
download_delay = {delay}
autothrottle = false
concurrent_requests_per_domain = 4
workers = 0
state = ""
jobs = ""
archive = ""
locks = "{tmp / "locks"}"

[store]
backend = "{backend}"
path = "{tmp / "articles.db"}"

[store.elasticsearch]
url = "{es_url}"
index = "{index}"
outbox = "{tmp / "outbox.db"}"

{cluster}""")
    return path
