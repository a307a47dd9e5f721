"""Extraction of an article from a page and what its feed said about it."""

from __future__ import annotations

import json

import pytest

from crawler.extract import NotAnArticle, extract_article, to_utc_iso
from crawler.items import EntryHint, FetchedPage
from crawler.urls import article_id

URL = "https://news.example.com/2026/11/03/chips"
HEADLINE = "Chip orders hit a record"
PARAS = [
    "Chip makers in Taiwan reported record orders this quarter as cloud companies raced to "
    "build new data centres for training large language models, according to figures "
    "published on Monday by the island's statistics office.",
    "Executives at several suppliers said the demand was concentrated among a handful of "
    "customers in the United States, which have each announced spending plans worth tens "
    "of billions of dollars over the next two years.",
    "Analysts warned that the pace could not last forever, pointing to power shortages near "
    "the largest sites and to the long waiting lists for the transformers and cooling "
    "equipment that every new building needs before it can open.",
    "Local officials welcomed the investment but asked the companies to publish more about "
    "their water use, after a dry summer left reservoirs in the south of the island at "
    "their lowest level in a decade and farmers complained loudly.",
    "The statistics office said it would publish a revised estimate next month, once the "
    "customs figures for October are complete and the largest exporters have filed their "
    "quarterly reports with the regulator.",
]
ARTICLE_BODY = (
    f"<article><h1>{HEADLINE}</h1>" + "".join(f"<p>{p}</p>" for p in PARAS) + "</article>"
)
EXPECTED_BODY = "\n".join([HEADLINE, *PARAS])


def page(
    head: str = "",
    body: str = ARTICLE_BODY,
    lang: str | None = "en",
    url: str = URL,
    hint: EntryHint | None = None,
) -> FetchedPage:
    attrs = f' lang="{lang}"' if lang else ""
    html = (
        f"<!DOCTYPE html><html{attrs}><head><meta charset='utf-8'>"
        f"<title>{HEADLINE} | Example News</title>{head}</head><body>{body}</body></html>"
    )
    return FetchedPage(
        url=url,
        requested_url=url,
        status=200,
        html=html,
        source="example",
        fetched_at="2026-11-03T12:00:00Z",
        hint=hint,
    )


def ld(data: object) -> str:
    return f'<script type="application/ld+json">{json.dumps(data)}</script>'


def test_the_fixture_body_is_long_enough() -> None:
    assert sum(len(p.split()) for p in PARAS) >= 150


# --- JSON-LD -----------------------------------------------------------------------------


def test_jsonld_news_article() -> None:
    article = extract_article(
        page(
            ld(
                {
                    "@context": "https://schema.org",
                    "@type": "NewsArticle",
                    "headline": "Record  chip\norders",
                    "datePublished": "2026-11-03T09:30:00+01:00",
                    "dateModified": "2026-11-03T10:00:00+01:00",
                    "author": {"@type": "Person", "name": "Ana Lim"},
                    "publisher": {"@type": "Organization", "name": "Example News"},
                    "description": "Orders rose.",
                    "image": {"@type": "ImageObject", "url": "https://news.example.com/i.jpg"},
                    "articleSection": "Technology",
                    "keywords": ["chips", "Taiwan", "chips"],
                }
            )
        )
    )
    assert article.id == article_id(URL)
    assert article.url == URL
    assert article.canonical_url == URL
    assert article.title == "Record chip orders"
    assert article.body == EXPECTED_BODY
    assert article.source == "example"
    assert article.fetched_at == "2026-11-03T12:00:00Z"
    assert article.authors == ["Ana Lim"]
    assert article.published_at == "2026-11-03T08:30:00Z"
    assert article.modified_at == "2026-11-03T09:00:00Z"
    assert article.description == "Orders rose."
    assert article.site_name == "Example News"
    assert article.image == "https://news.example.com/i.jpg"
    assert article.section == "Technology"
    assert article.keywords == ["chips", "Taiwan"]
    assert article.page_language == "en"
    assert article.feed_language is None


