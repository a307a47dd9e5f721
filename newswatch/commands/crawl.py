"""``newswatch crawl``, ``schedule``, ``runs`` and ``reparse``: crawls and their history."""

from __future__ import annotations

import json
import re
import sys

import click

from newswatch.commands.invocation import (
    EXIT_BUSY,
    EXIT_FAILED,
    UserError,
    config_of,
    friendly,
    sources_of,
    store_of,
)
from newswatch.config import seconds


@click.command()
@click.option(
    "--source", "names", multiple=True, metavar="NAME", help="Crawl only this source (repeatable)."
)
@click.option("--log-file", metavar="PATH", help="Write Scrapy's log (INFO) to this file.")
@click.option(
    "--drop-log",
    metavar="PATH",
    help="Append each dropped page (url, source, reason) to this JSON Lines file.",
)
@click.option(
    "--profile",
    "profile_path",
    metavar="PATH",
    help="Write each stage's milliseconds per page (fetch, extract, ... index) to this JSON file.",
)
@click.option(
    "--due",
    "due_only",
    is_flag=True,
    help="Only the sources whose interval has passed since their last poll (for cron).",
)
@click.option(
    "--time-limit",
    metavar="DURATION",
    help="Stop each source's crawl after this long (30s, 15m, 1h); the next run resumes it.",
)
@click.pass_context
@friendly
def crawl(
    ctx: click.Context,
    names: tuple[str, ...],
    log_file: str | None,
    drop_log: str | None,
    profile_path: str | None,
    due_only: bool,
    time_limit: str | None,
) -> None:
    """Crawl the configured sources once and index what they publish.

    Only what is new is fetched (see docs/scheduling.md). A source that another process
    is crawling is refused (exit status 75); one whose server asked for a pause waits.
    """
    from newswatch.runs.crawl import format_outbox, format_reports, run_crawl

    config = config_of(ctx)
    sources = sources_of(ctx, names)
    if time_limit is not None and not re.fullmatch(r"[1-9]\d*[smhd]", time_limit):
        raise UserError(
            f"--time-limit: expected a duration such as '30s', '15m' or '1h' (got {time_limit!r})"
        )
    progress = sys.stderr if sys.stderr.isatty() else None
    reports = run_crawl(
        config,
        sources,
        log_file=log_file,
        progress=progress,
        drop_log=drop_log,
        profile_path=profile_path,
        due_only=due_only,
        time_limit=seconds(time_limit) if time_limit else None,
    )
    for line in reports.waiting:
        click.echo(line)
    for line in reports.busy:
        click.echo(f"newswatch: {line}", err=True)
    if reports:
        click.echo(format_reports(reports))
    if outbox := format_outbox(getattr(reports, "outbox", None)):
        click.echo(outbox)  # articles the store could not take yet, or sent late
    try:  # saved-search webhooks: a failure to deliver never fails the crawl
        from newswatch.alerts.webhooks import deliver_alerts, format_alert_reports

        if delivered := deliver_alerts(config):
            click.echo(format_alert_reports(delivered))
    except Exception as exc:
        click.echo(f"newswatch: alerts not delivered: {exc}", err=True)
    failed = [r.source for r in reports if r.failed]
    if failed:
        click.echo(f"newswatch: {len(failed)} source(s) failed: {', '.join(failed)}", err=True)
        ctx.exit(EXIT_FAILED)
    if reports.busy:
        ctx.exit(EXIT_BUSY)


@click.command()
@click.pass_context
@friendly
def schedule(ctx: click.Context) -> None:
    """Crawl each source at its own interval until stopped, one child process per run.

    SIGTERM or Ctrl-C stops it cleanly (running crawls resume next time); SIGHUP reloads
    the config. See docs/scheduling.md.
    """
    from newswatch.runs.scheduler import Scheduler

    ctx.exit(Scheduler(ctx.obj["config_path"]).run())


@click.command()
@click.option("--source", metavar="NAME", help="Only this source's runs.")
@click.option("--limit", type=click.IntRange(1, 100000), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of runs.")
@click.pass_context
@friendly
def runs(ctx: click.Context, source: str | None, limit: int, as_json: bool) -> None:
    """The crawl history, newest first: per run its source, start, duration, status, pages,
    304s, new and updated articles, drops by reason and errors."""
    from newswatch.runs.history import format_runs, run_row

    store = store_of(ctx)
    try:
        rows = [run_row(run) for run in store.runs(source=source, limit=limit)]
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    click.echo(format_runs(rows))


@click.command()
@click.option(
    "--source", "names", multiple=True, metavar="NAME", help="Only this source (repeatable)."
)
@click.pass_context
@friendly
def reparse(ctx: click.Context, names: tuple[str, ...]) -> None:
    """Re-extract and re-filter stored articles from the WARC archive, fetching nothing.

    Each article goes through the crawl's stages again with the current config: it is
    updated in place (new topics included), or removed from the store if it is dropped now.
    """
    from newswatch.runs.reparse import archived_sources, format_reparse, run_reparse

    config = config_of(ctx)
    if not config.crawler.archive:
        raise UserError(f"{config.path}: crawler.archive is off: there is no archive to reparse")
    sources = [config.source(n) for n in names] if names else archived_sources(config)
    if not sources:
        raise UserError(f"nothing archived in {config.crawler.archive}: crawl first")
    result = run_reparse(config, sources)
    for line in result.busy:
        click.echo(f"newswatch: {line}", err=True)
    if result.reports:
        click.echo(format_reparse(result.reports))
    if any(r.errors for r in result.reports):
        ctx.exit(EXIT_FAILED)
    if result.busy:
        ctx.exit(EXIT_BUSY)
