"""Extraction: an article page (and what its feed said) becomes an :class:`Article`.

Metadata comes from a cascade, first source that has a field wins:
JSON-LD (``NewsArticle``/``Article``, also inside ``@graph``) -> OpenGraph and
``article:*`` -> other ``<meta>`` tags and ``<time>`` elements -> the feed or
sitemap entry. The body text comes from trafilatura.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import lxml.html
import trafilatura
from dateutil import parser as dateparser

from crawler.items import Article, EntryHint, FetchedPage
from crawler.urls import article_id, normalize_url

logger = logging.getLogger(__name__)

ARTICLE_TYPES = {
    "Article",
    "NewsArticle",
    "ReportageNewsArticle",
    "AnalysisNewsArticle",
    "OpinionNewsArticle",
    "BackgroundNewsArticle",
    "ReviewNewsArticle",
    "BlogPosting",
    "LiveBlogPosting",
    "TechArticle",
    "Report",
}

# A page with no article metadata is an article only with this much body text.
MIN_ARTICLE_WORDS = 120


class NotAnArticle(Exception):
    """The page is not an article (a section page, an empty page); the message says why."""


def to_utc_iso(value: Any) -> str | None:
    """An ISO 8601 UTC timestamp (``2026-11-03T09:30:00Z``) from a date string, or None.

    Reads ISO 8601, RFC 822 (with zone names such as EST), and the looser forms
    dateutil understands. A date without a time zone is taken as UTC, a date without
    a time as midnight; a string without a full date (``09:30``, ``Monday``) is None.
    """
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        parsed = _parse_loose(text)
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (ValueError, OverflowError):
        return None


def _parse_loose(text: str) -> datetime | None:
    try:
        parsed = parsedate_to_datetime(text)  # RFC 822, as feeds write it
        if parsed.tzinfo is not None:
            return parsed
    except (TypeError, ValueError, IndexError):
        pass
    # Without a zone it knows (CET, MEZ: not RFC 822 names), the email parser gives a
    # naive time; dateutil reads the zone names of _ZONES. A dotted date is day first
    # (03.11.2026 is 3 November): that is how every language that writes dots means it.
    dayfirst = bool(_DOTTED_DATE.match(text))
    # dateutil fills missing parts from a default: parse with two different defaults,
    # and a date part that changes with them was not in the text.
    try:
        first = dateparser.parse(text, default=_DEFAULTS[0], tzinfos=_ZONES, dayfirst=dayfirst)
        second = dateparser.parse(text, default=_DEFAULTS[1], tzinfos=_ZONES, dayfirst=dayfirst)
    except (ValueError, OverflowError, TypeError):
        return None
    if (first.year, first.month, first.day) != (second.year, second.month, second.day):
        return None
    return first


_DEFAULTS = (datetime(1901, 1, 1), datetime(1902, 2, 2))
_DOTTED_DATE = re.compile(r"^\s*\d{1,2}\.\d{1,2}\.\d{2,4}\b")
# Zone names that news sites still write (RFC 822 and common European ones), in hours.
_ZONES = {
    name: offset * 3600
    for name, offset in {
        "UT": 0,
        "UTC": 0,
        "GMT": 0,
        "Z": 0,
        "EST": -5,
        "EDT": -4,
        "CST": -6,
        "CDT": -5,
        "MST": -7,
        "MDT": -6,
        "PST": -8,
        "PDT": -7,
        "WET": 0,
        "WEST": 1,
        "BST": 1,
        "CET": 1,
        "CEST": 2,
        "MEZ": 1,
        "MESZ": 2,
        "EET": 2,
        "EEST": 3,
    }.items()
}


def extract_article(page: FetchedPage) -> Article:
    """Build the article of ``page``, or raise :class:`NotAnArticle` saying why."""
    if not page.html or not page.html.strip():
        raise NotAnArticle("empty-page")
    try:
        tree = lxml.html.document_fromstring(page.html)
    except (lxml.etree.ParserError, ValueError) as exc:
        raise NotAnArticle("unparseable-html") from exc

    meta = _Metadata(tree)
    hint = page.hint or EntryHint()
    has_article_metadata = meta.is_article
    body = _body_text(tree, page.url)
    if not body:
        raise NotAnArticle("no-body-text")
    if not has_article_metadata and page.hint is None and len(body.split()) < MIN_ARTICLE_WORDS:
        raise NotAnArticle("not-article")

    canonical = meta.canonical(page.url)
    title = meta.first("ld:headline", "og:title", "twitter:title", "title") or hint.title
    if not title:
        raise NotAnArticle("no-title")
    return Article(
        id=article_id(canonical),
        url=page.url,
        canonical_url=canonical,
        title=" ".join(title.split()),
        body=body,
        source=page.source,
        fetched_at=page.fetched_at,
        authors=meta.authors() or hint.authors,
        published_at=to_utc_iso(
            meta.first("ld:datePublished", "article:published_time", "date", "time")
        )
        or hint.published_at,
        modified_at=to_utc_iso(meta.first("ld:dateModified", "article:modified_time")),
        description=meta.first("ld:description", "og:description", "description") or hint.summary,
        page_language=meta.page_language,
        feed_language=hint.language,
        site_name=meta.first("ld:publisher", "og:site_name"),
        image=meta.first("ld:image", "og:image", "twitter:image"),
        section=meta.first("ld:articleSection", "article:section"),
        keywords=meta.keywords(),
    )


def _body_text(tree: lxml.html.HtmlElement, url: str) -> str:
    try:
        text = trafilatura.extract(
            tree, url=url, include_comments=False, include_tables=False, deduplicate=False
        )
    except Exception as exc:  # trafilatura has no error hierarchy; a broken page is not fatal
        logger.warning("body extraction failed for %s: %s", url, exc)
        return ""
    return (text or "").strip()


# Author names marked up in the page's byline, when no metadata names them.
_BYLINE_AUTHORS = " | ".join(
    ['//*[@rel="author" or @itemprop="author"]']
    + [
        f"//*[contains(concat(' ', normalize-space(@class), ' '), ' {c} ')]"
        for c in ("author", "author-name", "byline-author", "byline__author")
    ]
)


class _Metadata:
    """The metadata a page declares about itself, by field name, in cascade order."""

    def __init__(self, tree: lxml.html.HtmlElement) -> None:
        self.tree = tree
        self.jsonld = _jsonld_article(tree)
        self.meta: dict[str, list[str]] = {}
        for element in tree.iter("meta"):
            key = (element.get("property") or element.get("name") or "").strip().lower()
            content = (element.get("content") or "").strip()
            if key and content:
                self.meta.setdefault(key, []).append(content)
        lang = tree.get("lang") or tree.get("{http://www.w3.org/XML/1998/namespace}lang")
        self.page_language = lang.strip() if lang and lang.strip() else None

    @property
    def is_article(self) -> bool:
        return bool(
            self.jsonld
            or "article" in (self._meta("og:type") or "").lower()
            or self._meta("article:published_time")
        )

    def _meta(self, key: str) -> str | None:
        values = self.meta.get(key)
        return values[0] if values else None

    def first(self, *keys: str) -> str | None:
        """The first non-empty value among ``keys``, JSON-LD keys before meta keys."""
        for key in keys:
            value = self._get(key)
            if value:
                return value
        return None

    def _get(self, key: str) -> str | None:
        if key == "ld:image":
            return _url_of(self.jsonld.get("image"))
        if key == "ld:publisher":
            publisher = self.jsonld.get("publisher")
            return _text(publisher.get("name") if isinstance(publisher, dict) else publisher)
        if key.startswith("ld:"):
            return _text(self.jsonld.get(key[3:]))
        if key == "title":
            titles = self.tree.xpath("//h1")
            if titles:
                return titles[0].text_content().strip() or None
            title = self.tree.find(".//title")
            return title.text_content().strip() if title is not None else None
        if key == "date":
            return self._meta("date") or self._meta("dc.date") or self._meta("pubdate")
        if key == "time":
            times = self.tree.xpath("//article//time[@datetime] | //time[@datetime]")
            return times[0].get("datetime") if times else None
        return self._meta(key)

    def canonical(self, url: str) -> str:
        for link in self.tree.xpath('//link[@rel="canonical"]/@href'):
            if link.strip().lower().startswith(("http://", "https://")):
                return normalize_url(link)
        for value in (self._meta("og:url"), _text(self.jsonld.get("url"))):
            if value and value.lower().startswith(("http://", "https://")):
                return normalize_url(value)
        return normalize_url(url)

    def authors(self) -> list[str]:
        names = _names(self.jsonld.get("author"))
        if not names:
            names = self.meta.get("article:author", []) or self.meta.get("author", [])
        if not names:
            names = [e.text_content().strip() for e in self.tree.xpath(_BYLINE_AUTHORS)]
        out: list[str] = []
        for name in names:
            name = " ".join(name.split())
            if name and not name.startswith(("http://", "https://")) and name not in out:
                out.append(name)
        return out

    def keywords(self) -> list[str]:
        raw = self.jsonld.get("keywords")
        values: list[str] = []
        if isinstance(raw, list):
            values = [str(v) for v in raw]
        elif isinstance(raw, str):
            values = raw.split(",")
        if not values:
            values = self.meta.get("article:tag", []) or (self._meta("keywords") or "").split(",")
        return list(dict.fromkeys(v.strip() for v in values if v.strip()))


def _jsonld_objects(tree: lxml.html.HtmlElement) -> Iterator[dict]:
    for script in tree.xpath('//script[@type="application/ld+json"]'):
        try:
            data = json.loads(script.text_content() or "")
        except ValueError:
            continue  # invalid JSON-LD is common; the other sources still apply
        stack = [data]
        while stack:
            item = stack.pop(0)
            if isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, dict):
                yield item
                if isinstance(item.get("@graph"), list):
                    stack.extend(item["@graph"])


def _jsonld_article(tree: lxml.html.HtmlElement) -> dict:
    for obj in _jsonld_objects(tree):
        types = obj.get("@type")
        types = types if isinstance(types, list) else [types]
        if any(isinstance(t, str) and t in ARTICLE_TYPES for t in types):
            return obj
    return {}


def _text(value: Any) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, str | int | float) and str(value).strip():
        return " ".join(str(value).split())
    return None


def _url_of(value: Any) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        value = value.get("url") or value.get("contentUrl")
    return value if isinstance(value, str) and value.strip() else None


def _names(value: Any) -> list[str]:
    if isinstance(value, list):
        return [n for v in value for n in _names(v)]
    if isinstance(value, dict):
        name = value.get("name")
        return [name] if isinstance(name, str) else []
    if isinstance(value, str):
        return [value]
    return []
