"""Commands around the stores: ``es init``, ``es migrate``, ``reindex`` and ``flush``.

``newswatch.commands`` registers them at its end. It imports this module while it is still
loading, so its helpers (one-line errors, the config) are looked up when a command
runs, not imported here.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import click

from crawler.items import Article
from newswatch.commands.invocation import EXIT_FAILED, UserError, config_of, friendly

BACKENDS = ("sqlite", "elasticsearch")
BATCH = 500  # articles per write, and per progress record of a reindex


def _fail(message: str) -> click.ClickException:
    """A one-line error (``newswatch: <message>``) with the failure exit code."""
    error = UserError(message)
    error.exit_code = EXIT_FAILED
    return error


def _es_store(ctx: click.Context) -> Any:
    from pipelines.stores.elasticsearch import ElasticsearchStore

    config = config_of(ctx)
    return ElasticsearchStore.from_config(
        config.store.elasticsearch, list(config.filters.languages)
    )


def _bar(length: int, label: str) -> AbstractContextManager[Any]:
    """A progress bar on a terminal (stderr), nothing otherwise."""
    if sys.stderr.isatty():
        return click.progressbar(length=length, label=label, file=sys.stderr)
    return nullcontext(None)


# --- es init, es migrate -------------------------------------------------------------


@click.group("es")
def es() -> None:
    """Manage the Elasticsearch index: create it, migrate it to a new mapping."""


@es.command("init")
@click.pass_context
@friendly
def es_init(ctx: click.Context) -> None:
    """Create the index template, the versioned index, its alias and the runs index."""
    store = _es_store(ctx)
    try:
        index = store.init()
    finally:
        store.close()
    click.echo(f"alias {store.alias} -> {index}; crawl history in {store.runs_index}")


@es.command("migrate")
@click.option(
    "--to-version",
    type=click.IntRange(1),
    metavar="N",
    help="Version of the new index, <index>-vN (default: the current version + 1).",
)
@click.option(
    "--delete-old/--keep-old",
    default=False,
    show_default=True,
    help="Delete the old index after the swap, or keep it (read-only).",
)
@click.pass_context
@friendly
def es_migrate(ctx: click.Context, to_version: int | None, delete_old: bool) -> None:
    """Copy the articles into a new versioned index and swap the alias to it.

    The new index takes the current mapping. Searches go on during the copy; writes
    refused in the final moment wait in the crawl's outbox.
    """
    store = _es_store(ctx)
    try:
        with _bar(store.count(), "migrating") as bar:
            report = store.migrate(
                to_version, delete_old, progress=bar.update if bar is not None else None
            )
    finally:
        store.close()
    kept = "deleted" if report.deleted_old else "kept, read-only"
    click.echo(
        f"copied {report.copied} article(s) from {report.old_index} to"
        f" {report.new_index}; alias {report.alias} -> {report.new_index}"
        f" ({report.old_index} {kept})"
    )


# --- reindex ------------------------------------------------------------------------


def _open(ctx: click.Context, backend: str, sqlite_path: str | None) -> tuple[Any, str]:
    """A store of ``backend`` and a description naming it (no credentials)."""
    config = config_of(ctx)
    languages = list(config.filters.languages)
    if backend == "sqlite":
        from pipelines.stores.sqlite import SqliteStore

        path = Path(sqlite_path or config.store.path).resolve()
        return SqliteStore(path, languages), f"sqlite:{path}"
    store = _es_store(ctx)
    return store, f"elasticsearch:{store.url}/{store.alias}"


def _batches(articles: Iterator[Article], size: int) -> Iterator[list[Article]]:
    batch: list[Article] = []
    for article in articles:
        batch.append(article)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _save_state(path: Path, state: dict) -> None:
    # Write then rename: an interruption never leaves half a state file.
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
    os.replace(partial, path)


@click.command()
@click.option(
    "--from", "source", type=click.Choice(BACKENDS), required=True, help="The store to copy from."
)
@click.option(
    "--to", "target", type=click.Choice(BACKENDS), required=True, help="The store to copy to."
)
@click.option("--sqlite-path", metavar="PATH", help="The SQLite file (default: [store] path).")
@click.option(
    "--state",
    "state_path",
    metavar="PATH",
    help="Where progress is recorded (default: next to the SQLite file).",
)
@click.option("--restart", is_flag=True, help="Ignore recorded progress: copy everything.")
@click.pass_context
@friendly
def reindex(
    ctx: click.Context,
    source: str,
    target: str,
    sqlite_path: str | None,
    state_path: str | None,
    restart: bool,
) -> None:
    """Copy every article from one store to the other, resumably.

    Articles are copied in id order, in batches; after each batch the last id copied
    is recorded, and an interrupted reindex continues after it. The articles keep
    their revision and indexing time. At the end both stores must hold as many
    articles.
    """
    if source == target:
        raise UserError("--from and --to must name different stores")
    config = config_of(ctx)
    sqlite_file = Path(sqlite_path or config.store.path)
    state_file = (
        Path(state_path)
        if state_path
        else sqlite_file.with_name(f"{sqlite_file.name}.reindex-{source}-to-{target}.json")
    )
    from_store, from_name = _open(ctx, source, sqlite_path)
    try:
        to_store, to_name = _open(ctx, target, sqlite_path)
    except BaseException:
        from_store.close()
        raise
    try:
        state = {"from": from_name, "to": to_name, "last_id": "", "copied": 0}
        if state_file.exists() and not restart:
            try:
                recorded = json.loads(state_file.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise _fail(f"cannot read {state_file}: {exc}") from None
            if (recorded.get("from"), recorded.get("to")) != (from_name, to_name):
                raise _fail(
                    f"{state_file} records a reindex from {recorded.get('from')} to"
                    f" {recorded.get('to')}: use --restart or another --state"
                )
            state.update(
                last_id=str(recorded.get("last_id", "")), copied=int(recorded.get("copied", 0))
            )
            click.echo(
                f"resuming after article {state['last_id']} ({state['copied']} already copied)",
                err=True,
            )
        total = from_store.count()
        copied_now = 0
        with _bar(total, "reindexing") as bar:
            if bar is not None:
                bar.update(state["copied"])
            for batch in _batches(from_store.iter_articles(state["last_id"]), BATCH):
                outcome = to_store.upsert_many(batch, copy=True)
                if outcome.errors:
                    first = next(iter(outcome.errors.items()))
                    raise _fail(
                        f"{len(outcome.errors)} article(s) not copied (first: {first[0]}:"
                        f" {first[1]}); run again to continue"
                    )
                copied_now += len(batch)
                state.update(last_id=batch[-1].id, copied=state["copied"] + len(batch))
                _save_state(state_file, state)
                if bar is not None:
                    bar.update(len(batch))
        counts = from_store.count(), to_store.count()
    finally:
        from_store.close()
        to_store.close()
    if counts[0] != counts[1]:
        raise _fail(
            f"count check failed: {from_name} holds {counts[0]} article(s),"
            f" {to_name} holds {counts[1]}"
        )
    state_file.unlink(missing_ok=True)
    click.echo(
        f"copied {copied_now} article(s) from {source} to {target}; both hold"
        f" {counts[1]} article(s)"
    )


# --- flush ----------------------------------------------------------------------------


@click.command()
@click.pass_context
@friendly
def flush(ctx: click.Context) -> None:
    """Send the articles waiting in the outbox (queued while Elasticsearch was away)."""
    from newswatch.runs.crawl import flush_outbox

    config = config_of(ctx)
    report = flush_outbox(config)
    if report is None:
        raise UserError("the store is SQLite: it has no outbox")
    click.echo(report.summary())
    for article_id, reason in report.failed.items():
        click.echo(f"  not sent: {article_id}: {reason}", err=True)
    if report.error:
        raise _fail(f"{report.pending} article(s) still queued: {report.error}")
    if report.failed:
        raise _fail(f"{len(report.failed)} article(s) refused by the store stay queued")
