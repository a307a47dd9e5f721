"""Commands of a crawl cluster: ``worker`` and ``enqueue`` (see newswatch/cluster/workers.py).

``newswatch.commands`` registers them at its end.
"""

from __future__ import annotations

import click

from newswatch.commands.invocation import EXIT_FAILED, config_of, friendly, sources_of


@click.command()
@click.option(
    "--source",
    "names",
    multiple=True,
    metavar="NAME",
    help="Work only this source's queue (repeatable; default: every enabled source).",
)
@click.option(
    "--exit-when-done",
    is_flag=True,
    help="Exit once every queue is empty and no "
    "worker holds a request (default: wait for more, until stopped).",
)
@click.option("--log-file", metavar="PATH", help="Write Scrapy's log (INFO) to this file.")
@click.pass_context
@friendly
def worker(
    ctx: click.Context, names: tuple[str, ...], exit_when_done: bool, log_file: str | None
) -> None:
    """Crawl from the cluster's shared queues in Redis, writing to Elasticsearch.

    Start one per core on as many machines as wanted; each page is fetched by one of
    them. SIGTERM or Ctrl-C stops it: what it had taken goes back to the queue.
    """
    from newswatch.cluster.workers import run_worker
    from newswatch.runs.crawl import format_reports

    reports = run_worker(config_of(ctx), sources_of(ctx, names), exit_when_done, log_file)
    click.echo(format_reports(reports))
    # Stopped by SIGTERM or Ctrl-C is how a worker ends: what it held is back in the queue.
    if any(r.failed and r.finish_reason != "shutdown" for r in reports):
        ctx.exit(EXIT_FAILED)


@click.command()
@click.option(
    "--source",
    "names",
    multiple=True,
    metavar="NAME",
    help="Only this source (repeatable; default: every enabled source).",
)
@click.pass_context
@friendly
def enqueue(ctx: click.Context, names: tuple[str, ...]) -> None:
    """Put the sources' feeds, sitemaps and start pages in the cluster's queues."""
    from newswatch.cluster.workers import enqueue as put

    counts = put(config_of(ctx), sources_of(ctx, names))
    for name, count in counts.items():
        click.echo(f"{name}: {count} request(s) queued")
