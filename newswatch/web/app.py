"""The Starlette application: routes, access token, security headers, error answers.

Every response carries a strict Content-Security-Policy, ``nosniff`` and
``no-referrer``. With an access token configured, every route needs it, as
``Authorization: Bearer <token>`` or ``?token=<token>``. Without one, only
requests addressed to a loopback host name are answered (a web page elsewhere
cannot reach the API through DNS rebinding).
"""

from __future__ import annotations

import contextlib
import hmac
import os
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from newswatch.alerts.saved import SavedSearches
from newswatch.config import Config
from pipelines.stores import open_store
from pipelines.stores.base import Store, StoreError
from search.query import QuerySyntaxError

TOKEN_ENV = "NEWSWATCH_WEB_TOKEN"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
STATIC = Path(__file__).parent / "static"

SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        b"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]


def configured_token(config: Config) -> str | None:
    """The access token: $NEWSWATCH_WEB_TOKEN, else ``[web] token``, else None."""
    return os.environ.get(TOKEN_ENV) or config.web.token


class ThreadLocalStore:
    """A Store that opens one underlying store per thread, on first use.

    Starlette runs each request (and each chunk of a streamed export) in a worker
    thread; a SQLite connection may only be used by the thread that opened it.
    Every attribute is looked up on the calling thread's own store.
    """

    def __init__(self, factory: Callable[[], Store]) -> None:
        self._factory = factory
        self._local = threading.local()
        self._opened: list[Store] = []
        self._lock = threading.Lock()

    def _store(self) -> Store:
        store = getattr(self._local, "store", None)
        if store is None:
            store = self._local.store = self._factory()
            with self._lock:
                self._opened.append(store)
        return store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store(), name)

    def close(self) -> None:
        with self._lock:
            opened, self._opened = self._opened, []
        for store in opened:
            with contextlib.suppress(Exception):
                store.close()


@dataclass
class Web:
    """What the routes share: the config, the store, the saved searches, the token."""

    config: Config
    store: Store
    saved: SavedSearches
    token: str | None


def web(request: Request) -> Web:
    return request.app.state.web


# --- middleware ----------------------------------------------------------------


class SecurityHeaders:
    """Add the security headers to every response, errors included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k for k, _ in SECURITY_HEADERS}
                headers = [h for h in message.get("headers", []) if h[0].lower() not in names]
                message = {**message, "headers": headers + SECURITY_HEADERS}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class AccessControl:
    """Check the access token, or, without one, that the Host is a loopback name."""

    def __init__(self, app: ASGIApp, token: str | None, allowed_hosts: frozenset[str] | None):
        self.app = app
        self.token = token.encode() if token else None
        self.allowed_hosts = allowed_hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        if self.allowed_hosts is not None:
            host = urlsplit("//" + request.headers.get("host", "")).hostname or ""
            if host.lower() not in self.allowed_hosts:
                response = error(
                    400, f"this server answers only {', '.join(sorted(self.allowed_hosts))}"
                )
                await response(scope, receive, send)
                return
        if self.token is not None:
            scheme, _, given = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer":
                given = request.query_params.get("token", "")
            if not hmac.compare_digest(given.strip().encode(), self.token):
                response = error(
                    401,
                    "an access token is needed: 'Authorization: Bearer <token>' or ?token=<token>",
                )
                response.headers["WWW-Authenticate"] = 'Bearer realm="newswatch"'
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


# --- errors --------------------------------------------------------------------


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return error(exc.status_code, str(exc.detail))


def _query_error(request: Request, exc: Exception) -> Response:
    return error(400, f"bad query: {exc}")


def one_line(exc: Exception) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0]


def _store_error(request: Request, exc: Exception) -> Response:
    return error(503, one_line(exc))


def _internal_error(request: Request, exc: Exception) -> Response:
    return error(500, "internal error")


class _App(Starlette):
    def build_middleware_stack(self) -> ASGIApp:
        # Outside Starlette's own error middleware, so that a 500 carries the headers too.
        return SecurityHeaders(super().build_middleware_stack())


def create_app(
    config: Config,
    store_factory: Callable[[], Store] | None = None,
    saved: SavedSearches | None = None,
    token: str | None = None,
    allowed_hosts: frozenset[str] | None = LOOPBACK_HOSTS,
) -> Starlette:
    """The web application over the store of ``config`` (or the one ``store_factory`` opens).

    ``token`` defaults to the configured one; with a token, any Host is answered.
    """
    from newswatch.web import api, feeds, pages

    if store_factory is None:

        def store_factory() -> Store:
            return open_store(config.store, languages=list(config.filters.languages))

    token = token if token is not None else configured_token(config)
    store = ThreadLocalStore(store_factory)
    state = Web(config, store, saved or SavedSearches(config), token)  # type: ignore[arg-type]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        store.close()

    routes = [
        Route("/", pages.index, name="index"),
        *api.routes,
        Route("/feeds/{name}.atom", feeds.saved_search_feed, name="feed"),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = _App(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={
            HTTPException: _http_error,
            QuerySyntaxError: _query_error,
            StoreError: _store_error,
            Exception: _internal_error,
        },
    )
    app.add_middleware(AccessControl, token=token, allowed_hosts=None if token else allowed_hosts)
    app.state.web = state
    return app
