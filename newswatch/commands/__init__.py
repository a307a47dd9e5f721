"""The ``newswatch`` command line: a thin layer over config, crawl, stores and search.

Every command does one thing. Errors a user can cause or fix (a bad config, a
bad query, a store that is down) print one line and exit non-zero; no traceback
reaches the terminal unless ``--debug`` asks for it.
"""

from __future__ import annotations

import json
import re
import sys

import click

from newswatch.command import (
    EXIT_BUSY,
    EXIT_FAILED,
    UserError,
    config_of,
    friendly,
    sources_of,
    store_of,
)
from newswatch.config import seconds
from pipelines.stores.base import SearchRequest
from search.snippets import to_terminal


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    metavar="PATH",
    help="Config file (default: $NEWSWATCH_CONFIG, ./newswatch.toml, or the built-in defaults).",
)
@click.option("--debug", is_flag=True, hidden=True, help="Show tracebacks.")
@click.version_option(package_name="newswatch")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, debug: bool) -> None:
    """newswatch: collect, filter and search news coverage of the AI race."""
    ctx.obj = {"config_path": config_path, "debug": debug}


# --- crawl -------------------------------------------------------------------


@cli.command()
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
    from newswatch.crawl import format_outbox, format_reports, run_crawl

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
        from newswatch.alerts import deliver_alerts, format_alert_reports

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


@cli.command()
@click.pass_context
@friendly
def schedule(ctx: click.Context) -> None:
    """Crawl each source at its own interval until stopped, one child process per run.

    SIGTERM or Ctrl-C stops it cleanly (running crawls resume next time); SIGHUP reloads
    the config. See docs/scheduling.md.
    """
    from newswatch.scheduler import Scheduler

    ctx.exit(Scheduler(ctx.obj["config_path"]).run())


# --- search ------------------------------------------------------------------


