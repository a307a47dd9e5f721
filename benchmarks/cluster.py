"""The crawl cluster: pages/s with one, two and three `newswatch worker` processes.

Run by hand (needs nginx-light and redis-server from Debian):

    .venv/bin/python -m benchmarks.cluster --pages 3000 [--workers 1,2,3] [--es-url URL]

The same generated site (`benchmarks/site.py`, served by nginx on 127.0.0.1) is crawled
once per worker count, each time from an empty Redis (a fresh redis-server) into a fresh
Elasticsearch index: `newswatch enqueue`, then N `newswatch worker --exit-when-done`
started together. pages/s is the pages all workers fetched over the wall time from
their start to the last one's exit (start-up included: a worker is a whole process).
Each worker runs extraction in its own process (`[crawler] workers = 0`), so N workers
are N crawling processes. Politeness is relaxed for this run only (no delay, no
AutoThrottle, 32 requests per domain): the server is ours, on loopback.
Without --es-url an Elasticsearch node is started (scripts/elasticsearch_node.py).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from benchmarks.crawl import config_text
from benchmarks.site import Nginx, free_port, write_site

ROOT = Path(__file__).resolve().parent.parent


def _script(name: str):
    """A module of scripts/ (not a package)."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def es_cpu_seconds(es_url: str) -> float:
    """CPU seconds the Elasticsearch cluster's processes have used so far."""
    with urllib.request.urlopen(f"{es_url}/_nodes/stats/process", timeout=10) as response:
        nodes = json.load(response)["nodes"].values()
    return sum(node["process"]["cpu"]["total_in_millis"] for node in nodes) / 1000


def run(work: Path, config: Path, workers: int) -> tuple[int, int, float, float]:
    """Enqueue, run ``workers`` workers to the end: (pages, articles written, seconds, CPU s)."""
    cli = [sys.executable, "-m", "newswatch", "--config", str(config)]
    subprocess.run([*cli, "enqueue"], cwd=work, check=True, capture_output=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    processes = [
        subprocess.Popen(
            [*cli, "worker", "--exit-when-done"],
            cwd=work,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for _ in range(workers)
    ]
    outputs = [p.communicate()[0] for p in processes]
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    pages = new = 0
    for process, output in zip(processes, outputs, strict=True):
        if process.returncode != 0:
            raise SystemExit(f"a worker failed ({process.returncode}):\n{output}")
        total = next(line.split() for line in output.splitlines() if line.startswith("total"))
        # new + updated + unchanged: two workers may both write an article that two sources
        # list (a feed and a sitemap), and only one of them finds it new.
        pages, new = pages + int(total[1]), new + sum(int(v) for v in total[2:5])
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return pages, new, elapsed, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pages", type=int, default=3000)
    parser.add_argument("--workers", default="1,2,3", help="worker counts to run, in order")
    parser.add_argument("--es-url", default=os.environ.get("NEWSWATCH_TEST_ES_URL"))
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    work = Path(tempfile.mkdtemp(prefix="newswatch-bench-cluster-"))
    port = free_port()
    print(f"load average   {' '.join(f'{x:.2f}' for x in os.getloadavg())} (before)")
    print(f"writing {args.pages} pages to {work / 'site'} ...", flush=True)
    listings = write_site(work / "site", args.pages, f"127.0.0.1:{port}")
    with contextlib.ExitStack() as stack:
        es_url = args.es_url
        if not es_url:
            node = _script("elasticsearch_node").ElasticsearchNode()
            stack.callback(node.close)
            es_url = node.start().url
        stack.enter_context(Nginx(work / "site", port))
        results = {}
        stamp = time.strftime("%Y%m%d%H%M%S")  # a fresh index per run, also on a kept node
        for workers in counts:
            redis = stack.enter_context(_script("redis_server").RedisServer())
            text = config_text(listings, "elasticsearch", es_url).replace(
                'index = "newswatch-bench"', f'index = "newswatch-bench-cluster-{stamp}-{workers}"'
            )
            text = text.replace("[crawler]\n", "[crawler]\nworkers = 0\n", 1)
            config = work / f"cluster-{workers}.toml"
            config.write_text(text + f'\n[cluster]\nredis_url = "{redis.url}"\n')
            es_before = es_cpu_seconds(es_url)
            pages, new, elapsed, cpu = run(work, config, workers)
            es_cpu = es_cpu_seconds(es_url) - es_before
            redis.stop()
            results[workers] = pages / elapsed
            cores = (cpu + es_cpu) / elapsed
            print(
                f"{workers} worker(s): {pages} pages, {new} article writes in {elapsed:.1f} s ="
                f" {pages / elapsed:.1f} pages/s; CPU per page: workers"
                f" {1000 * cpu / max(pages, 1):.1f} ms, Elasticsearch"
                f" {1000 * es_cpu / max(pages, 1):.1f} ms; {cores:.2f} cores busy on average;"
                f" load {os.getloadavg()[0]:.2f}",
                flush=True,
            )
    base = results.get(1)
    print(f"\n{os.cpu_count()} cores; Elasticsearch at {es_url}")
    print("workers  pages/s  ratio to 1 worker")
    for workers, rate in results.items():
        ratio = f"{rate / base:.2f}" if base else "-"
        print(f"{workers:>7}  {rate:7.1f}  {ratio}")


if __name__ == "__main__":
    main()
