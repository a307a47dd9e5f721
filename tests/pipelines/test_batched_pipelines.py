"""The index stage's batches, the duplicate stage's view of them, and the work done ahead.

The stages run here as Scrapy runs them, one item after the other on an event loop;
the store is a real SqliteStore, the outbox a real Outbox.
"""

from __future__ import annotations

import asyncio
import copy
import pickle
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from scrapy.exceptions import DropItem
from scrapy.utils.test import get_crawler

from crawler.extract import extract_article
from crawler.items import Article, FetchedPage
from crawler.urls import article_id
from newswatch.config import default_config_text, parse_config
from pipelines.duplicates import DuplicatePipeline, fingerprint
from pipelines.index import IndexPipeline, PendingWrites, pending_writes
from pipelines.language import LanguageFilterPipeline
from pipelines.normalize import NormalizePipeline
from pipelines.prepared import done, terms
from pipelines.stores.base import StoreError, StoreUnavailable
from pipelines.stores.outbox import Outbox
from pipelines.stores.sqlite import SqliteStore
from pipelines.topics import TopicFilterPipeline
from pipelines.workers import Recipe, prepare
from search.analysis import index_terms

LANGUAGES = ["en", "fr", "de", "es", "it"]
SITE = Path(__file__).resolve().parents[2] / "newswatch" / "demo" / "site"
BODY = (
    "Nvidia sold more chips for AI data centres than ever before, the company said on "
    "Monday. Demand from OpenAI and other labs keeps rising, and the next generation of "
    "accelerators is sold out until the end of next year, executives told analysts."
)


def article(
    slug: str,
    body: str = BODY,
    published: str | None = "2026-11-01T10:00:00Z",
    title: str = "Record chip sales",
) -> Article:
    url = f"https://news.example/{slug}"
    item = Article(
        id=article_id(url),
        url=url,
        canonical_url=url,
        title=title,
        body=body,
        source="news",
        fetched_at="2026-11-05T00:00:00Z",
        published_at=published,
        language="en",
    )
    return item


def fake_crawler() -> Any:
    return SimpleNamespace(stats=get_crawler().stats, spider=None, engine=None)


class Stages:
    """The duplicate and index stages of one crawl over one SQLite store."""

    def __init__(
        self,
        tmp_path: Path,
        batch_size: int = 100,
        batch_seconds: float = 60,
        store: Any = None,
        outbox: Outbox | None = None,
    ) -> None:
        self.path = tmp_path / "store.db"
        self.crawler = fake_crawler()
        self.pending = PendingWrites()
        self.duplicates = DuplicatePipeline(
            SqliteStore(self.path, LANGUAGES), self.crawler, pending=self.pending
        )
        self.index = IndexPipeline(
            store or SqliteStore(self.path, LANGUAGES),
            self.crawler,
            outbox,
            batch_size,
            batch_seconds,
            self.pending,
        )

    def send(self, item: Article) -> Any:
        """An item through duplicates and index: what Scrapy awaits (or the drop)."""
        return self.index.process_item(self.duplicates.process_item(item))

    def stored(self) -> list[str]:
        reader = SqliteStore(self.path, LANGUAGES)
        try:
            return sorted(a.id for a in reader.iter_articles())
        finally:
            reader.close()

    def stat(self, name: str) -> Any:
        return self.crawler.stats.get_value(f"newswatch/articles/{name}")


async def outcome(waiting: Any) -> Any:
    """What an item came to: the article, or the reason it was dropped."""
    try:
        return await waiting
    except DropItem as exc:
        return str(exc)


def test_a_batch_is_written_when_full_and_every_item_waits_for_it(tmp_path):
    async def crawl() -> None:
        stages = Stages(tmp_path, batch_size=3)
        a, b, c = article("a", BODY + " One."), article("b", BODY + " Two."), article("c", "Other.")
        waiting = [asyncio.ensure_future(stages.send(x)) for x in (a, b)]
        await asyncio.sleep(0)
        assert not any(w.done() for w in waiting)
        assert stages.stored() == [] and len(stages.pending) == 2
        waiting.append(asyncio.ensure_future(stages.send(c)))
        assert [await w for w in waiting] == [a, b, c]
        assert stages.stored() == sorted([a.id, b.id, c.id])
        assert stages.stat("new") == 3 and len(stages.pending) == 0
        assert stages.crawler.stats.get_value("newswatch/items/index") == 3

    asyncio.run(crawl())