@cli.command()
@click.argument("query", nargs=-1, required=True)
@click.option("--lang", "languages", multiple=True, metavar="CODE", help="Only this language.")
@click.option("--source", "sources", multiple=True, metavar="NAME", help="Only this source.")
@click.option("--topic", "topics", multiple=True, metavar="NAME", help="Only this topic.")
@click.option("--since", metavar="DATE", help="Published on or after (YYYY-MM-DD).")
@click.option("--until", metavar="DATE", help="Published on or before (YYYY-MM-DD).")
@click.option(
    "--sort", type=click.Choice(["relevance", "date"]), default="relevance", show_default=True
)
@click.option("--limit", type=click.IntRange(1, 1000), default=10, show_default=True)
@click.option("--page", type=click.IntRange(1, 100000), default=1, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
@friendly
def search(
    ctx: click.Context,
    query: tuple[str, ...],
    languages: tuple[str, ...],
    sources: tuple[str, ...],
    topics: tuple[str, ...],
    since: str | None,
    until: str | None,
    sort: str,
    limit: int,
    page: int,
    as_json: bool,
) -> None:
    """Search the index. QUERY: words (all must match), "exact phrase", OR, -exclude, prefix*."""
    request = SearchRequest(
        query=" ".join(query),
        languages=list(languages),
        sources=list(sources),
        topics=list(topics),
        since=since,
        until=until,
        sort=sort,  # type: ignore[arg-type]
        page=page,
        size=limit,
    )
    store = store_of(ctx)
    try:
        result = store.search(request)
    finally:
        store.close()
    if as_json:
        click.echo(
            json.dumps(
                {
                    "query": request.query,
                    "total": result.total,
                    "page": page,
                    "hits": [
                        {
                            "id": h.article.id,
                            "url": h.article.url,
                            "title": h.article.title,
                            "source": h.article.source,
                            "language": h.article.language,
                            "published_at": h.article.published_at,
                            "topics": h.article.topics,
                            "snippet": h.snippet.text,
                            "highlights": [list(s) for s in h.snippet.spans],
                            "score": h.score,
                        }
                        for h in result.hits
                    ],
                },
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    color = sys.stdout.isatty()
    shown = f"{request.offset + 1}-{request.offset + len(result.hits)} of " if result.hits else ""
    click.echo(f"{shown}{result.total} result(s) for {request.query!r}")
    for number, hit in enumerate(result.hits, start=request.offset + 1):
        a = hit.article
        meta = " · ".join(
            filter(None, [a.source, a.language, (a.published_at or "")[:10], ", ".join(a.topics)])
        )
        click.echo(f"\n{number:>3}. {to_terminal(hit.title, color)}")
        click.echo(f"     {meta}  [{a.id}]")
        click.echo(f"     {to_terminal_url(a.url)}")
        if hit.snippet.text:
            click.echo(f"     {to_terminal(hit.snippet, color)}")


def to_terminal_url(url: str) -> str:
    return "".join(c for c in url if c.isprintable())


@cli.command()
@click.argument("article_id")
@click.option("--json", "as_json", is_flag=True, help="Print the article as JSON.")
@click.pass_context
@friendly
def show(ctx: click.Context, article_id: str, as_json: bool) -> None:
    """Show one stored article by id."""
    store = store_of(ctx)
    try:
        article = store.get(article_id)
    finally:
        store.close()
    if article is None:
        raise UserError(f"no article with id {article_id!r}")
    if as_json:
        data = article.to_dict()
        data.pop("lsh_bands", None)
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    fields = [
        ("title", article.title),
        ("url", article.url),
        ("canonical", article.canonical_url),
        ("source", article.source),
        ("site", article.site_name),
        ("authors", ", ".join(article.authors)),
        ("published", article.published_at),
        ("modified", article.modified_at),
        (
            "language",
            f"{article.language} ({article.language_source}, p={article.language_probability})",
        ),
        ("topics", ", ".join(article.topics)),
        ("story", article.story_id),
        ("revision", str(article.revision)),
        ("fetched", article.fetched_at),
    ]
    for name, value in fields:
        if value:
            click.echo(f"{name:>10}: {to_terminal_url(str(value))}")
    click.echo("")
    click.echo("".join(c for c in article.body if c.isprintable() or c == "\n"))


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
@friendly
def stats(ctx: click.Context, as_json: bool) -> None:
    """Per source: articles, languages, drops by reason in the last crawl, last crawl,
    freshness, and flags for sources that keep failing or bring nothing new."""
    from newswatch.alerts import format_alert_status
    from newswatch.history import add_health
    from newswatch.saved import SavedSearches

    health = config_of(ctx).health
    store = store_of(ctx)
    try:
        data = store.stats()
        add_health(store, data, health.failed_runs, seconds(health.silent_after))
    finally:
        store.close()
    data["alerts"] = SavedSearches(config_of(ctx)).status()
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    click.echo(f"{data['articles']} article(s)")
    for name, entry in data["sources"].items():
        languages = ", ".join(f"{k} {v}" for k, v in entry.get("languages", {}).items())
        last = entry.get("last_crawl") or {}
        click.echo(
            f"\n{name}: {entry.get('articles', 0)} article(s)"
            + (f" ({languages})" if languages else "")
        )
        if entry.get("newest_article"):
            click.echo(f"  newest article: {entry['newest_article']}")
        if last:
            click.echo(
                f"  last crawl: {last.get('finished_at')} {last.get('status')}"
                + (f" ({last['error']})" if last.get("error") else "")
            )
        dropped = entry.get("dropped") or {}
        if dropped:
            click.echo(
                "  dropped in last crawl: " + ", ".join(f"{k} {v}" for k, v in dropped.items())
            )
        checked = entry.get("health") or {}
        if checked.get("last_success"):
            click.echo(f"  last successful crawl: {checked['last_success']}")
        for flag in checked.get("flags", []):
            click.echo(f"  ! {flag}")
    if data["alerts"]:
        click.echo("\n" + format_alert_status(data["alerts"]))


@cli.command()
@click.option("--source", metavar="NAME", help="Only this source's runs.")
@click.option("--limit", type=click.IntRange(1, 100000), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of runs.")
@click.pass_context
@friendly
def runs(ctx: click.Context, source: str | None, limit: int, as_json: bool) -> None:
    """The crawl history, newest first: per run its source, start, duration, status, pages,
    304s, new and updated articles, drops by reason and errors."""
    from newswatch.history import format_runs, run_row

    store = store_of(ctx)
    try:
        rows = [run_row(run) for run in store.runs(source=source, limit=limit)]
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    click.echo(format_runs(rows))


@cli.command()
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
    from newswatch.reparse import archived_sources, format_reparse, run_reparse

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


@cli.command()
@click.pass_context
@friendly
def sources(ctx: click.Context) -> None:
    """List the configured sources."""
    config = config_of(ctx)
    for s in config.sources:
        extras = ", ".join(
            filter(
                None,
                [
                    s.language and f"lang {s.language}",
                    s.every and f"every {s.every}",
                    not s.enabled and "disabled",
                ],
            )
        )
        click.echo(f"{s.name:<28} {s.kind:<8} {s.urls[0]}" + (f"  ({extras})" if extras else ""))
        for url in s.urls[1:]:
            click.echo(f"{'':<28} {'':<8} {url}")


# --- topics ------------------------------------------------------------------


@cli.group()
def topics() -> None:
    """Work with topic rules."""


@topics.command("test")
@click.argument("where", metavar="FILE|URL|-")
@click.option("--lang", "language", metavar="CODE", help="The text's language (for stemmed terms).")
@click.pass_context
@friendly
def topics_test(ctx: click.Context, where: str, language: str | None) -> None:
    """Show which terms of which topics match a text, an HTML file or a web page."""
    from newswatch.topics import explain, read_document

    config = config_of(ctx)
    title, body = read_document(where, config)
    click.echo(explain(config.topics, title, body, language))


# --- demo --------------------------------------------------------------------


@cli.command()
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


# --- serve, export, alerts (newswatch/web/cli.py) ------------------------------

from newswatch.web.cli import alerts, export, serve  # noqa: E402

cli.add_command(serve)
cli.add_command(export)
cli.add_command(alerts)

# --- es, reindex, flush (newswatch/escli.py) -------------------------------------

from newswatch.escli import es, flush, reindex  # noqa: E402

cli.add_command(es)
cli.add_command(reindex)
cli.add_command(flush)

# --- worker, enqueue (newswatch/clustercli.py) -----------------------------------

from newswatch.clustercli import enqueue, worker  # noqa: E402

cli.add_command(worker)
cli.add_command(enqueue)


def main() -> None:
    """Entry point of the ``newswatch`` console script."""
    debug = "--debug" in sys.argv
    try:
        code = cli.main(standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("newswatch: aborted", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        click.echo("newswatch: interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # a bug: say so in one line, keep the traceback for --debug
        if debug:
            raise
        click.echo(
            f"newswatch: internal error: {type(exc).__name__}: {exc} "
            "(run with --debug for details)",
            err=True,
        )
        sys.exit(70)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
