"""End to end: `newswatch crawl` over a generated news site served by nginx on 127.0.0.1.

Run by hand (needs nginx: apt-get install nginx-light):

    .venv/bin/python -m benchmarks.crawl --pages 10000 [--store sqlite|elasticsearch]

Reports pages/s, articles stored/s, CPU milliseconds per page (all processes of
the crawl, and the crawl process alone), peak memory (sum of the crawl's processes,
sampled), the load average before and after, and the per-stage profile the crawl
records (ms per page). Politeness is relaxed for this run only (no delay, no
AutoThrottle, 32 concurrent requests): the server is ours, on loopback.

With ``--store elasticsearch`` and no ``--es-url``, a throw-away node is started on
127.0.0.1 (scripts/elasticsearch_node.py, ``--heap``, 2 GB by default); its CPU time
is reported apart, its memory is not in the peak.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from benchmarks.site import Nginx, free_port, write_site
from newswatch.config import default_config_text

BENCH_CRAWLER = """
[crawler]
download_delay = 0
autothrottle = false
concurrent_requests_per_domain = 32
"""


def config_text(
    listings: dict[str, list[str]],
    store: str,
    es_url: str | None,
    es_auth: tuple[str, str] | None = None,
) -> str:
    """The default config's filters and topics, the benchmark's sources and crawler."""
    default = default_config_text()
    filters = default[default.index("[filters]") : default.index("[store]")]
    topics = default[default.index("# --- Topics") :]
    sources = "".join(
        f'\n[[sources]]\nname = "bench-{kind}-{i}"\nkind = "{"feed" if kind == "rss" else kind}"'
        f'\nurls = ["{url}"]\n'
        for kind, urls in listings.items()
        for i, url in enumerate(urls)
    )
    if store == "sqlite":
        backend = '[store]\nbackend = "sqlite"\npath = "bench.db"\n'
    else:
        backend = (
            '[store]\nbackend = "elasticsearch"\n[store.elasticsearch]\n'
            f'url = "{es_url}"\nindex = "newswatch-bench"\n'
        )
        if es_auth:
            backend += f'username = "{es_auth[0]}"\npassword = "{es_auth[1]}"\n'
    return BENCH_CRAWLER + filters + backend + sources + topics


def _tree_rss(pid: int) -> int:
    """Resident memory of a process and its descendants, in bytes."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue
    return total


def _cpu_seconds(pid: int) -> float | None:
    """User plus system CPU time of one process so far (None once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _tree_cpu(pid: int) -> float | None:
    """CPU seconds of a process and its descendants (an Elasticsearch launcher and its JVM)."""
    total, todo, found = 0.0, [pid], False
    while todo:
        current = todo.pop()
        seconds = _cpu_seconds(current)
        if seconds is None:
            continue
        total, found = total + seconds, True
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue
    return total if found else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pages", type=int, default=10000)
    parser.add_argument("--store", choices=["sqlite", "elasticsearch"], default="sqlite")
    parser.add_argument("--es-url", default=os.environ.get("NEWSWATCH_TEST_ES_URL"))
    parser.add_argument("--heap", default="2g", help="heap of the Elasticsearch node started")
    args = parser.parse_args()
    if args.store == "elasticsearch" and not args.es_url:
        # A throw-away node on the same machine, as benchmarks/elasticsearch.py starts it.
        from benchmarks.elasticsearch import node_module

        node = node_module().ElasticsearchNode(heap=args.heap, jvm_options=())
        node.start()
        try:
            print(f"Elasticsearch {node.version} at {node.url}, heap {args.heap}")
            proc = getattr(node, "_proc", None)
            run(args, node.url, node.auth, proc.pid if proc is not None else None)
        finally:
            node.close()
        return
    run(args, args.es_url, None)


def run(
    args: argparse.Namespace,
    es_url: str | None,
    es_auth: tuple[str, str] | None,
    node_pid: int | None = None,
) -> None:
    work = Path(tempfile.mkdtemp(prefix="newswatch-bench-"))
    port = free_port()
    print(f"load average        {' '.join(f'{x:.2f}' for x in os.getloadavg())} (before)")
    print(f"writing {args.pages} pages to {work / 'site'} ...", flush=True)
    listings = write_site(work / "site", args.pages, f"127.0.0.1:{port}")
    (work / "newswatch.toml").write_text(config_text(listings, args.store, es_url, es_auth))
    with Nginx(work / "site", port):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        node_before = _tree_cpu(node_pid) if node_pid else None
        start = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-m", "newswatch", "crawl", "--profile", "profile.json"],
            cwd=work,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        peak, reactor_cpu = 0, 0.0

        def sample() -> None:
            nonlocal peak, reactor_cpu
            while process.poll() is None:
                peak = max(peak, _tree_rss(process.pid))
                reactor_cpu = _cpu_seconds(process.pid) or reactor_cpu
                time.sleep(0.25)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        output, _ = process.communicate()
        elapsed = time.perf_counter() - start
        sampler.join()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        node_after = _tree_cpu(node_pid) if node_pid else None
    print(output)
    total = next(line.split() for line in output.splitlines() if line.startswith("total"))
    pages, new = int(total[1]), int(total[2])
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(f"store: {args.store}; {os.cpu_count()} cores")
    print(f"pages fetched       {pages}  in {elapsed:.1f} s  = {pages / elapsed:.1f} pages/s")
    print(f"articles stored     {new}  = {new / elapsed:.1f} articles/s")
    print(f"CPU per page        {1000 * cpu / max(pages, 1):.2f} ms (all processes)")
    print(
        f"  of which reactor  {1000 * reactor_cpu / max(pages, 1):.2f} ms (the crawl process"
        " itself, without its workers; sampled until its last quarter second)"
    )
    if node_before is not None and node_after is not None:
        node_ms = 1000 * (node_after - node_before) / max(pages, 1)
        print(f"  Elasticsearch     {node_ms:.2f} ms more (the node, not counted above)")
    print(f"load average        {' '.join(f'{x:.2f}' for x in os.getloadavg())} (after)")
    print(f"peak memory         {peak / 2**20:.0f} MiB (sum of the crawl's processes)")
    profile_path = work / "profile.json"
    if profile_path.exists():
        profile = json.loads(profile_path.read_text())
        print("per-stage profile (ms per page that reached the stage):")
        for stage, values in profile.items():
            print(f"  {stage:<12} {values['ms_per_item']:7.2f} ms  ({values['items']} items)")


if __name__ == "__main__":
    main()
