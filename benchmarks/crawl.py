"""End to end: `newswatch crawl` over a generated news site served by nginx on 127.0.0.1.

Run by hand (needs nginx: apt-get install nginx-light):

    .venv/bin/python -m benchmarks.crawl --pages 10000 [--store sqlite|elasticsearch]

Reports pages/s, articles stored/s, CPU seconds per page (all processes of the
crawl), peak memory (sum of the crawl's processes, sampled), and the per-stage
profile the crawl records (ms per page). Politeness is relaxed for this run only
(no delay, no AutoThrottle, 32 concurrent requests): the server is ours, on loopback.
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


def config_text(listings: dict[str, list[str]], store: str, es_url: str | None) -> str:
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pages", type=int, default=10000)
    parser.add_argument("--store", choices=["sqlite", "elasticsearch"], default="sqlite")
    parser.add_argument("--es-url", default=os.environ.get("NEWSWATCH_TEST_ES_URL"))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="newswatch-bench-"))
    port = free_port()
    print(f"writing {args.pages} pages to {work / 'site'} ...", flush=True)
    listings = write_site(work / "site", args.pages, f"127.0.0.1:{port}")
    (work / "newswatch.toml").write_text(config_text(listings, args.store, args.es_url))
    with Nginx(work / "site", port):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-m", "newswatch.cli", "crawl", "--profile", "profile.json"],
            cwd=work, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        peak = 0

        def sample() -> None:
            nonlocal peak
            while process.poll() is None:
                peak = max(peak, _tree_rss(process.pid))
                time.sleep(0.2)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        output, _ = process.communicate()
        elapsed = time.perf_counter() - start
        sampler.join()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(output)
    total = next(line.split() for line in output.splitlines() if line.startswith("total"))
    pages, new = int(total[1]), int(total[2])
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(f"store: {args.store}; {os.cpu_count()} cores")
    print(f"pages fetched       {pages}  in {elapsed:.1f} s  = {pages / elapsed:.1f} pages/s")
    print(f"articles stored     {new}  = {new / elapsed:.1f} articles/s")
    print(f"CPU per page        {1000 * cpu / max(pages, 1):.2f} ms (all processes)")
    print(f"peak memory         {peak / 2**20:.0f} MiB (sum of the crawl's processes)")
    profile_path = work / "profile.json"
    if profile_path.exists():
        profile = json.loads(profile_path.read_text())
        print("per-stage profile (ms per page that reached the stage):")
        for stage, values in profile.items():
            print(f"  {stage:<12} {values['ms_per_item']:7.2f} ms  ({values['items']} items)")


if __name__ == "__main__":
    main()
