"""``newswatch export`` and ``alerts send``: results out of the store, in bulk or as alerts."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from newswatch.commands.invocation import (
    EXIT_FAILED,
    QueryCommand,
    config_of,
    friendly,
    languages_of,
    store_of,
)
from pipelines.stores.base import SearchRequest


@click.command(cls=QueryCommand)
@click.argument("query", nargs=-1)
@click.option(
    "--lang", "languages", multiple=True, metavar="CODE", help="Only these languages (de,fr)."
)
@click.option("--source", "sources", multiple=True, metavar="NAME", help="Only this source.")
@click.option("--topic", "topics", multiple=True, metavar="NAME", help="Only this topic.")
@click.option("--since", metavar="DATE", help="Published on or after (YYYY-MM-DD, or 7d, 24h ago).")
@click.option(
    "--until", metavar="DATE", help="Published on or before (YYYY-MM-DD, or 7d, 24h ago)."
)
@click.option(
    "--format", "fmt", type=click.Choice(["csv", "jsonl"]), default="csv", show_default=True
)
@click.option("--output", metavar="FILE", help="Write to FILE instead of standard output.")
@click.pass_context
@friendly
def export(
    ctx: click.Context,
    query: tuple[str, ...],
    languages: tuple[str, ...],
    sources: tuple[str, ...],
    topics: tuple[str, ...],
    since: str | None,
    until: str | None,
    fmt: str,
    output: str | None,
) -> None:
    """Export every article a search matches, newest first (columns: id, url, title, source,
    language, published_at, authors, topics). QUERY may be empty to export by filters."""
    from newswatch.alerts.export import export_lines

    request = SearchRequest(
        query=" ".join(query),
        languages=languages_of(ctx, languages),
        sources=list(sources),
        topics=list(topics),
        since=since,
        until=until,
    )
    store = store_of(ctx)
    try:
        lines = export_lines(store, request, fmt)  # type: ignore[arg-type]
        if output is None:
            for line in lines:
                sys.stdout.write(line)
            sys.stdout.flush()
            return
        target = Path(output)
        partial = target.with_name(target.name + ".partial")
        count = -1 if fmt == "csv" else 0  # the CSV header is not an article
        try:
            with partial.open("w", encoding="utf-8", newline="") as out:
                for line in lines:
                    out.write(line)
                    count += 1
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
        click.echo(f"newswatch: exported {count} article(s) to {target}", err=True)
    finally:
        store.close()


# --- alerts --------------------------------------------------------------------


@click.group()
def alerts() -> None:
    """Webhook alerts of saved searches."""


@alerts.command("send")
@click.pass_context
@friendly
def alerts_send(ctx: click.Context) -> None:
    """POST the new matches of every saved search that has a webhook."""
    from newswatch.alerts.webhooks import deliver_alerts, format_alert_reports

    reports = deliver_alerts(config_of(ctx))
    if not reports:
        click.echo("newswatch: no saved search has a webhook")
        return
    click.echo(format_alert_reports(reports))
    if any(r.error for r in reports):
        ctx.exit(EXIT_FAILED)
