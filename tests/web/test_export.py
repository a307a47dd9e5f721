"""Export as CSV and JSON Lines, from the API and the command line, page by page."""

from __future__ import annotations

import csv
import io
import json

from webtesting import make_article, make_client, run_newswatch, toml_text

from newswatch.alerts.export import export_rows
from pipelines.stores.base import SearchRequest

HEADER = ["id", "url", "title", "source", "language", "published_at", "authors", "topics"]
META_ES = [
    (
        "/diario-digital/tecnologia/scale-ai-sede-europea-madrid.html",
        "Scale AI abrirá en Madrid su sede europea con 400 empleos",
        "2026-11-18T08:45:00Z",
        ["Diego Castillo"],
    ),
    (
        "/diario-digital/tecnologia/carrera-de-la-ia-sueldos-laboratorio-superinteligencia.html",
        "La carrera de la IA dispara los sueldos: Meta ofrece hasta 100 millones por investigador "
        "para su laboratorio de superinteligencia",
        "2026-11-13T09:15:00Z",
        ["Marta Ibáñez", "Lucía Navarro"],
    ),
    (
        "/diario-digital/tecnologia/talavera-acogera-centro-de-datos-de-meta.html",
        "Talavera acogerá el gran centro de datos de Meta para la carrera de la IA",
        "2026-11-06T12:30:00Z",
        ["Javier Ortega"],
    ),
    (
        "/diario-digital/tecnologia/meta-elige-talavera-centro-de-datos-ia.html",
        "Meta elige Talavera de la Reina para su mayor centro de datos de IA en Europa",
        "2026-11-06T07:00:00Z",
        ["Lucía Navarro"],
    ),
]


def expected_rows(demo) -> list[dict]:
    return [
        {
            "id": demo.id(path),
            "url": demo.base + path,
            "title": title,
            "source": "demo-news-sitemaps",
            "language": "es",
            "published_at": published,
            "authors": authors,
            "topics": ["ai-race"],
        }
        for path, title, published, authors in META_ES
    ]


def as_csv(rows: list[dict]) -> list[list[str]]:
    return [HEADER] + [
        [
            r["id"],
            r["url"],
            r["title"],
            r["source"],
            r["language"],
            r["published_at"],
            "; ".join(r["authors"]),
            "; ".join(r["topics"]),
        ]
        for r in rows
    ]


def test_export_from_the_api(demo_client, demo_index):
    expected = expected_rows(demo_index.demo)
    response = demo_client.get("/api/export", params={"q": "Meta", "lang": "es", "format": "jsonl"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-ndjson"
    assert response.headers["content-disposition"] == (
        'attachment; filename="newswatch-export.jsonl"'
    )
    assert [json.loads(line) for line in response.text.splitlines()] == expected

    response = demo_client.get("/api/export", params={"q": "Meta", "lang": "es"})  # csv: default
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert list(csv.reader(io.StringIO(response.text))) == as_csv(expected)

    response = demo_client.get("/api/export", params={"format": "xml"})
    assert (response.status_code, response.json()) == (
        400,
        {"error": "format must be csv or jsonl (got 'xml')"},
    )
    # Every article, not one per story, and not only a page.
    everything = demo_client.get("/api/export", params={"format": "jsonl", "size": 2})
    assert len(everything.text.splitlines()) == 23


def test_export_reads_the_store_a_page_at_a_time(demo_index):
    store = demo_index.store
    rows = list(export_rows(store, SearchRequest(), page_size=5))
    assert len(rows) == 23
    assert len({r["id"] for r in rows}) == 23
    dates = [r["published_at"] for r in rows]
    assert dates == sorted(dates, reverse=True)
    reads = []

    class Counting:  # the real store, counting the pages it is asked for
        def search(self, request: SearchRequest):
            reads.append(request.page)
            return store.search(request)

    rows = export_rows(Counting(), SearchRequest(query="Meta"), page_size=4)
    assert reads == [1]  # the first page is read at once (a bad query fails here)
    first = [next(rows) for _ in range(5)]
    assert reads == [1, 2]
    assert len(first) + len(list(rows)) == 12
    assert reads == [1, 2, 3]  # 12 matches: no fourth read


def test_spreadsheet_formulas_stay_text_in_csv(empty_index, tmp_path):
    empty_index.store.upsert(
        make_article(
            2, title='=HYPERLINK("https://evil.example","x")', authors=["+1 Writer", "@someone"]
        )
    )
    with make_client(empty_index, tmp_path) as client:
        rows = list(csv.reader(io.StringIO(client.get("/api/export").text)))
        line = json.loads(client.get("/api/export?format=jsonl").text)
    assert rows[1][2] == '\'=HYPERLINK("https://evil.example","x")'
    assert rows[1][6] == "'+1 Writer; @someone"
    assert line["title"] == '=HYPERLINK("https://evil.example","x")'  # JSON keeps the text


def test_export_from_the_command_line(demo_index, tmp_path):
    expected = expected_rows(demo_index.demo)
    config = tmp_path / "newswatch.toml"
    config.write_text(toml_text({"store": demo_index.backend.config(demo_index.key)}))
    out = tmp_path / "meta.jsonl"
    result = run_newswatch(
        "--config",
        str(config),
        "export",
        "Meta",
        "--lang",
        "es",
        "--format",
        "jsonl",
        "--output",
        str(out),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == f"newswatch: exported 4 article(s) to {out}\n"
    assert [json.loads(line) for line in out.read_text().splitlines()] == expected

    result = run_newswatch(
        "--config",
        str(config),
        "export",
        "Meta",
        "--lang",
        "es",
        "--since",
        "2026-11-10",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert list(csv.reader(io.StringIO(result.stdout))) == as_csv(expected[:2])

    bad = run_newswatch(
        "--config",
        str(config),
        "export",
        "--output",
        str(tmp_path / "bad.csv"),
        "--",
        "-alone",
        cwd=tmp_path,
    )
    assert bad.returncode == 2
    assert bad.stderr == (
        "newswatch: bad query: a query needs at least one term that is not excluded\n"
    )
    assert not (tmp_path / "bad.csv").exists() and not (tmp_path / "bad.csv.partial").exists()
