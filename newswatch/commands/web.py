"""Commands around the web layer: ``serve``, ``export`` and ``alerts send``.

``newswatch.cli`` registers them at its end. It imports this module while it is
still loading, so its helpers (one-line errors, the config, the store) are looked
up when a command runs, not imported here. Starlette and uvicorn are imported by
``serve`` only: ``export`` and ``alerts`` work without the ``web`` extra.
"""

from __future__ import annotations

import ipaddress
import os
import sys
from pathlib import Path

import click

from newswatch.command import EXIT_FAILED, UserError, config_of, friendly, store_of
from pipelines.stores.base import SearchRequest


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


# --- serve ---------------------------------------------------------------------


@click.command()
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on; beyond loopback an access token is required.",
)
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True)
@click.pass_context
@friendly
def serve(ctx: click.Context, host: str, port: int) -> None:
    """Serve the search page, the JSON API and the Atom feeds of saved searches."""
    try:
        import uvicorn

        from newswatch.web.app import LOOPBACK_HOSTS, TOKEN_ENV, configured_token, create_app
    except ImportError as exc:
        raise UserError(
            f"the web extra is missing ({exc.name}): pip install 'newswatch[web]'"
        ) from None
    config = config_of(ctx)
    token = configured_token(config)
    if token is not None and len(token) < 8:
        raise UserError(f"{TOKEN_ENV}: the access token needs at least 8 characters")
    if token is None and not is_loopback(host):
        raise UserError(
            f"refusing to serve on {host} without an access token: set "
            f"[web] token in {config.path} or {TOKEN_ENV}"
        )
    app = create_app(config, token=token, allowed_hosts=LOOPBACK_HOSTS | {host.lower()})
    shown = f"[{host}]" if ":" in host else host
    click.echo(
        f"newswatch: serving http://{shown}:{port}/" + (" (access token required)" if token else "")
    )
    uvicorn.run(
        app, host=host, port=port, log_level="info", server_header=False, proxy_headers=False
    )


# --- export --------------------------------------------------------------------


@click.command()
@click.argument("query", nargs=-1)
@click.option("--lang", "languages", multiple=True, metavar="CODE", help="Only this language.")
@click.option("--source", "sources", multiple=True, metavar="NAME", help="Only this source.")
@click.option("--topic", "topics", multiple=True, metavar="NAME", help="Only this topic.")
@click.option("--since", metavar="DATE", help="Published on or after (YYYY-MM-DD).")
@click.option("--until", metavar="DATE", help="Published on or before (YYYY-MM-DD).")
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
    from newswatch.export import export_lines

    request = SearchRequest(
        query=" ".join(query),
        languages=list(languages),
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
    from newswatch.alerts import deliver_alerts, format_alert_reports

    reports = deliver_alerts(config_of(ctx))
    if not reports:
        click.echo("newswatch: no saved search has a webhook")
        return
    click.echo(format_alert_reports(reports))
    if any(r.error for r in reports):
        ctx.exit(EXIT_FAILED)


COMMANDS = [serve, export, alerts]
