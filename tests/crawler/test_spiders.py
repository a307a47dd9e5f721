"""Spiders decide what to fetch: feed entries, sitemap entries, site links.

Each spider is built by Scrapy (``get_crawler``) and given real responses; the
test asserts the requests it yields and the hints they carry.
"""

from __future__ import annotations

import gzip
from datetime import date

import pytest
from scrapy.http import HtmlResponse, Request, TextResponse, XmlResponse
from scrapy.utils.test import get_crawler

from crawler.spiders import FeedSpider, SitemapSpider, SiteSpider
from newswatch.config import SourceConfig

FEEDS = {
    "rss091": b"""<?xml version="1.0"?>
<rss version="0.91"><channel><title>Old</title><link>http://news.test/</link>
<language>en-us</language><description>d</description>
<item><title>Nvidia ships chips</title><link>http://news.test/a?utm_source=rss</link>
<description>Short &lt;b&gt;summary&lt;/b&gt;</description></item>
</channel></rss>""",
    "rss20": b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>T</title>
<link>http://news.test/</link><language>fr</language>
<item><title>Mistral l\xc3\xa8ve des fonds</title><link>http://news.test/b#comments</link>
<pubDate>Tue, 03 Nov 2026 10:00:00 +0100</pubDate><dc:creator>Camille Dubreuil</dc:creator>
<description>R\xc3\xa9sum\xc3\xa9</description></item>
<item><title>No link</title><description>x</description></item>
</channel></rss>""",
    "rss10": b"""<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
 xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel rdf:about="http://news.test/"><title>T</title><link>http://news.test/</link>
<description>d</description><dc:language>de</dc:language></channel>
<item rdf:about="http://news.test/c"><title>KI-Wettlauf</title><link>http://news.test/c</link>
<dc:date>2026-11-07T06:45:00+01:00</dc:date><dc:creator>Jonas Albrecht</dc:creator></item>
</rdf:RDF>""",
    "atom": b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="es" xml:base="http://news.test/es/">
<title>T</title><id>urn:t</id><updated>2026-11-06T07:00:00Z</updated>
<entry><title>La carrera de la IA</title><link href="notas/d.html"/><id>urn:d</id>
<published>2026-11-06T08:00:00+01:00</published><updated>2026-11-06T09:00:00Z</updated>
<author><name>Luc\xc3\xada Navarro</name></author><summary>Resumen</summary></entry>
</feed>""",
}

EXPECTED = {
    "rss091": ("http://news.test/a", "Nvidia ships chips", None, [], "Short summary", "en-us"),
    "rss20": (
        "http://news.test/b",
        "Mistral lève des fonds",
        "2026-11-03T09:00:00Z",
        ["Camille Dubreuil"],
        "Résumé",
        "fr",
    ),
    "rss10": (
        "http://news.test/c",
        "KI-Wettlauf",
        "2026-11-07T05:45:00Z",
        ["Jonas Albrecht"],
        None,
        "de",
    ),
    "atom": (
        "http://news.test/es/notas/d.html",
        "La carrera de la IA",
        "2026-11-06T07:00:00Z",
        ["Lucía Navarro"],
        "Resumen",
        "es",
    ),
}


def make_spider(cls, **source):
    source = SourceConfig(
        **{"name": "t", "kind": cls.kind, "urls": ["http://news.test/"], **source}
    )
    crawler = get_crawler(cls)
    spider = cls.from_crawler(crawler, source=source)
    crawler.spider = spider
    crawler.stats.open_spider()
    return spider


@pytest.mark.parametrize("kind", sorted(FEEDS))
def test_feed_spider_follows_each_entry_with_its_hint(kind):
    spider = make_spider(FeedSpider)
    url = "http://news.test/feed.xml"
    response = XmlResponse(url, body=FEEDS[kind], request=Request(url))
    requests = list(spider.parse(response))
    url, title, published, authors, summary, language = EXPECTED[kind]
    assert [r.url for r in requests] == [url]
    hint = requests[0].cb_kwargs["hint"]
    assert (hint.title, hint.published_at, hint.authors, hint.summary, hint.language) == (
        title,
        published,
        authors,
        summary,
        language,
    )
    assert requests[0].callback == spider.parse_article
    if kind == "rss20":
        assert spider.crawler.stats.get_value("newswatch/feed/entry-without-link") == 1


def test_an_unreadable_feed_fails_the_source_with_a_reason():
    spider = make_spider(FeedSpider)
    url = "http://news.test/feed.xml"
    response = TextResponse(url, body=b"<html><body>Not a feed</body></html>", request=Request(url))
    assert list(spider.parse(response)) == []
    assert len(spider.errors) == 1
    assert spider.errors[0].startswith("http://news.test/feed.xml: not a readable feed")


def test_feed_entries_respect_the_source_url_rules():
    spider = make_spider(FeedSpider, deny=[r"/a$"])
    response = XmlResponse(
        "http://news.test/f", body=FEEDS["rss091"], request=Request("http://news.test/f")
    )
    assert list(spider.parse(response)) == []
    assert spider.crawler.stats.get_value("newswatch/skipped/url-rule") == 1


