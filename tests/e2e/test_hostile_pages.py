"""Hostile pages: legacy encodings, lying charsets, broken metadata, empty, huge and deep pages.

One feed lists good articles next to every bad page; one ``newswatch crawl`` child
process fetches them all. Each test checks its page, and that the crawl finished,
stored every good article and printed no traceback.

Which encoding wins (crawler/encoding.py): a byte order mark, then the HTTP header's
charset, then ``<meta charset>``, as in browsers and w3lib; an undeclared page that is
not UTF-8 is read in the legacy encoding of its language (``<html lang>``).
"""

from __future__ import annotations

import json

import pytest
from hostile import (
    RSS,
    HostileServer,
    Page,
    add_articles,
    article_html,
    assert_no_traceback,
    feed_source,
    rss,
    run_crawl,
    text,
)

WESTERN = "Café naïve – “quoted” for €5"  # windows-1252 only: – “ ” € are not in iso-8859-1
POLISH = "Zażółć gęślą jaźń w Łodzi"  # iso-8859-2
POLISH_BODY = "Łódź i Gdańsk: żółte łąki, ćmy i źródła."


def _western(seed: int, head: str = "") -> bytes:
    return article_html(WESTERN, seed, head=head).encode("windows-1252")


def _polish(seed: int, head: str = "") -> bytes:
    paragraphs = [POLISH_BODY, *text(seed)]
    return article_html(POLISH, seed, head=head, lang="pl", paragraphs=paragraphs).encode(
        "iso-8859-2"
    )


META_1252 = '<meta charset="windows-1252">'
META_8859_2 = '<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-2">'

BROKEN_JSONLD = (
    '<script type="application/ld+json">{"@type": "NewsArticle", "headline": "From broken'
    ' JSON-LD", "datePublished": "2026-01-01T00:00:00Z",</script>'
    '<meta property="og:title" content="Title from OpenGraph">'
    '<meta property="article:published_time" content="2026-11-05T10:00:00+01:00">'
)
DATES_META = '<meta property="article:published_time" content="2026-11-02T09:00:00Z">'
DATES_TIME = '<p>Published <time datetime="2026-11-03T10:00:00Z">3 November</time></p>'

# path -> (body, Content-Type)
PAGES: dict[str, tuple[bytes | str, str | None]] = {
    "/enc/1252-meta.html": (_western(1, META_1252), "text/html"),
    "/enc/1252-undeclared.html": (_western(2), "text/html"),
    # iso-8859-1 in a header means windows-1252, as in browsers: – “ ” € survive.
    "/enc/latin1-header.html": (_western(3), "text/html; charset=iso-8859-1"),
    "/enc/8859-2-meta.html": (_polish(4, META_8859_2), "text/html"),
    "/enc/8859-2-header.html": (_polish(5), "text/html; charset=ISO-8859-2"),
    "/enc/8859-2-undeclared.html": (_polish(6), "text/html"),
    # The header contradicts the page's <meta>: the header wins.
    "/enc/header-right-meta-wrong.html": (
        _western(7, '<meta charset="utf-8">'),
        "text/html; charset=windows-1252",
    ),
    "/enc/header-wrong-meta-right.html": (_polish(8, META_8859_2), "text/html; charset=utf-8"),
    "/meta/broken-jsonld.html": (
        article_html("Headline in the page", 13, jsonld=False, head=BROKEN_JSONLD),
        "text/html",
    ),
    "/meta/dates-all-three.html": (
        article_html(
            "All three dates",
            14,
            published="2026-11-01T08:00:00Z",
            head=DATES_META,
            body_top=DATES_TIME,
        ),
        "text/html",
    ),
    "/meta/dates-meta-and-time.html": (
        article_html(
            "Meta and time dates", 15, published=None, head=DATES_META, body_top=DATES_TIME
        ),
        "text/html",
    ),
    "/meta/dates-time-only.html": (
        article_html("Time date only", 16, published=None, body_top=DATES_TIME),
        "text/html",
    ),
    "/bad/empty.html": (b"", "text/html; charset=utf-8"),
    "/bad/markup-only.html": (
        article_html("Nothing to read", 17, paragraphs=["<span></span>"]).replace(
            "<h1>Nothing to read</h1>", ""
        ),
        "text/html; charset=utf-8",
    ),
    "/bad/nested.html": (
        "<html><head><title>Deep</title><meta property='og:type' content='article'></head>"
        "<body>"
        + "<div>" * 5000
        + "<p>"
        + " ".join(text(18))
        + "</p>"
        + "</div>" * 5000
        + "</body></html>",
        "text/html; charset=utf-8",
    ),
}

