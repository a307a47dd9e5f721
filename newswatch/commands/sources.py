"""``newswatch sources``: the configured sources."""

from __future__ import annotations

import click

from newswatch.commands.invocation import (
    config_of,
    friendly,
)


@click.command()
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
