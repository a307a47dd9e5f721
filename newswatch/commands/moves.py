"""``newswatch moves``: the talent moves one text tells."""

from __future__ import annotations

import json

import click

from newswatch.commands.invocation import config_of, friendly


@click.group()
def moves() -> None:
    """Work with talent moves (who went from which lab to which)."""


@moves.command("test")
@click.argument("where", metavar="FILE|URL|-")
@click.option("--lang", "language", metavar="CODE", help="The text's language.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of moves.")
@click.pass_context
@friendly
def moves_test(ctx: click.Context, where: str, language: str | None, as_json: bool) -> None:
    """Show the moves a text, an HTML file or a web page tells."""
    from newswatch.documents import read_document
    from search.moves import extract

    title, body = read_document(where, config_of(ctx))
    found = extract(title, body, language)
    if as_json:
        click.echo(json.dumps([m.as_json() for m in found], ensure_ascii=False, indent=2))
        return
    if not found:
        click.echo("no move")
    for m in found:
        click.echo(
            printable(
                f"{m.person}: {m.origin or '?'} -> {m.destination or '?'}"
                + (f" ({m.role})" if m.role else "")
                + (f", {m.date}" if m.date else "")
            )
        )
        click.echo(printable(f"  evidence: {m.evidence}"))


def printable(text: str) -> str:
    """``text`` without control characters: scraped text must not drive the terminal."""
    return "".join(c for c in text if c.isprintable() or c == " ")
