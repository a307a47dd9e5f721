"""Session ids in URLs: removed by normalisation, so one page keeps one URL and one id."""

from __future__ import annotations

import pytest

from crawler.urls import article_id, normalize_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        # Query parameters, whatever their case, among others that are kept.
        ("https://example.com/a?sid=123", "https://example.com/a"),
        ("https://example.com/a?SID=123&page=2", "https://example.com/a?page=2"),
        ("https://example.com/a?sessionid=abc&id=5", "https://example.com/a?id=5"),
        ("https://example.com/a?session_id=abc", "https://example.com/a"),
        ("https://example.com/a?sessid=abc", "https://example.com/a"),
        ("https://example.com/a?jsessionid=0A1B", "https://example.com/a"),
        ("https://example.com/a?PHPSESSID=9f8e&q=ai", "https://example.com/a?q=ai"),
        ("https://example.com/a?aspsessionid=x", "https://example.com/a"),
        ("https://example.com/a?CFID=1&CFTOKEN=2&b=1", "https://example.com/a?b=1"),
        ("https://example.com/a?sid=", "https://example.com/a"),
        ("https://example.com/a?utm_source=rss&sid=1&fbclid=2", "https://example.com/a"),
        # Java-style path parameters, before a query and in the middle of a path.
        ("https://example.com/story;jsessionid=0A1B2C", "https://example.com/story"),
        ("https://example.com/story;JSESSIONID=0A1B2C?page=2", "https://example.com/story?page=2"),
        ("https://example.com/a;jsessionid=1/b.html", "https://example.com/a/b.html"),
        ("https://example.com/story;phpsessid=1", "https://example.com/story"),
        ("https://example.com/story;sid=1;v=2", "https://example.com/story;v=2"),
        ("https://example.com/;jsessionid=1", "https://example.com/"),
        ("https://example.com/story;jsessionid=1#top", "https://example.com/story"),
    ],
)
def test_session_ids_are_removed(url: str, expected: str) -> None:
    assert normalize_url(url) == expected
    assert normalize_url(expected) == expected


@pytest.mark.parametrize(
    "url",
    [
        # Parameters that only look like session ids stay: they may select content.
        "https://example.com/a?side=left",
        "https://example.com/a?sids=1",
        "https://example.com/a?session=2026",
        "https://example.com/a?userid=5",
        # Other path parameters stay.
        "https://example.com/story;v=2",
        "https://example.com/story;jsession=1",
        # Session words in the path itself are path.
        "https://example.com/sid/1",
        "https://example.com/jsessionid",
    ],
)
def test_lookalikes_are_kept(url: str) -> None:
    assert normalize_url(url) == url


def test_every_session_variant_has_one_article_id() -> None:
    variants = [
        "https://example.com/news/story",
        "https://example.com/news/story?sid=1",
        "https://example.com/news/story?sid=2&utm_source=rss",
        "https://example.com/news/story;jsessionid=ABC",
        "https://example.com/news/story;jsessionid=DEF?PHPSESSID=x",
        "HTTPS://EXAMPLE.COM:443/news/story/?sessionid=y#comments",
    ]
    assert len({article_id(url) for url in variants}) == 1
