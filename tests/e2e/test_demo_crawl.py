"""End to end: `newswatch demo` crawls the sample site through all three source kinds.

The crawl runs in a child process, exactly as a user runs it; the test then reads
the store it left and asserts what was stored, what was dropped and why, the
extracted metadata of named pages, and search results in several languages.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from crawler.urls import article_id
from pipelines.stores.base import SearchRequest
from pipelines.stores.sqlite import SqliteStore

LANGUAGES = ["en", "fr", "de", "es", "it"]

# The on-topic articles in allowed languages (newswatch/demo/SITE.md), by canonical path.
# gw1 and dc8 carry the same body: the earlier published copy, gw1, is the one kept.
STORED = {
    "/global-wire/2026/11/04/openai-researchers-defect-to-meta-superintelligence-lab.html",
    "/global-wire/2026/11/12/us-tightens-chip-export-rules-nvidia.html",
    "/global-wire/2026/11/18/anthropic-raises-30-billion.html",
    "/daily-circuit/tech/zuckerberg-lab-lures-openai-staff.html",
    "/daily-circuit/tech/xai-colossus-memphis-expansion.html",
    "/daily-circuit/tech/agi-timelines-altman-hassabis-amodei.html",
    "/daily-circuit/tech/new-albany-weighs-meta-data-centre.html",
    "/quotidien-numerique/tech/mistral-ai-devoile-mistral-ultra.html",
    "/quotidien-numerique/tech/superintelligence-meta-recrute-chercheurs-parisiens.html",
    "/quotidien-numerique/tech/intelligence-artificielle-generale-hassabis-cooperation.html",
    "/quotidien-numerique/tech/course-a-l-ia-campus-centres-de-donnees-gravelines.html",
    "/techbote/digital/superintelligenz-meta-lockt-deepmind-forscher.html",
    "/techbote/digital/ki-wettlauf-frankfurt-rechenzentren-stromnetz.html",
    "/techbote/digital/jensen-huang-muenchen-ki-fabriken.html",
    "/techbote/digital/eu-ki-verordnung-hochrisiko-aufschub.html",
    "/diario-digital/tecnologia/meta-elige-talavera-centro-de-datos-ia.html",
    "/diario-digital/tecnologia/talavera-acogera-centro-de-datos-de-meta.html",
    "/diario-digital/tecnologia/carrera-de-la-ia-sueldos-laboratorio-superinteligencia.html",
    "/diario-digital/tecnologia/scale-ai-sede-europea-madrid.html",
    "/corriere-tecnologico/tecnologia/superintelligenza-meta-recluta-in-italia.html",
    "/corriere-tecnologico/tecnologia/chip-nvidia-regole-export-aziende-italiane.html",
    "/corriere-tecnologico/tecnologia/ai-act-italia-autorita-vigilanza.html",
    "/corriere-tecnologico/tecnologia/data-center-lombardia-corsa-all-ia.html",
}

GW1 = "/global-wire/2026/11/04/openai-researchers-defect-to-meta-superintelligence-lab.html"

NO_TOPIC = [
    "/global-wire/2026/11/21/tour-de-france-2027-route.html",
    "/global-wire/2026/11/25/storm-hilde-north-sea-ports.html",
    "/daily-circuit/food/apple-and-pear-crumble.html",
    "/daily-circuit/local/thai-restaurant-opens-on-main-street.html",
    "/daily-circuit/culture/claude-hartley-gemini-exhibition.html",
    "/daily-circuit/sport/rovers-snatch-late-derby-win.html",
    "/quotidien-numerique/vie-locale/provence-le-mistral-souffle-a-120-km-h.html",
    "/quotidien-numerique/sport/cyclo-cross-lea-fournier-besancon.html",
    "/quotidien-numerique/cuisine/la-vraie-tarte-tatin-pas-a-pas.html",
    "/quotidien-numerique/vie-locale/lyon-meilleure-baguette-croix-rousse.html",
    "/techbote/sport/kieler-herbstregatta-svenja-petersen.html",
    "/techbote/sport/rheinhafen-dreht-spiel-gegen-eichwald.html",
    "/techbote/kochen/rezept-gruenkohl-mit-pinkel.html",
    "/techbote/lokales/gemeinderat-lindenau-winterdienst.html",
    "/diario-digital/local/hospital-comarcal-programa-citas.html",
    "/diario-digital/deportes/atletico-marismas-remonta-real-olivar.html",
    "/diario-digital/cocina/cocido-madrileno-receta-paso-a-paso.html",
    "/diario-digital/local/primera-nevada-burgos-cadenas.html",
    "/corriere-tecnologico/sport/serie-b-claudio-ferri-gol-da-meta-campo.html",
    "/corriere-tecnologico/sport/giro-d-italia-2027-percorso.html",
    "/corriere-tecnologico/cucina/risotto-zucca-rosmarino-ricetta.html",
    "/corriere-tecnologico/cronaca/bergamo-panificio-rota-cento-anni.html",
]
NOT_ARTICLE = [
    "/corriere-tecnologico/index.html",
    "/corriere-tecnologico/about.html",
    "/corriere-tecnologico/newsletter.html",
    "/corriere-tecnologico/privacy.html",
    "/corriere-tecnologico/terms.html",
    "/corriere-tecnologico/sezione/tecnologia.html",
    "/corriere-tecnologico/sezione/tecnologia-2.html?page=2",
    "/corriere-tecnologico/sezione/sport.html",
    "/corriere-tecnologico/sezione/cucina.html",
    "/corriere-tecnologico/sezione/cronaca.html",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_newswatch(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "NEWSWATCH_CONFIG": ""}
    return subprocess.run(
        [sys.executable, "-m", "newswatch", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


class DemoCrawl:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.db = tmp / "demo.db"
        self.drops = tmp / "drops.jsonl"

    def run(self, *extra: str) -> subprocess.CompletedProcess:
        return run_newswatch(
            "demo",
            "--store",
            str(self.db),
            "--port",
            str(self.port),
            "--drop-log",
            str(self.drops),
            *extra,
            cwd=self.tmp,
        )

    def store(self) -> SqliteStore:
        return SqliteStore(self.db, LANGUAGES)

    def path(self, url: str) -> str:
        assert url.startswith(self.base), url
        return url[len(self.base) :]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoCrawl:
    crawl = DemoCrawl(tmp_path_factory.mktemp("demo"))
    result = crawl.run()
    assert result.returncode == 0, result.stdout + result.stderr
    crawl.first_output = result.stdout  # type: ignore[attr-defined]
    return crawl


@pytest.fixture(scope="module")
def store(demo: DemoCrawl):
    store = demo.store()
    yield store
    store.close()


def test_demo_stores_exactly_the_on_topic_articles_in_allowed_languages(demo, store):
    stored = {demo.path(a.canonical_url) for a in store.iter_articles()}
    assert stored == STORED
    assert store.count() == 23


def test_every_other_page_is_dropped_with_its_reason(demo):
    reasons = {}
    for line in demo.drops.read_text().splitlines():
        record = json.loads(line)
        reasons.setdefault(demo.path(record["url"]), []).append(record["reason"])
    expected = {path: ["no-topic"] for path in NO_TOPIC}
    expected.update({path: ["not-article"] for path in NOT_ARTICLE})
    expected[
        "/jornal-tech/tecnologia/corrida-da-ia-meta-recruta-investigadores-portugueses.html"
    ] = ["language:pt"]
    expected["/nieuws-nl/tech/meta-lokt-nederlandse-ai-onderzoekers.html"] = ["language:nl"]
    gw1_id = article_id(demo.base + GW1)
    expected["/daily-circuit/wire/meta-lures-seven-openai-scientists.html"] = [
        f"duplicate-of:{gw1_id}"
    ]
    expected["/private/draft.html"] = ["robots-txt"]  # linked, but robots.txt says no
    assert reasons == expected


def test_robots_txt_keeps_the_private_draft_out(demo, store):
    # Never fetched, and reported: robots.txt forbids it.
    drafts = [
        json.loads(line)
        for line in demo.drops.read_text().splitlines()
        if "/private/draft.html" in line
    ]
    assert [(d["reason"], d["detail"]) for d in drafts] == [
        ("robots-txt", "forbidden by robots.txt")
    ]
    assert store.search(SearchRequest(query="BOZZA")).total == 0


def test_the_summary_counts_each_source(demo):
    lines = {line.split()[0]: line.split() for line in demo.first_output.splitlines() if line}
    # source, kind, status, pages, new, updated, unchanged, dropped...
    # Daily Circuit's copy of the wire story and the earlier-published original come from
    # two sources crawled at once. If the copy is still held for the index stage's batch
    # when the original comes, it is withdrawn, never stored, and counted as Daily Circuit's
    # duplicate; if it was written already, the original replaces it in the store.
    daily = lines["demo-daily-circuit"]
    assert daily[:4] == ["demo-daily-circuit", "feed", "ok", "10"]
    assert daily[5:7] == ["0", "0"]
    assert (daily[4], " ".join(daily[7:])) in {
        ("4", "duplicate-of 1, no-topic 4"),
        ("5", "no-topic 4"),
    }
    assert lines["total"][2] in {"23", "24"}  # 24: with the replaced copy
    assert lines["demo-quotidien-numerique"][2:7] == ["ok", "9", "4", "0", "0"]
    assert lines["demo-techbote"][2:7] == ["ok", "9", "4", "0", "0"]
    assert lines["demo-corriere-tecnologico"][2:7] == ["ok", "18", "4", "0", "0"]
    assert lines["demo-news-sitemaps"][2:4] == ["ok", "19"]


@pytest.mark.parametrize(
    ("path", "title", "published", "authors"),
    [
        (
            GW1,
            "OpenAI researchers defect to Meta's superintelligence lab",
            "2026-11-04T09:30:00Z",
            ["Priya Raman"],
        ),
        (
            "/global-wire/2026/11/12/us-tightens-chip-export-rules-nvidia.html",
            "US tightens chip export rules as Nvidia readies new China-compliant processor",
            "2026-11-12T07:15:00Z",
            ["Daniel Osei", "Mark Hollis"],
        ),
        (
            "/daily-circuit/tech/zuckerberg-lab-lures-openai-staff.html",
            "Zuckerberg's lab lures OpenAI staff with nine-figure offers",
            "2026-11-04T19:20:00Z",
            ["Priya Raman", "Tom Whitfield"],
        ),
        (
            "/quotidien-numerique/tech/intelligence-artificielle-generale-hassabis-cooperation.html",
            "Intelligence artificielle générale : Demis Hassabis appelle à une coopération internationale",
            "2026-11-16T18:15:00Z",
            ["Élodie Perrin", "Camille Dubreuil"],
        ),
        # No author in the page: the Atom entry's author.
        (
            "/quotidien-numerique/tech/course-a-l-ia-campus-centres-de-donnees-gravelines.html",
            "Course à l'IA : un campus de centres de données de 1,4 gigawatt près de Dunkerque",
            "2026-11-23T10:00:00Z",
            ["Nicolas Ferrand"],
        ),
        # Date only in a <time> element of the byline.
        (
            "/techbote/digital/eu-ki-verordnung-hochrisiko-aufschub.html",
            None,
            "2026-11-19T11:30:00Z",
            ["Katrin Hoffmann"],
        ),
        (
            "/diario-digital/tecnologia/scale-ai-sede-europea-madrid.html",
            None,
            "2026-11-18T08:45:00Z",
            ["Diego Castillo"],
        ),
        (
            "/corriere-tecnologico/tecnologia/ai-act-italia-autorita-vigilanza.html",
            None,
            "2026-11-17T08:00:00Z",
            ["Chiara Esposito", "Giulia Ferraris"],
        ),
    ],
)
def test_extracted_metadata_of_named_pages(demo, store, path, title, published, authors):
    article = store.get(article_id(demo.base + path))
    assert article is not None
    assert demo.path(article.canonical_url) == path
    if title is not None:
        assert article.title == title
    assert article.published_at == published
    assert article.authors == authors


def test_amp_page_and_tracking_link_land_on_the_canonical_article(demo, store):
    article = store.get(
        article_id(demo.base + "/daily-circuit/tech/xai-colossus-memphis-expansion.html")
    )
    assert article is not None
    # Fetched through the feed's AMP link, tracking parameters removed.
    assert demo.path(article.url) == "/daily-circuit/amp/xai-colossus-memphis-expansion.html"
    assert article.published_at == "2026-11-05T18:00:00Z"
    assert article.modified_at == "2026-11-05T20:30:00Z"


def test_page_without_date_takes_the_feed_date(demo):
    # dc7 has no date in its HTML; it is off-topic, so read it through the extractor path:
    # its feed entry is the only date source (RSS pubDate).
    from crawler.extract import extract_article
    from crawler.items import EntryHint, FetchedPage
    from newswatch.demo import SITE

    html = (SITE / "daily-circuit/sport/rovers-snatch-late-derby-win.html").read_text()
    page = FetchedPage(
        url=demo.base + "/daily-circuit/sport/rovers-snatch-late-derby-win.html",
        requested_url="",
        status=200,
        html=html.replace("__HOST__", demo.base[7:]),
        source="t",
        fetched_at="2026-11-27T00:00:00Z",
        hint=EntryHint(published_at="2026-11-21T17:45:00Z"),
    )
    assert extract_article(page).published_at == "2026-11-21T17:45:00Z"


def test_languages_and_their_deciders(demo, store):
    by_language = {}
    for article in store.iter_articles():
        by_language[article.language] = by_language.get(article.language, 0) + 1
        assert article.language_source == "detector"
        assert article.language_probability >= 0.8
    assert by_language == {"en": 7, "fr": 4, "de": 4, "es": 4, "it": 4}


def test_near_duplicates_share_a_story(demo, store):
    def story(path: str) -> str:
        return store.get(article_id(demo.base + path)).story_id

    assert story(GW1) == story("/daily-circuit/tech/zuckerberg-lab-lures-openai-staff.html")
    assert story("/diario-digital/tecnologia/meta-elige-talavera-centro-de-datos-ia.html") == story(
        "/diario-digital/tecnologia/talavera-acogera-centro-de-datos-de-meta.html"
    )
    others = STORED - {
        GW1,
        "/daily-circuit/tech/zuckerberg-lab-lures-openai-staff.html",
        "/diario-digital/tecnologia/meta-elige-talavera-centro-de-datos-ia.html",
        "/diario-digital/tecnologia/talavera-acogera-centro-de-datos-de-meta.html",
    }
    assert all(story(p) == article_id(demo.base + p) for p in others)


def search_paths(demo: DemoCrawl, store: SqliteStore, query: str, **options) -> list[str]:
    result = store.search(SearchRequest(query=query, size=50, **options))
    assert result.total == len(result.hits)
    return [demo.path(h.article.canonical_url) for h in result.hits]


def test_search_superintelligence_finds_it_in_every_language_that_writes_it(demo, store):
    assert search_paths(demo, store, "superintelligence") == [
        "/corriere-tecnologico/tecnologia/superintelligenza-meta-recluta-in-italia.html",
        "/quotidien-numerique/tech/superintelligence-meta-recrute-chercheurs-parisiens.html",
        GW1,
        "/quotidien-numerique/tech/intelligence-artificielle-generale-hassabis-cooperation.html",
        "/daily-circuit/tech/agi-timelines-altman-hassabis-amodei.html",
        "/daily-circuit/tech/zuckerberg-lab-lures-openai-staff.html",
        "/daily-circuit/tech/new-albany-weighs-meta-data-centre.html",
    ]
    # A prefix reaches the German and Spanish spellings too.
    german = "/techbote/digital/superintelligenz-meta-lockt-deepmind-forscher.html"
    assert german in search_paths(demo, store, "superintellig*")
    assert set(search_paths(demo, store, "superinteligencia")) == {
        "/diario-digital/tecnologia/carrera-de-la-ia-sueldos-laboratorio-superinteligencia.html",
        "/diario-digital/tecnologia/scale-ai-sede-europea-madrid.html",
    }


def test_search_folds_accents_and_stems_by_language(demo, store):
    # "generale" finds "générale" (French) and "generale" (Italian) alike.
    assert search_paths(demo, store, "generale")[0] == (
        "/quotidien-numerique/tech/intelligence-artificielle-generale-hassabis-cooperation.html"
    )
    # The singular finds pages that only write the plural: French "modèles", English "chips".
    assert {
        "/quotidien-numerique/tech/course-a-l-ia-campus-centres-de-donnees-gravelines.html",
        "/quotidien-numerique/tech/intelligence-artificielle-generale-hassabis-cooperation.html",
    } <= set(search_paths(demo, store, "modèle"))
    assert set(search_paths(demo, store, "modèles")) == set(search_paths(demo, store, "modèle"))
    assert {
        "/global-wire/2026/11/18/anthropic-raises-30-billion.html",
        "/daily-circuit/tech/xai-colossus-memphis-expansion.html",
    } <= set(search_paths(demo, store, "chip"))
    # A German inflection: "Fabrik" finds "KI-Fabriken".
    assert "/techbote/digital/jensen-huang-muenchen-ki-fabriken.html" in search_paths(
        demo, store, "Fabrik"
    )


def test_search_phrases_exclusions_and_or(demo, store):
    assert search_paths(demo, store, '"course à l\'IA"') == [
        "/quotidien-numerique/tech/course-a-l-ia-campus-centres-de-donnees-gravelines.html",
        "/quotidien-numerique/tech/mistral-ai-devoile-mistral-ultra.html",
        "/quotidien-numerique/tech/intelligence-artificielle-generale-hassabis-cooperation.html",
        "/quotidien-numerique/tech/superintelligence-meta-recrute-chercheurs-parisiens.html",
    ]
    # A phrase matches its words together, singular or plural ("centro de datos").
    assert search_paths(demo, store, '"centros de datos"') == [
        "/diario-digital/tecnologia/talavera-acogera-centro-de-datos-de-meta.html",
        "/diario-digital/tecnologia/meta-elige-talavera-centro-de-datos-ia.html",
        "/diario-digital/tecnologia/carrera-de-la-ia-sueldos-laboratorio-superinteligencia.html",
    ]
    with_zuckerberg = set(search_paths(demo, store, "superintelligence Zuckerberg"))
    without = set(search_paths(demo, store, "superintelligence -Zuckerberg"))
    assert with_zuckerberg and without
    assert with_zuckerberg.isdisjoint(without)
    assert with_zuckerberg | without == set(search_paths(demo, store, "superintelligence"))
    either = set(search_paths(demo, store, "Anthropic OR Nvidia"))
    assert either == set(search_paths(demo, store, "Anthropic")) | set(
        search_paths(demo, store, "Nvidia")
    )


def test_search_filters_and_date_sort(demo, store):
    assert search_paths(demo, store, "Meta", languages=["es"]) == [
        "/diario-digital/tecnologia/talavera-acogera-centro-de-datos-de-meta.html",
        "/diario-digital/tecnologia/meta-elige-talavera-centro-de-datos-ia.html",
        "/diario-digital/tecnologia/carrera-de-la-ia-sueldos-laboratorio-superinteligencia.html",
        "/diario-digital/tecnologia/scale-ai-sede-europea-madrid.html",
    ]
    assert search_paths(
        demo, store, "", sort="date", topics=["ai-race"], since="2026-11-18", until="2026-11-19"
    ) == [
        "/daily-circuit/tech/new-albany-weighs-meta-data-centre.html",
        "/techbote/digital/eu-ki-verordnung-hochrisiko-aufschub.html",
        "/global-wire/2026/11/18/anthropic-raises-30-billion.html",
        "/diario-digital/tecnologia/scale-ai-sede-europea-madrid.html",
    ]
    assert search_paths(demo, store, "Meta", sources=["demo-techbote"]) == [
        "/techbote/digital/superintelligenz-meta-lockt-deepmind-forscher.html"
    ]
    assert search_paths(demo, store, "Nvidia", topics=["no-such-topic"]) == []


def test_search_from_the_command_line_as_json(demo):
    config = demo.tmp / "newswatch.toml"
    config.write_text(f'[store]\npath = "{demo.db}"\n')
    result = run_newswatch("search", "superintelligence", "--lang", "fr", "--json", cwd=demo.tmp)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["total"] == 2
    first = data["hits"][0]
    assert demo.path(first["url"]) == (
        "/quotidien-numerique/tech/superintelligence-meta-recrute-chercheurs-parisiens.html"
    )
    assert sorted(first) == [
        "highlights",
        "id",
        "language",
        "published_at",
        "score",
        "snippet",
        "source",
        "title",
        "topics",
        "url",
    ]
    assert first["language"] == "fr" and first["topics"] == ["ai-race"]
    start, end = first["highlights"][0]
    assert first["snippet"][start:end].lower() == "superintelligence"
    bad = run_newswatch("search", '"unclosed', cwd=demo.tmp)
    assert bad.returncode == 2
    assert bad.stderr.strip() == (
        "newswatch: bad query: unmatched '\"' in query: close the phrase with a second quote"
    )
    assert "Traceback" not in bad.stderr


def test_a_second_crawl_adds_no_row(demo):
    before = demo.store()
    ids = sorted(a.id for a in before.iter_articles())
    before.close()
    result = demo.run("--keep")
    assert result.returncode == 0, result.stdout + result.stderr
    after = demo.store()
    try:
        assert sorted(a.id for a in after.iter_articles()) == ids
        assert all(a.revision == 1 for a in after.iter_articles())
    finally:
        after.close()
    total = next(line.split() for line in result.stdout.splitlines() if line.startswith("total"))
    assert total[1:5] == ["65", "0", "0", "23"]  # pages, new, updated, unchanged