BIG_PARAGRAPHS = text(19, paragraphs=20_200, words=80)  # 10.3 MB: under the 10 MiB cap


@pytest.fixture(scope="module")
def crawl(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("pages")
    with HostileServer() as server:
        good = add_articles(server, "/good", 3)
        for path, (body, content_type) in PAGES.items():
            server.route(path, Page(body, content_type))
        big = article_html("Ten megabytes of text", 19, paragraphs=BIG_PARAGRAPHS)
        server.route("/big/ten-megabytes.html", Page(big))
        links = [*good, *PAGES, "/big/ten-megabytes.html"]
        feed = rss({"title": path, "link": server.url + path} for path in links)
        server.route("/feed.xml", Page(feed, RSS))
        result = run_crawl(tmp, server, [feed_source("pages", server.url + "/feed.xml")])
        result.extra.update(good=good, big_size=len(big.encode()), hits=server.paths())
    return result


def test_the_crawl_finishes_and_stores_every_good_article(crawl):
    assert crawl.returncode == 0, crawl.output
    assert_no_traceback(crawl)
    stored = crawl.stored()
    assert set(crawl.extra["good"]) <= set(stored)
    # Every page was asked for once.
    assert sorted(p for p in crawl.extra["hits"] if p != "/robots.txt") == sorted(
        ["/feed.xml", *crawl.extra["good"], *PAGES, "/big/ten-megabytes.html"]
    )


@pytest.mark.parametrize(
    ("path", "title"),
    [
        ("/enc/1252-meta.html", WESTERN),
        ("/enc/1252-undeclared.html", WESTERN),
        ("/enc/latin1-header.html", WESTERN),
        ("/enc/8859-2-meta.html", POLISH),
        ("/enc/8859-2-header.html", POLISH),
        ("/enc/8859-2-undeclared.html", POLISH),
        ("/enc/header-right-meta-wrong.html", WESTERN),
    ],
)
def test_legacy_encodings_are_decoded(crawl, path, title):
    article = crawl.stored()[path]
    assert article.title == title
    if title == POLISH:
        assert article.body.splitlines()[0] == POLISH_BODY


def test_a_wrong_header_charset_wins_over_a_right_meta_as_in_browsers(crawl):
    # The header says UTF-8, the bytes are iso-8859-2: each sequence that is not UTF-8
    # becomes U+FFFD, as a browser shows it. The article is still stored.
    article = crawl.stored()["/enc/header-wrong-meta-right.html"]
    assert article.title == "Za\ufffd\ufffd\ufffd g\ufffdl\ufffd ja\ufffd\ufffd w \ufffdodzi"


def test_invalid_json_ld_falls_back_to_opengraph_and_meta(crawl):
    article = crawl.stored()["/meta/broken-jsonld.html"]
    assert article.title == "Title from OpenGraph"
    assert article.published_at == "2026-11-05T09:00:00Z"


@pytest.mark.parametrize(
    ("path", "published"),
    [
        ("/meta/dates-all-three.html", "2026-11-01T08:00:00Z"),  # JSON-LD
        ("/meta/dates-meta-and-time.html", "2026-11-02T09:00:00Z"),  # <meta>
        ("/meta/dates-time-only.html", "2026-11-03T10:00:00Z"),  # <time>
    ],
)
def test_conflicting_dates_json_ld_before_meta_before_time(crawl, path, published):
    assert crawl.stored()[path].published_at == published


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/bad/empty.html", "empty-page"),
        ("/bad/markup-only.html", "no-body-text"),
        # libxml2 stops nesting at 256 levels: the text inside is not reached.
        ("/bad/nested.html", "no-body-text"),
    ],
)
def test_pages_without_text_are_dropped_with_their_reason(crawl, path, reason):
    assert crawl.drop_reasons()[path] == reason
    assert path not in crawl.stored()


def test_the_drop_log_and_summary_agree(crawl):
    reasons = crawl.drop_reasons()
    assert reasons == {
        "/bad/empty.html": "empty-page",
        "/bad/markup-only.html": "no-body-text",
        "/bad/nested.html": "no-body-text",
    }
    assert crawl.dropped_column("pages") == {"empty-page": 1, "no-body-text": 2}
    assert crawl.row("pages")[2] == "ok"


def test_ten_megabytes_of_text_are_extracted_whole(crawl):
    assert 10_000_000 < crawl.extra["big_size"] < 10 * 1024 * 1024
    article = crawl.stored()["/big/ten-megabytes.html"]
    assert article.body == "\n".join(BIG_PARAGRAPHS)


def test_drop_log_lines_are_json(crawl):
    for line in crawl.drop_log.read_text().splitlines():
        assert set(json.loads(line)) <= {"url", "source", "reason", "detail"}
