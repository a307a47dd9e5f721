"""The project deployed to two real scrapyd hosts, whose jobs work one Redis frontier.

Two scrapyd processes run on free loopback ports, each in a working directory of its
own, with scrapyd's own command from the virtualenv. ``scrapyd-deploy`` (the real CLI)
builds the project's egg from a copy of this checkout, whose ``scrapy.cfg`` names the
two hosts as deploy targets, and uploads it to each. ``newswatch enqueue`` seeds the
queue, and one ``newswatch`` spider job is scheduled on each host through
``schedule.json``, as the README shows. The counting site (``clustersite.py``) shows
that each page was fetched once across both hosts.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from conftest import cluster_config, free_port

from crawler.urls import article_id

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent  # the virtualenv's scripts: scrapyd, scrapyd-deploy
PROJECT_FILES = ("scrapy.cfg", "setup.py", "pyproject.toml", "README.md")
PACKAGES = ("crawler", "pipelines", "search", "newswatch")


class Scrapyd:
    """One scrapyd process on a free loopback port, in a directory of its own."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.process: subprocess.Popen | None = None
        directory.mkdir(parents=True)
        (directory / "scrapyd.conf").write_text(f"""[scrapyd]
bind_address = 127.0.0.1
http_port = {self.port}
eggs_dir = {directory / "eggs"}
logs_dir = {directory / "logs"}
dbs_dir = {directory / "dbs"}
items_dir =
jobs_dir =
max_proc = 1
poll_interval = 0.2
""")

    def start(self) -> Scrapyd:
        # scrapyd reads ./scrapyd.conf; it runs each job with its own Python (the venv's).
        self.process = subprocess.Popen(
            [str(BIN / "scrapyd"), "--pidfile", ""],
            cwd=self.dir,
            stdout=(self.dir / "scrapyd.out").open("wb"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"scrapyd exited: {self.output()}")
            try:
                if self.get("daemonstatus.json")["status"] == "ok":
                    return self
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stop(self) -> None:
        """Cancel its jobs, then stop scrapyd: stopped first, it would leave them running."""
        if self.process is None or self.process.poll() is not None:
            return
        left: list[int] = []  # pids of jobs still running after their cancel
        try:
            jobs = self.get("listjobs.json")
            for job in jobs["pending"] + jobs["running"]:
                self.post("cancel.json", project=job["project"], job=job["id"])
            deadline = time.monotonic() + 30
            while running := self.get("listjobs.json")["running"]:
                if time.monotonic() > deadline:
                    left = [job["pid"] for job in running]
                    break
                time.sleep(0.2)
        finally:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            for pid in left:
                with contextlib.suppress(OSError):  # ended meanwhile: not ours to kill
                    if b"scrapyd.runner" in Path(f"/proc/{pid}/cmdline").read_bytes():
                        os.kill(pid, signal.SIGKILL)

    def get(self, path: str, **query: str) -> dict:
        url = self.url + path + ("?" + urllib.parse.urlencode(query) if query else "")
        with urllib.request.urlopen(url, timeout=10) as response:
            return json.load(response)

    def post(self, path: str, **form: str) -> dict:
        data = urllib.parse.urlencode(form).encode()
        with urllib.request.urlopen(self.url + path, data=data, timeout=10) as response:
            return json.load(response)

    def output(self) -> str:
        return (self.dir / "scrapyd.out").read_text(errors="replace")

    def log(self, job: str) -> str:
        return (self.dir / "logs" / "newswatch" / "newswatch" / f"{job}.log").read_text()

    def wait_finished(self, job: str, timeout: float = 120) -> None:
        """Until scrapyd lists ``job`` as finished (a failure after ``timeout`` seconds)."""
        deadline = time.monotonic() + timeout
        while job not in [j["id"] for j in self.get("listjobs.json")["finished"]]:
            assert time.monotonic() < deadline, f"job {job} still not finished"
            time.sleep(0.2)

    def wait_log(self, job: str, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        log = self.dir / "logs" / "newswatch" / "newswatch" / f"{job}.log"
        while not (log.exists() and text in log.read_text()):
            assert time.monotonic() < deadline, f"job {job}: no {text!r} in its log"
            time.sleep(0.1)


@pytest.fixture
def hosts(tmp_path: Path) -> Iterator[list[Scrapyd]]:
    started: list[Scrapyd] = []
    try:
        for name in ("host1", "host2"):
            started.append(Scrapyd(tmp_path / name).start())
        yield started
    finally:
        for host in started:
            host.stop()


@pytest.fixture
def index() -> str:
    return f"newswatch-test-scrapyd-{uuid.uuid4().hex[:8]}"


def checkout_with_targets(tmp: Path, hosts: list[Scrapyd]) -> Path:
    """A copy of this checkout (its files as they are), ``[deploy:hostN]`` added to its
    scrapy.cfg: the egg is built there, not in the working tree others use."""
    checkout = tmp / "checkout"
    checkout.mkdir()
    for name in PROJECT_FILES:
        shutil.copy(ROOT / name, checkout / name)
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, checkout / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    with (checkout / "scrapy.cfg").open("a") as cfg:
        for n, host in enumerate(hosts, 1):
            cfg.write(f"\n[deploy:host{n}]\nurl = {host.url}\nproject = newswatch\n")
    return checkout


def newswatch(config: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "newswatch", "--config", str(config), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def stored_ids(es_client, index: str) -> list[str]:
    es_client.indices.refresh(index=index)
    hits = es_client.search(index=index, size=1000, source=False, sort=["_doc"])["hits"]["hits"]
    return [hit["_id"] for hit in hits]


def test_two_scrapyd_hosts_share_one_frontier(
    hosts, site, redis_url, es_url, es_client, index, tmp_path
):
    checkout = checkout_with_targets(tmp_path, hosts)
    for target in ("host1", "host2"):
        deployed = subprocess.run(
            [str(BIN / "scrapyd-deploy"), target],
            cwd=checkout,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert deployed.returncode == 0, deployed.stderr
        answer = json.loads(deployed.stdout)
        assert (answer["status"], answer["project"], answer["spiders"]) == ("ok", "newswatch", 1)
    for host in hosts:
        assert host.get("listspiders.json", project="newswatch")["spiders"] == ["newswatch"]

    # A delay, however short, puts the cluster's politeness clock in the downloader.
    config = cluster_config(tmp_path, site.url, redis_url, es_url, index, delay=0.01)
    enqueued = newswatch(config, "enqueue")
    assert enqueued.returncode == 0, enqueued.stderr
    assert enqueued.stdout == "gazette: 1 request(s) queued\n"

    args = {
        "project": "newswatch",
        "spider": "newswatch",
        "source": "gazette",
        "config": str(config),
        "exit_when_done": "1",
    }
    jobs = [host.post("schedule.json", **args) for host in hosts]
    assert [job["status"] for job in jobs] == ["ok", "ok"]
    for host, job in zip(hosts, jobs, strict=True):
        host.wait_finished(job["jobid"])

    # Every page of the site once across the two hosts; robots.txt once by each job.
    assert site.page_requests() == dict.fromkeys(site.page_paths(), 1)
    assert site.requests["/robots.txt"] == 2
    expected = sorted(article_id(site.article_url(p)) for p in site.article_paths())
    ids = stored_ids(es_client, index)
    assert len(ids) == 320
    assert sorted(ids) == expected
    client = redis.Redis.from_url(redis_url)
    assert client.zcard("newswatch:site:gazette:requests") == 0
    assert client.hlen("newswatch:site:gazette:requests:leased") == 0
    assert client.scard("newswatch:site:gazette:dupefilter") == len(site.page_paths())

    for host, job in zip(hosts, jobs, strict=True):
        log = host.log(job["jobid"])
        bad = [line for line in log.splitlines() if " ERROR: " in line or "Traceback" in line]
        assert bad == [], log
        # The settings from_crawler set were Scrapy's: the cluster's components ran.
        for component in (
            "crawler.frontier.FrontierLeases",
            "crawler.frontier.NoSeeds",
            "crawler.politeness.ClusterPoliteness",
        ):
            assert f"'{component}'" in log
        assert "'finish_reason': 'finished'" in log
        assert f"Process finished: project='newswatch' spider='newswatch' job='{job['jobid']}'" in (
            host.output()
        )
        assert "Process died" not in host.output()

    # Each job recorded its run in the store; together they fetched and stored it all.
    listed = newswatch(config, "runs", "--source", "gazette", "--json")
    assert listed.returncode == 0, listed.stderr
    runs = json.loads(listed.stdout)
    assert [run["status"] for run in runs] == ["ok", "ok"]
    assert sum(run["pages"] for run in runs) == len(site.page_paths())
    assert sum(run["new"] for run in runs) == 320

    # Without exit_when_done a job waits for work: it takes what is queued later, and
    # ends when cancelled (cancel.json sends SIGINT), its run recorded as interrupted.
    args.pop("exit_when_done")
    waiting = hosts[0].post("schedule.json", **args)["jobid"]
    hosts[0].wait_log(waiting, "Spider opened")
    assert newswatch(config, "enqueue").stdout == "gazette: 1 request(s) queued\n"
    deadline = time.monotonic() + 60
    while site.requests["/"] < 2:
        assert time.monotonic() < deadline, "the waiting job never took the new request"
        time.sleep(0.1)
    assert hosts[0].post("cancel.json", project="newswatch", job=waiting)["prevstate"] == (
        "running"
    )
    hosts[0].wait_finished(waiting)
    assert site.requests["/"] == 2  # its links were all seen before: nothing else fetched
    assert site.page_requests() == {**dict.fromkeys(site.page_paths(), 1), "/": 2}
    runs = json.loads(newswatch(config, "runs", "--source", "gazette", "--json").stdout)
    assert [run["status"] for run in runs] == ["interrupted", "ok", "ok"]
    assert runs[0]["pages"] == 1
    assert client.hlen("newswatch:site:gazette:requests:leased") == 0


def test_the_scrapyd_spider_refuses_what_newswatch_worker_refuses(
    site, redis_url, es_url, tmp_path
):
    def scrapy_crawl(config: Path) -> subprocess.CompletedProcess:
        # What scrapyd runs for schedule.json?spider=newswatch&source=gazette&config=...
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "scrapy",
                "crawl",
                "newswatch",
                "-a",
                "source=gazette",
                "-a",
                f"config={config}",
                "-a",
                "exit_when_done=1",
                "-s",
                "LOG_LEVEL=ERROR",
            ],
            cwd=tmp_path,
            env={**os.environ, "SCRAPY_SETTINGS_MODULE": "crawler.settings"},
            capture_output=True,
            text=True,
            timeout=120,
        )

    sqlite = cluster_config(tmp_path, site.url, redis_url, es_url, "x", backend="sqlite")
    worker = newswatch(sqlite, "worker", "--exit-when-done")
    assert worker.returncode == 2
    refused = scrapy_crawl(sqlite)
    assert refused.returncode == 0, refused.stderr
    assert refused.stderr.splitlines()[-1].endswith(
        "[newswatch] ERROR: " + worker.stderr.removeprefix("newswatch: ").rstrip("\n")
    )
    assert worker.stderr == (
        f"newswatch: {sqlite}: store.backend is 'sqlite': cluster workers write to one shared"
        " Elasticsearch (the SQLite store belongs to one machine)\n"
    )

    port = free_port()
    away = cluster_config(tmp_path, site.url, f"redis://127.0.0.1:{port}/0", es_url, "x")
    refused = scrapy_crawl(away)
    assert refused.returncode == 0, refused.stderr
    last = refused.stderr.splitlines()[-1]
    assert f"[newswatch] ERROR: Redis at redis://127.0.0.1:{port}/0: " in last
    assert sum(site.requests.values()) == 0
    assert not (tmp_path / "locks").exists()  # a cluster worker claims no lock
