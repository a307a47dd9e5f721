"""A two-node Elasticsearch cluster (issue #9): newswatch configured with both nodes' URLs.

Two real nodes of the test distribution on loopback ports form one cluster (shared by the
module's tests: starting it is the slow part). The store reaches it through both URLs
(``[store.elasticsearch] url = [...]``): the indices get one replica, indexing and search
work, and when one node is stopped in the middle of a crawl's writes, the articles still
arrive, each exactly once, and so do the ones a worker had to queue in its outbox.

The node-stop test is the module's last: it leaves the cluster as it found it, but its
index is its own.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest
from scrapy import Spider
from scrapy.utils.test import get_crawler

from crawler.items import Article
from crawler.urls import article_id
from newswatch.config import ElasticsearchConfig
from pipelines.index import IndexPipeline
from pipelines.stores.base import SearchRequest, StoreError
from pipelines.stores.elasticsearch import ElasticsearchStore
from pipelines.stores.outbox import Outbox

LANGUAGES = ["en", "fr", "de", "es", "it"]
N = 400  # articles written while a node stops


def article(number: int, **fields: object) -> Article:
    """Article ``number``; its body holds the word ``nw<number>``, found in it alone."""
    url = f"https://news.example/cluster/{number}.html"
    values: dict = {
        "id": article_id(url),
        "url": url,
        "canonical_url": url,
        "title": f"Nvidia chips, part {number}",
        "body": f"Data centres buy chips by the rack (nw{number:04d}).",
        "source": "example",
        "fetched_at": "2026-11-20T00:00:00Z",
        "published_at": f"2026-11-{number % 28 + 1:02d}T08:00:00Z",
        "language": "en",
        "topics": ["chips"],
        "body_hash": f"hash-{number}",
        "lsh_bands": [f"band-{number}"],
    }
    return Article(**{**values, **fields})


def through(pipeline: IndexPipeline, articles: Iterable[Article]) -> None:
    """The articles through the index stage as a crawl sends them, until each has finished
    (written, or queued in the outbox): the stage may hold them for a batched write."""

    async def send() -> None:
        items = [pipeline.process_item(a) for a in articles]
        for item in items:
            if inspect.isawaitable(item):
                await item

    asyncio.run(send())


def index_name() -> str:
    return f"newswatch-test-cluster-{uuid.uuid4().hex[:12]}"


class Cluster:
    """The two nodes, and what the tests ask the cluster."""

    def __init__(self, nodes: list[Any]) -> None:
        self.nodes = nodes

    @property
    def urls(self) -> list[str]:
        return [node.url for node in self.nodes]

    def running(self) -> Any:
        return next(node for node in self.nodes if node.running)

    def get(self, path: str, timeout: float = 30.0) -> Any:
        return self.running().request("GET", path, timeout=timeout)

    def health(self, index: str = "", nodes: int = 2) -> dict:
        """Cluster health once it is green with ``nodes`` nodes (the server waits, up to 90 s)."""
        where = f"/{index}" if index else ""
        return self.get(
            f"/_cluster/health{where}?wait_for_status=green&wait_for_nodes={nodes}"
            "&wait_for_no_initializing_shards=true&timeout=90s",
            timeout=120,
        )

    def master(self) -> str | None:
        """The elected master's name, as a running node knows it now (None: an election)."""
        state = self.get(
            "/_cluster/state/master_node,nodes?local=true&filter_path=master_node,nodes.*.name"
        )
        master = state.get("master_node")
        return state["nodes"][master]["name"] if master else None

    def wait_for(self, condition: Callable[[], bool], what: str, seconds: float = 60) -> None:
        """Wait until ``condition()`` holds (a wait for the cluster, not a time limit)."""
        deadline = time.monotonic() + seconds
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError(f"waited {seconds:.0f}s for {what}")
            time.sleep(0.2)

    def shards(self, index: str) -> list[dict]:
        """The shard copies of ``index``: prirep ``p`` or ``r``, state, node name."""
        return self.get(f"/_cat/shards/{index}?format=json&h=prirep,state,node")

    def store(self, index: str, urls: list[str] | None = None, **config: Any) -> Any:
        es = ElasticsearchConfig(url=urls or self.urls, index=index, **config)
        return ElasticsearchStore.from_config(es, LANGUAGES, environ={})