def test_closing_writes_everything_held(tmp_path):
    async def crawl() -> None:
        stages = Stages(tmp_path, batch_size=100, batch_seconds=3600)
        items = [article(f"a{n}", f"Story number {n} about chips and labs.") for n in range(5)]
        waiting = [asyncio.ensure_future(stages.send(x)) for x in items]
        await asyncio.sleep(0)
        assert stages.stored() == []
        stages.index.close_spider()
        assert [await w for w in waiting] == items
        assert stages.stored() == sorted(x.id for x in items)
        assert stages.stat("new") == 5

    asyncio.run(crawl())


def test_a_lone_article_is_written_after_the_batch_delay(tmp_path):
    async def crawl() -> None:
        stages = Stages(tmp_path, batch_size=100, batch_seconds=0.01)
        item = article("alone")
        assert await stages.send(item) is item  # no more articles come: the timer writes it
        assert stages.stored() == [item.id]

    asyncio.run(crawl())


def test_a_new_version_of_a_held_article_is_written_after_it(tmp_path):
    async def crawl() -> None:
        stages = Stages(tmp_path, batch_size=100)
        first = article("same", title="First headline")
        second = article("same", title="Second headline")
        waiting = asyncio.ensure_future(stages.send(first))
        await asyncio.sleep(0)
        again = asyncio.ensure_future(stages.send(second))  # the first is written at once
        assert await waiting is first
        assert stages.stored() == [first.id]
        stages.index.close_spider()
        assert await again is second
        assert (stages.stat("new"), stages.stat("updated")) == (1, 1)
        reader = SqliteStore(stages.path, LANGUAGES)
        assert reader.get(first.id).title == "Second headline"
        reader.close()

    asyncio.run(crawl())


def test_an_exact_copy_in_the_same_batch_is_dropped(tmp_path):
    async def crawl() -> None:
        stages = Stages(tmp_path, batch_size=100)
        original = article("original", published="2026-11-01T10:00:00Z")
        copy_ = article("copy", published="2026-11-01T12:00:00Z")
        waiting = asyncio.ensure_future(stages.send(original))
        await asyncio.sleep(0)
        with pytest.raises(DropItem, match=f"^duplicate-of:{original.id}$"):
            stages.send(copy_)
        stages.index.close_spider()
        assert await waiting is original
        assert stages.stored() == [original.id]

    asyncio.run(crawl())


def test_an_earlier_copy_takes_the_place_of_a_held_one(tmp_path):
    async def crawl() -> None:
        stages = Stages(tmp_path, batch_size=100)
        later = article("later", published="2026-11-01T12:00:00Z")
        earlier = article("earlier", published="2026-11-01T10:00:00Z")
        held = asyncio.ensure_future(outcome(stages.send(later)))
        await asyncio.sleep(0)
        waiting = asyncio.ensure_future(stages.send(earlier))
        assert await held == f"duplicate-of:{earlier.id}"  # withdrawn from the batch
        stages.index.close_spider()
        assert await waiting is earlier
        assert stages.stored() == [earlier.id]
        assert stages.stat("new") == 1

    asyncio.run(crawl())


def test_a_near_copy_in_the_same_batch_joins_its_story(tmp_path):
    async def crawl() -> None:
        stages = Stages(tmp_path, batch_size=100)
        first = article("first")
        near = article("near", BODY + " Shares rose by four per cent.", title="Chips sell out")
        other = article("other", "Peel the apples, rub butter into flour and bake the crumble.")
        waiting = [asyncio.ensure_future(stages.send(first))]
        await asyncio.sleep(0)
        waiting += [asyncio.ensure_future(stages.send(x)) for x in (near, other)]
        await asyncio.sleep(0)
        stages.index.close_spider()
        assert [await w for w in waiting] == [first, near, other]
        assert (first.story_id, near.story_id, other.story_id) == (first.id, first.id, other.id)

    asyncio.run(crawl())


class FailingStore:
    """A SqliteStore that refuses batches, and single writes from the ``fail_at``-th on."""

    def __init__(self, path: Path, fail_at: int, error: type[StoreError] = StoreError) -> None:
        self.inner = SqliteStore(path, LANGUAGES)
        self.fail_at, self.error, self.writes = fail_at, error, 0

    def upsert_many(self, articles: Any, copy: bool = False) -> Any:
        raise self.error("cannot write articles: disk full")

    def upsert(self, item: Article) -> str:
        self.writes += 1
        if self.writes >= self.fail_at:
            raise self.error(f"cannot write article {item.id}: disk full")
        return self.inner.upsert(item)

    def close(self) -> None:
        self.inner.close()


