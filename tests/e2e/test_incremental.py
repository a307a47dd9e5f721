"""End to end: incremental crawls of a live fixture site, each run a `newswatch` child process.

The site (tests/e2e/newssite.py) counts every request it answers, so each test asserts
exactly what a run fetched: a feed answered 304, the one new article, the article due
a refresh, nothing at all from the archive.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from newssite import NewsSite

from crawler.state import CrawlState, SourceLock, parse_iso
from crawler.urls import article_id
from newswatch.runs.history import RUN_KEYS
from pipelines.stores.sqlite import SqliteStore

ROBOTS = '[[topics]]\nname = "robots"\nany = ["robot"]\n'
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def ago(**delta: float) -> str:
    return (datetime.now(UTC) - timedelta(**delta)).strftime("%Y-%m-%dT%H:%M:%SZ")


class Project:
    """A working directory whose newswatch.toml crawls one feed source, ``wire``."""

    def __init__(self, root: Path, site: NewsSite, crawler: str = "", topics: str = ROBOTS):
        self.root, self.site = root, site
        self.configure(crawler, topics)

    def configure(self, crawler: str = "", topics: str = ROBOTS) -> None:
        (self.root / "newswatch.toml").write_text(
            "[crawler]\ndownload_delay = 0\nautothrottle = false\n"
            f"concurrent_requests_per_domain = 2\n{crawler}\n"
            '[filters]\nlanguages = ["en"]\n'
            f"{topics}\n"
            f'[[sources]]\nname = "wire"\nkind = "feed"\nurls = ["{self.site.url}/feed.rss"]\n'
        )

    def newswatch(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "newswatch", *args],
            cwd=self.root,
            env=_env(),
            capture_output=True,
            text=True,
            timeout=300,
        )

    def start(self, *args: str) -> subprocess.Popen:
        """Start ``newswatch`` in a process group of its own (with its extraction workers)."""
        return subprocess.Popen(
            [sys.executable, "-m", "newswatch", *args],
            cwd=self.root,
            env=_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )

    def crawl(self) -> subprocess.CompletedProcess:
        return self.newswatch("crawl")

    def store(self) -> SqliteStore:
        return SqliteStore(self.root / "data" / "newswatch.db", ["en"])

    def articles(self) -> dict[str, object]:
        store = self.store()
        try:
            return {a.id: a for a in store.iter_articles()}
        finally:
            store.close()

    def count(self) -> int:
        if not (self.root / "data" / "newswatch.db").exists():
            return 0
        store = self.store()
        try:
            return store.count()
        finally:
            store.close()

    def runs(self) -> list[dict]:
        result = self.newswatch("runs", "--json")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    def state(self) -> CrawlState:
        return CrawlState(self.root / "data" / "crawl-state.db")

    def id(self, number: int) -> str:
        return article_id(f"{self.site.url}/news/{number}.html")


def _env() -> dict[str, str]:
    return {**os.environ, "NEWSWATCH_CONFIG": ""}


def wait_for(condition, what: str, timeout: float = 120.0) -> None:
    """Poll ``condition`` until it holds (a deadline only against hanging, not a measure)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


def reset(site: NewsSite) -> None:
    for counter in (site.requests, site.conditional, site.not_modified):
        counter.clear()


def test_an_unchanged_feed_is_answered_304_and_no_article_is_fetched(tmp_path: Path) -> None:
    with NewsSite() as site:
        for n in (1, 2, 3):
            site.add(n, ago(hours=n))
        project = Project(tmp_path, site)
        first = project.crawl()
        assert first.returncode == 0, first.stdout + first.stderr
        assert set(project.articles()) == {project.id(n) for n in (1, 2, 3)}
        reset(site)

        second = project.crawl()

        assert second.returncode == 0, second.stdout + second.stderr
        assert site.requests == Counter({"/robots.txt": 1, "/feed.rss": 1})
        assert site.conditional == Counter({"/feed.rss": 1})
        assert site.not_modified == Counter({"/feed.rss": 1})
        assert project.count() == 3
        run = project.runs()[0]
        assert (
            run["status"],
            run["pages"],
            run["not_modified"],
            run["new"],
            run["skipped_known"],
        ) == ("ok", 1, 1, 0, 0)


def test_one_new_entry_is_the_only_article_fetched(tmp_path: Path) -> None:
    with NewsSite() as site:
        for n in (1, 2, 3):
            site.add(n, ago(hours=n))
        project = Project(tmp_path, site)
        assert project.crawl().returncode == 0
        reset(site)
        site.add(4, ago(minutes=5))

        result = project.crawl()

        assert result.returncode == 0, result.stdout + result.stderr
        assert site.requests == Counter({"/robots.txt": 1, "/feed.rss": 1, "/news/4.html": 1})
        assert site.conditional == Counter({"/feed.rss": 1})  # asked, but the feed changed
        articles = project.articles()
        assert set(articles) == {project.id(n) for n in (1, 2, 3, 4)}
        assert all(a.revision == 1 for a in articles.values())
        run = project.runs()[0]
        assert (run["pages"], run["new"], run["unchanged"], run["skipped_known"]) == (2, 1, 0, 3)


