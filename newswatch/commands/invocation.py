"""What every newswatch command shares: one-line errors, and the invocation's config and store.

The commands live in one module per command group (``newswatch/commands/``); they all take
their error handling and their config from here, so a user meets the same messages
and exit codes everywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

import click

from crawler.state import StateError
from newswatch.config import Config, ConfigError, SourceConfig, load_config
from pipelines.stores import StoreError, open_store
from pipelines.stores.base import Store
from search.query import QuerySyntaxError

EXIT_USAGE = 2
EXIT_FAILED = 1
EXIT_BUSY = 75  # EX_TEMPFAIL: another process crawls the source; try again later


class UserError(click.ClickException):
    """An error to show as one line: ``newswatch: <message>``."""

    exit_code = EXIT_USAGE

    def show(self, file: Any = None) -> None:
        click.echo(f"newswatch: {self.format_message()}", err=True)


class QueryCommand(click.Command):
    """A command taking a QUERY that may start with '-': an unknown option says to use --."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.NoSuchOption as exc:
            raise click.UsageError(
                f"No such option: {exc.option_name} (to exclude a word, put the query after "
                f"--, as in: newswatch {ctx.info_name} -- talent {exc.option_name})",
                ctx,
            ) from None


def friendly(command: Callable) -> Callable:
    """Turn the errors a user can meet into one-line messages."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (ConfigError, StoreError, StateError) as exc:
            raise UserError(str(exc)) from None
        except QuerySyntaxError as exc:
            raise UserError(f"bad query: {exc}") from None

    return wrapper


def config_of(ctx: click.Context) -> Config:
    """The config of this invocation (``--config``, ``$NEWSWATCH_CONFIG``...), loaded once."""
    obj = ctx.find_root().obj
    if "config" not in obj:
        obj["config"] = load_config(obj["config_path"])
    return obj["config"]


def sources_of(ctx: click.Context, names: tuple[str, ...]) -> list[SourceConfig]:
    """The sources named (``--source``, repeatable), else every enabled one; never none."""
    config = config_of(ctx)
    sources = (
        [config.source(n) for n in names] if names else [s for s in config.sources if s.enabled]
    )
    if not sources:
        raise UserError(f"{config.path}: no sources to crawl")
    return sources


def languages_of(ctx: click.Context, values: tuple[str, ...]) -> list[str]:
    """``--lang de,FR --lang it`` as ``["de", "fr", "it"]``; a language not kept is an error."""
    known = list(config_of(ctx).filters.languages)
    languages = [v.strip().lower() for value in values for v in value.split(",") if v.strip()]
    for language in languages:
        if language not in known:
            raise UserError(f"unknown language {language!r} (languages: {', '.join(known)})")
    return list(dict.fromkeys(languages))


def store_of(ctx: click.Context) -> Store:
    """A newly opened store of this invocation's config (the caller closes it)."""
    config = config_of(ctx)
    return open_store(config.store, languages=list(config.filters.languages))
