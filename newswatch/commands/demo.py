"""``newswatch demo``: the offline demo, end to end."""

from __future__ import annotations

import click

from newswatch.commands.invocation import (
    EXIT_FAILED,
    config_of,
    friendly,
)


@click.command()
@click.option(
    "--store",
    "store_path",
    metavar="PATH",
    help="SQLite file for the demo index (default: the configured SQLite store).",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=0,
    help="Serve the demo site on this port of 127.0.0.1 (default: a free one).",
)
@click.option(
    "--keep",
    is_flag=True,
    help="Crawl into the existing demo index instead of a "
    "fresh one (with the same --port, nothing is added twice).",
)
@click.option(
    "--drop-log",
    metavar="PATH",
    help="Append each dropped page (url, source, reason) to this JSON Lines file.",
)
@click.pass_context
@friendly
def demo(
    ctx: click.Context, store_path: str | None, port: int, keep: bool, drop_log: str | None
) -> None:
    """Serve the sample news site on 127.0.0.1, crawl it, index it, and search it."""
    from newswatch.demo.run import run_demo

    ok = run_demo(config_of(ctx), store_path, port=port, fresh=not keep, drop_log=drop_log)
    if not ok:
        ctx.exit(EXIT_FAILED)
