"""Hostile transport: size caps, gzip bombs, redirect loops, timeouts, resets, 429, 5xx,
robots.txt, and files that are not HTML.

Every misbehaving route sits next to good articles in one feed; ``newswatch crawl``
runs in a child process with a lowered timeout, size cap and retry backoff. The server
records when each request arrived: waits between retries are read from there.
"""

from __future__ import annotations

import time
from email.utils import formatdate

import pytest
from hostile import (
    HTML,
    RSS,
    Delay,
    Exchange,
    GzipBomb,
    HostileServer,
    Page,
    Redirect,
    Reset,
    Sequence,
    Status,
    Stream,
    add_articles,
    article_html,
    assert_no_traceback,
    feed_source,
    rss,
    run_crawl,
    text,
)

CAP = 1024 * 1024  # [crawler] max_response_bytes
TIMEOUT = 2  # [crawler] download_timeout, seconds
BACKOFF = 0.5  # [crawler] retry_backoff: 0.5 s before the first retry, 1 s before the second
RETRY_AFTER = 2  # seconds the 429 asks for


def _retry_after_date(exchange: Exchange) -> None:
    # An HTTP date RETRY_AFTER + 1 s ahead: the wait is at least RETRY_AFTER whatever
    # the rounding to whole seconds.
    later = formatdate(time.time() + RETRY_AFTER + 1, usegmt=True)
    Status(429, [("Retry-After", later)])(exchange)


def _chain(exchange: Exchange) -> None:
    """/redirect/chain/N -> /redirect/chain/N+1, for ever."""
    number = int(exchange.hit.path.rsplit("/", 1)[1])
    Redirect(f"/redirect/chain/{number + 1}")(exchange)


ROUTES = {
    "/cap/content-length.html": Page(article_html("Two megabytes", 31) + " " * 2 * CAP),
    "/cap/no-length.html": Stream(64 * CAP, HTML, head=b"<html><body><p>", length=False),
    "/cap/gzip-bomb.html": GzipBomb(50_000_000),
    "/cap/ten-megabytes.html": Page(
        article_html("Ten megabytes", 32, paragraphs=text(32, paragraphs=20_200, words=80))
    ),
    "/redirect/loop-a.html": Redirect("/redirect/loop-b.html"),
    "/redirect/loop-b.html": Redirect("/redirect/loop-a.html"),
    "/redirect/chain/0": Redirect("/redirect/chain/1"),
    "/slow/timeout.html": Delay(TIMEOUT + 30, Page(article_html("Too slow", 33))),
    "/reset/at-once.html": Reset(),
    "/reset/mid-body.html": Reset(b"<html><body><p>" + b"x" * 1000, 50_000),
    "/retry/429.html": Sequence(
        Status(429, [("Retry-After", str(RETRY_AFTER))]), Page(article_html("After 429", 34))
    ),
    "/retry/429-date.html": Sequence(_retry_after_date, Page(article_html("After 429 date", 35))),
    "/retry/flapping.html": Sequence(
        Status(503), Status(502), Page(article_html("Flapping then fine", 36))
    ),
    "/retry/broken.html": Status(500),
    "/private/secret.html": Page(article_html("Secret", 37)),
}
LISTED = [p for p in ROUTES if p != "/redirect/loop-b.html"]