def test_jsonld_inside_graph() -> None:
    article = extract_article(
        page(
            ld(
                {
                    "@context": "https://schema.org",
                    "@graph": [
                        {"@type": "WebSite", "name": "Example", "headline": "Not this"},
                        {"@type": "BreadcrumbList", "itemListElement": []},
                        {
                            "@type": "NewsArticle",
                            "headline": "Graph headline",
                            "datePublished": "2026-11-03T09:30:00Z",
                            "keywords": "chips, Taiwan , ,exports",
                        },
                    ],
                }
            )
        )
    )
    assert article.title == "Graph headline"
    assert article.published_at == "2026-11-03T09:30:00Z"
    assert article.keywords == ["chips", "Taiwan", "exports"]


@pytest.mark.parametrize(
    "types",
    [["NewsArticle", "ReportageNewsArticle"], ["WebPage", "Article"], "BlogPosting"],
)
def test_jsonld_type_as_a_list_or_other_article_types(types: object) -> None:
    article = extract_article(
        page(ld({"@type": types, "headline": "Typed", "datePublished": "2026-11-03"}))
    )
    assert article.title == "Typed"
    assert article.published_at == "2026-11-03T00:00:00Z"


def test_jsonld_of_other_types_is_not_article_metadata() -> None:
    article = extract_article(
        page(ld({"@type": "Recipe", "headline": "Crumble", "datePublished": "2020-01-01"}))
    )
    assert article.title == HEADLINE  # from <h1>
    assert article.published_at is None


@pytest.mark.parametrize(
    ("author", "expected"),
    [
        ({"@type": "Person", "name": "Ana Lim"}, ["Ana Lim"]),
        (
            [{"@type": "Person", "name": "Ana Lim"}, {"@type": "Person", "name": "Bo  Chen"}],
            ["Ana Lim", "Bo Chen"],
        ),
        ("Ana Lim", ["Ana Lim"]),
        (["Ana Lim", "Ana Lim", {"name": "Bo Chen"}], ["Ana Lim", "Bo Chen"]),
        ({"@type": "Organization", "name": "Example Newsroom"}, ["Example Newsroom"]),
        ("https://news.example.com/authors/ana", []),  # a URL is not a name
    ],
)
def test_jsonld_authors(author: object, expected: list[str]) -> None:
    article = extract_article(page(ld({"@type": "NewsArticle", "headline": "H", "author": author})))
    assert article.authors == expected


def test_invalid_jsonld_is_ignored_and_other_sources_apply() -> None:
    head = (
        '<script type="application/ld+json">{"@type": "NewsArticle", "headline": "broken",'
        "</script>"
        '<meta property="og:title" content="OG title">'
        '<meta property="article:published_time" content="2026-11-03T09:30:00Z">'
    )
    article = extract_article(page(head))
    assert article.title == "OG title"
    assert article.published_at == "2026-11-03T09:30:00Z"


def test_jsonld_wins_over_opengraph() -> None:
    head = ld(
        {"@type": "NewsArticle", "headline": "LD title", "datePublished": "2026-11-01T00:00:00Z"}
    ) + (
        '<meta property="og:title" content="OG title">'
        '<meta property="article:published_time" content="2026-11-02T00:00:00Z">'
    )
    article = extract_article(page(head))
    assert (article.title, article.published_at) == ("LD title", "2026-11-01T00:00:00Z")


# --- OpenGraph, <meta>, <time> -----------------------------------------------------------


