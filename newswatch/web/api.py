"""The JSON API: search, articles, stats, health, saved searches, export.

Each route turns its parameters into a ``SearchRequest`` (or a store call) and
the answer into JSON; the search itself is the store's. Errors answer JSON
``{"error": "..."}``: 400 for a bad query, date or parameter, 404 for what is not
there, 503 when the store is down (see ``newswatch.web.app``).
"""

from __future__ import annotations

import json
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from newswatch.alerts.export import FORMATS, MEDIA_TYPES, export_lines
from newswatch.alerts.saved import SavedSearchError
from newswatch.web.app import error, web
from newswatch.web.openapi import OPENAPI
from pipelines.stores.base import FACET_FIELDS, Hit, SearchRequest
from search.query import parse
from search.snippets import to_html

MAX_SIZE = 100
MAX_PAGE = 10_000
MAX_VALUES = 50  # values of one repeatable filter
MAX_BODY = 64 * 1024  # bytes of a POSTed saved search


def _int(params: Any, name: str, default: int, low: int, high: int | None = None) -> int:
    raw = params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise HTTPException(400, f"{name} must be a whole number (got {raw!r})") from None
    if value < low:
        raise HTTPException(400, f"{name} must be at least {low}")
    if high is not None and value > high:
        raise HTTPException(400, f"{name} must be at most {high} (got {value})")
    return value


def _size_name(params: Any) -> str:
    """``size``, or ``limit`` (the command line's name) when only that is given."""
    if params.get("limit") not in (None, "") and params.get("size") not in (None, ""):
        raise HTTPException(400, "give size or limit (the same thing), not both")
    return "limit" if params.get("limit") not in (None, "") else "size"


def _values(params: Any, name: str) -> list[str]:
    values = [v for v in params.getlist(name) if v.strip()]
    if len(values) > MAX_VALUES:
        raise HTTPException(400, f"at most {MAX_VALUES} values of {name}")
    return values


def search_request(params: Any, size: int = 10) -> SearchRequest:
    """The SearchRequest of query parameters; raise 400 (or QuerySyntaxError) when bad.

    q, lang, source, topic (each repeatable), since, until, sort, page, size (at
    most 100). The query and dates are checked here, before the store is asked.
    """
    sort = params.get("sort") or "relevance"
    if sort not in ("relevance", "date"):
        raise HTTPException(400, f"sort must be relevance or date (got {sort!r})")
    request = SearchRequest(
        query=params.get("q", ""),
        # lang=de,FR as lang=de&lang=fr: the command line's --lang de,fr
        languages=[
            v.strip().lower() for x in _values(params, "lang") for v in x.split(",") if v.strip()
        ],
        sources=_values(params, "source"),
        topics=_values(params, "topic"),
        since=params.get("since") or None,
        until=params.get("until") or None,
        sort=sort,
        page=_int(params, "page", 1, 1),
        size=_int(params, _size_name(params), size, 1, MAX_SIZE),
    )
    if request.page > MAX_PAGE:
        raise HTTPException(400, f"page must be at most {MAX_PAGE}")
    if request.query.strip():
        parse(request.query)  # QuerySyntaxError: 400
    request.date_bounds()  # a bad date: QuerySyntaxError, 400
    return request


def hit_json(hit: Hit) -> dict[str, Any]:
    a = hit.article
    return {
        "id": a.id,
        "url": a.url,
        "canonical_url": a.canonical_url,
        "title": a.title,
        "title_html": to_html(hit.title),
        "source": a.source,
        "language": a.language,
        "published_at": a.published_at,
        "topics": a.topics,
        "authors": a.authors,
        "snippet_html": to_html(hit.snippet),
        "score": hit.score or 0.0,  # browsing scores -0.0
        "similar": hit.similar,
    }


