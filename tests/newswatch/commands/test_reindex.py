"""``newswatch reindex``: SQLite to Elasticsearch and back, resumable, with a count check.

The command runs in a child process, as a user runs it, against a real node.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from crawler.items import Article
from crawler.urls import article_id
from newswatch.config import ElasticsearchConfig
from pipelines.stores.elasticsearch import ElasticsearchStore
from pipelines.stores.sqlite import SqliteStore

LANGUAGES = ["en", "fr", "de", "es", "it"]
COUNT = 1234  # more than two batches of 500


def article(number: int) -> Article:
    url = f"https://news.example/{number}.html"
    language = LANGUAGES[number % 5]
    return Article(
        id=article_id(url),
        url=url,
        canonical_url=url,
        title=f"Titre {number} — ünïcode",
        body=f"Article {number}: les centres de données et les puces.\n\nZweiter Absatz.",
        source=f"source-{number % 7}",
        fetched_at="2026-11-20T00:00:00Z",
        published_at=None if number % 50 == 0 else f"2026-11-{number % 28 + 1:02d}T08:00:00Z",
        authors=[f"Author {number % 3}"],
        language=language,
        language_probability=0.99,
        language_source="detector",
        topics=["ai-race"] if number % 2 else [],
        topic_matches={"ai-race": {"IA": 1}} if number % 2 else {},
        topic_score=1.5,
        body_hash=f"hash-{number}",
        lsh_bands=[f"band-{number % 100}"],
        story_id=article_id(f"https://news.example/{number - number % 3}.html"),
    )


def newswatch(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWATCH_")}
    return subprocess.run(
        [sys.executable, "-m", "newswatch", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )


class Setup:
    """A SQLite file full of articles, an Elasticsearch index, and a config naming both."""

    def __init__(self, tmp: Path, url: str, auth: tuple[str, str] | None) -> None:
        self.tmp = tmp
        self.sqlite_path = tmp / "articles.db"
        self.es = ElasticsearchConfig(
            url=url,
            index=f"newswatch-test-reindex-{uuid.uuid4().hex[:12]}",
            username=auth[0] if auth else None,
            password=auth[1] if auth else None,
        )
        lines = [
            "[store]",
            'backend = "sqlite"',
            f"path = {json.dumps(str(self.sqlite_path))}",
            "[store.elasticsearch]",
        ]
        lines += [
            f"{key} = {json.dumps(value)}"
            for key, value in self.es.model_dump(exclude_none=True).items()
        ]
        self.config = tmp / "newswatch.toml"
        self.config.write_text("\n".join(lines) + "\n", encoding="utf-8")

    def run(self, *args: str) -> subprocess.CompletedProcess:
        return newswatch("--config", str(self.config), "reindex", *args, cwd=self.tmp)

    def sqlite(self, path: Path | None = None) -> SqliteStore:
        return SqliteStore(path or self.sqlite_path, LANGUAGES)

    def elasticsearch(self) -> ElasticsearchStore:
        return ElasticsearchStore.from_config(self.es, LANGUAGES, environ={})


def dump(store) -> list[dict]:
    try:
        return [a.to_dict() for a in store.iter_articles()]
    finally:
        store.close()


@pytest.fixture
def setup(tmp_path, es_url, es_auth, es_client) -> Setup:
    setup = Setup(tmp_path, es_url, es_auth)
    store = setup.sqlite()
    try:
        store.upsert_many([article(n) for n in range(COUNT)])
        changed = article(7)
        changed.title = "A second version"
        assert store.upsert(changed) == "updated"  # revision 2 must survive the copies
    finally:
        store.close()
    return setup


def test_sqlite_to_elasticsearch_and_back(setup):
    original = dump(setup.sqlite())
    assert len(original) == COUNT
    assert {a["revision"] for a in original} == {1, 2}

    result = setup.run("--from", "sqlite", "--to", "elasticsearch")
    assert (result.returncode, result.stderr) == (0, ""), result.stdout + result.stderr
    assert result.stdout == (
        f"copied {COUNT} article(s) from sqlite to elasticsearch; both hold {COUNT} article(s)\n"
    )
    assert dump(setup.elasticsearch()) == original
    assert list(setup.tmp.glob("*.reindex-*")) == []  # the progress record is gone

    back = setup.tmp / "back.db"
    result = setup.run("--from", "elasticsearch", "--to", "sqlite", "--sqlite-path", str(back))
    assert (result.returncode, result.stderr) == (0, ""), result.stdout + result.stderr
    assert dump(setup.sqlite(back)) == original
    store = setup.sqlite(back)
    try:
        assert store.get(article(7).id).revision == 2
        assert store.count() == COUNT
    finally:
        store.close()

    # Again: nothing changes, the counts still agree.
    result = setup.run("--from", "sqlite", "--to", "elasticsearch")
    assert result.returncode == 0, result.stderr
    assert dump(setup.elasticsearch()) == original


def test_an_interrupted_reindex_continues_after_the_last_id_copied(setup):
    ids = sorted(a.id for a in article_list())
    half = ids[: COUNT // 2]
    # What the interrupted run copied, and the progress it recorded.
    source, target = setup.sqlite(), setup.elasticsearch()
    try:
        copied = [a for a in source.iter_articles() if a.id in set(half)]
        assert target.upsert_many(copied, copy=True).count("new") == len(half)
        # Changed in the source since: a resumed reindex must not copy it again.
        again = source.get(half[3])
        again.title = "Changed after it was copied"
        source.upsert(again)
    finally:
        source.close()
        target.close()
    state = setup.tmp / "progress.json"
    state.write_text(
        json.dumps(
            {
                "from": f"sqlite:{setup.sqlite_path.resolve()}",
                "to": f"elasticsearch:{setup.es.url}/{setup.es.index}",
                "last_id": half[-1],
                "copied": len(half),
            }
        )
    )

    result = setup.run("--from", "sqlite", "--to", "elasticsearch", "--state", str(state))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == f"resuming after article {half[-1]} ({len(half)} already copied)\n"
    assert result.stdout == (
        f"copied {COUNT - len(half)} article(s) from sqlite to"
        f" elasticsearch; both hold {COUNT} article(s)\n"
    )
    assert not state.exists()
    target = setup.elasticsearch()
    try:
        assert sorted(a.id for a in target.iter_articles()) == ids
        assert target.get(half[3]).title != "Changed after it was copied"
        assert target.get(article(7).id).title == "A second version"
    finally:
        target.close()


def test_a_state_file_of_another_reindex_is_refused(setup):
    state = setup.tmp / "progress.json"
    state.write_text(
        json.dumps(
            {"from": "sqlite:/elsewhere.db", "to": "elasticsearch:x/y", "last_id": "f", "copied": 1}
        )
    )
    result = setup.run("--from", "sqlite", "--to", "elasticsearch", "--state", str(state))
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        f"newswatch: {state} records a reindex from sqlite:/elsewhere.db to"
        " elasticsearch:x/y: use --restart or another --state\n"
    )
    result = setup.run(
        "--from", "sqlite", "--to", "elasticsearch", "--state", str(state), "--restart"
    )
    assert result.returncode == 0, result.stderr
    assert not state.exists()


def test_the_count_check(setup):
    target = setup.elasticsearch()
    try:
        target.upsert(article(COUNT + 1))  # an article the source does not have
    finally:
        target.close()
    result = setup.run("--from", "sqlite", "--to", "elasticsearch")
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        f"newswatch: count check failed: sqlite:{setup.sqlite_path.resolve()} holds {COUNT}"
        f" article(s), elasticsearch:{setup.es.url}/{setup.es.index} holds {COUNT + 1}\n"
    )


def test_the_same_store_twice_is_a_usage_error(setup):
    result = setup.run("--from", "sqlite", "--to", "sqlite")
    assert (result.returncode, result.stderr) == (
        2,
        "newswatch: --from and --to must name different stores\n",
    )


def article_list() -> list[Article]:
    return [article(n) for n in range(COUNT)]
