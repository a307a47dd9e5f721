"""``newswatch demo``: serve the sample site, crawl it with the real spiders, search it."""

from __future__ import annotations

import sys
import tomllib
from importlib import resources
from pathlib import Path

import click

from newswatch.config import Config, ConfigError, config_from_dict, default_config_text
from newswatch.demo import SITE
from newswatch.demo.server import SiteServer
from newswatch.runs.crawl import format_reports, run_crawl
from pipelines.stores import open_store
from pipelines.stores.base import SearchRequest
from search.snippets import to_terminal

DEMO_PREFIX = "demo-"
EXAMPLE_SEARCHES = [
    ("superintelligence", {}),
    ('"course à l\'IA"', {}),
    ("Nvidia chips", {"sort": "date"}),
    ("talent -Zuckerberg", {"languages": ["de", "es", "it"]}),
]


def demo_config(host: str, store_path: str) -> Config:
    """The default config's filters and topics, with the demo's sources and crawler settings."""
    base = tomllib.loads(default_config_text())
    text = resources.files("newswatch.demo").joinpath("sources.toml").read_text(encoding="utf-8")
    demo = tomllib.loads(text.replace("__HOST__", host))
    merged = {
        **base,
        "crawler": {**base.get("crawler", {}), **demo.get("crawler", {})},
        "sources": demo["sources"],
        "store": {"backend": "sqlite", "path": store_path},
    }
    return config_from_dict(merged, "<demo config>")


def prepare_store(path: Path, fresh: bool) -> None:
    """Check that ``path`` is a demo index (or absent); with ``fresh``, delete it.

    A store that holds a real crawl is never touched.
    """
    if not path.exists():
        return
    from pipelines.stores.sqlite import SqliteStore

    store = SqliteStore(path, [])
    try:
        sources = {run["source"] for run in store.runs(limit=100000)}
        articles = store.count()
    finally:
        store.close()
    if articles and not sources or any(not s.startswith(DEMO_PREFIX) for s in sources):
        raise ConfigError(
            f"{path} holds articles from a real crawl; "
            "run the demo with --store PATH to use another file"
        )
    if fresh:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)


def run_demo(
    config: Config,
    store_path: str | None,
    port: int = 0,
    fresh: bool = True,
    drop_log: str | None = None,
) -> bool:
    """Run the demo; True when every demo source was crawled without error."""
    path = Path(
        store_path
        or (config.store.path if config.store.backend == "sqlite" else "data/newswatch.db")
    )
    prepare_store(path, fresh)
    with SiteServer(SITE, port) as server:
        click.echo(f"Serving the demo news site at {server.url}/ (127.0.0.1 only)")
        demo = demo_config(server.host, str(path))
        progress = sys.stderr if sys.stderr.isatty() else None
        reports = run_crawl(demo, list(demo.sources), progress=progress, drop_log=drop_log)
    click.echo("\nCrawl summary")
    click.echo(format_reports(reports))
    store = open_store(demo.store, languages=list(demo.filters.languages))
    try:
        for query, options in EXAMPLE_SEARCHES:
            result = store.search(SearchRequest(query=query, size=3, **options))  # type: ignore[arg-type]
            where = f" ({', '.join(f'{k}={v}' for k, v in options.items())})" if options else ""
            click.echo(f"\n$ newswatch search {query!r}{where}: {result.total} result(s)")
            for hit in result.hits:
                a = hit.article
                click.echo(
                    f"  - [{a.language}] {to_terminal(hit.title, sys.stdout.isatty())}"
                    f"  ({a.source}, {(a.published_at or '')[:10]})"
                )
    finally:
        store.close()
    click.echo(f"\nThe demo index is in {path}. Try: newswatch search superintelligence")
    return not any(r.failed for r in reports)
