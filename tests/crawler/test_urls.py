"""URL normalisation and article ids."""

from __future__ import annotations

import hashlib
import re

import pytest

from crawler.urls import article_id, normalize_url, same_site


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        # The documented example: case, default port, tracking, order, slash, fragment.
        (
            "HTTPS://Example.COM:443/News/Story/?utm_source=rss&b=2&a=1#top",
            "https://example.com/News/Story?a=1&b=2",
        ),
        # Scheme and host case fold; path case is kept.
        ("HTTP://WWW.EXAMPLE.COM/A/B.html", "http://www.example.com/A/B.html"),
        # Default ports go, other ports stay.
        ("http://example.com:80/a", "http://example.com/a"),
        ("https://example.com:443", "https://example.com/"),
        ("http://example.com:8080/a/", "http://example.com:8080/a"),
        ("https://example.com:80/a", "https://example.com:80/a"),
        # Tracking parameters are removed, whatever their case.
        ("https://example.com/a?utm_source=x", "https://example.com/a"),
        (
            "https://example.com/a?utm_campaign=x&utm_content=y&utm_medium=z",
            "https://example.com/a",
        ),
        ("https://example.com/a?UTM_Medium=x&z=1&y=2", "https://example.com/a?y=2&z=1"),
        ("https://example.com/a?fbclid=xyz", "https://example.com/a"),
        ("https://example.com/a?gclid=1&id=5", "https://example.com/a?id=5"),
        ("https://example.com/a?id=1&utm_source=x#c", "https://example.com/a?id=1"),
        # Other parameters are kept and sorted; values and repeats are kept.
        ("https://example.com/a?z=1&a=2&m=3", "https://example.com/a?a=2&m=3&z=1"),
        ("https://example.com/a?q=a+b&q=c", "https://example.com/a?q=a+b&q=c"),
        ("https://example.com/a?b=&a=1", "https://example.com/a?a=1&b="),
        ("https://example.com/a?page=2&utm_source=rss", "https://example.com/a?page=2"),
        # Fragments go.
        ("https://example.com/path#frag?x", "https://example.com/path"),
        ("https://example.com/a#", "https://example.com/a"),
        # Trailing slashes go, except the root path.
        ("https://example.com", "https://example.com/"),
        ("https://example.com/", "https://example.com/"),
        ("https://example.com//", "https://example.com/"),
        ("https://example.com/a/b/", "https://example.com/a/b"),
        ("https://example.com/a/?", "https://example.com/a"),
        # Non-ASCII paths are percent-encoded once.
        ("https://example.com/café", "https://example.com/caf%C3%A9"),
        ("https://example.com/caf%C3%A9", "https://example.com/caf%C3%A9"),
        # IPv6 literals keep their brackets and their non-default ports.
        ("http://[2001:db8::1]:8080/a/", "http://[2001:db8::1]:8080/a"),
        ("http://[2001:DB8::1]/a", "http://[2001:db8::1]/a"),
        ("https://[::1]:443/", "https://[::1]/"),
        # Surrounding whitespace goes.
        ("  https://example.com/a  ", "https://example.com/a"),
    ],
)
def test_normalize_url(url: str, expected: str) -> None:
    assert normalize_url(url) == expected
    assert normalize_url(expected) == expected  # normalising is idempotent


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("mailto:x@example.com", "mailto:x@example.com"),
        ("ftp://example.com/a/", "ftp://example.com/a/"),
        ("javascript:alert(1)", "javascript:alert(1)"),
        ("not a url", "not a url"),
        ("  /relative/path/  ", "/relative/path/"),
        ("", ""),
        ("http://", "http://"),
        ("http://example.com:abc/", "http://example.com:abc/"),  # unparseable port
    ],
)
def test_non_http_strings_come_back_stripped(value: str, expected: str) -> None:
    assert normalize_url(value) == expected


EQUIVALENT = [
    "https://example.com/news/story",
    "HTTPS://EXAMPLE.com:443/news/story/",
    "https://example.com/news/story?utm_source=rss&utm_medium=feed",
    "https://example.com/news/story?fbclid=abc#comments",
    "https://Example.com/news/story/?gclid=1",
]


def test_article_id_is_equal_for_equivalent_urls() -> None:
    ids = {article_id(url) for url in EQUIVALENT}
    assert len(ids) == 1
    (only,) = ids
    assert re.fullmatch(r"[0-9a-f]{16}", only)


@pytest.mark.parametrize(
    "other",
    [
        "https://example.com/news/story-2",
        "https://example.com/News/Story",  # path case matters
        "http://example.com/news/story",  # so does the scheme
        "https://example.com/news/story?id=2",
        "https://www.example.com/news/story",
        "https://example.com:8443/news/story",
    ],
)
def test_article_id_differs_for_other_articles(other: str) -> None:
    assert article_id(other) != article_id(EQUIVALENT[0])


def test_article_id_is_a_prefix_of_the_sha1_of_the_normalised_url() -> None:
    url = "HTTPS://Example.COM:443/News/Story/?utm_source=rss&b=2&a=1#top"
    expected = hashlib.sha1(b"https://example.com/News/Story?a=1&b=2").hexdigest()[:16]
    assert article_id(url) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.com/a", True),
        ("https://news.example.com/a", True),
        ("https://EXAMPLE.COM/a", True),
        ("https://notexample.com/a", False),
        ("https://example.com.evil.org/a", False),
        ("mailto:x@example.com", False),
        ("http://[::1/", False),
    ],
)
def test_same_site(url: str, expected: bool) -> None:
    assert same_site(url, {"example.com"}) is expected
