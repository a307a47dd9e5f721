"""``newswatch search`` and ``export`` filters, in a child process as a user runs them.

Language lists, relative dates and inverted ranges, on a SQLite store the test fills.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crawler.items import Article
from crawler.urls import article_id
from pipelines.stores.sqlite import SqliteStore

NOW = datetime.now(UTC)
# (number, language, published that many hours ago)
ROWS = [(1, "de", 2), (2, "fr", 30), (3, "en", 200), (4, "it", 5)]


def article(number: int, language: str, hours_ago: int) -> Article:
    url = f"https://news.example/{number}.html"
    published = (NOW - timedelta(hours=hours_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return Article(
        id=article_id(url),
        url=url,
        canonical_url=url,
        title=f"Nvidia {number}",
        body=f"Nvidia article {number}.",
        source="wire",
        fetched_at=published,
        published_at=published,
        language=language,
        body_hash=f"hash-{number}",
        story_id=article_id(url),
    )


@pytest.fixture
def home(tmp_path: Path) -> Path:
    store = SqliteStore(tmp_path / "store.db", ["en", "fr", "de", "es", "it"])
    for row in ROWS:
        store.upsert(article(*row))
    store.close()
    (tmp_path / "newswatch.toml").write_text(
        f'[store]\npath = "{tmp_path / "store.db"}"\n', encoding="utf-8"
    )
    return tmp_path


def newswatch(home: Path, *args: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWATCH_")}
    return subprocess.run(
        [sys.executable, "-m", "newswatch", "--config", str(home / "newswatch.toml"), *args],
        cwd=home,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def numbers(done: subprocess.CompletedProcess) -> list[int]:
    assert (done.returncode, done.stderr) == (0, "")
    return sorted(int(h["title"].split()[1]) for h in json.loads(done.stdout)["hits"])


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (["--lang", "de,fr"], [1, 2]),
        (["--lang", "DE", "--lang", " It "], [1, 4]),
        (["--since", "24h"], [1, 4]),
        (["--since", "7d"], [1, 2, 4]),
        (["--until", "3h"], [2, 3, 4]),
        (["--since", "2d", "--until", "1h", "--lang", "fr,it"], [2, 4]),
        (["--size", "1", "--sort", "date"], [1]),  # --size: --limit's other name
        (["--limit", "2", "--sort", "date"], [1, 4]),
    ],
)
def test_language_lists_and_relative_dates(home: Path, options: list[str], expected: list[int]):
    assert numbers(newswatch(home, "search", "--json", *options, "Nvidia")) == expected


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--lang", "de,xx"], "newswatch: unknown language 'xx' (languages: en, fr, de, es, it)"),
        (
            ["--since", "2026-11-10", "--until", "2026-11-01"],
            "newswatch: bad query: inverted date range: since '2026-11-10' is after until "
            "'2026-11-01'",
        ),
        (
            ["--since", "1d", "--until", "7d"],
            "newswatch: bad query: inverted date range: since '1d' is after until '7d'",
        ),
    ],
)
@pytest.mark.parametrize("command", ["search", "export"])
def test_bad_filters_are_one_line_and_exit_status_2(home, command, options, message):
    done = newswatch(home, command, *options, "Nvidia")
    assert (done.returncode, done.stdout, done.stderr) == (2, "", message + "\n")


def test_show_takes_a_unique_start_of_an_id(home: Path):
    ids = sorted(article(*row).id for row in ROWS)
    whole = json.loads(newswatch(home, "show", "--json", ids[0]).stdout)
    done = newswatch(home, "show", "--json", ids[0][:6])
    assert (done.returncode, json.loads(done.stdout)) == (0, whole)
    assert whole["id"] == ids[0]
    done = newswatch(home, "show", "")
    assert (done.returncode, done.stderr) == (2, "newswatch: no article with id ''\n")
    done = newswatch(home, "show", "zz")
    assert (done.returncode, done.stderr) == (2, "newswatch: no article with id 'zz'\n")


@pytest.mark.parametrize("command", ["search", "export"])
def test_a_query_starting_with_minus_works_after_double_dash_and_the_error_says_so(home, command):
    done = newswatch(home, command, "Nvidia", "-Zuckerberg")
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1] == (
        f"Error: No such option: -Z (to exclude a word, put the query after --, as in: "
        f"newswatch {command} -- talent -Z)"
    )
    if command == "search":
        assert numbers(newswatch(home, "search", "--json", "--", "Nvidia", "-Zuckerberg")) == [
            1,
            2,
            3,
            4,
        ]
