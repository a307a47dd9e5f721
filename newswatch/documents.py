"""``newswatch topics test``: which terms of which topics match a document."""

from __future__ import annotations

import sys
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from crawler import __version__
from crawler.extract import NotAnArticle, extract_article
from crawler.items import FetchedPage
from newswatch.config import Config, ConfigError
from search.matcher import TopicMatcher


def read_document(where: str, config: Config) -> tuple[str, str]:
    """``(title, body)`` of a file, a URL or standard input (``-``).

    HTML (a page or a file ending in .html) goes through the article extractor,
    as in a crawl; anything else is plain text whose first line is the title.
    """
    if where.startswith(("http://", "https://")):
        agent = (
            config.crawler.user_agent or f"newswatch/{__version__} (+{config.crawler.contact_url})"
        )
        request = urllib.request.Request(where, headers={"User-Agent": agent})
        try:
            with urllib.request.urlopen(
                request, timeout=config.crawler.download_timeout
            ) as response:
                raw = response.read(config.crawler.max_response_bytes)
                charset = response.headers.get_content_charset() or "utf-8"
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot fetch {where}: {exc}") from None
        return _from_html(raw.decode(charset, errors="replace"), where)
    try:
        text = sys.stdin.read() if where == "-" else Path(where).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {where}: {exc}") from None
    if where.endswith((".html", ".htm")) or text.lstrip()[:15].lower().startswith(
        ("<!doctype", "<html")
    ):
        return _from_html(text, where)
    title, _, body = text.strip().partition("\n")
    return title, body


def _from_html(html: str, url: str) -> tuple[str, str]:
    page = FetchedPage(
        url=url,
        requested_url=url,
        status=200,
        html=html,
        source="topics-test",
        fetched_at=datetime.now(UTC).isoformat(),
    )
    try:
        article = extract_article(page)
    except NotAnArticle as exc:
        raise ConfigError(f"{url}: no article text found ({exc})") from None
    return article.title, article.body


def explain(topics: list[Any], title: str, body: str, language: str | None) -> str:
    """A report of each topic's verdict and the terms behind it."""
    lines = [f"title: {title[:100]}"]
    for match in TopicMatcher(topics).match(title, body, language):
        verdict = "MATCH" if match.matched else f"no match ({match.reason})"
        lines.append(f"\n{match.topic}: {verdict}, score {match.score:g}")
        for label, items in (
            ("terms", match.terms),
            ("context", match.context),
            ("vetoes", match.vetoes),
        ):
            if items:
                shown = ", ".join(
                    f"{k} ×{v}" for k, v in sorted(items.items(), key=lambda i: -i[1])
                )
                lines.append(f"  {label}: {shown}")
    return "\n".join(lines)