def search(request: Request) -> Response:
    """GET /api/search"""
    search_req = search_request(request.query_params)
    search_req.facets = search_req.collapse = True
    result = web(request).store.search(search_req)
    return JSONResponse(
        {
            "query": search_req.query,
            "total": result.total,
            "page": search_req.page,
            "size": search_req.size,
            "hits": [hit_json(h) for h in result.hits],
            "facets": {name: dict(result.facets.get(name, {})) for name in FACET_FIELDS},
            "histogram": dict(result.histogram),
        }
    )


def article(request: Request) -> Response:
    """GET /api/articles/{id}"""
    found = web(request).store.get(request.path_params["id"])
    if found is None:
        return error(404, f"no article with id {request.path_params['id']!r}")
    data = found.to_dict()
    data.pop("lsh_bands", None)
    return JSONResponse(data)


def stats(request: Request) -> Response:
    """GET /api/stats: the store's stats and the webhook deliveries."""
    state = web(request)
    return JSONResponse({**state.store.stats(), "alerts": state.saved.status()})


def health(request: Request) -> Response:
    """GET /api/health: 200 when the store answers, 503 when it does not."""
    try:
        up = bool(web(request).store.ping())
    except Exception:  # a store that cannot even be opened is down
        up = False
    return JSONResponse({"store": "ok" if up else "down"}, status_code=200 if up else 503)


def openapi(request: Request) -> Response:
    """GET /api/openapi.json"""
    return JSONResponse(OPENAPI)


# --- saved searches ------------------------------------------------------------

_SAVED_ERRORS = {"invalid": 400, "exists": 409, "missing": 404, "config": 409}


def _saved_json(request: Request, search: Any) -> dict[str, Any]:
    return {**search.public(), "feed": str(request.url_for("feed", name=search.name).path)}


def list_saved_searches(request: Request) -> Response:
    """GET /api/saved-searches"""
    searches = web(request).saved.all()
    return JSONResponse({"saved_searches": [_saved_json(request, s) for s in searches]})


async def create_saved_search(request: Request) -> Response:
    """POST /api/saved-searches"""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        # Also keeps other web pages out: a cross-site JSON POST needs a CORS preflight.
        return error(415, "send the saved search as application/json")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            return error(413, f"a saved search takes at most {MAX_BODY} bytes")
    try:
        data = json.loads(body)
    except ValueError:
        return error(400, "the body is not valid JSON")
    try:
        search = await run_in_threadpool(web(request).saved.create, data)
    except SavedSearchError as exc:
        return error(_SAVED_ERRORS[exc.kind], str(exc))
    return JSONResponse(_saved_json(request, search), status_code=201)


def delete_saved_search(request: Request) -> Response:
    """DELETE /api/saved-searches/{name}"""
    try:
        web(request).saved.delete(request.path_params["name"])
    except SavedSearchError as exc:
        return error(_SAVED_ERRORS[exc.kind], str(exc))
    return Response(status_code=204)


# --- export --------------------------------------------------------------------


def export(request: Request) -> Response:
    """GET /api/export?format=csv|jsonl: every match, streamed."""
    fmt = request.query_params.get("format") or "csv"
    if fmt not in FORMATS:
        raise HTTPException(400, f"format must be csv or jsonl (got {fmt!r})")
    search_req = search_request(request.query_params)
    # The first page is read here (errors answer as usual); the rest while streaming.
    lines = export_lines(web(request).store, search_req, fmt)  # type: ignore[arg-type]
    return StreamingResponse(
        lines,
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="newswatch-export.{fmt}"'},
    )


routes = [
    Route("/api/search", search, name="api_search"),
    Route("/api/articles/{id}", article, name="api_article"),
    Route("/api/stats", stats, name="api_stats"),
    Route("/api/health", health, name="api_health"),
    Route("/api/openapi.json", openapi, name="api_openapi"),
    Route("/api/saved-searches", list_saved_searches, methods=["GET"], name="api_saved"),
    Route("/api/saved-searches", create_saved_search, methods=["POST"], name="api_saved_create"),
    Route(
        "/api/saved-searches/{name}",
        delete_saved_search,
        methods=["DELETE"],
        name="api_saved_delete",
    ),
    Route("/api/export", export, name="api_export"),
]
