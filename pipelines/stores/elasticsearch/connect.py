"""Connecting to Elasticsearch: a client for a config section and the environment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from elastic_transport import TransportError
from elasticsearch import Elasticsearch

from pipelines.stores.base import StoreError
from pipelines.stores.elasticsearch.errors import _one_line


@dataclass
class Connection:
    """A client, and what the store needs to know of how it was made."""

    client: Elasticsearch
    index: str  # the alias every read and write goes through
    url: str  # the nodes' URLs without credentials, for messages
    secrets: list[str]  # to keep out of messages


def connect(config: Any, env: Mapping[str, str]) -> Connection:
    """A client for an ``[store.elasticsearch]`` config section; ``env`` overrides it.

    See :meth:`pipelines.stores.elasticsearch.ElasticsearchStore.from_config`.
    """
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
    # A request that fails on one node is retried on the others.
    retries = max(2, len(publics))
    try:
        client = Elasticsearch(
            publics, request_timeout=10, retry_on_timeout=True, max_retries=retries, **auth
        )
    except (ValueError, TypeError, TransportError) as exc:
        bad = f"URL {publics[0]!r}" if len(publics) == 1 else f"URLs {shown!r}"
        raise StoreError(f"Elasticsearch {bad}: {_one_line(str(exc))}") from None
    secrets = [api_key or "", password or ""]
    return Connection(client, index, shown, secrets)


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