def test_a_refused_batch_keeps_what_the_store_can_take_then_stops(tmp_path):
    async def crawl() -> None:
        store = FailingStore(tmp_path / "store.db", fail_at=3)
        stages = Stages(tmp_path, batch_size=4, store=store)
        items = [article(f"a{n}", f"Story number {n} about chips and labs.") for n in range(4)]
        waiting = [asyncio.ensure_future(outcome(stages.send(x))) for x in items]
        results = [await w for w in waiting]
        assert results == [items[0], items[1], "store-error", "store-error"]
        assert stages.stored() == sorted([items[0].id, items[1].id])
        assert stages.stat("new") == 2
        with pytest.raises(DropItem, match="^store-error$"):  # the crawl is stopping
            stages.send(article("late", "A late story."))

    asyncio.run(crawl())


def test_with_an_outbox_a_refused_batch_is_queued_not_lost(tmp_path):
    async def crawl() -> None:
        store = FailingStore(tmp_path / "store.db", fail_at=1, error=StoreUnavailable)
        outbox = Outbox(tmp_path / "outbox.db")
        stages = Stages(tmp_path, batch_size=100, store=store, outbox=outbox)
        items = [article(f"a{n}", f"Story number {n} about chips and labs.") for n in range(3)]
        waiting = [asyncio.ensure_future(stages.send(x)) for x in items]
        await asyncio.sleep(0)
        stages.index.close_spider()
        assert [await w for w in waiting] == items
        reopened = Outbox(tmp_path / "outbox.db")
        assert reopened.ids() == [x.id for x in items]
        reopened.close()
        assert stages.stat("queued") == 3 and stages.stored() == []

    asyncio.run(crawl())


# --- the work done ahead in worker processes ---------------------------------------


def config() -> Any:
    return parse_config(default_config_text(), "default.toml")


def page(path: str) -> FetchedPage:
    url = "http://127.0.0.1:8000/" + path
    html = (SITE / path).read_text(encoding="utf-8")
    return FetchedPage(
        url=url,
        requested_url=url,
        status=200,
        html=html,
        source="demo",
        fetched_at="2026-11-27T00:00:00Z",
    )


def recipe() -> Recipe:
    cfg = config()
    return Recipe(
        cfg.filters.min_language_probability,
        tuple(cfg.filters.languages),
        list(cfg.topics),
        cfg.filters.keep_unmatched,
    )


def reactor_stages(tmp_path: Path) -> list[Any]:
    cfg = config()
    crawler = fake_crawler()
    store = SqliteStore(tmp_path / "stages.db", LANGUAGES)
    return [
        NormalizePipeline(),
        LanguageFilterPipeline(list(cfg.filters.languages), cfg.filters.min_language_probability),
        TopicFilterPipeline(list(cfg.topics), cfg.filters.keep_unmatched),
        DuplicatePipeline(store, crawler),
    ]


def through(stages: list[Any], item: Article) -> Article | str:
    try:
        for stage in stages:
            item = stage.process_item(item)
    except DropItem as exc:
        return str(exc)
    return item


AI_PAGE = "global-wire/2026/11/12/us-tightens-chip-export-rules-nvidia.html"
SPORT_PAGE = "corriere-tecnologico/sport/giro-d-italia-2027-percorso.html"


@pytest.mark.parametrize("path", [AI_PAGE, SPORT_PAGE])
def test_work_done_ahead_gives_the_article_the_reactor_stages_would(tmp_path, path):
    in_worker = pickle.loads(pickle.dumps(prepare(page(path), recipe())))  # as sent back
    ahead = through(reactor_stages(tmp_path / "ahead"), in_worker.article)
    alone = through(reactor_stages(tmp_path / "alone"), extract_article(page(path)))
    if path == SPORT_PAGE:
        assert ahead == alone == "no-topic"
        return
    assert isinstance(ahead, Article) and isinstance(alone, Article)
    assert ahead.to_dict() == alone.to_dict()
    assert ahead.topics == ["ai-race"] and ahead.story_id == ahead.id
    assert terms(ahead, "body") == index_terms(alone.body, alone.language)