SITEMAP_INDEX = b"""<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<sitemap><loc>http://news.test/news.xml.gz</loc></sitemap>
<sitemap><loc>http://news.test/plain.xml</loc></sitemap>
</sitemapindex>"""

NEWS_SITEMAP = b"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
<url><loc>http://news.test/new.html</loc>
  <news:news><news:publication><news:name>T</news:name><news:language>es</news:language>
  </news:publication><news:publication_date>2026-11-06T08:00:00+01:00</news:publication_date>
  <news:title>Meta elige Talavera</news:title></news:news></url>
<url><loc>http://news.test/old.html</loc>
  <news:news><news:publication><news:name>T</news:name><news:language>es</news:language>
  </news:publication><news:publication_date>2026-09-01</news:publication_date>
  <news:title>Old</news:title></news:news></url>
<url><loc>http://news.test/undated.html</loc></url>
<url><loc>http://news.test/lastmod.html</loc><lastmod>2026-10-31</lastmod></url>
</urlset>"""


def test_sitemap_index_leads_to_its_sitemaps():
    spider = make_spider(SitemapSpider)
    response = XmlResponse(
        "http://news.test/sitemap.xml",
        body=SITEMAP_INDEX,
        request=Request("http://news.test/sitemap.xml"),
    )
    assert [r.url for r in spider.parse(response)] == [
        "http://news.test/news.xml.gz",
        "http://news.test/plain.xml",
    ]


def test_gzipped_news_sitemap_with_since_bound():
    spider = make_spider(SitemapSpider, since=date(2026, 11, 1))
    body = gzip.compress(NEWS_SITEMAP)
    response = TextResponse(
        "http://news.test/news.xml.gz",
        body=body,
        headers={"Content-Type": "application/gzip"},
        request=Request("http://news.test/news.xml.gz"),
    )
    requests = list(spider.parse(response))
    assert [r.url for r in requests] == [
        "http://news.test/new.html",
        "http://news.test/undated.html",
    ]
    hint = requests[0].cb_kwargs["hint"]
    assert (hint.title, hint.published_at, hint.language, hint.origin) == (
        "Meta elige Talavera",
        "2026-11-06T07:00:00Z",
        "es",
        "news-sitemap",
    )
    assert spider.crawler.stats.get_value("newswatch/skipped/older-than-since") == 2


def test_a_broken_sitemap_fails_the_source():
    spider = make_spider(SitemapSpider)
    response = XmlResponse(
        "http://news.test/s.xml",
        body=b"<html>oops</html>",
        request=Request("http://news.test/s.xml"),
    )
    assert list(spider.parse(response)) == []
    assert spider.errors == ["http://news.test/s.xml: not a sitemap (root element <html>)"]


SECTION = b"""<html><body><nav><a href="/">Home</a> <a href="http://other.test/x">Elsewhere</a></nav>
<a href="/news/1.html">One</a> <a href="/news/1.html#top">One again</a>
<a href="/news/2.html?utm_source=home">Two</a> <a href="/tag/ai">Tag</a>
<a href="/news/3.html">Three</a></body></html>"""


def test_site_spider_follows_links_within_its_domains_and_rules():
    spider = make_spider(SiteSpider, deny=["/tag/"], max_depth=2, max_pages=4)
    request = Request("http://news.test/", meta={"depth": 0})
    response = HtmlResponse("http://news.test/", body=SECTION, request=request)
    spider.seen.add("http://news.test/")
    outputs = list(spider.parse_page(response))
    page = outputs[0]
    assert page.url == "http://news.test/" and page.hint is None
    # Normalised, deduplicated, same host only, deny rule applied, capped at max_pages (4).
    assert [r.url for r in outputs[1:]] == [
        "http://news.test/news/1.html",
        "http://news.test/news/2.html",
        "http://news.test/news/3.html",
    ]
    assert spider.crawler.stats.get_value("newswatch/skipped/max-pages") is None


def test_site_spider_stops_at_max_depth_and_max_pages():
    deep = make_spider(SiteSpider, max_depth=1)
    request = Request("http://news.test/s", meta={"depth": 1})
    response = HtmlResponse("http://news.test/s", body=SECTION, request=request)
    assert len(list(deep.parse_page(response))) == 1  # the page itself, no links
    capped = make_spider(SiteSpider, max_pages=2)
    capped.seen.add("http://news.test/")
    response = HtmlResponse("http://news.test/", body=SECTION, request=Request("http://news.test/"))
    assert [r.url for r in list(capped.parse_page(response))[1:]] == [
        "http://news.test/news/1.html"
    ]
    assert capped.crawler.stats.get_value("newswatch/skipped/max-pages") == 1


def test_non_html_responses_are_skipped():
    spider = make_spider(FeedSpider)
    response = TextResponse(
        "http://news.test/a.pdf",
        body=b"%PDF-1.4",
        headers={"Content-Type": "application/pdf"},
        request=Request("http://news.test/a.pdf"),
    )
    assert list(spider.parse_article(response)) == []
    assert spider.crawler.stats.get_value("newswatch/skipped/not-html") == 1
