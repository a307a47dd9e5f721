"""SqliteStore on a temporary file: upserts, search over a small multilingual corpus, history."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from crawler.items import Article
from crawler.urls import article_id
from pipelines.stores.base import SearchRequest, SearchResult
from pipelines.stores.sqlite import SqliteStore
from pipelines.stores.sqlite.query import fts_expression
from search.fingerprint import bands, body_hash, signature
from search.query import QuerySyntaxError, analyze_query

LANGUAGES = ["en", "fr", "de", "es", "it"]


def make(
    slug: str,
    language: str,
    title: str,
    body: str,
    source: str,
    published_at: str | None,
    topics: tuple[str, ...] = (),
    story_id: str | None = None,
) -> Article:
    url = f"https://{source}.example/{slug}"
    return Article(
        id=article_id(url),
        url=url,
        canonical_url=url,
        title=title,
        body=body,
        source=source,
        fetched_at="2026-11-05T00:00:00Z",
        published_at=published_at,
        language=language,
        topics=list(topics),
        story_id=story_id,
        body_hash=body_hash(body),
        lsh_bands=bands(signature(body)),
    )


WIRE_BODY = (
    "Nvidia sold more chips for AI data centres than ever before, the company said on "
    "Monday. Demand from OpenAI and other labs keeps rising."
)

# One article per source, so results can be named by source.
CORPUS = [
    make(
        "nvidia",
        "en",
        "Nvidia sells a record number of chips",
        WIRE_BODY,
        "wire",
        "2026-11-01T10:00:00Z",
        ("ai-race",),
    ),
    make(
        "openai-modeles",
        "fr",
        "Les modèles d'OpenAI arrivent en Europe",
        "La Société Générale teste les nouveaux modèles de langage d'OpenAI. "
        "L'intelligence artificielle générale reste un objectif lointain.",
        "lemonde",
        "2026-11-02T08:00:00Z",
        ("ai-race",),
    ),
    make(
        "rechenzentren",
        "de",
        "Neue Rechenzentren für künstliche Intelligenz",
        "Die großen Sprachmodelle brauchen neue Rechenzentren. "
        "Die Betreiber der künstlichen Intelligenz suchen Strom.",
        "heise",
        "2026-11-03T09:30:00Z",
        ("ai-race",),
    ),
    make(
        "modelos",
        "es",
        "Las empresas compiten por los modelos de IA",
        "Las empresas tecnológicas compiten por los mejores modelos de inteligencia "
        "artificial y por los chips más rápidos.",
        "elpais",
        "2026-11-03T15:00:00Z",
        ("ai-race",),
    ),
    make(
        "crumble",
        "en",
        "Apple crumble for a cold evening",
        "Peel the apples, rub butter into flour and bake the crumble for forty minutes.",
        "food",
        "2026-10-20T18:00:00Z",
    ),
]
# A shorter copy of the wire story from another source: the same story.
CORPUS.append(
    make(
        "nvidia-copy",
        "en",
        "Record chip sales for Nvidia",
        "Nvidia sold more chips for AI data centres than ever before, the company said on Monday.",
        "agency",
        "2026-11-01T12:00:00Z",
        ("ai-race",),
        story_id=CORPUS[0].id,
    )
)
BY_SOURCE = {a.source: a for a in CORPUS}


@pytest.fixture
def store(tmp_path: Path):
    store = SqliteStore(tmp_path / "sub" / "newswatch.db", LANGUAGES)
    for article in CORPUS:
        assert store.upsert(copy.deepcopy(article)) == "new"
    yield store
    store.close()


def sources(result: SearchResult) -> list[str]:
    return [hit.article.source for hit in result.hits]


def search(store: SqliteStore, query: str = "", **kwargs) -> SearchResult:
    return store.search(SearchRequest(query=query, **kwargs))


# --- writing -----------------------------------------------------------------------------


def test_upsert_new_unchanged_updated(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "a.db", LANGUAGES)
    original = copy.deepcopy(BY_SOURCE["wire"])
    assert store.upsert(copy.deepcopy(original)) == "new"
    assert store.count() == 1
    first = store.get(original.id)
    assert first is not None
    assert (first.revision, first.title, first.body) == (1, original.title, original.body)
    assert first.indexed_at is not None and first.indexed_at.endswith("Z")

    same = copy.deepcopy(original)
    assert store.upsert(same) == "unchanged"
    assert same.revision == 1
    assert store.get(original.id).revision == 1

    changed = copy.deepcopy(original)
    changed.body += " Shares rose."
    assert store.upsert(changed) == "updated"
    assert changed.revision == 2
    saved = store.get(original.id)
    assert (saved.revision, saved.body) == (2, original.body + " Shares rose.")
    assert store.count() == 1

    # The index follows the update: the new word is found, once.
    assert [h.article.id for h in search(store, "shares").hits] == [original.id]
    assert store.upsert(copy.deepcopy(changed)) == "unchanged"
    assert store.get(original.id).revision == 2
    store.close()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("title", "Nvidia sells even more chips"),
        ("published_at", "2026-11-01T11:00:00Z"),
        ("modified_at", "2026-11-02T00:00:00Z"),
    ],
)
def test_upsert_counts_title_and_dates_as_changes(tmp_path: Path, field: str, value: str) -> None:
    store = SqliteStore(tmp_path / "a.db", LANGUAGES)
    store.upsert(copy.deepcopy(BY_SOURCE["wire"]))
    changed = copy.deepcopy(BY_SOURCE["wire"])
    setattr(changed, field, value)
    assert store.upsert(changed) == "updated"
    assert getattr(store.get(changed.id), field) == value
    store.close()


def test_unchanged_upsert_keeps_the_stored_story(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "a.db", LANGUAGES)
    store.upsert(copy.deepcopy(BY_SOURCE["agency"]))
    again = copy.deepcopy(BY_SOURCE["agency"])
    again.story_id = None
    assert store.upsert(again) == "unchanged"
    assert store.get(again.id).story_id == BY_SOURCE["wire"].id
    store.close()


def test_get_missing(store: SqliteStore) -> None:
    assert store.get("0" * 16) is None
    assert store.ping() is True


def test_delete(store: SqliteStore) -> None:
    wire, agency = BY_SOURCE["wire"], BY_SOURCE["agency"]
    assert store.delete(wire.id) is True
    assert store.get(wire.id) is None
    assert store.count() == 5
    assert sorted(sources(search(store, "chips"))) == ["agency", "elpais"]
    assert search(store, "", topics=["ai-race"]).total == 4
    assert store.find_by_bands(agency.lsh_bands, agency.id) == []
    assert store.find_by_body_hash(wire.body_hash, "0" * 16) is None
    assert store.delete(wire.id) is False
    # The id can be stored again afterwards.
    assert store.upsert(copy.deepcopy(wire)) == "new"
    assert sources(search(store, "chips")) == ["elpais", "agency", "wire"]


def test_a_store_reopens_with_its_articles(tmp_path: Path) -> None:
    path = tmp_path / "again.db"
    first = SqliteStore(path, LANGUAGES)
    first.upsert(copy.deepcopy(BY_SOURCE["heise"]))
    first.close()
    second = SqliteStore(path, LANGUAGES)
    assert second.count() == 1
    assert sources(search(second, "Rechenzentren")) == ["heise"]
    second.close()


# --- search: analysis --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "languages", "expected"),
    [
        # Accent and case folding.
        ("generale", [], ["lemonde"]),
        ("SOCIETE", [], ["lemonde"]),
        ("Société", [], ["lemonde"]),
        # A French plural found from the singular, in French articles.
        ("modèle", ["fr"], ["lemonde"]),
        ("modeles", ["fr"], ["lemonde"]),
        # Across the default languages the Spanish "modelos" shares the stem.
        ("modèle", [], ["lemonde", "elpais"]),
        # German inflections.
        ("künstliche", [], ["heise"]),
        ("Sprachmodell", [], ["heise"]),
        ("groß", [], ["heise"]),
        ("gross", [], ["heise"]),
        # Spanish inflection.
        ("empresa", [], ["elpais"]),
        # English plural.
        ("chip", ["en"], ["agency", "wire"]),
        # Elisions on both sides.
        ("l'IA", [], ["elpais"]),
        ("OpenAI", [], ["lemonde", "wire"]),
    ],
)
def test_search_analysis(
    store: SqliteStore, query: str, languages: list[str], expected: list[str]
) -> None:
    result = search(store, query, languages=languages)
    assert sources(result) == expected
    assert result.total == len(expected)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("chips", ["elpais", "agency", "wire"]),
        ("Nvidia chips", ["agency", "wire"]),
        ("Nvidia AND chips", ["agency", "wire"]),
        ('"data centres"', ["agency", "wire"]),
        ('"data centre"', ["agency", "wire"]),  # phrase words are stemmed too
        ('"centres data"', []),  # order matters in a phrase
        ('"Nvidia chips"', []),  # so does adjacency
        ('"künstliche Intelligenz"', ["heise"]),
        ("chips -Nvidia", ["elpais"]),
        ("chips - Nvidia", ["elpais"]),
        ("chips -Nvidia -IA", []),
        ('chips -"data centres"', ["elpais"]),
        ("Nvidia OR crumble", ["food", "agency", "wire"]),
        ("(Nvidia OR crumble) -apples", ["agency", "wire"]),
        ("Rechenz*", ["heise"]),
        ("mod*", ["lemonde", "elpais"]),
        ("crumb*", ["food"]),
        ("nothingatall", []),
    ],
)
def test_search_operators(store: SqliteStore, query: str, expected: list[str]) -> None:
    result = search(store, query)
    assert sources(result) == expected
    assert result.total == len(expected)


@pytest.mark.parametrize(
    "query",
    [
        "NEAR(chips Nvidia)",
        "chips NOT",
        "title:chips",
        "{title body}: chips",
        "^chips",
        "'chips'",
        "Nvidia\x00 OR \x1b crumble",
        'chips "a""b"',
    ],
)
def test_fts5_syntax_in_queries_is_only_text(store: SqliteStore, query: str) -> None:
    # No FTS5 syntax error can come from user text: the search runs and is consistent.
    result = search(store, query)
    assert result.total == len(result.hits)


def test_the_fts_expression_quotes_every_term() -> None:
    query = analyze_query('"data centres" OR chip* -NEAR', ["en"])
    assert fts_expression(query.tree) == ('(("data centr") OR ((("chip"*)) NOT ("near")))')


def test_a_query_error_reaches_the_caller(store: SqliteStore) -> None:
    with pytest.raises(QuerySyntaxError, match=r"^unmatched '\(' in query$"):
        search(store, "(chips")


def test_hits_carry_highlighted_titles_and_snippets(store: SqliteStore) -> None:
    result = search(store, "chips Nvidia", languages=["en"])
    first = result.hits[0]
    assert first.article.source == "agency"
    assert first.title.text == "Record chip sales for Nvidia"
    assert [first.title.text[s:e] for s, e in first.title.spans] == ["chip", "Nvidia"]
    assert [first.snippet.text[s:e] for s, e in first.snippet.spans] == ["Nvidia", "chips"]
    assert first.score > result.hits[1].score > 0
    assert first.article.revision == 1 and first.article.indexed_at


# --- search: filters, order, pages -------------------------------------------------------


@pytest.mark.parametrize(
    ("request_args", "expected"),
    [
        ({"query": "chips", "languages": ["en"]}, ["agency", "wire"]),
        ({"query": "chips", "languages": ["es", "de"]}, ["elpais"]),
        ({"query": "chips", "sources": ["elpais", "food"]}, ["elpais"]),
        (
            {"query": "", "topics": ["ai-race"], "sort": "date"},
            ["elpais", "heise", "lemonde", "agency", "wire"],
        ),
        ({"query": "", "topics": ["nope"]}, []),
        ({"query": "", "sort": "date"}, ["elpais", "heise", "lemonde", "agency", "wire", "food"]),
        ({"query": "Nvidia OR crumble", "sort": "date"}, ["agency", "wire", "food"]),
        (
            {"query": "", "since": "2026-11-02", "until": "2026-11-03"},
            ["elpais", "heise", "lemonde"],
        ),
        ({"query": "", "since": "2026-11-01T11:00:00Z"}, ["elpais", "heise", "lemonde", "agency"]),
        ({"query": "", "until": "2026-10-31"}, ["food"]),
        ({"query": "chips", "since": "2026-11-02"}, ["elpais"]),
        # An inclusive bound includes an article published at exactly that second.
        (
            {"query": "", "until": "2026-11-03T09:30:00Z"},
            ["heise", "lemonde", "agency", "wire", "food"],
        ),
        ({"query": "", "since": "2026-11-03T09:30:00Z"}, ["elpais", "heise"]),
    ],
)
def test_search_filters_and_order(
    store: SqliteStore, request_args: dict, expected: list[str]
) -> None:
    result = store.search(SearchRequest(**request_args))
    assert sources(result) == expected
    assert result.total == len(expected)


def test_a_bad_date_is_a_query_error(store: SqliteStore) -> None:
    with pytest.raises(QuerySyntaxError, match=r"^not a date: 'soon' \(expected YYYY-MM-DD\)$"):
        search(store, "", since="soon")


@pytest.mark.parametrize(
    ("page", "size", "expected"),
    [
        (1, 2, ["elpais", "heise"]),
        (2, 2, ["lemonde", "agency"]),
        (3, 2, ["wire", "food"]),
        (4, 2, []),
        (2, 4, ["wire", "food"]),
        (0, 4, ["elpais", "heise", "lemonde", "agency"]),  # page 0 is page 1
    ],
)
def test_pagination(store: SqliteStore, page: int, size: int, expected: list[str]) -> None:
    result = search(store, "", sort="date", page=page, size=size)
    assert sources(result) == expected
    assert result.total == 6


def test_pagination_of_ranked_results(store: SqliteStore) -> None:
    pages = [sources(search(store, "chips", size=1, page=n)) for n in (1, 2, 3, 4)]
    assert pages == [["elpais"], ["agency"], ["wire"], []]


def test_facets_and_histogram(store: SqliteStore) -> None:
    result = search(store, "chips", facets=True)
    assert result.facets == {
        "language": {"en": 2, "es": 1},
        "source": {"agency": 1, "elpais": 1, "wire": 1},
        "topics": {"ai-race": 3},
    }
    assert result.histogram == {"2026-11-01": 2, "2026-11-03": 1}


def test_facets_of_everything(store: SqliteStore) -> None:
    result = search(store, "", facets=True)
    assert result.facets["language"] == {"en": 3, "de": 1, "es": 1, "fr": 1}
    assert result.facets["topics"] == {"ai-race": 5}
    assert result.histogram == {
        "2026-10-20": 1,
        "2026-11-01": 2,
        "2026-11-02": 1,
        "2026-11-03": 2,
    }
    assert search(store, "chips").facets == {}


def test_collapse_by_story(store: SqliteStore) -> None:
    result = search(store, "chips", collapse=True)
    assert sources(result) == ["elpais", "agency"]
    assert [h.similar for h in result.hits] == [0, 1]
    assert result.total == 2

    browse = search(store, "", sort="date", collapse=True)
    assert sources(browse) == ["elpais", "heise", "lemonde", "agency", "food"]
    assert [h.similar for h in browse.hits] == [0, 0, 0, 1, 0]
    assert browse.total == 5

    plain = search(store, "chips")
    assert [h.similar for h in plain.hits] == [0, 0, 0]


# --- duplicates --------------------------------------------------------------------------


def test_find_by_body_hash(store: SqliteStore) -> None:
    wire = BY_SOURCE["wire"]
    assert store.find_by_body_hash(body_hash(wire.body), "0" * 16) == wire.id
    assert store.find_by_body_hash(body_hash(wire.body.upper()), "0" * 16) == wire.id
    assert store.find_by_body_hash(body_hash(wire.body), wire.id) is None
    assert store.find_by_body_hash(body_hash("something else"), "0" * 16) is None


def test_find_by_bands(store: SqliteStore) -> None:
    wire, agency = BY_SOURCE["wire"], BY_SOURCE["agency"]
    assert set(wire.lsh_bands) & set(agency.lsh_bands)  # the copy is a near-duplicate
    found = store.find_by_bands(agency.lsh_bands, agency.id)
    assert [a.id for a in found] == [wire.id]
    assert found[0].title == wire.title
    assert store.find_by_bands(BY_SOURCE["food"].lsh_bands, BY_SOURCE["food"].id) == []
    assert store.find_by_bands([], "x") == []
    assert store.find_by_bands(["0:0000000000000000"], "x") == []


# --- iteration and history ---------------------------------------------------------------


def test_iter_articles_in_id_order_and_resume(store: SqliteStore) -> None:
    ids = sorted(a.id for a in CORPUS)
    assert [a.id for a in store.iter_articles()] == ids
    assert [a.id for a in store.iter_articles(ids[2])] == ids[3:]
    assert [a.id for a in store.iter_articles(ids[-1])] == []
    first = next(store.iter_articles())
    assert first == store.get(ids[0])


def test_iter_articles_beyond_one_batch(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "many.db", LANGUAGES)
    for n in range(501):
        store.upsert(make(f"a{n}", "en", f"Title {n}", f"Body {n}", "bulk", None))
    ids = [a.id for a in store.iter_articles()]
    assert len(ids) == 501
    assert ids == sorted(ids)
    store.close()


RUNS = [
    {
        "source": "wire",
        "started_at": "2026-11-05T00:00:00Z",
        "finished_at": "2026-11-05T00:01:00Z",
        "status": "ok",
        "stats": {"dropped": {"no-topic": 3}, "new": 1},
    },
    {
        "source": "wire",
        "started_at": "2026-11-06T00:00:00Z",
        "finished_at": "2026-11-06T00:01:00Z",
        "status": "failed",
        "error": "timeout",
        "stats": {"dropped": {"language:pt": 1}},
    },
    {"source": "ghost", "started_at": "2026-11-06T00:00:00Z", "status": "ok"},
]


def test_record_run_and_runs(store: SqliteStore) -> None:
    for run in RUNS:
        store.record_run(run)
    assert store.runs() == [
        {
            "source": "ghost",
            "started_at": "2026-11-06T00:00:00Z",
            "finished_at": None,
            "status": "ok",
            "error": None,
            "stats": {},
        },
        {
            "source": "wire",
            "started_at": "2026-11-06T00:00:00Z",
            "finished_at": "2026-11-06T00:01:00Z",
            "status": "failed",
            "error": "timeout",
            "stats": {"dropped": {"language:pt": 1}},
        },
        {
            "source": "wire",
            "started_at": "2026-11-05T00:00:00Z",
            "finished_at": "2026-11-05T00:01:00Z",
            "status": "ok",
            "error": None,
            "stats": {"dropped": {"no-topic": 3}, "new": 1},
        },
    ]
    assert [r["started_at"] for r in store.runs("wire")] == [
        "2026-11-06T00:00:00Z",
        "2026-11-05T00:00:00Z",
    ]
    assert [r["status"] for r in store.runs("wire", limit=1)] == ["failed"]
    assert store.runs("nobody") == []


def test_stats(store: SqliteStore) -> None:
    for run in RUNS:
        store.record_run(run)
    stats = store.stats()
    assert stats["articles"] == 6
    assert list(stats["sources"]) == [
        "agency",
        "elpais",
        "food",
        "ghost",
        "heise",
        "lemonde",
        "wire",
    ]
    assert stats["sources"]["wire"] == {
        "articles": 1,
        "languages": {"en": 1},
        "newest_article": "2026-11-01T10:00:00Z",
        "last_crawl": {
            "started_at": "2026-11-06T00:00:00Z",
            "finished_at": "2026-11-06T00:01:00Z",
            "status": "failed",
            "error": "timeout",
        },
        "dropped": {"language:pt": 1},
    }
    assert stats["sources"]["ghost"] == {
        "articles": 0,
        "languages": {},
        "last_crawl": {
            "started_at": "2026-11-06T00:00:00Z",
            "finished_at": None,
            "status": "ok",
            "error": None,
        },
        "dropped": {},
    }
    assert stats["sources"]["heise"] == {
        "articles": 1,
        "languages": {"de": 1},
        "newest_article": "2026-11-03T09:30:00Z",
    }