def test_an_article_due_a_refresh_is_updated_in_place(tmp_path: Path) -> None:
    with NewsSite() as site:
        young = site.add(1, ago(hours=2))
        site.add(2, ago(days=10))  # too old to change: never fetched again
        # Fetched again as soon as it is known (refresh_after = 0s) while under 48 hours old.
        project = Project(tmp_path, site, crawler='refresh_after = "0s"')
        assert project.crawl().returncode == 0
        before = project.articles()[project.id(1)]
        assert (before.revision, before.modified_at) == (1, None)
        reset(site)
        young.body += "\nCorrection: the robot factory opens in June, not in May as first reported."
        young.modified = ago(minutes=1)

        result = project.crawl()

        assert result.returncode == 0, result.stdout + result.stderr
        assert site.requests == Counter({"/robots.txt": 1, "/feed.rss": 1, "/news/1.html": 1})
        assert site.not_modified == Counter({"/feed.rss": 1})
        articles = project.articles()
        assert set(articles) == {project.id(1), project.id(2)}
        after, old = articles[project.id(1)], articles[project.id(2)]
        assert after.revision == 2
        assert after.body.endswith("not in May as first reported.")
        assert after.modified_at == young.modified
        assert after.published_at == before.published_at
        assert old.revision == 1
        run = project.runs()[0]
        assert (run["pages"], run["not_modified"], run["new"], run["updated"]) == (2, 1, 0, 1)


def _big_site(site: NewsSite) -> set[int]:
    numbers = set(range(1, 61))
    for n in numbers:
        site.add(n, ago(hours=3, minutes=n))
    return numbers


def test_a_crawl_killed_mid_run_loses_nothing_and_stores_nothing_twice(tmp_path: Path) -> None:
    # Slow enough (60 pages, 2 at a time, 0.5 s each: 15 s) that the index stage's
    # batches (every 2 s) have written some articles and not all when the kill lands.
    with NewsSite(delay=0.5) as site:
        numbers = _big_site(site)
        project = Project(tmp_path, site)
        crawl = project.start("crawl")
        wait_for(lambda: project.count() >= 10, "ten stored articles")
        # As systemd or the scheduler kill a job: the whole process group, workers too.
        os.killpg(crawl.pid, signal.SIGKILL)
        crawl.communicate()
        assert 10 <= project.count() < 60  # the kill landed mid-crawl

        again = project.crawl()

        assert again.returncode == 0, again.stdout + again.stderr
        assert set(project.articles()) == {project.id(n) for n in numbers}
        assert project.count() == 60
        assert not (tmp_path / "data" / "jobs" / "wire").exists()  # a finished run clears it


def test_a_crawl_stopped_by_sigterm_resumes_its_queue(tmp_path: Path) -> None:
    with NewsSite(delay=0.1) as site:
        numbers = _big_site(site)
        project = Project(tmp_path, site)
        crawl = project.start("crawl")
        # Early: Scrapy's graceful stop still completes what the downloader holds (16).
        wait_for(lambda: site.article_requests() >= 5, "five article requests")
        crawl.send_signal(signal.SIGTERM)  # Scrapy's graceful shutdown
        out, err = crawl.communicate()
        assert crawl.returncode == 1, out + err
        assert project.count() < 60
        jobdir = tmp_path / "data" / "jobs" / "wire"
        assert (jobdir / "requests.seen").exists()  # Scrapy's JOBDIR, kept for the next run
        interrupted = project.runs()[0]
        assert (interrupted["status"], interrupted["error"]) == ("interrupted", "interrupted")

        again = project.crawl()

        assert again.returncode == 0, again.stdout + again.stderr
        assert set(project.articles()) == {project.id(n) for n in numbers}
        # The queue resumed: no article was asked for twice over both runs.
        assert {site.requests[f"/news/{n}.html"] for n in numbers} == {1}
        assert not jobdir.exists()