@pytest.fixture(scope="module")
def cluster(es_module_node_factory, es_node_module) -> Iterator[Cluster]:
    name = f"newswatch-test-{uuid.uuid4().hex[:8]}"
    names = [f"{name}-a", f"{name}-b"]
    transport = [es_node_module.free_port()]
    while len(transport) < 2:  # two distinct ports: each is known before either node starts
        port = es_node_module.free_port()
        transport += [port] if port not in transport else []
    # Both master-eligible and both named to bootstrap the cluster; launched together,
    # then each waited for until it answers HTTP (wait_for_status=None): neither has a
    # master, nor cluster health, before the other one has joined.
    nodes = [
        es_module_node_factory(
            wait=False,
            cluster_name=name,
            node_name=node_name,
            transport_port=port,
            seed_hosts=[f"127.0.0.1:{p}" for p in transport],
            initial_master_nodes=names,
            wait_for_status=None,
        )
        for node_name, port in zip(names, transport, strict=True)
    ]
    for node in nodes:
        node.wait_ready()
    cluster = Cluster(nodes)
    cluster.health()
    yield cluster


def test_two_nodes_form_one_green_cluster_and_the_index_has_a_replica(cluster):
    health = cluster.health()
    assert (health["status"], health["number_of_nodes"], health["timed_out"]) == ("green", 2, False)
    names = {node["name"] for node in cluster.get("/_cat/nodes?format=json&h=name")}
    assert names == {node.node_name for node in cluster.nodes}

    index = index_name()
    store = cluster.store(index)
    try:
        assert repr(store) == (
            f"ElasticsearchStore(url='{cluster.urls[0]}, {cluster.urls[1]}', index={index!r})"
        )
        assert store.upsert(article(1)) == "new"
        assert store.upsert_many([article(n) for n in range(2, 30)]).outcomes == {
            article(n).id: "new" for n in range(2, 30)
        }
        assert store.ping() is True
        current = store.current_index()
        cluster.health(current)
        for name in (current, store.runs_index):
            copies = cluster.shards(name)
            # auto_expand_replicas 0-1: on two nodes, one primary and one replica, apart.
            assert sorted(c["prirep"] for c in copies) == ["p", "r"], copies
            assert {c["state"] for c in copies} == {"STARTED"}, copies
            assert {c["node"] for c in copies} == names, copies
        result = store.search(SearchRequest("nw0007"))
        assert [hit.article.id for hit in result.hits] == [article(7).id]
        assert store.search(SearchRequest("chips", size=50)).total == 29
    finally:
        store.close()

    # NEWSWATCH_ES_URL with both URLs, separated by commas, wins over the config's.
    config = ElasticsearchConfig(url="http://127.0.0.1:9", index=index)
    env = {"NEWSWATCH_ES_URL": f"{cluster.urls[0]}, {cluster.urls[1]}/"}
    from_env = ElasticsearchStore.from_config(config, LANGUAGES, environ=env)
    try:
        assert from_env.url == ", ".join(cluster.urls)
        assert from_env.count() == 29
    finally:
        from_env.close()

    # Each node alone serves what was written through both.
    for url in cluster.urls:
        single = cluster.store(index, urls=[url])
        try:
            assert single.count() == 29
            assert single.get(article(3).id).title == "Nvidia chips, part 3"
            assert single.search(SearchRequest("nw0029")).total == 1
        finally:
            single.close()