def test_opengraph_and_article_tags_only() -> None:
    head = (
        '<meta property="og:type" content="article">'
        '<meta property="og:title" content="OG title">'
        '<meta property="article:published_time" content="2026-11-02T23:15:00-05:00">'
        '<meta property="article:modified_time" content="2026-11-03T01:00:00-05:00">'
        '<meta property="article:author" content="Ana Lim">'
        '<meta property="article:author" content="Bo Chen">'
        '<meta property="og:site_name" content="Example News">'
        '<meta property="article:section" content="Tech">'
        '<meta property="article:tag" content="chips">'
        '<meta property="article:tag" content="Taiwan">'
        '<meta property="og:description" content="OG desc">'
        '<meta property="og:image" content="https://news.example.com/og.jpg">'
    )
    article = extract_article(page(head))
    assert article.title == "OG title"
    assert article.published_at == "2026-11-03T04:15:00Z"
    assert article.modified_at == "2026-11-03T06:00:00Z"
    assert article.authors == ["Ana Lim", "Bo Chen"]
    assert article.site_name == "Example News"
    assert article.section == "Tech"
    assert article.keywords == ["chips", "Taiwan"]
    assert article.description == "OG desc"
    assert article.image == "https://news.example.com/og.jpg"


def test_time_element_only() -> None:
    body = ARTICLE_BODY.replace(
        "</h1>", "</h1><time datetime='2026-11-03T09:30:00+09:00'>3 November</time>"
    )
    article = extract_article(page(body=body))
    assert article.published_at == "2026-11-03T00:30:00Z"
    assert article.authors == []
    assert article.title == HEADLINE


def test_meta_author_and_rel_author() -> None:
    article = extract_article(page('<meta name="author" content="Ana  Lim">'))
    assert article.authors == ["Ana Lim"]
    body = ARTICLE_BODY.replace("</h1>", '</h1><p>By <a rel="author" href="/ana">Bo Chen</a></p>')
    assert extract_article(page(body=body)).authors == ["Bo Chen"]


# --- the feed's hint ---------------------------------------------------------------------

HINT = EntryHint(
    title="Hint title",
    published_at="2026-11-01T07:00:00Z",
    authors=["Feed Author"],
    summary="Feed summary",
    language="en-GB",
    origin="rss",
)


def test_the_hint_fills_what_the_page_lacks() -> None:
    article = extract_article(page(hint=HINT))
    assert article.published_at == "2026-11-01T07:00:00Z"
    assert article.authors == ["Feed Author"]
    assert article.description == "Feed summary"
    assert article.feed_language == "en-GB"
    assert article.title == HEADLINE  # the page's <h1> wins over the hint's title


def test_the_page_wins_over_the_hint() -> None:
    head = ld(
        {
            "@type": "NewsArticle",
            "headline": "LD title",
            "datePublished": "2026-11-03T09:30:00Z",
            "author": "Ana Lim",
            "description": "LD desc",
        }
    )
    article = extract_article(page(head, hint=HINT))
    assert (article.title, article.published_at, article.authors, article.description) == (
        "LD title",
        "2026-11-03T09:30:00Z",
        ["Ana Lim"],
        "LD desc",
    )


def test_no_date_in_page_and_no_hint() -> None:
    assert extract_article(page()).published_at is None


# --- canonical URL and id ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "url", "canonical"),
    [
        # <link rel=canonical> first, normalised.
        (
            '<link rel="canonical" href="https://News.Example.com:443/2026/11/03/chips/?utm_medium=x#a">'
            '<meta property="og:url" content="https://other.example.com/og">',
            "https://news.example.com/amp/chips?utm_source=rss",
            "https://news.example.com/2026/11/03/chips",
        ),
        # else og:url, normalised.
        (
            '<meta property="og:url" content="https://News.Example.com/og/?fbclid=1">',
            "https://news.example.com/amp/chips",
            "https://news.example.com/og",
        ),
        # else the JSON-LD url.
        (
            ld({"@type": "NewsArticle", "headline": "H", "url": "https://news.example.com/ld/"}),
            "https://news.example.com/amp/chips",
            "https://news.example.com/ld",
        ),
        # else the page's own URL, normalised.
        (
            "",
            "https://News.Example.com/a/b/?utm_source=rss&id=3",
            "https://news.example.com/a/b?id=3",
        ),
    ],
)
def test_canonical_url(head: str, url: str, canonical: str) -> None:
    article = extract_article(page(head, url=url))
    assert article.url == url
    assert article.canonical_url == canonical
    assert article.id == article_id(canonical)


