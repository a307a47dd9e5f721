"""Crawler traps: an infinite calendar and session ids in every URL, on site sources.

Each page links to the next and previous month for ever, and every link carries a new
session id (``?sid=``, ``?PHPSESSID=``, ``;jsessionid=``), so without URL normalisation
every visit would mint new URLs for the same pages. Two site sources crawl the trap:
one bounded by depth, one by its page cap. Both store their articles once each.
"""

from __future__ import annotations

import zlib

import pytest
from hostile import (
    Exchange,
    HostileServer,
    Page,
    article_html,
    assert_no_traceback,
    run_crawl,
)

ARTICLES = 4
MAX_DEPTH = 3
MAX_PAGES = 12


def _month(value: str, step: int) -> str:
    year, month = map(int, value.split("-"))
    month += step
    year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    return f"{year:04d}-{month:02d}"


def _session(exchange: Exchange, n: int) -> str:
    # A new id for every link of every response, as a server that tracks visits mints.
    return f"{zlib.crc32(exchange.hit.target.encode()):08x}{exchange.hit.number:03d}{n:02d}"


def _links(exchange: Exchange, prefix: str, month: str) -> str:
    sid = _session(exchange, 0)
    links = [
        f'<a href="{prefix}/calendar?month={_month(month, -1)}&amp;sid={_session(exchange, 1)}">'
        "previous month</a>",
        f'<a href="{prefix}/calendar?PHPSESSID={_session(exchange, 2)}&amp;month='
        f'{_month(month, 1)}">next month</a>',
    ]
    for n in range(ARTICLES):
        links.append(f'<a href="{prefix}/articles/{n}.html;jsessionid={sid.upper()}">story {n}</a>')
    return "<ul>" + "".join(f"<li>{link}</li>" for link in links) + "</ul>"


def _calendar(prefix: str):
    def serve(exchange: Exchange) -> None:
        month = exchange.hit.query.get("month", ["2026-11"])[0]
        body = (
            f"<html><head><title>Events {month}</title></head><body><h1>{month}</h1>"
            f"{_links(exchange, prefix, month)}</body></html>"
        )
        Page(body)(exchange)

    return serve


def _home(prefix: str):
    def serve(exchange: Exchange) -> None:
        links = "".join(
            f'<li><a href="{prefix}/articles/{n}.html?sid={_session(exchange, n)}">'
            f"story {n}</a></li>"
            for n in range(ARTICLES)
        )
        Page(
            f"<html><head><title>Home</title></head><body><h1>News</h1><ul>{links}<li>"
            f'<a href="{prefix}/calendar?month=2026-11">events</a></li></ul></body></html>'
        )(exchange)

    return serve


def _article(prefix: str):
    def serve(exchange: Exchange) -> None:
        n = int(exchange.hit.path.rsplit("/", 1)[1].split(".")[0])
        html = article_html(
            f"Story {n} of {prefix}",
            zlib.crc32(f"{prefix}{n}".encode()),
            body_top=_links(exchange, prefix, "2026-11"),
        )
        Page(html)(exchange)

    return serve


@pytest.fixture(scope="module")
def crawl(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("traps")
    with HostileServer() as server:
        for prefix in ("/depth", "/cap"):
            server.route(prefix, _home(prefix))  # the start page, its slash normalised away
            server.route(prefix + "/calendar", _calendar(prefix))
            server.route_prefix(prefix + "/articles/", _article(prefix))
        sources = [
            {
                "name": "by-depth",
                "kind": "site",
                "urls": [f"{server.url}/depth/"],
                "allow": ["/depth/"],
                "max_depth": MAX_DEPTH,
                "max_pages": 500,
            },
            {
                "name": "by-cap",
                "kind": "site",
                "urls": [f"{server.url}/cap/"],
                "allow": ["/cap/"],
                "max_depth": 20,
                "max_pages": MAX_PAGES,
            },
        ]
        result = run_crawl(tmp, server, sources)
        result.extra.update(server=server)
        yield result


def _requested(crawl, prefix: str) -> list[str]:
    return [t for t in crawl.extra["server"].targets() if t.startswith(prefix)]


def test_the_crawl_finishes_and_stores_each_article_once(crawl):
    assert crawl.returncode == 0, crawl.output
    assert_no_traceback(crawl)
    stored = crawl.stored()
    for prefix in ("/depth", "/cap"):
        assert {p for p in stored if p.startswith(prefix)} == {
            f"{prefix}/articles/{n}.html" for n in range(ARTICLES)
        }
        # Linked from every page under a new session id each time, fetched once each.
        for n in range(ARTICLES):
            assert crawl.extra["server"].count(f"{prefix}/articles/{n}.html") == 1


def test_depth_bounds_the_calendar(crawl):
    months = sorted(t.split("month=")[1][:7] for t in _requested(crawl, "/depth/calendar"))
    # Depth 1: 2026-11 (from the start page); 2: its neighbours (also linked from every
    # article); 3: theirs, whose links are not followed.
    assert months == ["2026-09", "2026-10", "2026-11", "2026-12", "2027-01"]
    run = next(r for r in crawl.runs() if r["source"] == "by-depth")
    assert run["stats"]["skipped"]["max-depth"] == 2
    assert crawl.row("by-depth")[2:5] == ["ok", str(1 + ARTICLES + len(months)), str(ARTICLES)]


def test_the_page_cap_bounds_the_calendar(crawl):
    requested = _requested(crawl, "/cap")
    assert len(requested) == MAX_PAGES
    months = [t.split("month=")[1][:7] for t in requested if "month=" in t]
    assert len(months) == len(set(months))  # each month once, whatever its session id
    run = next(r for r in crawl.runs() if r["source"] == "by-cap")
    assert run["stats"]["skipped"]["max-pages"] >= 1
    assert crawl.row("by-cap")[2:5] == ["ok", str(MAX_PAGES), str(ARTICLES)]


def test_calendar_pages_are_dropped_as_not_articles(crawl):
    reasons = crawl.drop_reasons()
    calendar = {url: reason for url, reason in reasons.items() if "/calendar" in url}
    assert calendar and set(calendar.values()) == {"not-article"}
    # Dropped pages are named by their normalised URL: no session id left in them.
    assert not any("sid" in url.lower() for url in reasons)
