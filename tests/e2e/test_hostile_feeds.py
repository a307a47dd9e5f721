"""Hostile feeds: malformed XML, lying encodings, HTML for a feed, relative links,
entries without links, duplicates, ten thousand entries, dates in odd formats.

Each case is a source of its own in one config, next to feeds and articles that are
fine; one ``newswatch crawl`` child process reads them all, and each test checks its
source's row of the summary, what was stored and what was reported.
"""

from __future__ import annotations

import zlib
from xml.sax.saxutils import escape

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
)

ODD_DATES = {
    # pubDate as written -> published_at stored (the pages carry no date of their own)
    "Tue, 03 Nov 2026 10:00:00 CET": "2026-11-03T09:00:00Z",
    "2026/11/03 10:00:00 +0100": "2026-11-03T09:00:00Z",
    "November 3, 2026 10:00 AM EST": "2026-11-03T15:00:00Z",
    "03.11.2026 10:00": "2026-11-03T10:00:00Z",
    "Tuesday, 3rd November 2026": "2026-11-03T00:00:00Z",
    "yesterday": None,
    "2026-02-30T10:00:00Z": None,
    "": None,
    None: None,  # no pubDate at all
}
DISTINCT = 5  # the article URLs the ten thousand entries point to
ENTRIES = 10_000


def _items(server: HostileServer, paths: list[str]) -> list[dict[str, str]]:
    return [{"title": p, "link": server.url + p} for p in paths]


