"""Crawl workers sharing one frontier in a real Redis, writing to a real Elasticsearch.

Each test starts Debian's redis-server on a free loopback port, a counting news site of
331 pages (``clustersite.py``) and ``newswatch worker`` processes, exactly as a user
runs them. The site counts every request: a page fetched by two workers shows.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis
import scrapy
from conftest import cluster_config, free_port
from scrapy.settings import Settings

from crawler.frontier import LEASE, LeasedQueue
from crawler.urls import article_id

ROOT = Path(__file__).resolve().parents[2]


def newswatch(config: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "newswatch", "--config", str(config), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def start_worker(config: Path, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "newswatch",
            "--config",
            str(config),
            "worker",
            "--exit-when-done",
            "--log-file",
            str(log),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finish(workers: list[subprocess.Popen], timeout: float = 240) -> list[str]:
    """Wait for the workers to exit on their own; their outputs. Each must exit 0."""
    outputs = []
    for worker in workers:
        try:
            out, _ = worker.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            for other in workers:
                other.kill()
            raise
        assert worker.returncode == 0, out
        outputs.append(out)
    return outputs


def stored_ids(es_client, index: str) -> list[str]:
    es_client.indices.refresh(index=index)
    hits = es_client.search(index=index, size=1000, source=False, sort=["_doc"])["hits"]["hits"]
    return [hit["_id"] for hit in hits]


@pytest.fixture
def index() -> str:
    return f"newswatch-test-cluster-{uuid.uuid4().hex[:8]}"


def test_three_workers_fetch_each_page_once_and_store_each_article_once(
    site, redis_url, es_url, es_client, index, tmp_path
):
    config = cluster_config(tmp_path, site.url, redis_url, es_url, index)
    enqueued = newswatch(config, "enqueue")
    assert enqueued.returncode == 0, enqueued.stderr
    assert enqueued.stdout == "gazette: 1 request(s) queued\n"

    workers = [start_worker(config, tmp_path / f"worker-{i}.log") for i in range(3)]
    outputs = finish(workers)

    # Every page of the site exactly once across the three workers.
    assert site.page_requests() == dict.fromkeys(site.page_paths(), 1)
    expected = sorted(article_id(site.article_url(p)) for p in site.article_paths())
    ids = stored_ids(es_client, index)
    assert len(ids) == 320
    assert sorted(ids) == expected
    # The work was shared: each worker's summary ("total  <pages>  <new> ...") counts
    # pages, and together they add up to the site.
    totals = [out.splitlines()[-1].split() for out in outputs]
    assert sum(int(t[1]) for t in totals) == len(site.page_paths())
    assert sum(int(t[2]) for t in totals) == 320
    working = sum(1 for t in totals if int(t[1]) > 0)
    assert working >= 2
    # robots.txt once by each worker that fetched (one started late may find no work left).
    assert site.requests["/robots.txt"] == working
    # Nothing is left behind in Redis: no queued request, no lease.
    client = redis.Redis.from_url(redis_url)
    assert client.zcard("newswatch:site:gazette:requests") == 0
    assert client.hlen("newswatch:site:gazette:requests:leased") == 0
    assert client.scard("newswatch:site:gazette:dupefilter") == len(site.page_paths())


def test_a_killed_worker_loses_nothing(redis_url, es_url, es_client, index, tmp_path):
    from clustersite import ClusterSite

    # Slow articles: a worker always has pages in flight when it is killed.
    with ClusterSite(delay=0.05) as site:
        config = cluster_config(tmp_path, site.url, redis_url, es_url, index, lease="3s")
        assert newswatch(config, "enqueue").returncode == 0
        # The victim crawls alone first, so that it surely holds pages when it dies.
        victim = start_worker(config, tmp_path / "worker-0.log")
        leased = redis.Redis.from_url(redis_url)
        deadline = time.monotonic() + 120
        while sum(site.page_requests().values()) < 40 and time.monotonic() < deadline:
            time.sleep(0.02)
        held = leased.hlen("newswatch:site:gazette:requests:leased")
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait()
        assert held > 0
        assert sum(site.page_requests().values()) < len(site.page_paths())  # killed mid-crawl
        others = [start_worker(config, tmp_path / f"worker-{i}.log") for i in (1, 2)]
        outputs = finish(others)

        expected = sorted(article_id(site.article_url(p)) for p in site.article_paths())
        ids = stored_ids(es_client, index)
        assert sorted(ids) == expected  # every article, each once
        requests = site.page_requests()
        assert set(requests) == set(site.page_paths())
        refetched = sum(count - 1 for count in requests.values())
    # The dead worker's leases came back to the queue (said in the others' logs), and
    # only pages among them were fetched a second time: those it had not finished.
    log = "".join((tmp_path / f"worker-{i}.log").read_text() for i in (1, 2))
    requeued = sum(int(n) for n in re.findall(r"cluster: (\d+) request\(s\) of a stopped", log))
    assert requeued >= held
    assert 0 <= refetched <= requeued
    assert all("newswatch: " not in out for out in outputs)


def test_a_stopped_worker_puts_back_what_it_held_at_once(
    redis_url, es_url, es_client, index, tmp_path
):
    from clustersite import ClusterSite

    with ClusterSite(delay=0.05) as site:
        # A long lease: only the worker's own release can bring its requests back soon.
        config = cluster_config(tmp_path, site.url, redis_url, es_url, index, lease="10m")
        assert newswatch(config, "enqueue").returncode == 0
        first = start_worker(config, tmp_path / "worker-0.log")
        deadline = time.monotonic() + 120
        while sum(site.page_requests().values()) < 40 and time.monotonic() < deadline:
            time.sleep(0.02)
        first.send_signal(signal.SIGTERM)
        out, _ = first.communicate(timeout=60)
        assert first.returncode == 0, out
        assert "gazette  site  interrupted" in out
        client = redis.Redis.from_url(redis_url)
        assert client.hlen("newswatch:site:gazette:requests:leased") == 0
        assert client.zcard("newswatch:site:gazette:requests") > 0

        finish([start_worker(config, tmp_path / "worker-1.log")], timeout=120)
        expected = sorted(article_id(site.article_url(p)) for p in site.article_paths())
        assert sorted(stored_ids(es_client, index)) == expected
        assert set(site.page_requests()) == set(site.page_paths())


def test_politeness_holds_across_workers(redis_url, es_url, es_client, index, tmp_path):
    from clustersite import ClusterSite

    delay = 0.3
    with ClusterSite(sections=2, per_section=6) as site:
        config = cluster_config(tmp_path, site.url, redis_url, es_url, index, delay=delay)
        assert newswatch(config, "enqueue").returncode == 0
        finish([start_worker(config, tmp_path / f"worker-{i}.log") for i in range(2)])
        assert site.page_requests() == dict.fromkeys(site.page_paths(), 1)
        times = sorted(site.times)
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert len(gaps) == len(site.page_paths()) - 1
    # Two workers, one site: together they keep the delay, as one crawler would. The
    # server may see two requests closer together when one worker's process was busy
    # between its turn and its send (Scrapy's own delay has the same slack), but never
    # more often overall: two workers each keeping their own delay would take half as long.
    assert times[-1] - times[0] >= delay * len(gaps) * 0.95, gaps
    assert sorted(gaps)[len(gaps) // 2] >= delay * 0.95, gaps
    assert sum(1 for gap in gaps if gap < delay / 2) <= 2, gaps


def test_the_scheduler_enqueues_each_source_at_its_interval(
    site, redis_url, es_url, es_client, index, tmp_path
):
    config = cluster_config(tmp_path, site.url, redis_url, es_url, index, every="1s")
    log = tmp_path / "schedule.log"
    with open(log, "w") as out:
        scheduler = subprocess.Popen(
            [sys.executable, "-m", "newswatch", "--config", str(config), "schedule"],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 90
            while log.read_text().count("end gazette:") < 2 and time.monotonic() < deadline:
                time.sleep(0.1)
            scheduler.send_signal(signal.SIGTERM)
            assert scheduler.wait(timeout=60) == 0
        finally:
            scheduler.kill()
            scheduler.wait()
    lines = [line.split(" ", 1)[1] for line in log.read_text().splitlines()]
    ends = [line for line in lines if line.startswith("end gazette:")]
    assert len(ends) >= 2
    assert set(ends) == {"end gazette: 1 request(s) queued"}
    assert sum(site.requests.values()) == 0  # the scheduler only seeds: workers crawl
    # The start page waits once in the queue however often it was seeded.
    assert redis.Redis.from_url(redis_url).zcard("newswatch:site:gazette:requests") == 1

    finish([start_worker(config, tmp_path / "worker.log")])
    assert site.page_requests() == dict.fromkeys(site.page_paths(), 1)
    assert len(stored_ids(es_client, index)) == 320


def test_worker_refuses_the_embedded_store(site, redis_url, es_url, tmp_path):
    config = cluster_config(tmp_path, site.url, redis_url, es_url, "x", backend="sqlite")
    result = newswatch(config, "worker", "--exit-when-done")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        f"newswatch: {config}: store.backend is 'sqlite': cluster workers write to one shared"
        " Elasticsearch (the SQLite store belongs to one machine)\n"
    )
    assert sum(site.requests.values()) == 0


def test_worker_and_enqueue_need_a_redis(site, es_url, tmp_path):
    config = cluster_config(tmp_path, site.url, None, es_url, "x")
    for command in ("worker", "enqueue"):
        result = newswatch(config, command)
        assert result.returncode == 2
        assert result.stderr == (
            f"newswatch: {config}: cluster: no redis_url: set [cluster] redis_url to the"
            " Redis all workers share\n"
        )
    # A Redis that is not there: one line naming it, no traceback.
    port = free_port()
    down = f"redis://:secret@127.0.0.1:{port}/0"
    config = cluster_config(tmp_path, site.url, down, es_url, "x")
    result = newswatch(config, "enqueue")
    assert result.returncode == 2
    assert result.stderr.startswith(f"newswatch: Redis at redis://:***@127.0.0.1:{port}/0: ")
    assert "secret" not in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert sum(site.requests.values()) == 0


class _Spider(scrapy.Spider):
    name = "lease-test"

    def parse(self, response):  # pragma: no cover - never called: only serialised
        return None


def test_leases_are_renewed_settled_and_requeued(redis_url):
    server = redis.Redis.from_url(redis_url)
    spider = _Spider()
    spider.settings = Settings({"NEWSWATCH_CLUSTER_LEASE": 1.0})
    worker_a = LeasedQueue(server, spider, "t:%(spider)s:requests")
    worker_b = LeasedQueue(server, spider, "t:%(spider)s:requests")
    for n in range(3):
        worker_a.push(scrapy.Request(f"http://127.0.0.1/{n}", callback=spider.parse, priority=n))

    first = worker_a.pop()  # highest priority first
    second = worker_b.pop()
    assert (first.url, second.url) == ("http://127.0.0.1/2", "http://127.0.0.1/1")
    assert first.callback == spider.parse
    assert (len(worker_a), worker_a.leased()) == (1, 2)

    worker_a.ack(first.meta[LEASE])
    assert (len(worker_a), worker_a.leased()) == (1, 1)
    # Worker b dies holding `second`; worker a stays alive and renews what it holds.
    third = worker_a.pop()
    for _ in range(4):
        time.sleep(0.4)
        worker_a.renew()
    assert worker_a.requeue_expired() == 1  # b's lease, not a's renewed one
    assert (len(worker_a), worker_a.leased()) == (1, 1)
    back = worker_a.pop()
    assert back.url == second.url and back.priority == 1
    assert back.meta[LEASE] != second.meta[LEASE]
    worker_b.ack(second.meta[LEASE])  # the dead worker's late ack settles nothing now
    assert worker_a.leased() == 2
    worker_a.ack(third.meta[LEASE])
    worker_a.ack(back.meta[LEASE])
    assert (len(worker_a), worker_a.leased(), worker_a.requeue_expired()) == (0, 0, 0)