def test_several_urls_share_one_set_of_credentials():
    """Credentials in the URLs are taken out of them, and must be the same for every node."""
    urls = ["http://nw:s3cret@127.0.0.1:9201", "http://nw:s3cret@127.0.0.1:9202/"]
    store = ElasticsearchStore.from_config(ElasticsearchConfig(url=urls), LANGUAGES, environ={})
    try:
        assert store.url == "http://127.0.0.1:9201, http://127.0.0.1:9202"
        assert "s3cret" not in repr(store)
        nodes = sorted(n.base_url for n in store.client.transport.node_pool.all())
        assert nodes == ["http://127.0.0.1:9201", "http://127.0.0.1:9202"]
    finally:
        store.close()
    mixed = ElasticsearchConfig(url=[urls[0], "http://nw:other@127.0.0.1:9202"])
    with pytest.raises(StoreError) as caught:
        ElasticsearchStore.from_config(mixed, LANGUAGES, environ={})
    assert str(caught.value) == (
        "Elasticsearch at http://127.0.0.1:9201, http://127.0.0.1:9202:"
        " the URLs hold different credentials"
    )
    with pytest.raises(StoreError, match="^NEWSWATCH_ES_URL holds no URL$"):
        ElasticsearchStore.from_config(mixed, LANGUAGES, environ={"NEWSWATCH_ES_URL": " , "})


def test_replicas_from_the_config(cluster):
    index = index_name()
    store = cluster.store(index, replicas=0)
    try:
        store.upsert(article(1))
        current = store.current_index()
        for name in (current, store.runs_index):
            settings = cluster.get(f"/{name}/_settings")[name]["settings"]["index"]
            assert (settings["number_of_replicas"], settings["auto_expand_replicas"]) == (
                "0",
                "false",
            )
            assert [c["prirep"] for c in cluster.shards(name)] == ["p"]
    finally:
        store.close()

    # A changed count reaches the existing indices with `newswatch es init` (store.init()).
    store = cluster.store(index, replicas=1)
    try:
        assert store.init() == current
        cluster.health(current)
        for name in (current, store.runs_index):
            settings = cluster.get(f"/{name}/_settings")[name]["settings"]["index"]
            assert settings["number_of_replicas"] == "1"
            assert sorted(c["prirep"] for c in cluster.shards(name)) == ["p", "r"]
        template = cluster.get(f"/_index_template/{index}")["index_templates"][0]
        assert template["index_template"]["template"]["settings"]["index"] == {
            "number_of_shards": "1",
            "number_of_replicas": "1",
            "auto_expand_replicas": "false",
        }
        assert store.get(article(1).id) is not None
    finally:
        store.close()


