"""Search latency of the embedded SqliteStore at 100,000 articles.

Run by hand (never from the tests)::

    .venv/bin/python -m benchmarks.search [--docs 100000] [--queries 200] [--db PATH]

Loads the generated articles of ``benchmarks/elasticsearch.py`` (the same corpus and
the same one- to three-word queries from their titles) into a SqliteStore through
``upsert_many``, then times ``store.search`` as users get it (hits with highlighted
titles and snippets) in three variants: the query alone; with a language filter and
the facets (the Elasticsearch benchmark's set); with a topic and a date filter and the
facets. ``--db`` keeps the loaded store for the next run. The store's files are read
through once before timing (a running service has them in the page cache). Target:
p95 under 50 ms.
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.elasticsearch import LANGUAGES, articles, percentile, queries
from pipelines.stores.base import SearchRequest
from pipelines.stores.sqlite import SqliteStore


def variants(requests: list[SearchRequest]) -> dict[str, list[SearchRequest]]:
    """The same queries without filters, with a language filter, with topic and dates."""
    plain = [dataclasses.replace(r, languages=[], facets=False) for r in requests]
    topical = [
        dataclasses.replace(r, languages=[], topics=["ai-race"], since="2026-10-01", facets=True)
        for r in requests
    ]
    return {
        "query alone": plain,
        "language filter + facets": requests,
        "topic + date filters + facets": topical,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--db", help="store file to keep (reused when it holds --docs articles)")
    args = parser.parse_args()
    path = Path(args.db) if args.db else Path(tempfile.mkdtemp(prefix="newswatch-search-")) / "s.db"

    started = time.perf_counter()
    corpus = articles(args.docs)
    words = statistics.median(len(a.body.split()) for a in corpus)
    print(
        f"generated {len(corpus):,} articles (median {words:.0f} words) in "
        f"{time.perf_counter() - started:.0f} s"
    )
    store = SqliteStore(path, LANGUAGES)
    try:
        if store.count() != len(corpus):
            started = time.perf_counter()
            outcome = store.upsert_many(corpus)
            elapsed = time.perf_counter() - started
            print(
                f"loaded {outcome.count('new'):,} articles in {elapsed:.0f} s:"
                f" {len(corpus) / elapsed:,.0f} docs/s (upsert_many)"
            )
        size = sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
        print(f"store {path}: {store.count():,} articles, {size / 2**20:,.0f} MiB")

        # A running service has its store in the page cache: read the files through once.
        for part in path.parent.glob(path.name + "*"):
            with part.open("rb") as file:
                while file.read(1 << 24):
                    pass
        requests = queries(corpus, args.queries, random.Random(11))
        for request in requests[:20]:  # and SQLite's own cache warm
            store.search(request)
        for label, batch in variants(requests).items():
            timings, matched = [], 0
            for request in batch:
                started = time.perf_counter()
                result = store.search(request)
                timings.append((time.perf_counter() - started) * 1000)
                matched += result.total > 0
            p50, p95 = percentile(timings, 0.5), percentile(timings, 0.95)
            print(
                f"  {label:<30} p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  max {max(timings):6.1f}"
                f" ms  ({matched}/{len(batch)} with results)"
            )
    finally:
        store.close()


if __name__ == "__main__":
    main()