def test_a_worker_does_each_stage_ahead_and_stops_where_a_stage_will_drop(tmp_path):
    kept = prepare(page(AI_PAGE), recipe())
    assert kept.article.topics == ["ai-race"]
    assert all(done(kept.article, s) for s in ("normalize", "topics", "duplicates"))
    assert kept.article.body_hash and len(kept.article.lsh_bands) == 16
    assert set(kept.seconds) == {
        "extract",
        "normalize",
        "language",
        "topics",
        "duplicates",
        "index",
    }
    unmatched = prepare(page(SPORT_PAGE), recipe())
    assert unmatched.article.topics == [] and done(unmatched.article, "topics")
    assert not done(unmatched.article, "duplicates") and unmatched.article.body_hash is None
    assert "duplicates" not in unmatched.seconds
    english_only = Recipe(0.8, ("en",), list(config().topics))
    italian = prepare(page(SPORT_PAGE), english_only).article
    assert italian.language == "it" and not done(italian, "topics")


def test_an_article_read_back_has_nothing_done_ahead(tmp_path):
    kept = prepare(page(AI_PAGE), recipe()).article
    again = Article.from_dict(kept.to_dict())
    assert not done(again, "duplicates") and not done(again, "normalize")
    assert "_newswatch" not in str(kept.to_dict())


def test_terms_computed_ahead_are_used_only_for_the_same_text_and_language():
    kept = prepare(page(AI_PAGE), recipe()).article
    assert terms(kept, "title") == index_terms(kept.title, kept.language)
    changed = copy.copy(kept)
    changed.body = "Nvidia chips"
    assert terms(changed, "body") == "nvidia chip"
    changed.language = "fr"
    assert terms(changed, "title") == index_terms(kept.title, "fr")


def test_a_recipe_travels_as_its_key_and_is_unpickled_once_per_process():
    first = recipe()
    sent = pickle.dumps(first)
    assert len(sent) < 2 * len(pickle.dumps(first._blob)) + 200
    one, two = pickle.loads(sent), pickle.loads(sent)
    assert one is two and one.key == first.key
    assert (one.threshold, one.languages, one.keep_unmatched) == (
        0.8,
        ("en", "fr", "de", "es", "it"),
        False,
    )
    assert [t.name for t in one.topics] == [t.name for t in first.topics]


def test_fingerprint_sets_what_the_duplicate_stage_stores():
    item = article("fp")
    signature = fingerprint(item)
    assert item.minhash == signature.astype("<u8").tobytes().hex()
    assert len(item.lsh_bands) == 16 and item.body_hash


def test_the_crawlers_of_one_run_see_each_others_held_articles(tmp_path):
    async def crawl() -> None:
        path = tmp_path / "store.db"
        sources = []
        for _ in range(2):  # one crawler per source, one store, as `newswatch crawl` runs them
            crawler = fake_crawler()
            index_store, duplicates_store = (
                SqliteStore(path, LANGUAGES),
                SqliteStore(path, LANGUAGES),
            )
            index = IndexPipeline(index_store, crawler, batch_size=100, batch_seconds=3600)
            duplicates = DuplicatePipeline(
                duplicates_store, crawler, pending=pending_writes(duplicates_store)
            )
            assert index.pending is duplicates.pending
            sources.append((crawler, duplicates, index))
        (first_crawler, first_dup, first_index), (second_crawler, second_dup, _) = sources
        original, copy_ = article("original"), article("copy", published="2026-11-02T00:00:00Z")
        other = article("other", "Peel the apples, rub butter into flour and bake the crumble.")
        waiting = asyncio.ensure_future(first_index.process_item(first_dup.process_item(original)))
        await asyncio.sleep(0)
        with pytest.raises(DropItem, match=f"^duplicate-of:{original.id}$"):
            second_dup.process_item(copy_)
        theirs = asyncio.ensure_future(sources[1][2].process_item(second_dup.process_item(other)))
        await asyncio.sleep(0)
        first_index.close_spider()  # writes what both hold; each crawler counts its own
        assert (await waiting, await theirs) == (original, other)
        assert first_crawler.stats.get_value("newswatch/articles/new") == 1
        assert second_crawler.stats.get_value("newswatch/articles/new") == 1

    asyncio.run(crawl())