@pytest.mark.parametrize(
    "head",
    [
        '<link rel="canonical" href="HTTPS://News.Example.com/2026/11/03/chips/">',
        '<meta property="og:url" content="HTTPS://News.Example.com/2026/11/03/chips/">',
    ],
)
def test_canonical_url_scheme_is_case_insensitive(head: str) -> None:
    # URL schemes are case-insensitive (RFC 3986 3.1); normalize_url accepts them.
    article = extract_article(page(head, url="https://news.example.com/amp/chips"))
    assert article.canonical_url == "https://news.example.com/2026/11/03/chips"


@pytest.mark.parametrize(("lang", "expected"), [("en", "en"), ("fr-FR", "fr-FR"), (None, None)])
def test_page_language(lang: str | None, expected: str | None) -> None:
    assert extract_article(page(lang=lang)).page_language == expected


# --- not articles ------------------------------------------------------------------------


def test_a_section_page_is_not_an_article() -> None:
    body = (
        "<h1>Technology</h1><ul>"
        + "".join(
            f"<li><a href='/2026/11/{i:02d}/story'>Headline number {i} about chips and cloud</a></li>"
            for i in range(12)
        )
        + "</ul>"
    )
    with pytest.raises(NotAnArticle) as caught:
        extract_article(page(body=body))
    assert caught.value.args == ("not-article",)


@pytest.mark.parametrize("html", ["", "   \n\t"])
def test_an_empty_page(html: str) -> None:
    empty = FetchedPage(
        url=URL, requested_url=URL, status=200, html=html, source="example", fetched_at="t"
    )
    with pytest.raises(NotAnArticle) as caught:
        extract_article(empty)
    assert caught.value.args == ("empty-page",)


def test_a_page_without_text() -> None:
    with pytest.raises(NotAnArticle) as caught:
        extract_article(page(body=""))
    assert caught.value.args == ("no-body-text",)


# --- dates -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-03T09:30:00+01:00", "2026-11-03T08:30:00Z"),
        ("2026-11-03T09:30:00-05:30", "2026-11-03T15:00:00Z"),
        ("2026-11-03T23:30:00-02:00", "2026-11-04T01:30:00Z"),
        ("2026-11-03T09:30:00Z", "2026-11-03T09:30:00Z"),
        ("2026-11-03T09:30:00.123456Z", "2026-11-03T09:30:00Z"),
        ("  2026-11-03T09:30:00Z  ", "2026-11-03T09:30:00Z"),
        ("2026-11-03T09:30:00", "2026-11-03T09:30:00Z"),  # naive: taken as UTC
        ("2026-11-03 09:30", "2026-11-03T09:30:00Z"),
        ("2026-11-03", "2026-11-03T00:00:00Z"),  # date only: midnight UTC
        ("20261103", "2026-11-03T00:00:00Z"),
        ("Tue, 03 Nov 2026 09:30:00 GMT", "2026-11-03T09:30:00Z"),
        ("Tue, 03 Nov 2026 09:30:00 +0100", "2026-11-03T08:30:00Z"),
        ("Tue, 03 Nov 2026 09:30:00 -0000", "2026-11-03T09:30:00Z"),
        # RFC 822 names its North American zones: EST is UTC-5, PDT is UTC-7.
        ("Tue, 03 Nov 2026 09:30:00 EST", "2026-11-03T14:30:00Z"),
        ("Tue, 03 Nov 2026 09:30:00 PDT", "2026-11-03T16:30:00Z"),
        ("November 3, 2026 9:30 AM", "2026-11-03T09:30:00Z"),
        # Garbage and non-strings.
        ("garbage", None),
        ("yesterday", None),
        ("2026-13-45", None),
        ("", None),
        ("   ", None),
        (None, None),
        (12345, None),
        (["2026-11-03"], None),
        ("0001-01-01T00:00:00+01:00", None),  # out of range once in UTC
        # A time or a weekday alone is not a date (HTML allows <time datetime="09:30">).
        ("09:30", None),
        ("Monday", None),
    ],
)
def test_to_utc_iso(value: object, expected: str | None) -> None:
    assert to_utc_iso(value) == expected