def test_a_crawl_over_its_time_limit_stops_as_timeout_and_resumes(tmp_path: Path) -> None:
    with NewsSite(delay=1.0) as site:  # slow: the limit stops it well before the end
        numbers = range(1, 41)
        for n in numbers:
            site.add(n, ago(hours=3, minutes=n))
        project = Project(tmp_path, site)
        stopped = project.newswatch("crawl", "--time-limit", "2s")
        assert stopped.returncode == 1, stopped.stdout + stopped.stderr
        assert "wire: timeout" in stopped.stdout.splitlines()
        run = project.runs()[0]
        assert (run["status"], run["error"]) == ("failed", "timeout")
        assert project.count() < 40

        again = project.crawl()

        assert again.returncode == 0, again.stdout + again.stderr
        assert project.count() == 40
        assert {site.requests[f"/news/{n}.html"] for n in numbers} == {1}


def test_a_second_crawl_of_a_source_being_crawled_is_refused(tmp_path: Path) -> None:
    with NewsSite(delay=0.3) as site:
        for n in range(1, 11):
            site.add(n, ago(hours=n))
        project = Project(tmp_path, site)
        first = project.start("crawl")
        wait_for(lambda: site.requests["/feed.rss"] >= 1, "the first crawl to start")

        second = project.newswatch("crawl", "--source", "wire")

        assert second.returncode == 75
        assert second.stderr == (
            f"newswatch: source 'wire' is already being crawled by another process"
            f" (pid {first.pid})\n"
        )
        assert second.stdout == ""
        out, err = first.communicate(timeout=300)
        assert first.returncode == 0, out + err
        assert site.requests["/feed.rss"] == 1
        assert project.count() == 10


def test_429_with_retry_after_backs_the_source_off(tmp_path: Path) -> None:
    with NewsSite() as site:
        site.add(1, ago(hours=1))
        site.overrides["/feed.rss"] = (429, {"Retry-After": "3600"})
        project = Project(tmp_path, site)
        before = datetime.now(UTC).replace(microsecond=0)
        result = project.crawl()
        after = datetime.now(UTC)

        assert result.returncode == 1, result.stdout + result.stderr
        state = project.state()
        try:
            poll = state.poll("wire", f"{site.url}/feed.rss")
        finally:
            state.close()
        until = parse_iso(poll.backoff_until)
        assert before + timedelta(seconds=3600) <= until <= after + timedelta(seconds=3600)
        assert f"wire: {site.url}/feed.rss: HTTP 429, backed off until {poll.backoff_until}" in (
            result.stdout.splitlines()
        )
        assert site.requests == Counter({"/robots.txt": 1, "/feed.rss": 1})
        run = project.runs()[0]
        assert (run["status"], run["error"]) == (
            "failed",
            f"{site.url}/feed.rss: HTTP 429, backed off until {poll.backoff_until}",
        )
        reset(site)
        del site.overrides["/feed.rss"]

        waiting = project.crawl()

        assert waiting.returncode == 0, waiting.stderr
        assert waiting.stdout == (
            f"source 'wire' is backed off until {poll.backoff_until} (the server asked for a"
            " pause); not crawled\n"
        )
        assert site.requests == Counter()


def test_reparse_retags_stored_articles_from_the_archive_without_a_request(
    tmp_path: Path,
) -> None:
    with NewsSite() as site:
        site.add(1, ago(hours=1), words="robot factory")
        site.add(2, ago(hours=2), words="robot chip")
        site.add(3, ago(hours=3), words="robot arm")
        project = Project(tmp_path, site)
        assert project.crawl().returncode == 0
        assert {a.id: a.topics for a in project.articles().values()} == {
            project.id(n): ["robots"] for n in (1, 2, 3)
        }
        assert len(list((tmp_path / "data" / "warc" / "wire").glob("*.warc.gz"))) == 1
        project.configure(
            topics='[[topics]]\nname = "factories"\nany = ["factory"]\n'
            '[[topics]]\nname = "chips"\nany = ["chip"]\n'
        )
        reset(site)

        result = project.newswatch("reparse")

        assert result.returncode == 0, result.stdout + result.stderr
        assert site.requests == Counter()  # not one request
        assert result.stdout.splitlines() == [
            "source  archived  reparsed  updated  unchanged  retagged  removed",
            "------  --------  --------  -------  ---------  --------  --------------",
            "wire    3         3         0        2          2         1 (no-topic 1)",
        ]
        articles = project.articles()
        assert {a.id: (a.topics, a.revision) for a in articles.values()} == {
            project.id(1): (["factories"], 1),
            project.id(2): (["chips"], 1),
        }
        state = project.state()
        try:  # dropped now: a later crawl does not fetch it again either
            assert state.article(f"{site.url}/news/3.html").outcome == "no-topic"
        finally:
            state.close()


