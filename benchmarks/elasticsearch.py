"""Bulk indexing speed and search latency of ElasticsearchStore on a real node.

Run by hand (never from the tests); it starts a throw-away node on 127.0.0.1 with
scripts/elasticsearch_node.py unless ``--url`` names one::

    .venv/bin/python -m benchmarks.elasticsearch [--docs 100000] [--queries 200]

Indexing goes through ``ElasticsearchStore.upsert_many`` (the path of ``newswatch
reindex``): analysis of every title and body, the bulk API in batches, a refresh at the
end. Searches go through ``ElasticsearchStore.search`` with a language filter and the
facets: timed once as the Elasticsearch request alone, once as the whole
``store.search`` with the hits' snippets (the latency a user of the web page or the CLI
sees). Targets: at least 2,000 documents/s, and a 95th percentile under 50 ms.
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import statistics
import time
import uuid
from pathlib import Path
from types import ModuleType

from benchmarks.corpus import generate
from crawler.items import Article
from crawler.urls import article_id
from newswatch.config import ElasticsearchConfig
from pipelines.stores.base import SearchRequest
from pipelines.stores.elasticsearch import ElasticsearchStore
from search.analysis import tokenize
from search.fingerprint import body_hash

LANGUAGES = ["en", "fr", "de", "es", "it"]
NODE_SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "elasticsearch_node.py"


def node_module() -> ModuleType:
    """scripts/elasticsearch_node.py, which is not in a package."""
    spec = importlib.util.spec_from_file_location("newswatch_elasticsearch_node", NODE_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def articles(count: int) -> list[Article]:
    """``count`` generated articles with the fields a crawl fills in."""
    documents = generate(count)
    out = []
    for number, document in enumerate(documents):
        url = f"https://bench.example/{document.language}/{number}.html"
        published = f"2026-{9 + number % 3:02d}-{number % 28 + 1:02d}T{number % 24:02d}:00:00Z"
        out.append(
            Article(
                id=article_id(url),
                url=url,
                canonical_url=url,
                title=document.title,
                body=document.body,
                source=f"bench-{document.language}-{number % 4}",
                fetched_at="2026-11-27T00:00:00Z",
                published_at=published,
                language=document.language,
                language_probability=0.99,
                language_source="detector",
                topics=["ai-race"] if document.on_topic else [],
                body_hash=body_hash(document.body),
                lsh_bands=[f"{band}:{(number * 7919 + band) % 100_000:x}" for band in range(16)],
            )
        )
    return out


def queries(corpus: list[Article], count: int, rng: random.Random) -> list[SearchRequest]:
    """One- to three-word queries from the articles' titles, each with a language filter."""
    requests = []
    while len(requests) < count:
        article = rng.choice(corpus)
        words = [t.word for t in tokenize(article.title) if len(t.word) > 3 and t.word.isalpha()]
        if not words:
            continue
        picked = rng.sample(words, min(len(words), rng.randint(1, 3)))
        requests.append(
            SearchRequest(
                query=" ".join(picked), languages=[article.language], facets=True, size=10
            )
        )
    return requests


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def run(url: str, auth: tuple[str, str] | None, docs: int, count: int, batch: int) -> None:
    started = time.perf_counter()
    corpus = articles(docs)
    words = statistics.median(len(a.body.split()) for a in corpus)
    print(
        f"generated {len(corpus):,} articles (median {words:.0f} words) in "
        f"{time.perf_counter() - started:.0f} s"
    )

    config = ElasticsearchConfig(
        url=url,
        index=f"newswatch-bench-{uuid.uuid4().hex[:8]}",
        username=auth[0] if auth else None,
        password=auth[1] if auth else None,
    )
    store = ElasticsearchStore.from_config(config, LANGUAGES, environ={}, chunk_size=batch)
    try:
        store.init()
        started = time.perf_counter()
        outcome = store.upsert_many(corpus)
        elapsed = time.perf_counter() - started
        assert not outcome.errors, list(outcome.errors.items())[:3]
        assert store.count() == len(corpus)
        print(
            f"indexed {outcome.count('new'):,} articles in {elapsed:.1f} s: "
            f"{len(corpus) / elapsed:,.0f} docs/s (upsert_many, batches of {batch})"
        )

        rng = random.Random(11)
        requests = queries(corpus, count, rng)
        for request in requests[:20]:  # warm the caches and the JIT, as a running node is
            store.search(request)
        # The cluster's part: the request the store sends, answered and parsed.
        cluster, took = [], []
        for request in requests:
            body = store.search_body(request)
            started = time.perf_counter()
            took.append(store.client.search(index=store.alias, **body)["took"])
            cluster.append((time.perf_counter() - started) * 1000)
        # The whole search: the same, plus the hits' snippets (search/snippets.py).
        whole, matched = [], 0
        for request in requests:
            started = time.perf_counter()
            result = store.search(request)
            whole.append((time.perf_counter() - started) * 1000)
            matched += result.total > 0
        print(
            f"{len(requests)} searches (1-3 words, a language filter, facets, 10 hits),"
            f" {matched} with results:"
        )
        for label, values in (
            ("Elasticsearch request", cluster),
            ("  of which 'took'", [float(t) for t in took]),
            ("store.search with snippets", whole),
        ):
            p50, p95 = percentile(values, 0.5), percentile(values, 0.95)
            print(f"  {label:<28} p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  max {max(values):6.1f} ms")
        # The same queries as benchmarks/search.py times on SQLite: alone, with filters.
        from benchmarks.search import variants

        print("store.search with snippets, the variants of benchmarks/search.py:")
        for label, batch in variants(requests).items():
            timings, matched = [], 0
            for request in batch:
                started = time.perf_counter()
                matched += store.search(request).total > 0
                timings.append((time.perf_counter() - started) * 1000)
            p50, p95 = percentile(timings, 0.5), percentile(timings, 0.95)
            print(
                f"  {label:<30} p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  max {max(timings):6.1f}"
                f" ms  ({matched}/{len(batch)} with results)"
            )
    finally:
        store.drop()
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--batch", type=int, default=500, help="articles per bulk request")
    parser.add_argument("--url", help="use this node instead of starting one")
    parser.add_argument("--heap", default="2g", help="heap of the node started (default 2g)")
    args = parser.parse_args()
    if args.url:
        run(args.url, None, args.docs, args.queries, args.batch)
        return
    # The full JIT (no C1-only option of the test node): a benchmark measures peak speed.
    node = node_module().ElasticsearchNode(heap=args.heap, jvm_options=())
    node.start()
    try:
        print(f"Elasticsearch {node.version} at {node.url}, heap {args.heap}")
        run(node.url, node.auth, args.docs, args.queries, args.batch)
    finally:
        node.close()


if __name__ == "__main__":
    main()
