"""Atom 1.0 feeds of saved searches: ``GET /feeds/{name}.atom``, the newest 50 matches.

Built with ``xml.etree.ElementTree``: text is escaped by the serializer, and the
characters XML 1.0 cannot hold (scraped text may carry control characters) are
dropped first.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from starlette.requests import Request
from starlette.responses import Response

from crawler.items import Article
from newswatch.alerts.saved import SavedSearch, now
from newswatch.web.app import error, web
from newswatch.web.pages import article_link
from pipelines.stores.base import Hit

ATOM = "http://www.w3.org/2005/Atom"
ENTRIES = 50
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

ET.register_namespace("", ATOM)


def _xml_text(text: str) -> str:
    return _NOT_XML.sub("", text)


def _add(parent: ET.Element, tag: str, text: str | None = None, **attributes: str) -> ET.Element:
    element = ET.SubElement(
        parent, f"{{{ATOM}}}{tag}", {k: _xml_text(v) for k, v in attributes.items()}
    )
    if text is not None:
        element.text = _xml_text(text)
    return element


def _updated(article: Article) -> str:
    stamp = article.modified_at or article.published_at or article.indexed_at or article.fetched_at
    return stamp or "1970-01-01T00:00:00Z"


def build_feed(search: SavedSearch, hits: list[Hit], feed_url: str, site_url: str) -> bytes:
    """The Atom document of a saved search and its newest matches."""
    feed = ET.Element(f"{{{ATOM}}}feed")
    _add(feed, "id", f"urn:newswatch:saved-search:{search.name}")
    _add(feed, "title", f"newswatch: {search.name}")
    if search.query:
        _add(feed, "subtitle", search.query)
    stamps = [_updated(h.article) for h in hits]  # ISO 8601 in UTC: they sort as text
    _add(feed, "updated", max(stamps, default=None) or now())
    _add(feed, "link", rel="self", type="application/atom+xml", href=feed_url)
    _add(feed, "generator", "newswatch")
    for hit in hits:
        a = hit.article
        entry = _add(feed, "entry")
        _add(entry, "id", f"urn:newswatch:article:{a.id}")
        _add(entry, "title", a.title)
        link = article_link(a)
        if link:
            _add(entry, "link", rel="alternate", type="text/html", href=link)
        else:  # never a javascript: or data: link: the article's JSON instead
            _add(
                entry,
                "link",
                rel="alternate",
                type="application/json",
                href=f"{site_url}api/articles/{a.id}",
            )
        _add(entry, "updated", _updated(a))
        if a.published_at:
            _add(entry, "published", a.published_at)
        for name in a.authors or [a.site_name or a.source]:
            _add(_add(entry, "author"), "name", name)
        for topic in a.topics:
            _add(entry, "category", term=topic)
        _add(entry, "summary", hit.snippet.text or a.description or "", type="text")
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)


def saved_search_feed(request: Request) -> Response:
    """GET /feeds/{name}.atom"""
    state = web(request)
    search = state.saved.get(request.path_params["name"])
    if search is None:
        return error(404, f"no saved search named {request.path_params['name']!r}")
    result = state.store.search(search.request(sort="date", size=ENTRIES))
    site = str(request.base_url)
    feed_url = str(request.url.remove_query_params("token"))
    return Response(
        build_feed(search, result.hits, feed_url, site),
        media_type="application/atom+xml; charset=utf-8",
    )
