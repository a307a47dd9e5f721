"""Webhook alerts: each new match POSTed once, retries, status in stats, after every crawl."""

from __future__ import annotations

import json

from webtesting import (
    LANGUAGES,
    Receiver,
    free_port,
    make_article,
    make_client,
    run_newswatch,
    toml_text,
    web_config,
)

from newswatch.alerts.saved import SavedSearches
from newswatch.alerts.webhooks import deliver_alerts
from newswatch.demo import SITE
from newswatch.demo.server import SiteServer
from pipelines.stores.sqlite import SqliteStore

FAST = {"backoff": 0.01}  # retry delays of 10, 20, 40 ms


def test_each_new_match_is_sent_exactly_once(empty_index, tmp_path):
    store = empty_index.store
    for day in (3, 4, 5):
        store.upsert(make_article(day))
    store.upsert(make_article(6, title="Cooking", body="A recipe for soup."))  # no match
    with Receiver() as receiver:
        search = {"name": "ai", "query": "race", "webhook": receiver.url}
        config = web_config(empty_index, tmp_path, saved_searches=[search])
        saved = SavedSearches(config, tmp_path / "saved.db")

        reports = deliver_alerts(config, store, saved, **FAST)
        assert [(r.search, r.new, r.sent, r.error) for r in reports] == [("ai", 3, 3, None)]
        assert receiver.ids() == [make_article(d).id for d in (5, 4, 3)]  # newest first
        body = receiver.bodies[0]
        assert (body["saved_search"], body["query"]) == ("ai", "race")
        assert body["matches"][0] == {
            "id": make_article(5).id,
            "url": "https://news.example/5.html",
            "title": "Article 5",
            "source": "example",
            "language": "en",
            "published_at": "2026-11-05T08:00:00Z",
            "authors": [],
            "topics": ["ai-race"],
            "story_id": make_article(5).id,
            "snippet": "Body of article 5 about the AI race.",
        }

        store.upsert(make_article(1))  # new, and older than the others
        store.upsert(make_article(4, title="Article 4, updated"))  # changed, already sent
        reports = deliver_alerts(config, store, saved, **FAST)
        assert [(r.new, r.sent) for r in reports] == [(1, 1)]
        assert receiver.ids() == [make_article(d).id for d in (5, 4, 3, 1)]

        assert [(r.new, r.sent) for r in deliver_alerts(config, store, saved, **FAST)] == [(0, 0)]
        assert len(receiver.bodies) == 2  # nothing new: nothing posted

    status = saved.status()["ai"]
    assert (status["sent"], status["last_error"]) == (4, None)
    assert status["last_success"] == status["last_attempt"]


def test_a_failing_receiver_is_retried_with_backoff(empty_index, tmp_path):
    empty_index.store.upsert(make_article(7))
    with Receiver(fail_first=2) as receiver:
        config = web_config(
            empty_index,
            tmp_path,
            saved_searches=[{"name": "ai", "query": "", "webhook": receiver.url}],
        )
        saved = SavedSearches(config, tmp_path / "saved.db")
        reports = deliver_alerts(config, empty_index.store, saved, **FAST)
        assert [(r.sent, r.error) for r in reports] == [(1, None)]
        assert receiver.attempts == 3
        assert receiver.ids() == [make_article(7).id]


def test_a_delivery_that_keeps_failing_is_tried_again_at_the_next_run(empty_index, tmp_path):
    empty_index.store.upsert(make_article(8))
    with Receiver(fail_first=4, status=503) as receiver:
        config = web_config(
            empty_index,
            tmp_path,
            saved_searches=[{"name": "ai", "query": "", "webhook": receiver.url}],
        )
        saved = SavedSearches(config, tmp_path / "saved.db")
        (report,) = deliver_alerts(config, empty_index.store, saved, **FAST)
        assert report.error == f"HTTP 503 from {receiver.url} (after 4 attempt(s))"
        assert (report.new, report.sent, receiver.attempts, receiver.bodies) == (1, 0, 4, [])
        status = saved.status()["ai"]
        assert (status["sent"], status["last_success"]) == (0, None)
        assert status["last_error"] == report.error

        (report,) = deliver_alerts(config, empty_index.store, saved, **FAST)
        assert (report.sent, report.error) == (1, None)
        assert receiver.ids() == [make_article(8).id]
        assert saved.status()["ai"]["last_error"] is None


def test_a_refusing_receiver_is_not_retried(empty_index, tmp_path):
    empty_index.store.upsert(make_article(9))
    with Receiver(fail_first=1, status=404) as receiver:
        config = web_config(
            empty_index,
            tmp_path,
            saved_searches=[{"name": "ai", "query": "", "webhook": receiver.url}],
        )
        saved = SavedSearches(config, tmp_path / "saved.db")
        (report,) = deliver_alerts(config, empty_index.store, saved, **FAST)
        assert report.error == f"HTTP 404 from {receiver.url} (after 1 attempt(s))"
        assert receiver.attempts == 1


