"""The search page as HTML: results, facet links that toggle, the timeline, pages, errors."""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl, urlsplit

import lxml.html
from webtesting import make_article, make_client

from newswatch.web.pages import is_http_url, timeline


def parse(response):
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    return lxml.html.fromstring(response.text)


def titles(doc) -> list[str]:
    return [t.text_content().strip() for t in doc.cssselect(".result .title")]


def query(href: str) -> list[tuple[str, str]]:
    parts = urlsplit(href)
    assert parts.path == "/"
    return parse_qsl(parts.query)


def facet_links(doc, param: str) -> dict[str, tuple[str, str, bool]]:
    return {
        a.get("data-value"): (a.cssselect(".count")[0].text, a.get("href"), "active" in a.classes)
        for a in doc.cssselect(f'a.facet-link[data-facet="{param}"]')
    }


def test_results_facets_timeline_and_similar(demo_client):
    doc = parse(demo_client.get("/", params={"q": "superintelligence"}))
    assert doc.cssselect("title")[0].text == "superintelligence · newswatch"
    assert doc.cssselect("#q")[0].get("value") == "superintelligence"
    assert " ".join(doc.cssselect(".summary")[0].text_content().split()) == (
        "1–6 of 6 stories for superintelligence"
    )
    assert titles(doc) == [
        "Superintelligenza, Meta recluta anche in Italia: offerte milionarie ai ricercatori",
        "Superintelligence : Meta recrute à prix d'or les chercheurs parisiens d'OpenAI et de "
        "Google DeepMind",
        "OpenAI researchers defect to Meta's superintelligence lab",
        "Intelligence artificielle générale : Demis Hassabis appelle à une coopération "
        "internationale",
        "How close is AGI? Altman, Hassabis and Amodei give strikingly different answers",
        "New Albany weighs the cost of hosting Meta's newest AI data centre",
    ]
    first = doc.cssselect(".result")[0]
    link = first.cssselect(".title a")[0]
    assert link.get("href").endswith(
        "/corriere-tecnologico/tecnologia/superintelligenza-meta-recluta-in-italia.html"
    )
    assert link.get("rel") == "noopener noreferrer nofollow"
    assert [m.text for m in link.cssselect("mark")] == ["Superintelligenza"]
    assert " ".join(first.cssselect(".meta")[0].text_content().split()) == (
        "Il Corriere Tecnologico · 2026-11-04 · it · ai-race"
    )
    assert "superintelligenza" in first.cssselect(".snippet mark")[0].text.lower()
    assert [
        r.cssselect(".similar")[0].text if r.cssselect(".similar") else None
        for r in doc.cssselect(".result")
    ] == [None, None, "+1 similar", None, None, None]

    languages = facet_links(doc, "lang")
    assert {k: v[0] for k, v in languages.items()} == {"en": "4", "fr": "2", "it": "1"}
    assert query(languages["fr"][1]) == [("q", "superintelligence"), ("lang", "fr")]
    assert not any(active for _, _, active in languages.values())
    assert {k: v[0] for k, v in facet_links(doc, "topic").items()} == {"ai-race": "7"}

    # The timeline: one bar per day from the first match to the last, empty days included.
    svg = doc.cssselect(".timeline svg")[0]
    assert svg.get("role") == "img"
    assert svg.get("aria-label") == (
        "Matching articles per day, 2026-11-04 to 2026-11-19: 7 in all, most on 2026-11-04 (3)"
    )
    bars = [r.cssselect("title")[0].text for r in svg.cssselect("rect")]
    assert len(bars) == 16
    assert bars[0] == "2026-11-04: 3" and bars[1] == "2026-11-05: 0" and bars[-1] == "2026-11-19: 1"
    assert not doc.cssselect(".pagination")  # one page


def test_facets_toggle_on_and_off(demo_client):
    doc = parse(demo_client.get("/", params={"q": "Meta", "sort": "date"}))
    spanish = facet_links(doc, "lang")["es"][1]
    assert query(spanish) == [("q", "Meta"), ("lang", "es"), ("sort", "date")]

    doc = parse(demo_client.get(spanish))
    assert titles(doc) == [
        "Scale AI abrirá en Madrid su sede europea con 400 empleos",
        "La carrera de la IA dispara los sueldos: Meta ofrece hasta 100 millones por investigador "
        "para su laboratorio de superinteligencia",
        "Talavera acogerá el gran centro de datos de Meta para la carrera de la IA",
    ]
    languages = facet_links(doc, "lang")
    assert languages == {"es": ("4", "/?q=Meta&sort=date", True)}
    assert doc.cssselect("a.facet-link.active")[0].get("aria-current") == "true"
    # The form keeps the filter for the next query.
    assert [(i.get("name"), i.get("value")) for i in doc.cssselect("form input[type=hidden]")] == [
        ("lang", "es")
    ]
    # A second filter adds to the first; the page goes back to 1.
    source = facet_links(doc, "source")["demo-news-sitemaps"][1]
    assert query(source) == [
        ("q", "Meta"),
        ("lang", "es"),
        ("source", "demo-news-sitemaps"),
        ("sort", "date"),
    ]
    # A chosen filter that matches nothing can still be switched off.
    doc = parse(demo_client.get("/", params={"q": "Meta", "lang": "nl"}))
    assert facet_links(doc, "lang") == {"nl": ("0", "/?q=Meta", True)}
    assert " ".join(doc.cssselect(".summary")[0].text_content().split()) == (
        "No matching articles for Meta"
    )


