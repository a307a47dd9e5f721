"""Saved searches (config and API) and their Atom feeds, read back with feedparser."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import feedparser
import pytest
from webtesting import make_article, make_client

from newswatch.config import ConfigError, parse_config

ATOM = "{http://www.w3.org/2005/Atom}"
CONFIG_SEARCH = {"name": "meta-es", "query": "Meta", "lang": ["es"]}


def test_saved_searches_from_the_config_and_the_api(demo_index, tmp_path):
    with make_client(demo_index, tmp_path, saved_searches=[CONFIG_SEARCH]) as client:
        assert client.get("/api/saved-searches").json() == {
            "saved_searches": [
                {
                    "name": "meta-es",
                    "query": "Meta",
                    "lang": ["es"],
                    "source": [],
                    "topic": [],
                    "has_webhook": False,
                    "origin": "config",
                    "feed": "/feeds/meta-es.atom",
                },
            ]
        }
        body = {
            "name": "chips",
            "query": "Nvidia OR chip*",
            "topic": ["ai-race"],
            "webhook": "http://127.0.0.1:9/hook",
        }
        response = client.post("/api/saved-searches", json=body)
        assert response.status_code == 201
        created = {
            "name": "chips",
            "query": "Nvidia OR chip*",
            "lang": [],
            "source": [],
            "topic": ["ai-race"],
            "has_webhook": True,
            "origin": "api",
            "feed": "/feeds/chips.atom",
        }
        assert response.json() == created
        names = [s["name"] for s in client.get("/api/saved-searches").json()["saved_searches"]]
        assert names == ["meta-es", "chips"]

    # Kept in the saved-search file: a new app (a restart) has it.
    with make_client(demo_index, tmp_path, saved_searches=[CONFIG_SEARCH]) as client:
        assert client.get("/api/saved-searches").json()["saved_searches"][1] == created
        response = client.delete("/api/saved-searches/chips")
        assert (response.status_code, response.content) == (204, b"")
        response = client.delete("/api/saved-searches/chips")
        assert (response.status_code, response.json()) == (
            404,
            {"error": "no saved search named 'chips'"},
        )
        response = client.delete("/api/saved-searches/meta-es")
        assert (response.status_code, response.json()) == (
            409,
            {"error": "the saved search 'meta-es' is defined in the config file: remove it there"},
        )
        assert [s["name"] for s in client.get("/api/saved-searches").json()["saved_searches"]] == [
            "meta-es"
        ]


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (
            {"name": "meta-es", "query": "x"},
            409,
            "a saved search named 'meta-es' is in the config file",
        ),
        (
            {"name": "bad name", "query": "x"},
            400,
            "name: expected a name of letters, digits, '.', '_' or '-' (got 'bad name')",
        ),
        ({"query": "x"}, 400, "name: missing required key"),
        (
            {"name": "q", "query": '"open'},
            400,
            "query: bad query: unmatched '\"' in query: close the phrase with a second quote (got "
            "'\"open')",
        ),
        ({"name": "q", "query": "x", "lang": "en"}, 400, "lang: expected a valid list (got 'en')"),
        (
            {"name": "q", "query": "x", "webhook": "file:///etc/passwd"},
            400,
            "webhook: expected an http:// or https:// URL (got 'file:///etc/passwd')",
        ),
        ({"name": "q", "query": "x", "colour": "red"}, 400, "colour: unknown key"),
        (["not", "an", "object"], 400, "expected a JSON object"),
    ],
)
def test_bad_saved_searches_are_refused(demo_index, tmp_path, body, status, message):
    with make_client(demo_index, tmp_path, saved_searches=[CONFIG_SEARCH]) as client:
        response = client.post("/api/saved-searches", json=body)
        assert (response.status_code, response.json()) == (status, {"error": message})


def test_a_saved_search_is_posted_as_json_only(demo_index, tmp_path):
    with make_client(demo_index, tmp_path) as client:
        # A form or text/plain POST (what another web page may send without asking) is refused.
        response = client.post(
            "/api/saved-searches",
            content=b'{"name": "x", "query": "y"}',
            headers={"Content-Type": "text/plain"},
        )
        assert (response.status_code, response.json()) == (
            415,
            {"error": "send the saved search as application/json"},
        )
        response = client.post(
            "/api/saved-searches", content=b"{nope", headers={"Content-Type": "application/json"}
        )
        assert (response.status_code, response.json()) == (
            400,
            {"error": "the body is not valid JSON"},
        )
        response = client.post(
            "/api/saved-searches",
            content=b" " * 70000,
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 413
        created = client.post("/api/saved-searches", json={"name": "x", "query": "y"})
        assert created.status_code == 201
        again = client.post("/api/saved-searches", json={"name": "x", "query": "z"})
        assert (again.status_code, again.json()) == (
            409,
            {"error": "a saved search named 'x' exists"},
        )


def test_saved_searches_in_the_config_file_are_validated():
    text = '[[saved_searches]]\nname = "a"\nquery = "-alone"\n'
    with pytest.raises(ConfigError) as error:
        parse_config(text, "nw.toml")
    assert str(error.value) == (
        "nw.toml: saved_searches[0].query: bad query: a query needs at least one term that is "
        "not excluded (got '-alone')"
    )
    text = (
        '[[saved_searches]]\nname = "a"\nquery = ""\n[[saved_searches]]\nname = "a"\nquery = "b"\n'
    )
    with pytest.raises(ConfigError, match="saved_searches: duplicate name 'a'"):
        parse_config(text, "nw.toml")
    config = parse_config(
        '[web]\ntoken = "0123456789"\n[[saved_searches]]\nname = "all"\nquery = ""\n'
        'topic = ["ai-race"]\nwebhook = "https://hooks.example/x"\n',
        "nw.toml",
    )
    assert config.web.token == "0123456789"
    assert config.saved_searches[0].webhook == "https://hooks.example/x"
    with pytest.raises(ConfigError, match=r"web\.token: String should have at least 8 characters"):
        parse_config('[web]\ntoken = "short"\n', "nw.toml")


def test_the_atom_feed_of_a_saved_search(demo_index, tmp_path):
    demo = demo_index.demo
    with make_client(demo_index, tmp_path, saved_searches=[CONFIG_SEARCH]) as client:
        response = client.get("/feeds/meta-es.atom")
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/atom+xml; charset=utf-8"
        missing = client.get("/feeds/nothing.atom")
        assert (missing.status_code, missing.json()) == (
            404,
            {"error": "no saved search named 'nothing'"},
        )

    feed = feedparser.parse(response.content)
    assert feed.bozo == 0, feed.get("bozo_exception")
    assert feed.version == "atom10"
    assert feed.feed.title == "newswatch: meta-es"
    assert feed.feed.subtitle == "Meta"
    assert feed.feed.id == "urn:newswatch:saved-search:meta-es"
    assert feed.feed.updated == "2026-11-18T08:45:00Z"
    assert [link.href for link in feed.feed.links if link.rel == "self"] == [
        "http://127.0.0.1/feeds/meta-es.atom"
    ]
    paths = [
        "/diario-digital/tecnologia/scale-ai-sede-europea-madrid.html",
        "/diario-digital/tecnologia/carrera-de-la-ia-sueldos-laboratorio-superinteligencia.html",
        "/diario-digital/tecnologia/talavera-acogera-centro-de-datos-de-meta.html",
        "/diario-digital/tecnologia/meta-elige-talavera-centro-de-datos-ia.html",
    ]
    assert [e.id for e in feed.entries] == [f"urn:newswatch:article:{demo.id(p)}" for p in paths]
    assert [e.link for e in feed.entries] == [demo.base + p for p in paths]
    assert [e.title for e in feed.entries] == [
        "Scale AI abrirá en Madrid su sede europea con 400 empleos",
        "La carrera de la IA dispara los sueldos: Meta ofrece hasta 100 millones por investigador "
        "para su laboratorio de superinteligencia",
        "Talavera acogerá el gran centro de datos de Meta para la carrera de la IA",
        "Meta elige Talavera de la Reina para su mayor centro de datos de IA en Europa",
    ]
    assert [e.published for e in feed.entries] == [
        "2026-11-18T08:45:00Z",
        "2026-11-13T09:15:00Z",
        "2026-11-06T12:30:00Z",
        "2026-11-06T07:00:00Z",
    ]
    # updated: the modification date when there is one.
    assert [e.updated for e in feed.entries] == [
        "2026-11-18T08:45:00Z",
        "2026-11-13T18:00:00Z",
        "2026-11-06T12:30:00Z",
        "2026-11-06T07:00:00Z",
    ]
    assert [[a.name for a in e.authors] for e in feed.entries] == [
        ["Diego Castillo"],
        ["Marta Ibáñez", "Lucía Navarro"],
        ["Javier Ortega"],
        ["Lucía Navarro"],
    ]
    assert feed.entries[2].summary.startswith(
        "TALAVERA DE LA REINA (Toledo) — Meta ha confirmado que levantará en Talavera de"
    )
    assert [t.term for t in feed.entries[0].tags] == ["ai-race"]

    # Every entry has what Atom 1.0 asks for (RFC 4287 §4.1.2) and the summary we promise.
    root = ET.fromstring(response.content)
    assert root.tag == f"{ATOM}feed"
    for entry in root.findall(f"{ATOM}entry"):
        for tag in ("id", "title", "link", "updated", "published", "author", "summary"):
            assert entry.find(f"{ATOM}{tag}") is not None, tag
        assert entry.find(f"{ATOM}author/{ATOM}name").text


def test_a_feed_of_scraped_text_stays_valid_xml(empty_index, tmp_path):
    empty_index.store.upsert(
        make_article(
            5,
            title="Bell\x07 & <b>bold</b> ]]> \ufffe",
            body="Body\x00 text about AI.",
            authors=[],
            site_name="Example <News>",
            url="javascript:alert(1)",
        )
    )
    empty_index.store.upsert(make_article(6, title="Plain", authors=["A. Writer"]))
    search = {"name": "everything", "query": ""}
    with make_client(empty_index, tmp_path, saved_searches=[search]) as client:
        response = client.get("/feeds/everything.atom", params={})
    feed = feedparser.parse(response.content)
    assert feed.bozo == 0, feed.get("bozo_exception")
    assert [e.title for e in feed.entries] == ["Plain", "Bell & <b>bold</b> ]]>"]
    first, second = feed.entries
    assert first.link == "https://news.example/6.html"
    # No author in the article: the outlet stands in; a javascript: URL never becomes a link.
    assert [a.name for a in second.authors] == ["Example <News>"]
    assert [(link.rel, link.type, link.href) for link in second.links] == [
        (
            "alternate",
            "application/json",
            f"http://127.0.0.1/api/articles/{second.id.rsplit(':', 1)[1]}",
        ),
    ]
    assert second.summary == "Body text about AI."


def test_a_saved_search_may_hold_500_terms_and_its_feed_finds_them(demo_index, tmp_path):
    # A monitoring list: 499 names that match nothing, then one that matches.
    query = " OR ".join([*(f"absentname{i}" for i in range(499)), "Talavera"])
    with make_client(demo_index, tmp_path) as client:
        response = client.post("/api/saved-searches", json={"name": "watch", "query": query})
        assert response.status_code == 201, response.json()
        feed = feedparser.parse(client.get("/feeds/watch.atom").content)
        one_more = client.post(
            "/api/saved-searches", json={"name": "more", "query": query + " OR Madrid"}
        )
    assert feed.bozo == 0, feed.get("bozo_exception")
    assert sorted(e.link.rsplit("/", 1)[1] for e in feed.entries) == [
        "meta-elige-talavera-centro-de-datos-ia.html",
        "talavera-acogera-centro-de-datos-de-meta.html",
    ]
    assert one_more.status_code == 400
    assert one_more.json()["error"].startswith(
        "query: bad query: query has too many terms (501, at most 500) (got '"
    )
