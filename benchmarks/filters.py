"""Documents per second of the deciding stages: language, topics, duplicates.

Run by hand:  .venv/bin/python -m benchmarks.filters [--docs 5000]

One process, one core. The language stage is also timed on whole texts, with its
accuracy, to show what the detector's input cap (pipelines/language.py SAMPLE_CHARS)
buys and costs.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time

from scrapy.exceptions import DropItem

from benchmarks.corpus import generate
from crawler.items import Article
from newswatch.config import default_config_text, parse_config
from pipelines.duplicates import DuplicatePipeline
from pipelines.language import SAMPLE_CHARS, LanguageFilterPipeline, detect
from pipelines.stores.sqlite import SqliteStore
from pipelines.topics import TopicFilterPipeline


def _articles(documents) -> list[Article]:
    return [
        Article(
            id=f"{i:016x}",
            url=f"http://bench.test/{i}",
            canonical_url=f"http://bench.test/{i}",
            title=d.title,
            body=d.body,
            source="bench",
            fetched_at="2026-11-27T00:00:00Z",
        )
        for i, d in enumerate(documents)
    ]


def _time(label: str, stage, articles: list[Article], repeats: int = 3) -> float:
    rates = []
    for _ in range(repeats):
        for article in articles:
            article.language_source = None  # the language stage decides only once
        start = time.perf_counter()
        for article in articles:
            with contextlib.suppress(DropItem):
                stage(article)
        rates.append(len(articles) / (time.perf_counter() - start))
    rate = statistics.median(rates)
    print(f"{label:<42} {rate:9.0f} docs/s  ({1000 / rate:6.2f} ms/doc, median of {repeats})")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--docs", type=int, default=5000)
    args = parser.parse_args()
    documents = generate(args.docs)
    words = [len(d.body.split()) for d in documents]
    print(
        f"{len(documents)} documents, {min(words)}-{max(words)} words (median "
        f"{statistics.median(words):.0f}), {sum(d.on_topic for d in documents)} from AI-race "
        "stories"
    )
    config = parse_config(default_config_text(), "default")

    articles = _articles(documents)
    language = LanguageFilterPipeline(list(config.filters.languages), 0.8)
    rate_language = _time(f"language (first {SAMPLE_CHARS} chars)", language.process_item, articles)
    for cap in (SAMPLE_CHARS, None):
        sample = documents if cap else documents[:1000]
        right = sum(detect((d.title + " " + d.body)[:cap])[0] == d.language for d in sample)
        scope = f"first {cap} chars" if cap else "whole text"
        print(f"  accuracy on {scope:<20} {right}/{len(sample)}")
    _time(
        "language (whole text, for comparison)",
        lambda a: detect(a.title + " " + a.body),
        articles[:1000],
        repeats=1,
    )

    for article, document in zip(articles, documents, strict=True):
        article.language = document.language
    topics = TopicFilterPipeline(list(config.topics), keep_unmatched=True)
    rate_topics = _time("topics (ai-race rule, all terms)", topics.process_item, articles)
    kept = sum(bool(a.topics) for a in articles)
    print(f"  matched ai-race: {kept} of {len(articles)}")

    store = SqliteStore(":memory:", list(config.filters.languages))
    duplicates = DuplicatePipeline(store)

    # One pass only: a second would find every document already stored. The upsert
    # (the index stage) is outside the timed part.
    elapsed = 0.0
    dropped = 0
    for article in articles:
        start = time.perf_counter()
        try:
            duplicates.process_item(article)
        except DropItem:
            dropped += 1
            continue
        finally:
            elapsed += time.perf_counter() - start
        store.upsert(article)
    rate_dup = len(articles) / elapsed
    print(
        f"{'duplicates (hash, MinHash, store lookups)':<42} {rate_dup:9.0f} docs/s  "
        f"({1000 / rate_dup:6.2f} ms/doc, one pass; {dropped} exact duplicates)"
    )
    together = 1 / (1 / rate_language + 1 / rate_topics + 1 / rate_dup)
    print(
        f"{'the three stages together':<42} {together:9.0f} docs/s  ({1000 / together:6.2f} ms/doc)"
    )


if __name__ == "__main__":
    main()
