"""The store contract: SqliteStore and ElasticsearchStore, one suite, the same answers.

Every test here runs against both stores (the ``store`` fixture's params) with the same
multilingual corpus, the same queries and the same exact expectations; the ``both``
tests load the corpus into one store of each kind and compare their answers directly.
Elasticsearch is a real node (tests/es_fixtures.py): without one these tests fail.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from crawler.items import Article
from crawler.urls import article_id
from newswatch.config import ElasticsearchConfig
from pipelines.stores.base import SearchRequest, SearchResult, Store
from pipelines.stores.elasticsearch import ElasticsearchStore
from pipelines.stores.sqlite import SqliteStore
from search.fingerprint import body_hash
from search.query import QuerySyntaxError

LANGUAGES = ["en", "fr", "de", "es", "it"]

# slug, language, source, published_at, topics, story, title, body
ROWS = [
    (
        "en-nvidia-record",
        "en",
        "wire",
        "2026-11-01T10:00:00Z",
        ("ai-race", "chips"),
        "nvidia",
        "Nvidia sells a record number of AI chips",
        "Nvidia sold more chips for AI data centres than ever before, the company said on Monday. "
        "Demand from OpenAI and other labs keeps rising, and new factories in Taiwan are running at full capacity.",
    ),
    (
        "en-nvidia-copy",
        "en",
        "agency",
        "2026-11-01T12:00:00Z",
        ("ai-race", "chips"),
        "nvidia",
        "Record chip sales for Nvidia",
        "Nvidia sold more chips for AI data centres than ever before, the company said on Monday. "
        "Demand from OpenAI keeps rising.",
    ),
    (
        "en-nvidia-blog",
        "en",
        "blog",
        "2026-11-02T09:00:00Z",
        ("chips",),
        "nvidia",
        "Why Nvidia keeps selling every chip it makes",
        "Nvidia sold more chips for AI data centres than ever before. "
        "Analysts say the factories cannot keep up with demand.",
    ),
    (
        "en-meta-lab",
        "en",
        "wire",
        "2026-11-04T08:00:00Z",
        ("ai-race",),
        "meta",
        "Meta hires OpenAI researchers for its superintelligence lab",
        "Meta has hired four researchers from OpenAI for its new superintelligence lab, offering pay "
        "packages worth millions. The race for talent between the labs is getting fiercer.",
    ),
    (
        "en-meta-lab-copy",
        "en",
        "circuit",
        "2026-11-04T11:30:00Z",
        ("ai-race",),
        "meta",
        "Zuckerberg lures OpenAI staff to superintelligence team",
        "Meta has hired four researchers from OpenAI for its new superintelligence lab. "
        "The race for talent is getting fiercer, insiders said.",
    ),
    (
        "en-anthropic",
        "en",
        "wire",
        "2026-11-18T07:00:00Z",
        ("ai-race",),
        None,
        "Anthropic raises 30 billion dollars",
        "Anthropic raised 30 billion dollars from investors to build larger models and new data centres.",
    ),
    (
        "en-memphis",
        "en",
        "circuit",
        "2026-11-06T15:00:00Z",
        ("ai-race", "energy"),
        None,
        "xAI expands its Memphis data centre",
        "xAI is expanding the Colossus data centre in Memphis. The site already draws as much power "
        "as a small city, and Nvidia chips fill every hall.",
    ),
    (
        "en-agi",
        "en",
        "circuit",
        "2026-11-10T09:00:00Z",
        ("ai-race",),
        None,
        "When will artificial general intelligence arrive?",
        "Sam Altman, Demis Hassabis and Dario Amodei disagree on when artificial general intelligence "
        "will arrive. Some say in two years, others in ten.",
    ),
    (
        "en-crumble",
        "en",
        "food",
        "2026-10-20T18:00:00Z",
        (),
        None,
        "Apple crumble for a cold evening",
        "Peel the apples, rub butter into flour and bake the crumble for forty minutes.",
    ),
    (
        "en-undated",
        "en",
        "blog",
        None,
        ("ai-race",),
        None,
        "A short history of neural networks",
        "Neural networks were invented decades ago; only the data and the chips were missing.",
    ),
    (
        "fr-openai-modeles",
        "fr",
        "lemonde",
        "2026-11-02T08:00:00Z",
        ("ai-race",),
        None,
        "Les modèles d'OpenAI arrivent en Europe",
        "La Société Générale teste les nouveaux modèles de langage d'OpenAI. "
        "L'intelligence artificielle générale reste un objectif lointain.",
    ),
    (
        "fr-mistral",
        "fr",
        "quotidien",
        "2026-11-05T10:00:00Z",
        ("ai-race",),
        None,
        "Mistral AI dévoile un modèle plus rapide",
        "La start-up parisienne Mistral AI présente un modèle de langage plus rapide et moins cher. "
        "Les centres de données français tournent à plein régime.",
    ),
    (
        "fr-meta-recrute",
        "fr",
        "quotidien",
        "2026-11-07T09:00:00Z",
        ("ai-race",),
        None,
        "Superintelligence : Meta recrute des chercheurs parisiens",
        "Meta recrute des chercheurs parisiens pour son laboratoire de superintelligence. "
        "La course à l'IA se joue aussi à Paris.",
    ),
    (
        "fr-gravelines",
        "fr",
        "quotidien",
        "2026-11-12T14:00:00Z",
        ("ai-race", "energy"),
        None,
        "Course à l'IA : un campus de centres de données à Gravelines",
        "Un campus de centres de données sera construit à Gravelines, près de la centrale nucléaire. "
        "L'électricité bon marché attire les géants de l'intelligence artificielle.",
    ),
    (
        "fr-nvidia",
        "fr",
        "lemonde",
        "2026-11-01T16:00:00Z",
        ("chips",),
        None,
        "Nvidia vend des puces en nombre record",
        "Nvidia a vendu plus de puces que jamais pour les centres de données de l'IA, a annoncé "
        "l'entreprise lundi.",
    ),
    (
        "fr-tarte",
        "fr",
        "cuisine",
        "2026-10-25T12:00:00Z",
        (),
        None,
        "La vraie tarte Tatin",
        "Caramélisez les pommes, posez la pâte et enfournez quarante minutes.",
    ),
    (
        "de-fabriken",
        "de",
        "techbote",
        "2026-11-13T08:00:00Z",
        ("ai-race", "chips"),
        None,
        "Jensen Huang will KI-Fabriken in München",
        "Nvidia-Chef Jensen Huang plant in München neue KI-Fabriken. Die Rechenzentren sollen "
        "Tausende Chips für künstliche Intelligenz bündeln.",
    ),
    (
        "de-fabrik-dresden",
        "de",
        "techbote",
        "2026-11-14T10:00:00Z",
        ("chips",),
        None,
        "Neue Chipfabrik in Dresden",
        "In Dresden eröffnet eine neue Fabrik für Halbleiter. Die Fabrik beschäftigt tausend Menschen.",
    ),
    (
        "de-rechenzentren",
        "de",
        "heise",
        "2026-11-03T09:30:00Z",
        ("ai-race", "energy"),
        None,
        "Neue Rechenzentren für künstliche Intelligenz",
        "Die großen Sprachmodelle brauchen neue Rechenzentren. Die Betreiber der künstlichen "
        "Intelligenz suchen Strom in Frankfurt.",
    ),
    (
        "de-meta",
        "de",
        "techbote",
        "2026-11-08T07:00:00Z",
        ("ai-race",),
        None,
        "Superintelligenz: Meta lockt DeepMind-Forscher",
        "Meta lockt Forscher von DeepMind in sein Labor für Superintelligenz. "
        "Der Wettlauf um Talente wird härter.",
    ),
    (
        "de-verordnung",
        "de",
        "heise",
        "2026-11-20T12:00:00Z",
        ("ai-race",),
        None,
        "EU verschiebt Regeln für Hochrisiko-KI",
        "Die EU verschiebt die Regeln der KI-Verordnung für Hochrisiko-Systeme um ein Jahr.",
    ),
    (
        "de-gruenkohl",
        "de",
        "kochen",
        "2026-11-15T18:00:00Z",
        (),
        None,
        "Grünkohl mit Pinkel",
        "Den Grünkohl waschen, mit Zwiebeln dünsten und zwei Stunden schmoren.",
    ),
    (
        "es-talavera",
        "es",
        "diario",
        "2026-11-09T10:00:00Z",
        ("ai-race", "energy"),
        "talavera",
        "Meta elige Talavera para su centro de datos de IA",
        "Meta construirá en Talavera de la Reina un centro de datos para inteligencia artificial. "
        "La inversión supera los mil millones de euros.",
    ),
    (
        "es-talavera-copy",
        "es",
        "noticias",
        "2026-11-09T13:00:00Z",
        ("ai-race", "energy"),
        "talavera",
        "Talavera acogerá el centro de datos de Meta",
        "Meta construirá en Talavera de la Reina un centro de datos para inteligencia artificial. "
        "La inversión supera los mil millones.",
    ),
    (
        "es-modelos",
        "es",
        "diario",
        "2026-11-03T15:00:00Z",
        ("ai-race",),
        None,
        "Las empresas compiten por los modelos de IA",
        "Las empresas tecnológicas compiten por los mejores modelos de inteligencia artificial y por "
        "los chips más rápidos.",
    ),
    (
        "es-sueldos",
        "es",
        "diario",
        "2026-11-11T08:00:00Z",
        ("ai-race",),
        None,
        "Sueldos récord en la carrera de la IA",
        "Los laboratorios de superinteligencia pagan sueldos récord. La carrera de la IA dispara los "
        "salarios de los investigadores.",
    ),
    (
        "it-meta",
        "it",
        "corriere",
        "2026-11-08T12:00:00Z",
        ("ai-race",),
        None,
        "Superintelligenza, Meta recluta in Italia",
        "Meta recluta ricercatori italiani per il suo laboratorio di superintelligenza. "
        "La corsa all'IA arriva a Milano.",
    ),
    (
        "it-chip",
        "it",
        "corriere",
        "2026-11-12T09:00:00Z",
        ("chips",),
        None,
        "Chip Nvidia, nuove regole per le aziende italiane",
        "Le nuove regole americane sull'esportazione di chip Nvidia preoccupano le aziende italiane.",
    ),
    (
        "it-datacenter",
        "it",
        "corriere",
        "2026-11-16T10:00:00Z",
        ("ai-race", "energy"),
        None,
        "Data center in Lombardia, corsa all'IA",
        "In Lombardia nascono nuovi data center per l'intelligenza artificiale. "
        "La rete elettrica è sotto pressione.",
    ),
    (
        "it-risotto",
        "it",
        "cucina",
        "2026-10-28T19:00:00Z",
        (),
        None,
        "Risotto alla zucca",
        "Tostate il riso, aggiungete la zucca e mantecate con burro e parmigiano.",
    ),
]


def make(row: tuple) -> Article:
    """An article of the corpus; near-copies share a story id and a band."""
    slug, language, source, published_at, topics, story, title, body = row
    url = f"https://{source}.example/{slug}"
    return Article(
        id=article_id(url),
        url=url,
        canonical_url=url,
        title=title,
        body=body,
        source=source,
        fetched_at="2026-11-21T00:00:00Z",
        published_at=published_at,
        language=language,
        topics=list(topics),
        story_id=article_id(f"https://story.example/{story}") if story else None,
        body_hash=body_hash(body),
        lsh_bands=[f"{slug}-a", f"{slug}-b"] + ([f"story-{story}"] if story else []),
    )


CORPUS = [make(row) for row in ROWS]
NAMES = {a.id: row[0] for a, row in zip(CORPUS, ROWS, strict=True)}
ID = {name: article_id for article_id, name in NAMES.items()}
BY_NAME = {NAMES[a.id]: a for a in CORPUS}
BY_DATE = [  # every article, newest first, the undated last
    "de-verordnung",
    "en-anthropic",
    "it-datacenter",
    "de-gruenkohl",
    "de-fabrik-dresden",
    "de-fabriken",
    "fr-gravelines",
    "it-chip",
    "es-sueldos",
    "en-agi",
    "es-talavera-copy",
    "es-talavera",
    "it-meta",
    "de-meta",
    "fr-meta-recrute",
    "en-memphis",
    "fr-mistral",
    "en-meta-lab-copy",
    "en-meta-lab",
    "es-modelos",
    "de-rechenzentren",
    "en-nvidia-blog",
    "fr-openai-modeles",
    "fr-nvidia",
    "en-nvidia-copy",
    "en-nvidia-record",
    "it-risotto",
    "fr-tarte",
    "en-crumble",
    "en-undated",
]


def fresh(articles: list[Article]) -> list[Article]:
    """Copies: a store sets indexed_at and revision on what it is given."""
    return [Article.from_dict(a.to_dict()) for a in articles]


def names(result: SearchResult) -> list[str]:
    return [NAMES.get(h.article.id, h.article.id) for h in result.hits]


def search(store: Store, query: str = "", **options) -> SearchResult:
    options.setdefault("size", 50)
    return store.search(SearchRequest(query=query, **options))


# --- the two stores ---------------------------------------------------------------------


def open_sqlite(tmp_path: Path) -> SqliteStore:
    return SqliteStore(tmp_path / f"{uuid.uuid4().hex}.db", LANGUAGES)


def open_elasticsearch(url: str, auth: tuple[str, str] | None) -> ElasticsearchStore:
    config = ElasticsearchConfig(
        url=url,
        index=f"newswatch-test-contract-{uuid.uuid4().hex[:12]}",
        username=auth[0] if auth else None,
        password=auth[1] if auth else None,
    )
    return ElasticsearchStore.from_config(config, LANGUAGES, environ={})


@pytest.fixture(params=["sqlite", "elasticsearch"])
def new_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Store]]:
    """Opens empty stores of the kind under test (Elasticsearch: indices newswatch-test-*)."""
    opened: list[Store] = []

    def open_store() -> Store:
        if request.param == "sqlite":
            store: Store = open_sqlite(tmp_path)
        else:
            request.getfixturevalue("es_client")  # deletes the test indices afterwards
            store = open_elasticsearch(
                request.getfixturevalue("es_url"), request.getfixturevalue("es_auth")
            )
        opened.append(store)
        return store

    yield open_store
    for store in opened:
        store.close()


@pytest.fixture
def store(new_store: Callable[[], Store]) -> Store:
    """An empty store of the kind under test."""
    return new_store()


@pytest.fixture
def loaded(store: Store) -> Store:
    """The store under test holding the corpus."""
    outcome = store.upsert_many(fresh(CORPUS))
    assert outcome.errors == {}
    assert outcome.count("new") == len(CORPUS)
    return store


@pytest.fixture
def both(tmp_path: Path, es_url, es_auth, es_client) -> Iterator[tuple[Store, Store]]:
    """One store of each kind, both holding the corpus."""
    stores = (open_sqlite(tmp_path), open_elasticsearch(es_url, es_auth))
    for store in stores:
        store.upsert_many(fresh(CORPUS))
    yield stores
    for store in stores:
        store.close()


# --- writing ------------------------------------------------------------------------------


def test_upsert_new_unchanged_updated_and_revisions(store: Store) -> None:
    article = fresh(CORPUS[:1])[0]
    assert store.upsert(article) == "new"
    assert (article.revision, article.indexed_at is not None) == (1, True)
    stored = store.get(article.id)
    assert stored is not None and stored.to_dict() == article.to_dict()
    assert store.upsert(fresh(CORPUS[:1])[0]) == "unchanged"
    assert store.get(article.id).revision == 1
    for number, (field, value) in enumerate(
        [
            ("title", "A new title"),
            ("body", "A new body."),
            ("published_at", "2026-11-02T00:00:00Z"),
            ("modified_at", "2026-11-03T00:00:00Z"),
        ],
        start=2,
    ):
        changed = store.get(article.id)
        setattr(changed, field, value)
        assert store.upsert(changed) == "updated", field
        assert changed.revision == number
        assert getattr(store.get(article.id), field) == value
    assert store.get(article.id).revision == 5
    assert store.count() == 1


def test_an_unchanged_upsert_keeps_the_stored_story_and_takes_new_topics(store: Store) -> None:
    article = fresh(CORPUS[1:2])[0]
    store.upsert(article)
    again = fresh(CORPUS[1:2])[0]
    again.story_id, again.topics = "another-story", ["chips"]
    assert store.upsert(again) == "unchanged"
    stored = store.get(article.id)
    assert (stored.story_id, stored.topics, stored.revision) == (CORPUS[1].story_id, ["chips"], 1)


def test_upsert_many_is_idempotent(store: Store) -> None:
    first = store.upsert_many(fresh(CORPUS))
    assert (first.count("new"), first.errors) == (30, {})
    second = store.upsert_many(fresh(CORPUS))
    assert (second.count("unchanged"), second.count("new"), second.errors) == (30, 0, {})
    assert store.count() == 30
    assert search(store, sort="date").total == 30
    changed = fresh(CORPUS[:2])
    changed[0].title = "Nvidia breaks its own record"
    third = store.upsert_many(changed)
    assert third.outcomes == {ID["en-nvidia-record"]: "updated", ID["en-nvidia-copy"]: "unchanged"}
    assert store.get(ID["en-nvidia-record"]).revision == 2
    assert names(search(store, "breaks")) == ["en-nvidia-record"]


def test_upsert_many_writes_the_same_id_twice_in_order(store: Store) -> None:
    first, second = fresh(CORPUS[:1]) * 1, fresh(CORPUS[:1])
    second[0].body = "A second version."
    outcome = store.upsert_many([first[0], second[0]])
    assert outcome.outcomes == {first[0].id: "updated"}
    stored = store.get(first[0].id)
    assert (stored.body, stored.revision, store.count()) == ("A second version.", 2, 1)


def test_upsert_many_copy_keeps_revision_and_indexing_time(store: Store) -> None:
    article = fresh(CORPUS[:1])[0]
    article.revision, article.indexed_at = 7, "2026-01-02T03:04:05Z"
    assert store.upsert_many([article], copy=True).outcomes == {article.id: "new"}
    stored = store.get(article.id)
    assert (stored.revision, stored.indexed_at) == (7, "2026-01-02T03:04:05Z")
    assert stored.to_dict() == article.to_dict()


def test_delete(loaded: Store) -> None:
    assert loaded.delete(ID["en-crumble"]) is True
    assert loaded.get(ID["en-crumble"]) is None
    assert loaded.delete(ID["en-crumble"]) is False
    assert loaded.count() == 29
    assert names(search(loaded, "crumble")) == []
    assert loaded.get("no-such-id") is None


# --- lookups ------------------------------------------------------------------------------


def test_find_by_body_hash(loaded: Store) -> None:
    record = BY_NAME["en-nvidia-record"]
    assert loaded.find_by_body_hash(record.body_hash, exclude_id=record.id) is None
    assert loaded.find_by_body_hash(record.body_hash, exclude_id="x") == record.id
    copy = make(
        (
            "en-nvidia-mirror",
            "en",
            "mirror",
            "2026-11-01T13:00:00Z",
            (),
            None,
            "Mirror",
            record.body,
        )
    )
    loaded.upsert(copy)
    # The earliest written copy answers, whichever id asks.
    assert loaded.find_by_body_hash(record.body_hash, exclude_id="x") == record.id
    assert loaded.find_by_body_hash(record.body_hash, exclude_id=record.id) == copy.id
    assert loaded.find_by_body_hash("0" * 16, exclude_id="x") is None


def test_find_by_bands(loaded: Store) -> None:
    found = loaded.find_by_bands(["story-nvidia", "nope"], exclude_id=ID["en-nvidia-record"])
    assert [NAMES[a.id] for a in found] == ["en-nvidia-copy", "en-nvidia-blog"]
    assert found[0].to_dict() == loaded.get(ID["en-nvidia-copy"]).to_dict()
    assert [NAMES[a.id] for a in loaded.find_by_bands(["fr-tarte-b"], "x")] == ["fr-tarte"]
    assert loaded.find_by_bands([], "x") == []
    assert loaded.find_by_bands(["nope"], "x") == []


def test_find_by_bands_gives_the_ten_sharing_most_bands_earliest_first(store: Store) -> None:
    # near-N shares N of the four bands; twelve share one band, the earliest written first.
    bands = ["q-1", "q-2", "q-3", "q-4"]
    near = [
        make((f"near-{n}", "en", "near", None, (), None, f"Near {n}", f"Near {n}."))
        for n in range(2, 5)
    ]
    for article, shared in zip(near, range(2, 5), strict=True):
        article.lsh_bands = bands[:shared]
    ones = [
        make((f"one-{n:02d}", "en", "one", None, (), None, f"One {n}", f"One {n}."))
        for n in range(12)
    ]
    for article in ones:
        article.lsh_bands = ["q-1"]
    for article in ones + near:  # one at a time: the write order is the earliest-first order
        store.upsert(article)
    found = [a.id for a in store.find_by_bands([*bands, "q-1"], exclude_id="x")]
    assert found == [near[2].id, near[1].id, near[0].id] + [a.id for a in ones[:7]]


def test_iter_articles_in_id_order_and_resume(loaded: Store) -> None:
    ids = sorted(NAMES)
    assert [a.id for a in loaded.iter_articles()] == ids
    assert [a.id for a in loaded.iter_articles(after_id=ids[9])] == ids[10:]
    assert list(loaded.iter_articles(after_id=ids[-1])) == []
    whole = next(loaded.iter_articles(after_id=ids[4]))
    assert whole.to_dict() == loaded.get(ids[5]).to_dict()


def test_iter_articles_beyond_one_page(store: Store) -> None:
    many = [
        make((f"bulk-{n:04d}", "en", "bulk", None, (), None, f"Bulk {n}", f"Body {n}."))
        for n in range(1234)
    ]
    assert store.upsert_many(many).count("new") == 1234
    ids = [a.id for a in store.iter_articles()]
    assert ids == sorted(a.id for a in many)
    assert [a.id for a in store.iter_articles(ids[600])] == ids[601:]
    assert store.count() == 1234


# --- search -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # accents folded: Générale, Société
        ("generale", ["en-agi", "fr-openai-modeles"]),
        ("societe", ["fr-openai-modeles"]),
        ("SOCIÉTÉ", ["fr-openai-modeles"]),
        # stemmed French plural: modèle finds modèles (and the stems other languages share)
        ("modèle", ["en-anthropic", "fr-mistral", "es-modelos", "fr-openai-modeles"]),
        ("modèles", ["en-anthropic", "fr-mistral", "es-modelos", "fr-openai-modeles"]),
        # a German inflection: Fabrik finds Fabriken and the other way round
        ("Fabrik", ["de-fabrik-dresden", "de-fabriken"]),
        ("Fabriken", ["de-fabrik-dresden", "de-fabriken"]),
        # phrases, stemmed, across one column only
        (
            '"data centres"',
            ["en-anthropic", "en-memphis", "en-nvidia-blog", "en-nvidia-copy", "en-nvidia-record"],
        ),
        ('"centres de données"', ["fr-gravelines", "fr-mistral", "fr-nvidia"]),
        ('"course à l\'IA"', ["fr-gravelines", "fr-meta-recrute"]),
        ('"chips data"', []),
        # excluded terms and phrases
        (
            "Nvidia -Memphis",
            [
                "de-fabriken",
                "it-chip",
                "en-nvidia-blog",
                "fr-nvidia",
                "en-nvidia-copy",
                "en-nvidia-record",
            ],
        ),
        ('Nvidia -"data centres"', ["de-fabriken", "it-chip", "fr-nvidia"]),
        (
            "Meta -(Talavera OR Zuckerberg)",
            ["it-meta", "de-meta", "fr-meta-recrute", "en-meta-lab"],
        ),
        # OR, grouping
        ("Mistral OR Anthropic", ["en-anthropic", "fr-mistral"]),
        ("(Mistral OR Anthropic) modèle", ["en-anthropic", "fr-mistral"]),
        # prefixes
        (
            "superintellig*",
            ["it-meta", "de-meta", "fr-meta-recrute", "en-meta-lab-copy", "en-meta-lab"],
        ),
        ("Rechenzent*", ["de-fabriken", "de-rechenzentren"]),
        # a hyphenated word is a phrase of its parts
        ("KI-Fabriken", ["de-fabriken"]),
        ("nothingatall", []),
    ],
)
def test_query_matches(loaded: Store, query: str, expected: list[str]) -> None:
    result = search(loaded, query, sort="date")
    assert (names(result), result.total) == (expected, len(expected))
    assert sorted(names(search(loaded, query))) == sorted(expected)


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (
            {"languages": ["de"]},
            [
                "de-verordnung",
                "de-gruenkohl",
                "de-fabrik-dresden",
                "de-fabriken",
                "de-meta",
                "de-rechenzentren",
            ],
        ),
        (
            {"sources": ["circuit", "food"]},
            ["en-agi", "en-memphis", "en-meta-lab-copy", "en-crumble"],
        ),
        (
            {"topics": ["energy"]},
            [
                "it-datacenter",
                "fr-gravelines",
                "es-talavera-copy",
                "es-talavera",
                "en-memphis",
                "de-rechenzentren",
            ],
        ),
        (
            {"topics": ["energy", "chips"], "languages": ["it", "de"]},
            ["it-datacenter", "de-fabrik-dresden", "de-fabriken", "it-chip", "de-rechenzentren"],
        ),
        (
            {"since": "2026-11-09", "until": "2026-11-11"},
            ["es-sueldos", "en-agi", "es-talavera-copy", "es-talavera"],
        ),
        (
            {"since": "2026-11-09T12:00:00Z", "until": "2026-11-10T09:00:00Z"},
            ["en-agi", "es-talavera-copy"],
        ),
        ({"until": "2026-10-31"}, ["it-risotto", "fr-tarte", "en-crumble"]),
        ({"since": "2026-11-20"}, ["de-verordnung"]),
        ({"languages": ["nl"]}, []),
    ],
)
def test_filters(loaded: Store, options: dict, expected: list[str]) -> None:
    result = search(loaded, sort="date", **options)
    assert (names(result), result.total) == (expected, len(expected))


def test_filters_with_a_query(loaded: Store) -> None:
    result = search(loaded, "Meta", languages=["fr", "it"], sort="date")
    assert names(result) == ["it-meta", "fr-meta-recrute"]
    result = search(loaded, "IA", topics=["energy"], since="2026-11-10", sort="date")
    assert names(result) == ["it-datacenter", "fr-gravelines"]


def test_browse_by_date_and_relevance(loaded: Store) -> None:
    assert names(search(loaded, sort="date")) == BY_DATE
    # Without a query every score is equal: relevance falls back to the date order.
    browse = search(loaded)
    assert names(browse) == BY_DATE
    assert {h.score for h in browse.hits} == {0.0}


@pytest.mark.parametrize("size", [1, 7, 30])
def test_pagination(loaded: Store, size: int) -> None:
    pages = []
    for page in range(1, 30 // size + 2):
        result = search(loaded, sort="date", page=page, size=size)
        assert result.total == 30
        pages += names(result)
    assert pages == BY_DATE
    assert names(search(loaded, sort="date", page=99, size=size)) == []


def test_pagination_of_ranked_results(loaded: Store) -> None:
    whole = names(search(loaded, "Meta OR Nvidia OR IA OR intelligence"))
    paged = [
        name
        for page in (1, 2, 3)
        for name in names(search(loaded, "Meta OR Nvidia OR IA OR intelligence", page=page, size=8))
    ]
    assert len(whole) == 20 and paged == whole


def test_relevance_ranks_title_matches_first(loaded: Store) -> None:
    # Fabrik is in the Dresden article's body twice; in the title (weighted 3:1) of neither,
    # Rechenzentren is in de-rechenzentren's title and body, de-fabriken's body only.
    assert names(search(loaded, "Rechenzentren")) == ["de-rechenzentren", "de-fabriken"]
    hits = search(loaded, "Rechenzentren").hits
    assert hits[0].score > hits[1].score > 0


def test_facets_and_histogram(loaded: Store) -> None:
    result = search(loaded, facets=True, size=1)
    assert result.facets == {
        "language": {"en": 10, "de": 6, "fr": 6, "es": 4, "it": 4},
        "source": {
            "circuit": 3,
            "corriere": 3,
            "diario": 3,
            "quotidien": 3,
            "techbote": 3,
            "wire": 3,
            "blog": 2,
            "heise": 2,
            "lemonde": 2,
            "agency": 1,
            "cucina": 1,
            "cuisine": 1,
            "food": 1,
            "kochen": 1,
            "noticias": 1,
        },
        "topics": {"ai-race": 22, "chips": 7, "energy": 6},
    }
    # Most frequent first, then by name.
    assert [list(values.items()) for values in result.facets.values()] == [
        list(values.items())
        for values in (
            {"en": 10, "de": 6, "fr": 6, "es": 4, "it": 4},
            {
                "circuit": 3,
                "corriere": 3,
                "diario": 3,
                "quotidien": 3,
                "techbote": 3,
                "wire": 3,
                "blog": 2,
                "heise": 2,
                "lemonde": 2,
                "agency": 1,
                "cucina": 1,
                "cuisine": 1,
                "food": 1,
                "kochen": 1,
                "noticias": 1,
            },
            {"ai-race": 22, "chips": 7, "energy": 6},
        )
    ]
    assert result.histogram == {
        "2026-10-20": 1,
        "2026-10-25": 1,
        "2026-10-28": 1,
        "2026-11-01": 3,
        "2026-11-02": 2,
        "2026-11-03": 2,
        "2026-11-04": 2,
        "2026-11-05": 1,
        "2026-11-06": 1,
        "2026-11-07": 1,
        "2026-11-08": 2,
        "2026-11-09": 2,
        "2026-11-10": 1,
        "2026-11-11": 1,
        "2026-11-12": 2,
        "2026-11-13": 1,
        "2026-11-14": 1,
        "2026-11-15": 1,
        "2026-11-16": 1,
        "2026-11-18": 1,
        "2026-11-20": 1,
    }


def test_facets_of_a_query(loaded: Store) -> None:
    result = search(loaded, "IA", facets=True)
    assert result.facets == {
        "language": {"es": 3, "fr": 3, "it": 2},
        "source": {"diario": 3, "corriere": 2, "quotidien": 2, "lemonde": 1},
        "topics": {"ai-race": 7, "energy": 3, "chips": 1},
    }
    assert result.histogram == {
        "2026-11-01": 1,
        "2026-11-03": 1,
        "2026-11-07": 1,
        "2026-11-08": 1,
        "2026-11-09": 1,
        "2026-11-11": 1,
        "2026-11-12": 1,
        "2026-11-16": 1,
    }
    assert search(loaded, "IA").facets == {}


def test_collapse_by_story(loaded: Store) -> None:
    result = search(loaded, sort="date", collapse=True)
    collapsed = [
        name
        for name in BY_DATE
        if name not in ("es-talavera", "en-meta-lab", "en-nvidia-copy", "en-nvidia-record")
    ]
    assert (names(result), result.total) == (collapsed, 26)
    similar = {NAMES[h.article.id]: h.similar for h in result.hits if h.similar}
    assert similar == {"es-talavera-copy": 1, "en-meta-lab-copy": 1, "en-nvidia-blog": 2}
    page = search(loaded, sort="date", collapse=True, page=3, size=10)
    assert (names(page), page.total) == (collapsed[20:], 26)
    query = search(loaded, '"data centres"', sort="date", collapse=True, facets=True)
    assert names(query) == ["en-anthropic", "en-memphis", "en-nvidia-blog"]
    assert [h.similar for h in query.hits] == [0, 0, 2]
    assert query.total == 3
    assert query.facets["source"] == {"wire": 2, "agency": 1, "blog": 1, "circuit": 1}
    # Ranked: the best-scoring copy stands for its story (en-meta-lab has "hires").
    ranked = search(loaded, "Meta hires", collapse=True)
    assert (names(ranked), [h.similar for h in ranked.hits], ranked.total) == (
        ["en-meta-lab"],
        [1],
        1,
    )
    ranked = search(loaded, "Nvidia", collapse=True)
    assert ranked.total == 5
    assert sorted(zip(names(ranked), [h.similar for h in ranked.hits], strict=True)) == [
        ("de-fabriken", 0),
        ("en-memphis", 0),
        ("en-nvidia-copy", 2),
        ("fr-nvidia", 0),
        ("it-chip", 0),
    ]


def test_hits_carry_the_whole_article_and_highlights(loaded: Store) -> None:
    hit = search(loaded, "generale societe").hits[0]
    assert hit.article.to_dict() == loaded.get(ID["fr-openai-modeles"]).to_dict()
    body = hit.article.body
    assert [body[a:b] for a, b in hit.snippet.spans] == ["Société", "Générale", "générale"]
    title = search(loaded, "Mistral").hits[0].title
    assert [title.text[a:b] for a, b in title.spans] == ["Mistral"]


@pytest.mark.parametrize(
    "query",
    [
        'chips "unmatched',
        "NEAR(chips Nvidia)",
        "*",
        "AND OR",
        "chips AND",
        "OR chips",
        "-chips",
        "((chips)",
        "chips)",
        "title:chips",
        "{title body}: chips",
        "^chips",
        "'chips'",
        "Nvidia\x00 OR \x1b crumble",
        'chips "a""b"',
        "!" * 10_000,
        "-- -",
        "\x00\x01\x02",
        "é*",
        "a" * 900,
    ],
)
def test_hostile_queries_give_results_or_a_query_error(loaded: Store, query: str) -> None:
    try:
        result = search(loaded, query)
    except QuerySyntaxError as exc:
        assert "\n" not in str(exc) and str(exc)
        return
    assert result.total == len(result.hits)


def test_a_bad_date_is_a_query_error(loaded: Store) -> None:
    with pytest.raises(QuerySyntaxError, match="not a date"):
        search(loaded, since="yesterday")


# --- history and statistics ---------------------------------------------------------------

RUNS = [
    {
        "source": "wire",
        "started_at": "2026-11-20T10:00:00Z",
        "finished_at": "2026-11-20T10:05:00Z",
        "status": "ok",
        "error": None,
        "stats": {"pages": 9, "dropped": {"no-topic": 2}},
    },
    {
        "source": "ghost",
        "started_at": "2026-11-20T10:00:00Z",
        "finished_at": "2026-11-20T10:01:00Z",
        "status": "failed",
        "error": "HTTP 503",
        "stats": {"pages": 0},
    },
    {
        "source": "wire",
        "started_at": "2026-11-21T10:00:00Z",
        "finished_at": "2026-11-21T10:04:00Z",
        "status": "ok",
        "error": None,
        "stats": {"pages": 4, "dropped": {"duplicate-of": 1}},
    },
]


def test_runs_newest_first(loaded: Store) -> None:
    for run in RUNS:
        loaded.record_run(run)
    assert loaded.runs() == RUNS[::-1]
    assert loaded.runs(source="wire") == [RUNS[2], RUNS[0]]
    assert loaded.runs(source="wire", limit=1) == [RUNS[2]]
    assert loaded.runs(source="nobody") == []


def test_stats(loaded: Store) -> None:
    for run in RUNS:
        loaded.record_run(run)
    stats = loaded.stats()
    assert stats["articles"] == 30
    assert stats["sources"]["wire"] == {
        "articles": 3,
        "languages": {"en": 3},
        "newest_article": "2026-11-18T07:00:00Z",
        "last_crawl": {
            "started_at": "2026-11-21T10:00:00Z",
            "finished_at": "2026-11-21T10:04:00Z",
            "status": "ok",
            "error": None,
        },
        "dropped": {"duplicate-of": 1},
    }
    assert stats["sources"]["ghost"] == {
        "articles": 0,
        "languages": {},
        "last_crawl": {
            "started_at": "2026-11-20T10:00:00Z",
            "finished_at": "2026-11-20T10:01:00Z",
            "status": "failed",
            "error": "HTTP 503",
        },
        "dropped": {},
    }
    assert stats["sources"]["blog"] == {
        "articles": 2,
        "languages": {"en": 2},
        "newest_article": "2026-11-02T09:00:00Z",
    }
    assert list(stats["sources"]) == sorted({row[2] for row in ROWS} | {"ghost"})


def test_an_empty_store(store: Store) -> None:
    assert (store.count(), list(store.iter_articles()), store.runs()) == (0, [], [])
    assert store.stats() == {"articles": 0, "sources": {}}
    result = search(store, "chips", facets=True, collapse=True)
    assert (result.total, result.hits, result.histogram) == (0, [], {})
    assert result.facets == {"language": {}, "source": {}, "topics": {}}
    assert store.ping() is True


# --- the two stores side by side ----------------------------------------------------------

SHARED_QUERIES = [
    "generale",
    "modèle",
    "Fabrik",
    '"data centres"',
    "Nvidia -Memphis",
    "Mistral OR Anthropic",
    "superintellig*",
    "IA",
    "chips",
    "Meta",
    "intelligence",
    '"centres de données"',
    "Meta OR Nvidia OR IA OR intelligence",
    "chips OR data OR datos OR données OR Rechenzentren",
    "AI OR KI OR IA",
    "artificial OR artificielle OR artificiale OR künstliche",
    "",
]
BROAD_QUERIES = [
    "Meta OR Nvidia OR IA OR intelligence",
    "chips OR data OR datos OR données OR Rechenzentren",
    "AI OR KI OR IA",
]


def test_both_stores_answer_alike(both: tuple[Store, Store]) -> None:
    sqlite, elasticsearch = both
    for query in SHARED_QUERIES:
        for options in (
            {"sort": "date"},
            {"sort": "date", "collapse": True},
            {"sort": "date", "facets": True, "languages": ["en", "fr"]},
            {"sort": "date", "page": 2, "size": 3},
        ):
            a, b = search(sqlite, query, **options), search(elasticsearch, query, **options)
            assert (names(a), a.total) == (names(b), b.total), (query, options)
            assert [h.similar for h in a.hits] == [h.similar for h in b.hits], (query, options)
            assert (a.facets, a.histogram) == (b.facets, b.histogram), (query, options)
            assert [h.snippet for h in a.hits] == [h.snippet for h in b.hits], (query, options)
        a, b = search(sqlite, query), search(elasticsearch, query)
        assert sorted(names(a)) == sorted(names(b)), query


@pytest.mark.parametrize("query", BROAD_QUERIES)
def test_both_stores_rank_alike(both: tuple[Store, Store], query: str) -> None:
    sqlite, elasticsearch = both
    a, b = search(sqlite, query, size=10), search(elasticsearch, query, size=10)
    assert a.total == b.total > 10
    assert len(set(names(a)) & set(names(b))) >= 8, (names(a), names(b))


def test_both_stores_keep_the_same_statistics_and_history(both: tuple[Store, Store]) -> None:
    sqlite, elasticsearch = both
    for store in both:
        for run in RUNS:
            store.record_run(run)
    assert sqlite.stats() == elasticsearch.stats()
    assert sqlite.runs() == elasticsearch.runs()
    assert [a.to_dict() for a in sqlite.iter_articles()] == [
        {**a.to_dict(), "indexed_at": s.indexed_at}
        for a, s in zip(elasticsearch.iter_articles(), sqlite.iter_articles(), strict=True)
    ]


def test_both_stores_treat_hostile_queries_alike(both: tuple[Store, Store]) -> None:
    outcomes = []
    for store in both:
        seen = []
        for query in [
            'chips "unmatched',
            "NEAR(chips Nvidia)",
            "*",
            "AND OR",
            "!" * 10_000,
            "Nvidia\x00 OR \x1b crumble",
            "'chips'",
            "^chips",
        ]:
            try:
                seen.append(sorted(names(search(store, query))))
            except QuerySyntaxError as exc:
                seen.append(str(exc))
        outcomes.append(seen)
    assert outcomes[0] == outcomes[1]