def _serve(server: HostileServer) -> dict[str, list[str]]:
    """Routes for every case; returns the article paths each source should store."""
    expect: dict[str, list[str]] = {}

    # Malformed XML that feedparser still reads: a bare &, an unclosed tag, no </rss>.
    good = add_articles(server, "/malformed", 2)
    items = "".join(
        f"<item><title>A & B <b>{p}</title><link>{server.url}{p}</link></item>" for p in good
    )
    server.route(
        "/malformed/feed.xml",
        Page(
            f'<?xml version="1.0"?><rss version="2.0"><channel><title>Broken & co</title>{items}',
            RSS,
        ),
    )
    expect["malformed"] = good

    # Declared encodings that lie: the XML says iso-8859-1 over UTF-8 bytes; the header
    # says utf-8 over windows-1252 bytes.
    good = add_articles(server, "/encoding", 2)
    title = "Café “quoted” naïve"
    server.route(
        "/encoding/declared.xml",
        Page(rss([{"title": title, "link": server.url + good[0]}], encoding="iso-8859-1"), RSS),
    )
    server.route(
        "/encoding/header.xml",
        Page(
            rss([{"title": title, "link": server.url + good[1]}], encoding="utf-8").encode(
                "cp1252"
            ),
            "application/rss+xml; charset=utf-8",
        ),
    )
    expect["encoding"] = good

    # HTML where a feed should be: as text/html, and labelled as RSS.
    good = add_articles(server, "/html-feed", 1)
    html = (
        "<!DOCTYPE html><html><head><title>Welcome</title></head><body><p>Log in</p></body></html>"
    )
    server.route("/html-feed/as-html.xml", Page(html))
    server.route("/html-feed/as-rss.xml", Page(html, RSS))
    server.route("/html-feed/good.xml", Page(rss(_items(server, good)), RSS))
    expect["html-feed"] = good

    # Relative links: against the feed's URL in RSS, against xml:base in Atom.
    for path in (
        "/relative/a.html",
        "/relative/news/b.html",
        "/atom-base/sub/c.html",
        "/elsewhere/d.html",
    ):
        server.route(path, Page(article_html(f"Relative {path}", zlib.crc32(path.encode()))))
    server.route(
        "/relative/feed.xml",
        Page(
            rss(
                [
                    {"title": "A", "link": "/relative/a.html"},
                    {"title": "B", "link": "news/b.html"},
                ]
            ),
            RSS,
        ),
    )
    server.route(
        "/relative/atom.xml",
        Page(
            '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"'
            ' xml:base="http://__HOST__/atom-base/"><title>T</title><id>urn:t</id>'
            "<updated>2026-11-03T00:00:00Z</updated>"
            '<entry xml:base="sub/"><title>C</title><link href="c.html"/><id>urn:c</id>'
            "<updated>2026-11-03T00:00:00Z</updated></entry>"
            '<entry><title>D</title><link href="/elsewhere/d.html"/><id>urn:d</id>'
            "<updated>2026-11-03T00:00:00Z</updated></entry></feed>",
            "application/atom+xml",
        ),
    )
    expect["relative"] = [
        "/relative/a.html",
        "/relative/news/b.html",
        "/atom-base/sub/c.html",
        "/elsewhere/d.html",
    ]

    # Entries without a usable link, next to good ones.
    good = add_articles(server, "/no-link", 2)
    server.route(
        "/no-link/feed.xml",
        Page(
            rss(
                [
                    {"title": "No link at all", "description": "x"},
                    {"title": "Empty link", "link": ""},
                    {"title": "Script link", "link": "javascript:void(0)"},
                    *_items(server, good),
                ]
            ),
            RSS,
        ),
    )
    expect["no-link"] = good

    # Every entry three times, the copies with tracking parameters and fragments.
    good = add_articles(server, "/duplicates", 3)
    copies = []
    for path in good:
        copies += [
            {"title": path, "link": server.url + path},
            {"title": path, "link": escape(f"{server.url}{path}?utm_source=rss&fbclid=1")},
            {"title": path, "link": f"{server.url}{path}#comments"},
        ]
    server.route("/duplicates/feed.xml", Page(rss(copies), RSS))
    expect["duplicates"] = good

    # Ten thousand entries over a handful of URLs.
    good = add_articles(server, "/ten-thousand", DISTINCT)
    many = [
        {
            "title": f"Entry {n}",
            "link": escape(f"{server.url}{good[n % DISTINCT]}?utm_content={n}#e{n}"),
        }
        for n in range(ENTRIES)
    ]
    server.route("/ten-thousand/feed.xml", Page(rss(many), RSS))
    expect["ten-thousand"] = good

    # Dates in odd formats, and none; the pages have no date of their own.
    items, paths = [], []
    for n, when in enumerate(ODD_DATES):
        path = f"/dates/{n}.html"
        server.route(path, Page(article_html(f"Dated {n}", 500 + n, published=None)))
        item = {"title": f"Dated {n}", "link": server.url + path}
        if when is not None:
            item["pubDate"] = when
        items.append(item)
        paths.append(path)
    server.route("/dates/feed.xml", Page(rss(items), RSS))
    expect["dates"] = paths
    return expect


SOURCES = {
    "malformed": ["/malformed/feed.xml"],
    "encoding": ["/encoding/declared.xml", "/encoding/header.xml"],
    "html-feed": ["/html-feed/as-html.xml", "/html-feed/as-rss.xml", "/html-feed/good.xml"],
    "relative": ["/relative/feed.xml", "/relative/atom.xml"],
    "no-link": ["/no-link/feed.xml"],
    "duplicates": ["/duplicates/feed.xml"],
    "ten-thousand": ["/ten-thousand/feed.xml"],
    "dates": ["/dates/feed.xml"],
}


