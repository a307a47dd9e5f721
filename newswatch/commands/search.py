"""``newswatch search``, ``show`` and ``stats``: reading the store from the terminal."""

from __future__ import annotations

import json
import sys

import click

from newswatch.commands.invocation import (
    QueryCommand,
    UserError,
    config_of,
    friendly,
    languages_of,
    store_of,
)
from newswatch.config import seconds
from pipelines.stores.base import SearchRequest
from search.snippets import to_terminal


@click.command(cls=QueryCommand)
@click.argument("query", nargs=-1, required=True)
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
    "--sort", type=click.Choice(["relevance", "date"]), default="relevance", show_default=True
)
@click.option("--limit", "--size", type=click.IntRange(1, 1000), default=10, show_default=True)
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
    """Search the index. QUERY: words, "exact phrase", OR, -exclude, prefix*, title:, NEAR/n."""
    request = SearchRequest(
        query=" ".join(query),
        languages=languages_of(ctx, languages),
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


@click.command()
@click.argument("article_id")
@click.option("--json", "as_json", is_flag=True, help="Print the article as JSON.")
@click.pass_context
@friendly
def show(ctx: click.Context, article_id: str, as_json: bool) -> None:
    """Show one stored article by id, or by the start of an id no other shares."""
    store = store_of(ctx)
    try:
        article = store.get(article_id)
        if article is None and article_id:
            ids = store.ids_starting(article_id, 2)
            if len(ids) > 1:
                raise UserError(f"id {article_id!r} is the start of several ids: give more of it")
            article = store.get(ids[0]) if ids else None
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


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
@friendly
def stats(ctx: click.Context, as_json: bool) -> None:
    """Per source: articles, languages, drops by reason in the last crawl, last crawl,
    freshness, and flags for sources that keep failing or bring nothing new."""
    from newswatch.alerts.saved import SavedSearches
    from newswatch.alerts.webhooks import format_alert_status
    from newswatch.runs.history import add_health

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