@pytest.fixture(scope="module")
def crawl(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("transport")
    with HostileServer() as server:
        good = add_articles(server, "/good", 3)
        for path, behaviour in ROUTES.items():
            server.route(path, behaviour)
        server.route_prefix("/redirect/chain/", _chain)
        server.route("/robots.txt", Page("User-agent: *\nDisallow: /private/\n", "text/plain"))
        links = [*good, *LISTED]
        server.route(
            "/feed.xml", Page(rss({"title": p, "link": server.url + p} for p in links), RSS)
        )
        result = run_crawl(
            tmp,
            server,
            [feed_source("transport", server.url + "/feed.xml")],
            crawler={
                "download_timeout": TIMEOUT,
                "max_response_bytes": CAP,
                "retry_times": 2,
                "retry_backoff": BACKOFF,
            },
        )
        result.extra.update(good=good, server=server)
        yield result


def test_the_crawl_finishes_and_stores_every_good_article(crawl):
    assert crawl.returncode == 0, crawl.output
    assert_no_traceback(crawl)
    assert set(crawl.stored()) == {
        *crawl.extra["good"],
        "/retry/429.html",
        "/retry/429-date.html",
        "/retry/flapping.html",
    }
    assert crawl.row("transport")[2] == "ok"


EXPECTED_DROPS = {
    "/cap/content-length.html": ("too-large", f"over {CAP} bytes"),
    "/cap/no-length.html": ("too-large", f"over {CAP} bytes"),
    "/cap/gzip-bomb.html": ("too-large", f"over {CAP} bytes once decompressed"),
    "/cap/ten-megabytes.html": ("too-large", f"over {CAP} bytes"),
    "/redirect/loop-a.html": (
        "redirect-loop",
        "redirects back to http://__HOST__/redirect/loop-a.html",
    ),
    "/redirect/chain/0": ("redirect-loop", "more than 10 redirects"),
    "/slow/timeout.html": ("timeout", f"no complete response within {TIMEOUT} s (3 attempts)"),
    "/reset/at-once.html": (
        "connection-lost",
        "the server closed the connection mid-response (3 attempts)",
    ),
    "/reset/mid-body.html": (
        "connection-lost",
        "the server closed the connection mid-response (3 attempts)",
    ),
    "/retry/broken.html": ("http-500", "HTTP 500 Internal Server Error (3 attempts)"),
    "/private/secret.html": ("robots-txt", "forbidden by robots.txt"),
}


@pytest.mark.parametrize("path", sorted(EXPECTED_DROPS))
def test_each_failure_is_in_the_drop_log_with_its_reason(crawl, path):
    host = crawl.base.removeprefix("http://")
    records = [d for d in crawl.drops() if d["url"] == path]
    reason, detail = EXPECTED_DROPS[path]
    assert records == [
        {
            "url": path,
            "source": "transport",
            "reason": reason,
            "detail": detail.replace("__HOST__", host),
        }
    ]


def test_the_summary_counts_failures_by_reason(crawl):
    assert crawl.dropped_column("transport") == {
        "connection-lost": 2,
        "http-500": 1,
        "redirect-loop": 2,
        "robots-txt": 1,
        "timeout": 1,
        "too-large": 4,
    }


def test_over_the_cap_the_body_is_not_read_to_the_end(crawl):
    server = crawl.extra["server"]
    # Scrapy stops reading at the cap; the rest is what the socket buffers took.
    assert server.sent["/cap/no-length.html"] < 16 * CAP
    # The gzip bomb is small on the wire; HttpCompressionMiddleware stops inflating it
    # at DOWNLOAD_MAXSIZE.
    assert server.sent["/cap/gzip-bomb.html"] < CAP


def test_a_redirect_chain_stops_at_redirect_max_times(crawl):
    server = crawl.extra["server"]
    # The first request and REDIRECT_MAX_TIMES (10) redirects; the 11th is not followed.
    assert [t for t in server.targets() if t.startswith("/redirect/chain/")] == [
        f"/redirect/chain/{n}" for n in range(11)
    ]
    assert server.count("/redirect/loop-a.html") == 1
    assert server.count("/redirect/loop-b.html") == 1


def test_a_slow_server_is_given_up_after_the_timeout_and_retries(crawl):
    assert crawl.extra["server"].count("/slow/timeout.html") == 3


def _gaps(times: list[float]) -> list[float]:
    return [later - earlier for earlier, later in zip(times, times[1:], strict=False)]


@pytest.mark.parametrize("path", ["/retry/429.html", "/retry/429-date.html"])
def test_429_is_retried_after_the_retry_after_it_asks_for(crawl, path):
    times = crawl.extra["server"].times(path)
    assert len(times) == 2
    assert _gaps(times)[0] >= RETRY_AFTER


def test_5xx_is_retried_with_exponential_backoff(crawl):
    server = crawl.extra["server"]
    for path in ("/retry/flapping.html", "/retry/broken.html"):
        gaps = _gaps(server.times(path))
        assert len(gaps) == 2
        assert gaps[0] >= BACKOFF
        assert gaps[1] >= 2 * BACKOFF


def test_robots_txt_keeps_the_disallowed_page_unrequested(crawl):
    assert crawl.extra["server"].count("/private/secret.html") == 0


# --- files that are not HTML: stopped at their headers --------------------------------

PDF = 100_000_000
JPEG = 50_000_000


@pytest.fixture(scope="module")
def files_crawl(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("files")
    with HostileServer() as server:
        good = add_articles(server, "/good", 2)
        server.route("/files/report.pdf", Stream(PDF, "application/pdf", head=b"%PDF-1.7\n"))
        server.route("/files/photo.jpg", Stream(JPEG, "image/jpeg", head=b"\xff\xd8\xff\xe0"))
        links = [*good, "/files/report.pdf", "/files/photo.jpg"]
        server.route(
            "/feed.xml", Page(rss({"title": p, "link": server.url + p} for p in links), RSS)
        )
        # The size cap is above both files: only the Content-Type stops them.
        result = run_crawl(
            tmp,
            server,
            [feed_source("files", server.url + "/feed.xml")],
            crawler={"max_response_bytes": 2 * PDF},
        )
        result.extra.update(good=good, server=server)
        yield result


def test_non_html_files_are_skipped_without_downloading_them(files_crawl):
    assert files_crawl.returncode == 0, files_crawl.output
    assert_no_traceback(files_crawl)
    assert set(files_crawl.stored()) == set(files_crawl.extra["good"])
    assert sorted(files_crawl.drops(), key=lambda d: d["url"]) == [
        {
            "url": "/files/photo.jpg",
            "source": "files",
            "reason": "not-html",
            "detail": "image/jpeg",
        },
        {
            "url": "/files/report.pdf",
            "source": "files",
            "reason": "not-html",
            "detail": "application/pdf",
        },
    ]
    server = files_crawl.extra["server"]
    assert server.count("/files/report.pdf") == 1
    assert server.count("/files/photo.jpg") == 1
    # The client hung up after the headers: what the server got written is what the
    # kernel's socket buffers took, far from the whole file.
    assert server.sent["/files/report.pdf"] < PDF // 4
    assert server.sent["/files/photo.jpg"] < JPEG // 2
    assert files_crawl.dropped_column("files") == {"not-html": 2}