def test_many_matches_go_in_batches(empty_index, tmp_path):
    for day in range(1, 29):
        for n in range(4):  # 112 articles
            empty_index.store.upsert(make_article(day, id=f"{day:02d}-{n}", body=f"AI race {n}"))
    with Receiver() as receiver:
        config = web_config(
            empty_index,
            tmp_path,
            saved_searches=[{"name": "ai", "query": "race", "webhook": receiver.url}],
        )
        saved = SavedSearches(config, tmp_path / "saved.db")
        (report,) = deliver_alerts(config, empty_index.store, saved, **FAST)
    assert (report.new, report.sent) == (112, 112)
    assert [len(b["matches"]) for b in receiver.bodies] == [50, 50, 12]
    assert len(set(receiver.ids())) == 112


def test_searches_created_through_the_api_alert_too_and_show_in_stats(empty_index, tmp_path):
    empty_index.store.upsert(make_article(10))
    with Receiver() as receiver, make_client(empty_index, tmp_path) as client:
        created = client.post(
            "/api/saved-searches", json={"name": "api-hook", "query": "", "webhook": receiver.url}
        )
        assert created.status_code == 201
        client.post("/api/saved-searches", json={"name": "no-hook", "query": "x"})
        config = web_config(empty_index, tmp_path)
        saved = SavedSearches(config, tmp_path / "saved.db")
        (report,) = deliver_alerts(config, empty_index.store, saved, **FAST)
        assert (report.search, report.sent) == ("api-hook", 1)
        alerts = client.get("/api/stats").json()["alerts"]
        assert list(alerts) == ["api-hook"]
        assert alerts["api-hook"]["sent"] == 1
        assert alerts["api-hook"]["last_error"] is None
        assert alerts["api-hook"]["last_success"].endswith("Z")


def test_alerts_from_the_command_line_and_in_stats(empty_index, tmp_path):
    empty_index.store.upsert(make_article(11))
    empty_index.store.upsert(make_article(12))
    with Receiver() as receiver:
        config = tmp_path / "newswatch.toml"
        config.write_text(
            toml_text(
                {
                    "store": empty_index.backend.config(empty_index.key),
                    "saved_searches": [
                        {"name": "ai", "query": "race", "webhook": receiver.url},
                        {"name": "quiet", "query": "race"},
                    ],
                }
            )
        )
        result = run_newswatch("--config", str(config), "alerts", "send", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert result.stdout == "alerts: ai: 2 of 2 new match(es) sent\n"
        assert sorted(receiver.ids()) == sorted([make_article(11).id, make_article(12).id])
        result = run_newswatch("--config", str(config), "alerts", "send", cwd=tmp_path)
        assert result.stdout == "alerts: ai: 0 of 0 new match(es) sent\n"

    stats = run_newswatch("--config", str(config), "stats", cwd=tmp_path)
    assert stats.returncode == 0, stats.stderr
    lines = stats.stdout.splitlines()
    assert lines[lines.index("alerts:") + 1].startswith("  ai: 2 sent; last attempt 20")
    as_json = run_newswatch("--config", str(config), "stats", "--json", cwd=tmp_path)
    assert json.loads(as_json.stdout)["alerts"]["ai"]["sent"] == 2


def test_every_crawl_delivers_alerts_and_a_dead_webhook_never_fails_it(tmp_path):
    with SiteServer(SITE) as site, Receiver() as receiver:
        dead = f"http://127.0.0.1:{free_port()}/hook"  # bound and released: nobody listens
        config = tmp_path / "newswatch.toml"
        config.write_text(
            toml_text(
                {
                    "crawler": {"download_delay": 0, "autothrottle": False},
                    "filters": {"keep_unmatched": True},
                    "store": {"backend": "sqlite", "path": str(tmp_path / "crawl.db")},
                    "sources": [
                        {
                            "name": "techbote",
                            "kind": "feed",
                            "urls": [f"{site.url}/feeds/techbote.rdf"],
                        }
                    ],
                    "saved_searches": [
                        {"name": "everything", "query": "", "webhook": receiver.url},
                        {"name": "nowhere", "query": "", "webhook": dead},
                    ],
                }
            )
        )
        result = run_newswatch("--config", str(config), "crawl", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    store = SqliteStore(tmp_path / "crawl.db", LANGUAGES)
    try:
        stored = sorted(a.id for a in store.iter_articles())
    finally:
        store.close()
    assert len(stored) == 8  # de1-de8 of the demo site
    assert sorted(receiver.ids()) == stored
    lines = result.stdout.splitlines()
    assert "alerts: everything: 8 of 8 new match(es) sent" in lines
    assert [line for line in lines if line.startswith("alerts: nowhere:")] == [
        f"alerts: nowhere: 0 of 8 new match(es) sent (cannot reach {dead}: [Errno 111] "
        "Connection refused (after 4 attempt(s)))"
    ]