def test_a_node_stops_while_a_crawl_writes_and_every_article_arrives_once(cluster, tmp_path):
    """The node that holds the primary shard is stopped in the middle of the writes.

    The writes go through the crawl's index stage (IndexPipeline with its outbox) and
    through the bulk path (upsert_many, as `reindex` and batched writers use it). A
    thread stops the node when the bulk writes reach article 150; the writer waits for
    the stop to be over at article 250, so some writes race the node's shutdown and all
    the later ones certainly find it gone. A second worker whose config still names only
    the stopped node queues its articles (40 new, 20 changed) in its outbox; flushing
    that outbox through both URLs delivers them once each.
    """
    index = index_name()
    store = cluster.store(index)
    store.init()
    current = store.current_index()
    cluster.health(current)
    primary = next(c["node"] for c in cluster.shards(current) if c["prirep"] == "p")
    victim = next(node for node in cluster.nodes if node.node_name == primary)
    other = next(node for node in cluster.nodes if node is not victim)

    # With two master-eligible nodes only one is in the voting configuration (an even
    # count would not survive the loss of either): stopping that one would leave the
    # cluster without a master. The voting-configuration exclusion hands the vote (and
    # the master role, if it has it) to the other node first, so the node stopped is the
    # one holding the primary, whichever node is master: the replica must be promoted.
    victim.request(
        "POST", f"/_cluster/voting_config_exclusions?node_names={primary}&timeout=60s", timeout=90
    )
    state = other.request(
        "GET",
        "/_cluster/state/metadata,nodes?filter_path=metadata.cluster_coordination,nodes.*.name",
    )
    voters = state["metadata"]["cluster_coordination"]["last_committed_config"]
    assert [state["nodes"][v]["name"] for v in voters] == [other.node_name]
    # An excluded master hands over a moment after the exclusion is committed.
    cluster.wait_for(lambda: cluster.master() == other.node_name, "the master to move")

    crawler = get_crawler(Spider)
    outbox = Outbox(tmp_path / "outbox.db")
    pipeline = IndexPipeline(store, crawler, outbox)
    stopping = threading.Thread(target=victim.stop, name="stop-node")

    def bulk_articles() -> Iterator[Article]:
        for n in range(100, 300):
            if n == 150:
                stopping.start()
            elif n == 250:
                stopping.join()
            yield article(n)

    try:
        through(pipeline, (article(n) for n in range(0, 100)))  # both nodes up
        store.chunk_size = 25  # several bulk requests in flight while the node stops
        bulk = store.upsert_many(bulk_articles())
        assert not victim.running
        through(pipeline, (article(n) for n in range(300, 360)))  # one node down
        pipeline.close_spider()  # closes the store too
    finally:
        if stopping.is_alive():
            stopping.join()
    assert bulk.errors == {}
    assert set(bulk.outcomes) == {article(n).id for n in range(100, 300)}
    stats = crawler.stats.get_stats()
    queued = stats.get("newswatch/articles/queued", 0)
    written = sum(stats.get(f"newswatch/articles/{o}", 0) for o in ("new", "updated", "unchanged"))
    assert written + queued == 160

    # A worker still configured with the stopped node's URL alone: everything waits.
    stale_crawler = get_crawler(Spider)
    stale_outbox = Outbox(tmp_path / "stale-outbox.db")
    stale = IndexPipeline(cluster.store(index, urls=[victim.url]), stale_crawler, stale_outbox)
    updated = {"title": "Nvidia chips, updated"}
    through(stale, (article(n, **(updated if n < 360 else {})) for n in range(340, 400)))
    stale.close_spider()
    assert stale_crawler.stats.get_value("newswatch/articles/queued") == 60
    assert stale_outbox.pending() == 60

    # `newswatch flush` of both outboxes, through both URLs (one node still down).
    store = cluster.store(index)
    try:
        mine = outbox.flush(store)
        assert (mine.sent, mine.pending, mine.error, mine.failed) == (queued, 0, None, {})
        report = stale_outbox.flush(store)
        assert (report.new, report.updated, report.unchanged) == (40, 20, 0)
        assert (report.pending, report.error, report.failed) == (0, None, {})
        assert outbox.pending() == stale_outbox.pending() == 0

        # Every article exactly once: the count, the ids, a search for each one's word.
        expected = {article(n).id for n in range(N)}
        assert store.count() == N
        assert {a.id for a in store.iter_articles()} == expected
        for n in range(N):
            hits = store.search(SearchRequest(f"nw{n:04d}")).hits
            assert [hit.article.id for hit in hits] == [article(n).id], n
        for n in (340, 359):
            written = store.get(article(n).id)
            assert (written.title, written.revision) == ("Nvidia chips, updated", 2)
        assert store.get(article(360).id).revision == 1
    finally:
        store.close()
        outbox.close()
        stale_outbox.close()

    # The node comes back: its stale copy is recovered from the new primary, the cluster is
    # green again, and each copy holds each article once.
    victim.start()
    cluster.health(current)
    other.request("DELETE", "/_cluster/voting_config_exclusions?wait_for_removal=false")
    copies = cluster.shards(current)
    assert sorted(c["prirep"] for c in copies) == ["p", "r"]
    assert {c["node"] for c in copies} == {victim.node_name, other.node_name}
    for node in cluster.nodes:
        preference = f"_only_nodes:{node.node_name}"
        counted = node.request("GET", f"/{current}/_count?preference={preference}")
        assert counted["count"] == N, node.node_name