def test_pages_of_results(demo_client):
    doc = parse(demo_client.get("/", params={"sort": "date"}))
    assert len(titles(doc)) == 10
    assert titles(doc)[0] == (
        "Course à l'IA : un campus de centres de données de 1,4 gigawatt près de Dunkerque"
    )
    nav = doc.cssselect("nav.pagination")[0]
    assert nav.cssselect(".page-of")[0].text == "Page 1 of 3"
    assert not nav.cssselect("a[rel=prev]")
    second = nav.cssselect("a[rel=next]")[0].get("href")
    assert query(second) == [("sort", "date"), ("page", "2")]

    doc = parse(demo_client.get(second))
    assert doc.cssselect("ol.results")[0].get("start") == "11"
    nav = doc.cssselect("nav.pagination")[0]
    assert nav.cssselect(".page-of")[0].text == "Page 2 of 3"
    assert query(nav.cssselect("a[rel=prev]")[0].get("href")) == [("sort", "date")]
    doc = parse(demo_client.get(nav.cssselect("a[rel=next]")[0].get("href")))
    assert titles(doc) == [
        "Superintelligenz: Meta lockt Forscher von Google DeepMind mit Millionengehältern"
    ]
    assert " ".join(doc.cssselect(".summary")[0].text_content().split()) == "21–21 of 21 stories"


def test_a_bad_query_shows_its_error_and_keeps_the_query(demo_client):
    response = demo_client.get("/", params={"q": '"unclosed', "lang": "en"})
    assert response.status_code == 400
    doc = parse(response)
    assert doc.cssselect(".error")[0].text == (
        "bad query: unmatched '\"' in query: close the phrase with a second quote"
    )
    assert doc.cssselect(".error")[0].get("role") == "alert"
    assert doc.cssselect("#q")[0].get("value") == '"unclosed'
    assert not doc.cssselect(".result")
    response = demo_client.get("/", params={"since": "soon"})
    assert response.status_code == 400
    assert parse(response).cssselect(".error")[0].text == (
        "bad query: not a date: 'soon' (expected YYYY-MM-DD)"
    )


def test_a_query_nested_too_deep_is_a_400_page_and_no_traceback(demo_client, caplog):
    query = "(" * 260 + "Meta" + ")" * 260
    response = demo_client.get("/", params={"q": query})
    assert response.status_code == 400
    doc = parse(response)
    assert doc.cssselect(".error")[0].text == (
        "bad query: query nests parentheses too deeply (at most 32 levels)"
    )
    assert doc.cssselect("#q")[0].get("value") == query
    assert not doc.cssselect(".result")
    assert [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info] == []


def test_the_page_keeps_the_token_in_every_link(empty_index, tmp_path):
    for day in range(1, 13):
        empty_index.store.upsert(make_article(day))
    with make_client(empty_index, tmp_path, token="page-token-1") as client:
        doc = parse(client.get("/", params={"token": "page-token-1", "sort": "date"}))
        links = [a.get("href") for a in doc.cssselect("a[href]")]
        local = [h for h in links if not h.startswith("https://news.example/")]
        assert local and all(
            ("token", "page-token-1") in query(h) for h in local if h != "#results"
        )
        assert [
            (e.get("href") or e.get("src")) for e in doc.cssselect("link[rel=stylesheet], script")
        ] == ["/static/app.css?token=page-token-1", "/static/app.js?token=page-token-1"]
        hidden = doc.cssselect("form input[type=hidden][name=token]")
        assert hidden[0].get("value") == "page-token-1"
        # Sent as a header instead (by a proxy, say), it is not copied into the links.
        doc = parse(client.get("/", headers={"Authorization": "Bearer page-token-1"}))
        assert not doc.cssselect("form input[name=token]")
        assert doc.cssselect("link[rel=stylesheet]")[0].get("href") == "/static/app.css"


def test_saved_searches_are_listed_with_their_feeds(demo_index, tmp_path):
    search = {"name": "meta-es", "query": "Meta", "lang": ["es"]}
    with make_client(demo_index, tmp_path, saved_searches=[search]) as client:
        doc = parse(client.get("/", params={"q": "Nvidia", "since": "2026-11-01"}))
    links = doc.cssselect(".filters a:not(.facet-link)")
    assert [(a.text, a.get("href")) for a in links] == [
        ("meta-es", "/?q=Meta&lang=es"),
        ("Atom", "/feeds/meta-es.atom"),
    ]


def test_only_http_urls_become_links():
    assert is_http_url("https://example.com/a?b=c")
    assert is_http_url("HTTP://example.com/")
    for url in [
        "javascript:alert(1)",
        " https://example.com/",
        "https://exa mple.com/",
        "java\nscript:x",
        "data:text/html,x",
        "//example.com/",
        "https:/x\x00",
        "ftp://example.com/",
        "",
        None,
    ]:
        assert not is_http_url(url), url


def test_the_timeline_groups_long_spans_by_month():
    chart = timeline({"2026-01-15": 2, "2026-03-01": 1, "2026-06-30": 4, "bad": 9})
    assert chart.unit == "month"
    assert [(b.label, b.count) for b in chart.bars] == [
        ("2026-01", 2),
        ("2026-02", 0),
        ("2026-03", 1),
        ("2026-04", 0),
        ("2026-05", 0),
        ("2026-06", 4),
    ]
    assert [b.height for b in chart.bars] == [43.0, 0.0, 21.5, 0.0, 0.0, 86.0]
    assert timeline({}).bars == []
