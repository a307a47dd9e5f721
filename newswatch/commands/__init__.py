"""The ``newswatch`` command line: a thin layer over config, crawl, stores and search.

Every command does one thing. Errors a user can cause or fix (a bad config, a
bad query, a store that is down) print one line and exit non-zero; no traceback
reaches the terminal unless ``--debug`` asks for it.
"""

from __future__ import annotations

import sys

import click

from newswatch.commands.alerts import alerts, export
from newswatch.commands.cluster import enqueue, worker
from newswatch.commands.crawl import crawl, reparse, runs, schedule
from newswatch.commands.demo import demo
from newswatch.commands.es import es, flush, reindex
from newswatch.commands.moves import moves
from newswatch.commands.search import search, show, stats
from newswatch.commands.sources import sources
from newswatch.commands.topics import topics
from newswatch.commands.web import serve


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


COMMANDS = [crawl, schedule, search, show, stats, runs, reparse, sources, topics, demo]
COMMANDS += [serve, export, alerts, es, reindex, flush, worker, enqueue, moves]
for command in COMMANDS:
    cli.add_command(command)


def main() -> None:
    """Entry point of the ``newswatch`` console script."""
    debug = "--debug" in sys.argv
    try:
        code = cli.main(standalone_mode=False, prog_name="newswatch")
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