def test_runs_json_rows_have_the_documented_keys_and_values(tmp_path: Path) -> None:
    with NewsSite() as site:
        site.add(1, ago(hours=1))
        site.add(2, ago(hours=2), words="garden party")  # no robot: dropped, no-topic
        project = Project(tmp_path, site)
        assert project.crawl().returncode == 0
        assert project.crawl().returncode == 0

        rows = project.runs()

        assert [list(row) for row in rows] == [list(RUN_KEYS)] * 2
        latest, first = rows
        assert {
            k: first[k] for k in RUN_KEYS if k not in ("started_at", "finished_at", "duration")
        } == {
            "source": "wire",
            "status": "ok",
            "error": None,
            "pages": 3,
            "not_modified": 0,
            "new": 1,
            "updated": 0,
            "unchanged": 0,
            "skipped_known": 0,
            "dropped": {"no-topic": 1},
        }
        assert {
            k: latest[k] for k in ("pages", "not_modified", "new", "skipped_known", "dropped")
        } == {
            "pages": 1,
            "not_modified": 1,
            "new": 0,
            "skipped_known": 0,
            "dropped": {},
        }
        for row in rows:
            assert STAMP.match(row["started_at"]) and STAMP.match(row["finished_at"])
            assert row["started_at"] <= row["finished_at"]
            assert isinstance(row["duration"], float) and row["duration"] >= 0
        assert first["finished_at"] <= latest["started_at"]
        assert project.newswatch("runs", "--json", "--source", "other").stdout == "[]\n"
        one = json.loads(project.newswatch("runs", "--json", "--limit", "1").stdout)
        assert one == [latest]
        stats = json.loads(project.newswatch("stats", "--json").stdout)
        assert stats["sources"]["wire"]["health"] == {
            "last_success": latest["finished_at"],
            "last_new": first["started_at"],
            "failed_in_a_row": 0,
            "flags": [],
        }


def test_the_sitemaps_of_an_unchanged_index_are_still_polled(tmp_path: Path) -> None:
    with NewsSite() as site:
        for n in (1, 2):
            site.add(n, ago(hours=n))
        project = Project(tmp_path, site)
        config = (tmp_path / "newswatch.toml").read_text()
        (tmp_path / "newswatch.toml").write_text(
            config.replace('kind = "feed"', 'kind = "sitemap"').replace(
                "/feed.rss", "/sitemap-index.xml"
            )
        )
        assert project.crawl().returncode == 0
        assert project.count() == 2
        reset(site)

        unchanged = project.crawl()

        assert unchanged.returncode == 0, unchanged.stdout + unchanged.stderr
        polls = {"/sitemap-index.xml": 1, "/sitemap.xml": 1}
        assert site.requests == Counter({"/robots.txt": 1, **polls})
        assert site.not_modified == Counter(polls)
        reset(site)
        site.add(3, ago(minutes=5))  # the index stays the same; its sitemap does not

        changed = project.crawl()

        assert changed.returncode == 0, changed.stdout + changed.stderr
        assert site.requests == Counter({"/robots.txt": 1, **polls, "/news/3.html": 1})
        assert site.not_modified == Counter({"/sitemap-index.xml": 1})
        assert project.count() == 3


def test_scrapy_crawl_runs_a_configured_source_as_scrapyd_does(tmp_path: Path) -> None:
    with NewsSite() as site:
        site.add(1, ago(hours=1))
        site.add(2, ago(hours=2))
        project = Project(tmp_path, site)

        def scrapy_crawl() -> subprocess.CompletedProcess:
            # What scrapyd runs for schedule.json?spider=newswatch&source=wire, its settings
            # module found through the project's entry point.
            return subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "scrapy",
                    "crawl",
                    "newswatch",
                    "-a",
                    "source=wire",
                    "-s",
                    "LOG_LEVEL=ERROR",
                ],
                cwd=tmp_path,
                env={**_env(), "SCRAPY_SETTINGS_MODULE": "crawler.settings"},
                capture_output=True,
                text=True,
                timeout=300,
            )

        result = scrapy_crawl()

        assert result.returncode == 0, result.stdout + result.stderr
        assert site.requests == Counter(
            {"/robots.txt": 1, "/feed.rss": 1, "/news/1.html": 1, "/news/2.html": 1}
        )
        assert set(project.articles()) == {project.id(1), project.id(2)}
        run = project.runs()[0]
        assert (run["source"], run["status"], run["new"]) == ("wire", "ok", 2)
        assert not (tmp_path / "data" / "jobs" / "wire").exists()
        reset(site)
        with SourceLock(tmp_path / "data" / "locks", "wire"):
            busy = scrapy_crawl()
        assert busy.returncode == 0
        assert busy.stderr.splitlines()[-1].endswith(
            f"[newswatch] ERROR: source 'wire' is already being crawled by another process"
            f" (pid {os.getpid()})"
        )
        assert site.requests == Counter()
        assert len(project.runs()) == 1
