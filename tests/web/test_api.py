"""The JSON API over the articles of a real demo crawl: search, articles, stats, health, errors."""

from __future__ import annotations

import json
import logging

import pytest
from webtesting import Indexed, TestClient, make_article, make_client

from newswatch.web.app import create_app
from newswatch.web.openapi import OPENAPI
from pipelines.stores.base import SearchRequest
from pipelines.stores.sqlite import SqliteStore
from search.analysis import tokenize

GW1 = "/global-wire/2026/11/04/openai-researchers-defect-to-meta-superintelligence-lab.html"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def paths(demo_index: Indexed, hits: list[dict]) -> list[str]:
    return [demo_index.demo.path(h["canonical_url"]) for h in hits]


def test_search_collapses_near_copies_with_facets_and_histogram(demo_client, demo_index):
    response = demo_client.get("/api/search", params={"q": "superintelligence"})
    assert response.status_code == 200
    data = response.json()
    assert (data["query"], data["total"], data["page"], data["size"]) == (
        "superintelligence",
        6,
        1,
        10,
    )
    # The Daily Circuit's copy of gw1 is folded into it: 7 articles, 6 stories.
    assert paths(demo_index, data["hits"]) == [
        "/corriere-tecnologico/tecnologia/superintelligenza-meta-recluta-in-italia.html",
        "/quotidien-numerique/tech/superintelligence-meta-recrute-chercheurs-parisiens.html",
        GW1,
        "/quotidien-numerique/tech/intelligence-artificielle-generale-hassabis-cooperation.html",
        "/daily-circuit/tech/agi-timelines-altman-hassabis-amodei.html",
        "/daily-circuit/tech/new-albany-weighs-meta-data-centre.html",
    ]
    assert [h["similar"] for h in data["hits"]] == [0, 0, 1, 0, 0, 0]
    assert data["facets"] == {
        "language": {"en": 4, "fr": 2, "it": 1},
        "source": {
            "demo-daily-circuit": 3,
            "demo-quotidien-numerique": 2,
            "demo-corriere-tecnologico": 1,
            "demo-news-sitemaps": 1,
        },
        "topics": {"ai-race": 7},
    }
    assert data["histogram"] == {
        "2026-11-04": 3,
        "2026-11-09": 1,
        "2026-11-11": 1,
        "2026-11-16": 1,
        "2026-11-19": 1,
    }
    gw1 = data["hits"][2]
    assert sorted(gw1) == sorted(
        [
            "id",
            "url",
            "canonical_url",
            "title",
            "title_html",
            "source",
            "language",
            "published_at",
            "topics",
            "authors",
            "snippet_html",
            "score",
            "similar",
        ]
    )
    assert gw1["id"] == demo_index.demo.id(GW1)
    assert gw1["title"] == "OpenAI researchers defect to Meta's superintelligence lab"
    assert gw1["title_html"] == (
        "OpenAI researchers defect to Meta&#x27;s <mark>superintelligence</mark> lab"
    )
    assert gw1["source"] == "demo-news-sitemaps"
    assert (gw1["language"], gw1["published_at"]) == ("en", "2026-11-04T09:30:00Z")
    assert (gw1["topics"], gw1["authors"]) == (["ai-race"], ["Priya Raman"])
    assert "<mark>superintelligence</mark>" in gw1["snippet_html"]
    assert gw1["score"] > data["hits"][3]["score"]


def test_search_filters_and_date_sort(demo_client, demo_index):
    data = demo_client.get("/api/search", params={"q": "Meta", "lang": "es"}).json()
    assert data["total"] == 3
    assert paths(demo_index, data["hits"]) == [
        "/diario-digital/tecnologia/talavera-acogera-centro-de-datos-de-meta.html",
        "/diario-digital/tecnologia/carrera-de-la-ia-sueldos-laboratorio-superinteligencia.html",
        "/diario-digital/tecnologia/scale-ai-sede-europea-madrid.html",
    ]
    assert data["hits"][0]["similar"] == 1  # meta-elige-talavera, the same story
    assert data["facets"]["language"] == {"es": 4}

    data = demo_client.get(
        "/api/search",
        params=[
            ("q", "Meta"),
            ("topic", "ai-race"),
            ("since", "2026-11-05"),
            ("until", "2026-11-09"),
            ("sort", "date"),
            ("lang", "en"),
            ("lang", "fr"),
            ("lang", "es"),
        ],
    ).json()
    assert paths(demo_index, data["hits"]) == [
        "/quotidien-numerique/tech/superintelligence-meta-recrute-chercheurs-parisiens.html",
        "/diario-digital/tecnologia/talavera-acogera-centro-de-datos-de-meta.html",
        "/daily-circuit/tech/xai-colossus-memphis-expansion.html",
    ]
    assert [h["published_at"] for h in data["hits"]] == [
        "2026-11-09T06:30:00Z",
        "2026-11-06T12:30:00Z",
        "2026-11-05T18:00:00Z",
    ]
    assert data["histogram"] == {"2026-11-05": 1, "2026-11-06": 2, "2026-11-09": 1}

    data = demo_client.get("/api/search", params={"source": "demo-techbote", "q": "Meta"}).json()
    assert paths(demo_index, data["hits"]) == [
        "/techbote/digital/superintelligenz-meta-lockt-deepmind-forscher.html"
    ]