@pytest.fixture(scope="module")
def crawl(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("feeds")
    with HostileServer() as server:
        expect = _serve(server)
        sources = [
            feed_source(name, *(server.url + p for p in paths)) for name, paths in SOURCES.items()
        ]
        result = run_crawl(tmp, server, sources)
        result.extra.update(expect=expect, server=server)
        yield result


def _stored_by_source(crawl) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for path, article in crawl.stored().items():
        out.setdefault(article.source, set()).add(path)
    return out


def test_the_crawl_finishes_every_good_article_is_stored_and_no_traceback(crawl):
    # One source fails (HTML for a feed): exit status 1, with the reason.
    assert crawl.returncode == 1, crawl.output
    assert_no_traceback(crawl)
    assert crawl.stderr.strip().splitlines()[-1] == "newswatch: 1 source(s) failed: html-feed"
    expected = {name: set(paths) for name, paths in crawl.extra["expect"].items()}
    assert _stored_by_source(crawl) == expected


def test_a_malformed_feed_is_read_and_reported(crawl):
    assert crawl.row("malformed")[2:5] == ["ok", "3", "2"]
    warning = f"malformed: warning: {crawl.base}/malformed/feed.xml: malformed feed, 2 entries"
    line = next(line for line in crawl.stdout.splitlines() if line.startswith(warning))
    assert line == warning + " read anyway (line 1, column 81: not well-formed (invalid token))"
    runs = {run["source"]: run for run in crawl.runs()}
    assert runs["malformed"]["stats"]["notes"] == [line.removeprefix("malformed: warning: ")]


def test_feeds_with_a_wrong_declared_encoding_are_read(crawl):
    assert crawl.row("encoding")[2:5] == ["ok", "4", "2"]
    # The header's utf-8 over windows-1252 bytes: feedparser notices and says so.
    assert (
        f"encoding: warning: {crawl.base}/encoding/header.xml: malformed feed, 1 entries"
        " read anyway (document declared as utf-8, but parsed as windows-1252)"
        in crawl.stdout.splitlines()
    )


def test_html_served_as_a_feed_fails_the_source_with_a_one_line_reason(crawl):
    assert crawl.row("html-feed")[2:5] == ["failed", "4", "1"]
    errors = [line for line in crawl.stdout.splitlines() if line.startswith("html-feed: ")]
    # The two feeds are fetched concurrently: their lines come in either order.
    assert sorted(errors) == [
        f"html-feed: {crawl.base}/html-feed/as-html.xml: not a readable feed"
        " (text/html; charset=utf-8 is not an XML media type)",
        f"html-feed: {crawl.base}/html-feed/as-rss.xml: not a readable feed"
        " (no RSS or Atom in this application/rss+xml; charset=utf-8)",
    ]
    runs = {run["source"]: run for run in crawl.runs()}
    assert runs["html-feed"]["status"] == "failed"


def test_relative_links_and_xml_base_are_resolved(crawl):
    assert _stored_by_source(crawl)["relative"] == {
        "/relative/a.html",
        "/relative/news/b.html",
        "/atom-base/sub/c.html",
        "/elsewhere/d.html",
    }
    assert crawl.row("relative")[2:5] == ["ok", "6", "4"]


def test_entries_without_a_link_are_reported(crawl):
    feed = "/no-link/feed.xml"
    records = [d for d in crawl.drops() if d["source"] == "no-link"]
    assert records == [
        {
            "url": feed,
            "source": "no-link",
            "reason": "entry-without-link",
            "detail": "entry 'No link at all': link None",
        },
        {
            "url": feed,
            "source": "no-link",
            "reason": "entry-without-link",
            "detail": "entry 'Empty link': link ''",
        },
        {
            "url": feed,
            "source": "no-link",
            "reason": "entry-without-link",
            "detail": "entry 'Script link': link 'javascript:void(0)'",
        },
    ]
    assert crawl.dropped_column("no-link") == {"entry-without-link": 3}


def test_duplicate_entries_are_fetched_once(crawl):
    server = crawl.extra["server"]
    for path in crawl.extra["expect"]["duplicates"]:
        assert server.count(path) == 1
    assert crawl.row("duplicates")[2:5] == ["ok", "4", "3"]


def test_ten_thousand_entries_fetch_each_article_once(crawl):
    server = crawl.extra["server"]
    for path in crawl.extra["expect"]["ten-thousand"]:
        assert server.count(path) == 1
    assert crawl.row("ten-thousand")[2:5] == ["ok", str(1 + DISTINCT), str(DISTINCT)]


def test_odd_dates_are_read_or_left_empty(crawl):
    stored = crawl.stored()
    for n, expected in enumerate(ODD_DATES.values()):
        assert stored[f"/dates/{n}.html"].published_at == expected, list(ODD_DATES)[n]
