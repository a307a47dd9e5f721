"""The items that travel through the crawl: a fetched page, then an article.

:class:`Article` is the one article model of newswatch: the spiders' pages become
articles in the extract stage, the pipelines fill in language, topics and story,
the stores save and return it, and the CLI and web layer show it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


@dataclass
class EntryHint:
    """What a feed or sitemap said about an article, used when the page says less."""

    title: str | None = None
    published_at: str | None = None  # ISO 8601, UTC
    authors: list[str] = field(default_factory=list)
    summary: str | None = None
    language: str | None = None  # the feed's or sitemap's declared language
    origin: str = ""  # "rss", "atom", "sitemap", ...


@dataclass
class FetchedPage:
    """A page a spider fetched and believes may be an article."""

    url: str  # the final URL, after redirects
    requested_url: str
    status: int
    html: str
    source: str
    fetched_at: str
    source_language: str | None = None  # the source's language hint from the config
    hint: EntryHint | None = None
    http_headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Article:
    """One news article, as stored and searched."""

    id: str
    url: str
    canonical_url: str
    title: str
    body: str
    source: str
    fetched_at: str
    authors: list[str] = field(default_factory=list)
    published_at: str | None = None  # ISO 8601 in UTC, "2026-11-03T09:30:00Z"
    modified_at: str | None = None
    description: str | None = None
    page_language: str | None = None  # the page's own lang attribute
    feed_language: str | None = None  # the language its feed or sitemap declared
    site_name: str | None = None
    image: str | None = None
    section: str | None = None
    keywords: list[str] = field(default_factory=list)
    # Filled by the pipelines.
    language: str | None = None
    language_probability: float | None = None
    language_source: str | None = None  # "detector", "page", "feed", "source"
    topics: list[str] = field(default_factory=list)
    topic_matches: dict[str, dict[str, int]] = field(default_factory=dict)
    topic_score: float = 0.0
    body_hash: str | None = None
    minhash: str | None = None  # MinHash signature (hex), for near-duplicate similarity
    lsh_bands: list[str] = field(default_factory=list)  # near-duplicate lookup keys
    story_id: str | None = None
    # Set by the store.
    indexed_at: str | None = None
    revision: int = 1

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Article:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})