def test_browsing_pages_by_date(demo_client, demo_index):
    data = demo_client.get("/api/search", params={"sort": "date", "size": 5, "page": 2}).json()
    assert (data["query"], data["total"], data["page"], data["size"]) == ("", 21, 2, 5)
    assert paths(demo_index, data["hits"]) == [
        "/corriere-tecnologico/tecnologia/ai-act-italia-autorita-vigilanza.html",
        "/quotidien-numerique/tech/intelligence-artificielle-generale-hassabis-cooperation.html",
        "/diario-digital/tecnologia/carrera-de-la-ia-sueldos-laboratorio-superinteligencia.html",
        "/global-wire/2026/11/12/us-tightens-chip-export-rules-nvidia.html",
        "/daily-circuit/tech/agi-timelines-altman-hassabis-amodei.html",
    ]
    assert [h["score"] for h in data["hits"]] == [0.0] * 5
    assert sum(data["histogram"].values()) == 23
    assert len(data["histogram"]) == 16
    # limit is size's other name; a page past the end is empty.
    data = demo_client.get("/api/search", params={"limit": 100}).json()
    assert (data["size"], data["total"], len(data["hits"])) == (100, 21, 21)
    data = demo_client.get("/api/search", params={"page": 9}).json()
    assert (data["total"], data["hits"]) == (21, [])


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"q": '"unclosed'},
            "bad query: unmatched '\"' in query: close the phrase with a second quote",
        ),
        ({"q": "-only"}, "bad query: a query needs at least one term that is not excluded"),
        ({"q": "(a"}, "bad query: unmatched '(' in query"),
        (
            {"q": "(" * 260 + "a" + ")" * 260},
            "bad query: query nests parentheses too deeply (at most 32 levels)",
        ),
        (
            {"q": "-(" * 400 + "a"},
            "bad query: query nests parentheses too deeply (at most 32 levels)",
        ),
        (
            {"q": " OR ".join(f"w{i}" for i in range(33))},
            "bad query: query has too many terms (33, at most 32)",
        ),
        ({"since": "yesterday"}, "bad query: not a date: 'yesterday' (expected YYYY-MM-DD)"),
        ({"until": "2026-13-45"}, "bad query: not a date: '2026-13-45' (expected YYYY-MM-DD)"),
        (
            {"since": "2026-11-10", "until": "2026-11-01"},
            "bad query: inverted date range: since '2026-11-10' is after until '2026-11-01'",
        ),
        ({"sort": "best"}, "sort must be relevance or date (got 'best')"),
        ({"page": "0"}, "page must be at least 1"),
        ({"page": "two"}, "page must be a whole number (got 'two')"),
        ({"size": "0"}, "size must be at least 1"),
        ({"size": "500"}, "size must be at most 100 (got 500)"),
        ({"limit": "100000"}, "limit must be at most 100 (got 100000)"),
        ({"limit": "5", "size": "5"}, "give size or limit (the same thing), not both"),
    ],
)
def test_bad_requests_answer_400_with_one_line(demo_client, params, message, caplog):
    for path in ("/api/search", "/api/export"):
        response = demo_client.get(path, params=params)
        assert response.status_code == 400, path
        assert response.headers["content-type"] == "application/json"
        assert response.json() == {"error": message}
    # A bad request is the user's mistake: nothing for the server's log, no traceback.
    assert [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info] == []


def test_one_article_and_404(demo_client, demo_index):
    response = demo_client.get(f"/api/articles/{demo_index.demo.id(GW1)}")
    assert response.status_code == 200
    article = response.json()
    assert article["title"] == "OpenAI researchers defect to Meta's superintelligence lab"
    assert article["authors"] == ["Priya Raman"]
    assert demo_index.demo.path(article["canonical_url"]) == GW1
    assert "lsh_bands" not in article
    assert article["body"].startswith("SAN FRANCISCO (Global Wire) — At least seven research")
    missing = demo_client.get("/api/articles/0000000000000000")
    assert missing.status_code == 404
    assert missing.json() == {"error": "no article with id '0000000000000000'"}
    assert demo_client.get("/api/nothing-here").json() == {"error": "Not Found"}


