"""Hostile input from users and publishers, generated: queries, URLs, feeds, pages.

Property tests (Hypothesis, derandomized so every run tries the same examples): the
query parser and the stores give results or a one-line ``QuerySyntaxError``, never
anything else; URL normalisation and article ids take any string; the feed and
sitemap spiders take any bytes and mutated real feeds; page decoding and extraction
take any text. One command-line run shows what a user sees for a bad query.
"""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest
from hostile import child_env
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scrapy.http import HtmlResponse, Request, XmlResponse
from scrapy.utils.test import get_crawler

from crawler.encoding import page_text
from crawler.extract import NotAnArticle, extract_article
from crawler.items import Article, FetchedPage
from crawler.spiders import FeedSpider, SitemapSpider
from crawler.urls import article_id, normalize_url
from newswatch.config import SourceConfig
from pipelines.stores.base import SearchRequest
from pipelines.stores.sqlite import SqliteStore
from search.query import QuerySyntaxError, analyze_query, parse

# Deterministic and bounded: the same examples every run, no deadline on slow machines,
# nothing written to a .hypothesis directory.
SETTINGS = settings(
    max_examples=200,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
LANGUAGES = ["en", "fr", "de", "es", "it"]

# Pieces of the query language and of other search engines' syntax, to be put together.
QUERY_TOKENS = [
    '"',
    "(",
    ")",
    "-",
    "*",
    "OR",
    "AND",
    "NOT",
    "NEAR",
    "a",
    "chip*",
    '"x y"',
    "-(",
    "title:x",
    "^2",
    "~",
    "\\",
    "'",
    "é",
    "İ",
    "ß",
    "\x00",
    "\u200b",
    "*a",
    "a*b",
    "--a",
    '""',
    "()",
    "Meta",
    "l'IA",
]
queries = st.one_of(
    st.text(max_size=120),
    st.lists(st.one_of(st.sampled_from(QUERY_TOKENS), st.text(max_size=4)), max_size=25).map(
        " ".join
    ),
    st.lists(st.sampled_from(QUERY_TOKENS), max_size=40).map("".join),
)


def _one_line(error: Exception) -> None:
    message = str(error)
    assert message and "\n" not in message


# --- the query parser ---------------------------------------------------------------


@SETTINGS
@given(queries)
def test_the_query_parser_gives_a_tree_or_a_syntax_error(query):
    try:
        parse(query)
    except QuerySyntaxError as error:
        _one_line(error)
    try:
        analyzed = analyze_query(query, LANGUAGES)
    except QuerySyntaxError as error:
        _one_line(error)
    else:
        assert analyzed.text == query


# --- the stores ----------------------------------------------------------------------


def _corpus() -> list[Article]:
    rows = [
        ("en", "Nvidia ships new chips", "Nvidia ships new AI chips to data centres."),
        ("fr", "L'IA générale", "La course à l'IA générale s'accélère à Paris."),
        ("de", "KI-Fabriken in München", "Die KI-Fabriken brauchen Strom und Chips."),
        ("es", "Centros de datos", "Meta elige Talavera para un centro de datos."),
    ]
    articles = []
    for n, (language, title, body) in enumerate(rows):
        url = f"https://example.test/{n}"
        articles.append(
            Article(
                id=article_id(url),
                url=url,
                canonical_url=url,
                title=title,
                body=body,
                source=f"source-{n % 2}",
                fetched_at="2026-11-21T00:00:00Z",
                published_at=f"2026-11-0{n + 1}T10:00:00Z",
                language=language,
                topics=["ai-race"],
            )
        )
    return articles


requests = st.builds(
    SearchRequest,
    query=queries,
    since=st.one_of(st.none(), st.text(max_size=20), st.dates().map(str)),
    until=st.one_of(st.none(), st.text(max_size=20), st.dates().map(str)),
    sort=st.sampled_from(["relevance", "date"]),
    page=st.integers(1, 5),
    size=st.integers(1, 20),
    facets=st.booleans(),
    collapse=st.booleans(),
)


def _search_or_syntax_error(store, request: SearchRequest) -> None:
    try:
        result = store.search(request)
    except QuerySyntaxError as error:
        _one_line(error)
        return
    assert 0 <= len(result.hits) <= request.size
    assert result.total >= len(result.hits)


@pytest.fixture(scope="module")
def sqlite_store(tmp_path_factory):
    store = SqliteStore(tmp_path_factory.mktemp("input") / "store.db", LANGUAGES)
    store.upsert_many(_corpus())
    yield store
    store.close()


@SETTINGS
@given(request=requests)
def test_the_sqlite_store_answers_any_search_or_says_why_not(sqlite_store, request):
    _search_or_syntax_error(sqlite_store, request)


@pytest.fixture(scope="module")
def elasticsearch_store(es_url, es_auth):
    from newswatch.config import ElasticsearchConfig
    from pipelines.stores.elasticsearch import ElasticsearchStore

    config = ElasticsearchConfig(
        url=es_url,
        index=f"newswatch-test-hostile-{uuid.uuid4().hex[:12]}",
        username=es_auth[0] if es_auth else None,
        password=es_auth[1] if es_auth else None,
    )
    store = ElasticsearchStore.from_config(config, LANGUAGES, environ={})
    store.upsert_many(_corpus())
    yield store
    store.drop()
    store.close()


@settings(SETTINGS, max_examples=40)
@given(request=requests)
def test_the_elasticsearch_store_answers_any_search_or_says_why_not(elasticsearch_store, request):
    _search_or_syntax_error(elasticsearch_store, request)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("(a b", "newswatch: bad query: unmatched '(' in query"),
        ("-chips", "newswatch: bad query: a query needs at least one term that is not excluded"),
        ("x " * 600, "newswatch: bad query: query is too long (1200 characters, at most 1000)"),
        (
            "(" * 260 + "a" + ")" * 260,
            "newswatch: bad query: query nests parentheses too deeply (at most 32 levels)",
        ),
        (
            "-(" * 400 + "a",
            "newswatch: bad query: query nests parentheses too deeply (at most 32 levels)",
        ),
        (
            " ".join(f"w{i}" for i in range(33)),
            "newswatch: bad query: query has too many terms (33, at most 32)",
        ),
        (
            "nosuchfield:x",
            "newswatch: bad query: unknown field 'nosuchfield:' (fields: body:, title:); "
            "quote the text to search for it as words",
        ),
    ],
)
@pytest.mark.parametrize("command", ["search", "export"])
def test_a_bad_query_on_the_command_line_is_one_line_and_exit_status_2(
    tmp_path, command, query, message
):
    config = tmp_path / "newswatch.toml"
    config.write_text(f'[store]\npath = "{tmp_path / "store.db"}"\n', encoding="utf-8")
    done = subprocess.run(
        # "--": a query may start with "-", as an exclusion does.
        [sys.executable, "-m", "newswatch", "--config", str(config), command, "--", query],
        cwd=tmp_path,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == message + "\n"


# --- URLs -------------------------------------------------------------------------------


@SETTINGS
@given(st.text(max_size=200))
def test_url_normalisation_and_ids_take_any_string(value):
    normalized = normalize_url(value)
    assert isinstance(normalized, str)
    assert len(article_id(value)) == 16


# Path text: no character that would start a query, a fragment, a parameter or an escape.
_path_chars = st.characters(blacklist_categories=["Cs", "Cc"], blacklist_characters="?#;/%")
session_params = st.sampled_from(["sid", "SID", "sessionid", "jsessionid", "PHPSESSID"])
http_urls = st.builds(
    lambda scheme, host, segments, params, session, fragment: (
        f"{scheme}://{host}/{'/'.join(segments)}"
        + (f";jsessionid={session}" if session else "")
        + ("?" + "&".join(f"{k}={v}" for k, v in params) if params else "")
        + (f"#{fragment}" if fragment else "")
    ),
    st.sampled_from(["http", "https", "HTTP"]),
    st.builds(
        "{}{}".format,
        st.from_regex(r"[a-z][a-z0-9-]{0,10}\.(test|example)", fullmatch=True),
        st.one_of(st.just(""), st.integers(1, 65535).map(":{}".format)),
    ),
    st.lists(st.text(_path_chars, max_size=8), max_size=4),
    st.lists(
        st.tuples(
            st.one_of(session_params, st.from_regex(r"[a-z_]{1,6}", fullmatch=True)),
            st.text(st.characters(blacklist_categories=["Cs", "Cc"]), max_size=6),
        ),
        max_size=4,
    ),
    st.one_of(st.none(), st.from_regex(r"[A-F0-9]{4,12}", fullmatch=True)),
    st.one_of(st.none(), st.text(max_size=5)),
)


@SETTINGS
@given(http_urls)
def test_normalised_http_urls_are_stable_and_free_of_session_ids(url):
    normalized = normalize_url(url)
    assert normalize_url(normalized) == normalized
    assert article_id(normalized) == article_id(url)
    lowered = normalized.lower()
    assert "jsessionid" not in lowered and "phpsessid" not in lowered
    assert "sessionid=" not in lowered and "?sid=" not in lowered and "&sid=" not in lowered


# --- feeds and sitemaps -----------------------------------------------------------------

FEEDS = [
    b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>'
    b"<link>http://news.test/</link><language>fr</language><item><title>Mistral</title>"
    b"<link>http://news.test/b?utm_source=rss</link><pubDate>Tue, 03 Nov 2026 10:00:00 +0100"
    b"</pubDate><description>R\xc3\xa9sum\xc3\xa9</description></item><item><title>Rel"
    b"</title><link>/c.html</link></item></channel></rss>",
    b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom" xml:base="http://news.'
    b'test/es/"><title>T</title><id>urn:t</id><updated>2026-11-06T07:00:00Z</updated><entry>'
    b'<title>La IA</title><link href="notas/d.html"/><id>urn:d</id><published>2026-11-06T08:'
    b"00:00+01:00</published><author><name>Luc\xc3\xada</name></author></entry></feed>",
    b'<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"'
    b' xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel'
    b' rdf:about="http://news.test/"><title>T</title></channel><item rdf:about="http://news.'
    b'test/c"><title>KI</title><link>http://news.test/c</link><dc:date>2026-11-07T06:45:00+01'
    b":00</dc:date></item></rdf:RDF>",
    b'<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/'
    b'sitemap/0.9" xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"><url><loc>'
    b"http://news.test/new.html</loc><news:news><news:publication_date>2026-11-06T08:00:00+01"
    b":00</news:publication_date><news:title>T</news:title></news:news></url></urlset>",
]


# Bytes that break XML in telling ways: markup, entities, a BOM, a NUL, a bad link.
INSERTS = [
    b"<",
    b">",
    b"&",
    b"]]>",
    b"<item>",
    b"</channel>",
    b"\xff\xfe",
    b"\x00",
    b'<!DOCTYPE x [<!ENTITY e "e">]>',
    b"&e;",
    b"<link>javascript:x</link>",
]


@st.composite
def mutated_feeds(draw) -> bytes:
    """A real feed with bytes deleted, inserted, duplicated or cut off."""
    data = bytearray(draw(st.sampled_from(FEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["delete", "insert", "duplicate", "truncate", "flip"]))
        at = draw(st.integers(0, len(data)))
        if kind == "delete":
            del data[at : at + draw(st.integers(1, 40))]
        elif kind == "insert":
            data[at:at] = draw(st.one_of(st.binary(max_size=20), st.sampled_from(INSERTS)))
        elif kind == "duplicate":
            end = min(len(data), at + draw(st.integers(1, 200)))
            data[at:at] = data[at:end]
        elif kind == "truncate":
            del data[at:]
        elif data and at < len(data):
            data[at] ^= draw(st.integers(1, 255))
    return bytes(data)


def _spider(cls):
    source = SourceConfig(name="t", kind=cls.kind, urls=["http://news.test/feed.xml"])
    crawler = get_crawler(cls)
    spider = cls.from_crawler(crawler, source=source)
    crawler.spider = spider
    crawler.stats.open_spider()
    return spider


def _parse_anything(cls, body: bytes, content_type: str) -> None:
    spider = _spider(cls)
    url = "http://news.test/feed.xml"
    response = XmlResponse(
        url, body=body, headers={"Content-Type": content_type}, request=Request(url)
    )
    output = list(spider.parse(response))
    assert all(isinstance(r, Request) for r in output)
    assert all(r.url.startswith(("http://", "https://")) for r in output)
    for error in spider.errors:
        assert "\n" not in error


content_types = st.sampled_from(
    [
        "application/rss+xml",
        "text/html; charset=utf-8",
        "application/xml; charset=iso-8859-2",
        "text/plain",
        "",
    ]
)


@SETTINGS
@given(st.binary(max_size=3000), content_types)
def test_the_feed_spider_takes_any_bytes(body, content_type):
    _parse_anything(FeedSpider, body, content_type)


@SETTINGS
@given(mutated_feeds(), content_types)
def test_the_feed_spider_takes_mutated_feeds(body, content_type):
    _parse_anything(FeedSpider, body, content_type)


@SETTINGS
@given(st.one_of(st.binary(max_size=3000), mutated_feeds()), content_types)
def test_the_sitemap_spider_takes_any_bytes(body, content_type):
    _parse_anything(SitemapSpider, body, content_type)


# --- pages -------------------------------------------------------------------------------


@SETTINGS
@given(st.binary(max_size=3000), st.one_of(st.none(), st.text(max_size=40)), content_types)
def test_page_decoding_takes_any_bytes(body, language, content_type):
    response = HtmlResponse(
        "http://news.test/a",
        body=body,
        headers={"Content-Type": content_type} if content_type else {},
    )
    assert isinstance(page_text(response, [language]), str)


@settings(SETTINGS, max_examples=100)
@given(
    st.one_of(st.text(max_size=3000), st.binary(max_size=3000).map(lambda b: b.decode("latin-1")))
)
def test_extraction_takes_any_text(html):
    page = FetchedPage(
        url="http://news.test/a",
        requested_url="http://news.test/a",
        status=200,
        html=html,
        source="t",
        fetched_at="2026-11-21T00:00:00Z",
    )
    try:
        article = extract_article(page)
    except NotAnArticle as reason:
        _one_line(reason)
    else:
        assert article.title and article.body
