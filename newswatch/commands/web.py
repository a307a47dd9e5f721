"""``newswatch serve``: the web page and the HTTP API.

Starlette and uvicorn are imported when it runs: the other commands work without the
``web`` extra.
"""

from __future__ import annotations

import ipaddress

import click

from newswatch.commands.invocation import UserError, config_of, friendly


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


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