def test_stats_and_health(demo_client):
    stats = demo_client.get("/api/stats").json()
    assert stats["articles"] == 23
    assert {name: entry["articles"] for name, entry in stats["sources"].items()} == {
        "demo-corriere-tecnologico": 4,
        "demo-daily-circuit": 4,
        "demo-news-sitemaps": 7,
        "demo-quotidien-numerique": 4,
        "demo-techbote": 4,
    }
    assert stats["alerts"] == {}
    response = demo_client.get("/api/health")
    assert (response.status_code, response.json()) == (200, {"store": "ok"})


def test_a_store_that_is_down_answers_503(empty_index, tmp_path):
    from newswatch.alerts.saved import SavedSearches
    from newswatch.config import config_from_dict

    config = config_from_dict({}, "<test>")
    saved = SavedSearches(config, tmp_path / "saved.db")

    def closed_store() -> SqliteStore:
        store = SqliteStore(tmp_path / "closed.db", ["en"])
        store.close()
        return store

    with TestClient(create_app(config, closed_store, saved), base_url="http://127.0.0.1") as client:
        response = client.get("/api/health")
        assert (response.status_code, response.json()) == (503, {"store": "down"})

    def unopenable() -> SqliteStore:
        return SqliteStore(tmp_path, ["en"])  # a directory: SQLite cannot open it

    with TestClient(create_app(config, unopenable, saved), base_url="http://127.0.0.1") as client:
        for path in ("/api/search?q=x", "/api/stats", "/api/articles/x", "/api/export"):
            response = client.get(path)
            assert response.status_code == 503, path
            assert response.json() == {
                "error": f"cannot open the store {tmp_path}: unable to open database file"
            }
        assert client.get("/api/health").status_code == 503
        page = client.get("/")
        assert page.status_code == 503
        assert "the store is unavailable: cannot open the store" in page.text


