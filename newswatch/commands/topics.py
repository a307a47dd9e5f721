"""``newswatch topics``: trying the topic rules on one document."""

from __future__ import annotations

import click

from newswatch.commands.invocation import (
    config_of,
    friendly,
)


@click.group()
def topics() -> None:
    """Work with topic rules."""


@topics.command("test")
@click.argument("where", metavar="FILE|URL|-")
@click.option("--lang", "language", metavar="CODE", help="The text's language (for stemmed terms).")
@click.pass_context
@friendly
def topics_test(ctx: click.Context, where: str, language: str | None) -> None:
    """Show which terms of which topics match a text, an HTML file or a web page."""
    from newswatch.documents import explain, read_document

    config = config_of(ctx)
    title, body = read_document(where, config)
    click.echo(explain(config.topics, title, body, language))
