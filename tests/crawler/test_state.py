"""The crawl state file, the source lock, and adaptive polling intervals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from crawler.incremental import next_interval
from crawler.state import MAX_ATTEMPTS, CrawlState, SourceBusy, SourceLock, SourceSchedule
from newswatch.config import SourceConfig


@pytest.fixture
def state(tmp_path: Path):
    state = CrawlState(tmp_path / "state.db")
    yield state
    state.close()


def test_discover_remembers_new_urls_once(state: CrawlState) -> None:
    first = state.discover("wire", [("http://a/1", {"hint": None}), ("http://a/2", {})])
    again = state.discover("wire", [("http://a/2", {}), ("http://a/3", {"depth": 2})])
    assert first == {"http://a/1", "http://a/2"}
    assert again == {"http://a/3"}
    assert sorted(state.articles(["http://a/1", "http://a/3", "http://a/9"])) == [
        "http://a/1",
        "http://a/3",
    ]
    assert state.article("http://a/3").request == {"depth": 2}


def test_pending_until_decided_or_given_up(state: CrawlState) -> None:
    state.discover("wire", [(f"http://a/{n}", {}) for n in range(1, 5)])
    state.discover("other", [("http://b/1", {})])
    state.fetched("http://a/1", 200, "h1")
    state.decided("http://a/1", "stored", "id1", 1, "2026-01-01T00:00:00Z")
    state.fetched("http://a/2", 200, "h2")
    state.decided("http://a/2", "no-topic")
    for _ in range(MAX_ATTEMPTS):
        state.failed("http://a/3")
    state.fetched("http://a/4", 503, None)  # one attempt: asked again next run
    assert [a.url for a in state.pending("wire")] == ["http://a/4"]
    stored = state.article("http://a/1")
    assert (stored.outcome, stored.article_id, stored.revision, stored.attempts) == (
        "stored",
        "id1",
        1,
        0,
    )
    assert (stored.last_status, stored.content_hash) == (200, "h1")
    assert state.article("http://a/4").attempts == 1


def test_refresh_due_takes_young_stored_articles_not_fetched_lately(state: CrawlState) -> None:
    state.discover("wire", [("http://a/young", {}), ("http://a/old", {}), ("http://a/dropped", {})])
    for url, published in (
        ("http://a/young", "2026-05-10T12:00:00Z"),
        ("http://a/old", "2026-05-01T12:00:00Z"),
    ):
        state.fetched(url, 200, None)
        state.decided(url, "stored", url[-3:], 1, published)
    state.fetched("http://a/dropped", 200, None)
    state.decided("http://a/dropped", "no-topic")
    fetched = state.article("http://a/young").last_fetched
    due = state.refresh_due("wire", published_after="2026-05-09T00:00:00Z", fetched_before=fetched)
    assert [a.url for a in due] == ["http://a/young"]
    # Fetched after the bound: not due yet.
    assert state.refresh_due("wire", "2026-05-09T00:00:00Z", "2000-01-01T00:00:00Z") == []


def test_polls_keep_validators_and_count(state: CrawlState) -> None:
    state.record_poll(
        "wire",
        "http://a/feed",
        200,
        interval=3600,
        etag='"v1"',
        last_modified="Mon, 04 May 2026 10:00:00 GMT",
        content_hash="abc",
    )
    state.record_poll("wire", "http://a/feed", 304, interval=5400)
    poll = state.poll("wire", "http://a/feed")
    assert (poll.etag, poll.last_modified, poll.content_hash) == (
        '"v1"',
        "Mon, 04 May 2026 10:00:00 GMT",
        "abc",
    )
    assert (poll.polls, poll.interval, poll.last_status) == (2, 5400, 304)
    assert state.poll("wire", "http://a/other").polls == 0


def test_backoff_and_schedule_cover_every_url_of_a_source(state: CrawlState) -> None:
    state.record_poll("wire", "http://a/feed1", 200, interval=1800)
    state.record_poll("wire", "http://a/feed2", 200, interval=600)
    state.back_off("wire", ["http://a/feed1", "http://a/feed3"], "2026-05-10T13:00:00Z")
    schedule = state.schedule("wire")
    assert schedule.interval == 600
    assert schedule.backoff_until == "2026-05-10T13:00:00Z"
    assert [p.url for p in state.polls("wire")] == [
        "http://a/feed1",
        "http://a/feed2",
        "http://a/feed3",
    ]
    assert all(p.backoff_until == "2026-05-10T13:00:00Z" for p in state.polls("wire"))
    assert state.schedule("never") == SourceSchedule()


def test_a_second_lock_on_a_source_is_refused_with_the_holders_pid(tmp_path: Path) -> None:
    with SourceLock(tmp_path, "wire"):
        with pytest.raises(SourceBusy) as refused:
            SourceLock(tmp_path, "wire").acquire()
        assert str(refused.value) == (
            f"source 'wire' is already being crawled by another process (pid {os.getpid()})"
        )
        SourceLock(tmp_path, "other").acquire()  # another source is free
    with SourceLock(tmp_path, "wire"):  # released
        pass


def test_a_lock_dies_with_its_process(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\nfrom crawler.state import SourceLock\n"
            f"lock = SourceLock({str(tmp_path)!r}, 'wire')\nlock.acquire()\nprint('held', flush=True)\n"
            "time.sleep(600)",
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parents[2],
    )
    try:
        assert holder.stdout.readline() == "held\n"
        with pytest.raises(SourceBusy, match=f"pid {holder.pid}"):
            SourceLock(tmp_path, "wire").acquire()
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        with SourceLock(tmp_path, "wire"):
            pass
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()


def _source(**options: object) -> SourceConfig:
    return SourceConfig.model_validate(
        {"name": "wire", "kind": "feed", "urls": ["http://a/feed"], "every": "1h", **options}
    )


@pytest.mark.parametrize(
    ("current", "listed", "new", "first", "expected"),
    [
        (None, 20, 20, True, 3600),  # the first poll: everything is new, nothing learnt
        (3600, 20, 10, False, 1800),  # half new: twice as often
        (3600, 20, 2, False, 5400),  # a tenth new: half again as rarely
        (3600, 0, 0, False, 5400),  # a 304
        (3600, 20, 5, False, 3600),  # a quarter: as before
        (700, 10, 10, False, 600),  # never under min_every
        (80000, 0, 0, False, 86400),  # never over max_every
    ],
)
def test_adaptive_interval(current, listed, new, first, expected) -> None:
    assert next_interval(_source(), current, listed, new, first) == expected


def test_without_adaptive_polling_the_interval_is_every() -> None:
    assert next_interval(_source(adaptive=False), 1800, 20, 20, False) == 3600
    sitemap = SourceConfig.model_validate({"name": "s", "kind": "sitemap", "urls": ["http://a/"]})
    assert not sitemap.is_adaptive and next_interval(sitemap, 600, 0, 0, False) == 3600