def test_openapi_describes_every_api_route(demo_client):
    response = demo_client.get("/api/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    assert spec == json.loads(json.dumps(OPENAPI))
    assert spec["openapi"] == "3.1.0"
    routes = set()
    for route in demo_client.app.routes:
        methods = getattr(route, "methods", None) or set()
        for method in methods - {"HEAD"}:
            routes.add((route.path, method.lower()))
    routes.discard(("/", "get"))  # the page
    described = {(path, method) for path, item in spec["paths"].items() for method in item}
    assert described == routes


def test_every_response_carries_the_security_headers(demo_client, empty_index, tmp_path):
    responses = [
        demo_client.get("/"),
        demo_client.get("/?q=%22open"),
        demo_client.get("/api/search?q=Meta"),
        demo_client.get("/api/search?q=-x"),
        demo_client.get("/api/articles/nope"),
        demo_client.get("/static/app.css"),
        demo_client.get("/static/app.js"),
        demo_client.get("/no/such/page"),
        demo_client.get("/api/export?q=Meta"),
        demo_client.get("/", headers={"host": "attacker.example"}),
    ]
    with make_client(empty_index, tmp_path / "t", token="a-long-token") as client:
        responses.append(client.get("/"))
    assert [r.status_code for r in responses] == [
        200,
        400,
        200,
        400,
        404,
        200,
        200,
        404,
        200,
        400,
        401,
    ]
    for response in responses:
        assert response.headers["content-security-policy"] == CSP
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"


def test_without_a_token_only_loopback_host_names_are_answered(demo_client):
    for host in ("127.0.0.1:8080", "localhost", "[::1]:8080"):
        assert demo_client.get("/api/health", headers={"host": host}).status_code == 200
    # DNS rebinding: a page of another site that resolves to 127.0.0.1.
    response = demo_client.get("/api/search", headers={"host": "attacker.example"})
    assert response.status_code == 400
    assert response.json() == {"error": "this server answers only 127.0.0.1, ::1, localhost"}


TOKEN = "s3cret-t0ken"


def test_the_access_token_guards_every_route(empty_index, tmp_path):
    empty_index.store.upsert(make_article(3))
    with make_client(empty_index, tmp_path, token=TOKEN) as client:
        for path in (
            "/",
            "/api/search",
            "/api/health",
            "/api/stats",
            "/api/openapi.json",
            "/static/app.css",
            "/feeds/x.atom",
            "/api/export",
            "/api/saved-searches",
        ):
            response = client.get(path)
            assert response.status_code == 401, path
            assert response.json() == {
                "error": "an access token is needed: 'Authorization: Bearer <token>' or "
                "?token=<token>"
            }
            assert response.headers["www-authenticate"] == 'Bearer realm="newswatch"'
            assert client.get(path, params={"token": "wrong"}).status_code == 401
            wrong = {"Authorization": "Bearer wrong"}
            assert client.get(path, headers=wrong, params={"token": TOKEN}).status_code == 401
        assert client.delete("/api/saved-searches/x").status_code == 401
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        assert client.get("/api/health", headers=bearer).json() == {"store": "ok"}
        assert client.get("/api/search", params={"token": TOKEN}).json()["total"] == 1
        assert client.get("/static/app.css", params={"token": TOKEN}).status_code == 200
        # With a token, any host name is answered (the token is the guard).
        response = client.get("/api/health", headers={**bearer, "host": "news.example"})
        assert response.status_code == 200


def test_the_token_may_come_from_the_environment(empty_index, tmp_path, monkeypatch):
    monkeypatch.setenv("NEWSWATCH_WEB_TOKEN", "from-the-environment")
    with make_client(empty_index, tmp_path, web={"token": "from-the-config"}) as client:
        assert client.get("/api/health").status_code == 401
        assert client.get("/api/health?token=from-the-config").status_code == 401
        assert client.get("/api/health?token=from-the-environment").status_code == 200
    monkeypatch.delenv("NEWSWATCH_WEB_TOKEN")
    with make_client(empty_index, tmp_path, web={"token": "from-the-config"}) as client:
        assert client.get("/api/health?token=from-the-config").status_code == 200


def test_many_threads_share_the_store_safely(demo_client):
    from concurrent.futures import ThreadPoolExecutor

    def total(q: str) -> int:
        return demo_client.get("/api/search", params={"q": q}).json()["total"]

    with ThreadPoolExecutor(8) as pool:
        totals = list(pool.map(total, ["Meta", "Nvidia", "superintelligence"] * 10))
    assert totals == [total("Meta"), total("Nvidia"), 6] * 10


def _words_of(text: str) -> list[str]:
    return [t.word.casefold() for t in tokenize(text)]


def _urls(store, query: str) -> set[str]:
    result = store.search(SearchRequest(query=query, size=100))
    assert result.total == len(result.hits)
    return {hit.article.url for hit in result.hits}


def test_field_and_proximity_operators_on_the_demo(demo_client, demo_index):
    articles, store = demo_index.demo.articles, demo_index.store
    with_meta = {a.url for a in articles if "meta" in _words_of(a.title)}
    assert _urls(store, "title:Meta") == with_meta
    assert len(with_meta) > 0
    # The API's stories: one per story, each with Meta in its title.
    data = demo_client.get("/api/search", params={"q": "title:Meta", "size": 100}).json()
    assert 0 < len(data["hits"]) <= len(with_meta)
    assert all("meta" in _words_of(hit["title"]) for hit in data["hits"])

    both, near = _urls(store, "Meta OpenAI"), _urls(store, "Meta NEAR/5 OpenAI")
    assert near == {
        demo_index.demo.base + path
        for path in (
            "/daily-circuit/tech/zuckerberg-lab-lures-openai-staff.html",
            "/global-wire/2026/11/04/openai-researchers-defect-to-meta-superintelligence-lab.html",
            "/quotidien-numerique/tech/mistral-ai-devoile-mistral-ultra.html",
        )
    }
    assert near < both and len(both) == 10
    for url in near:
        article = next(a for a in articles if a.url == url)
        within = False
        for text in (article.title, article.body):
            words = _words_of(text)
            metas = [i for i, w in enumerate(words) if w == "meta"]
            openais = [i for i, w in enumerate(words) if w == "openai"]
            within |= any(abs(i - j) <= 6 for i in metas for j in openais)
        assert within, url
    response = demo_client.get("/api/search", params={"q": "nosuchfield:x"})
    assert (response.status_code, response.json()) == (
        400,
        {
            "error": "bad query: unknown field 'nosuchfield:' (fields: body:, title:); "
            "quote the text to search for it as words"
        },
    )


def test_lang_takes_a_list_in_any_case(demo_client):
    def total(params: dict) -> int:
        return demo_client.get("/api/search", params=params).json()["total"]

    separate = total({"lang": ["de", "fr"]})
    assert separate == total({"lang": "DE,fr"}) == total({"lang": " de , FR ,"})
    assert total({"lang": "de"}) + total({"lang": "fr"}) == separate > total({"lang": "de"}) > 0
