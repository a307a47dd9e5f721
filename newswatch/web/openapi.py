"""The OpenAPI 3.1 description of the JSON API, served at ``/api/openapi.json``.

Written by hand next to the routes (``newswatch.web.api``); a test checks that
every API route is described and nothing else.
"""

from __future__ import annotations

from typing import Any


def _param(name: str, description: str, schema: dict, repeat: bool = False) -> dict:
    if repeat:
        schema = {"type": "array", "items": schema}
    param = {"name": name, "in": "query", "description": description, "schema": schema}
    return {**param, "style": "form", "explode": True} if repeat else param


def _error(description: str) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _json(schema: dict, description: str = "OK") -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_STR = {"type": "string"}
_NULL_STR = {"type": ["string", "null"]}
_COUNTS = {"type": "object", "additionalProperties": {"type": "integer"}}

FILTERS = [
    _param(
        "q",
        'The query: words (all must match), "exact phrase", OR, -exclude, prefix*, '
        "( ). Empty to browse by date.",
        _STR,
    ),
    _param("lang", "Only articles in this language (ISO 639-1).", _STR, repeat=True),
    _param("source", "Only articles from this source.", _STR, repeat=True),
    _param("topic", "Only articles on this topic.", _STR, repeat=True),
    _param("since", "Published on or after: YYYY-MM-DD or an ISO timestamp.", _STR),
    _param(
        "until", "Published on or before: YYYY-MM-DD (the whole day) or an ISO timestamp.", _STR
    ),
]

BAD = _error("A bad query, date or parameter.")
DOWN = _error("The store is unavailable.")
UNAUTHORIZED = _error("A token is configured and the request did not carry it.")

SAVED_INPUT: dict[str, Any] = {
    "type": "object",
    "required": ["name", "query"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]*$", "maxLength": 64},
        "query": {"type": "string", "maxLength": 10000},
        "lang": {"type": "array", "items": _STR},
        "source": {"type": "array", "items": _STR},
        "topic": {"type": "array", "items": _STR},
        "webhook": {
            "type": "string",
            "pattern": "^https?://\\S+$",
            "description": "New matches are POSTed here as JSON.",
        },
    },
}

OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "newswatch",
        "version": "1",
        "description": "Search the articles newswatch collected. With an access token "
        "configured, send it as 'Authorization: Bearer <token>' or '?token=<token>'.",
    },
    "components": {
        "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer"},
            "query": {"type": "apiKey", "in": "query", "name": "token"},
        },
        "schemas": {
            "Error": {
                "type": "object",
                "required": ["error"],
                "properties": {"error": {"type": "string", "description": "One line."}},
            },
            "Hit": {
                "type": "object",
                "properties": {
                    "id": _STR,
                    "url": _STR,
                    "canonical_url": _STR,
                    "title": _STR,
                    "title_html": {
                        "type": "string",
                        "description": "Escaped HTML, matched words in <mark>.",
                    },
                    "source": _STR,
                    "language": _NULL_STR,
                    "published_at": _NULL_STR,
                    "topics": {"type": "array", "items": _STR},
                    "authors": {"type": "array", "items": _STR},
                    "snippet_html": {
                        "type": "string",
                        "description": "Escaped HTML, matched words in <mark>.",
                    },
                    "score": {"type": "number"},
                    "similar": {
                        "type": "integer",
                        "description": "Near-copies of this story collapsed into this hit.",
                    },
                },
            },
            "SearchResult": {
                "type": "object",
                "properties": {
                    "query": _STR,
                    "total": {"type": "integer"},
                    "page": {"type": "integer"},
                    "size": {"type": "integer"},
                    "hits": {"type": "array", "items": {"$ref": "#/components/schemas/Hit"}},
                    "facets": {
                        "type": "object",
                        "properties": {"language": _COUNTS, "source": _COUNTS, "topics": _COUNTS},
                    },
                    "histogram": {
                        **_COUNTS,
                        "description": "Matching articles per day (YYYY-MM-DD).",
                    },
                },
            },
            "SavedSearchInput": SAVED_INPUT,
            "SavedSearch": {
                "type": "object",
                "properties": {
                    **{k: v for k, v in SAVED_INPUT["properties"].items() if k != "webhook"},
                    "has_webhook": {"type": "boolean"},
                    "origin": {"enum": ["config", "api"]},
                    "feed": {"type": "string", "description": "Path of its Atom feed."},
                },
            },
        },
    },
    "security": [{}, {"bearer": []}, {"query": []}],
    "paths": {
        "/api/search": {
            "get": {
                "summary": "Search, one hit per story, with facets and a per-day histogram.",
                "parameters": [
                    *FILTERS,
                    _param("sort", "Order of the hits.", {"enum": ["relevance", "date"]}),
                    _param("page", "Page number, from 1.", {"type": "integer", "minimum": 1}),
                    _param(
                        "size",
                        "Hits per page (at most 100; more is a 400).",
                        {"type": "integer", "minimum": 1, "maximum": 100},
                    ),
                    _param(
                        "limit",
                        "The other name of size (not both).",
                        {"type": "integer", "minimum": 1, "maximum": 100},
                    ),
                ],
                "responses": {
                    "200": _json({"$ref": "#/components/schemas/SearchResult"}),
                    "400": BAD,
                    "401": UNAUTHORIZED,
                    "503": DOWN,
                },
            }
        },
        "/api/articles/{id}": {
            "get": {
                "summary": "One stored article.",
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": _STR}],
                "responses": {
                    "200": _json({"type": "object"}, "The article, every stored field."),
                    "401": UNAUTHORIZED,
                    "404": _error("No such article."),
                    "503": DOWN,
                },
            }
        },
        "/api/stats": {
            "get": {
                "summary": "Per source: articles, languages, drops, last crawl; alert deliveries.",
                "responses": {"200": _json({"type": "object"}), "401": UNAUTHORIZED, "503": DOWN},
            }
        },
        "/api/health": {
            "get": {
                "summary": "Whether the store answers.",
                "responses": {
                    "200": _json({"type": "object", "properties": {"store": {"const": "ok"}}}),
                    "401": UNAUTHORIZED,
                    "503": _json(
                        {"type": "object", "properties": {"store": {"const": "down"}}},
                        "The store is down.",
                    ),
                },
            }
        },
        "/api/openapi.json": {
            "get": {
                "summary": "This description.",
                "responses": {"200": _json({"type": "object"}), "401": UNAUTHORIZED},
            }
        },
        "/api/saved-searches": {
            "get": {
                "summary": "The saved searches, from the config file and from this API.",
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {
                                "saved_searches": {
                                    "type": "array",
                                    "items": {"$ref": "#/components/schemas/SavedSearch"},
                                }
                            },
                        }
                    ),
                    "401": UNAUTHORIZED,
                },
            },
            "post": {
                "summary": "Save a search; its Atom feed is /feeds/{name}.atom.",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {"$ref": "#/components/schemas/SavedSearchInput"}
                        }
                    },
                },
                "responses": {
                    "201": _json({"$ref": "#/components/schemas/SavedSearch"}, "Saved."),
                    "400": BAD,
                    "401": UNAUTHORIZED,
                    "409": _error("A saved search of this name exists."),
                    "415": _error("The body is not application/json."),
                },
            },
        },
        "/api/saved-searches/{name}": {
            "delete": {
                "summary": "Delete a saved search created through this API.",
                "parameters": [{"name": "name", "in": "path", "required": True, "schema": _STR}],
                "responses": {
                    "204": {"description": "Deleted."},
                    "401": UNAUTHORIZED,
                    "404": _error("No such saved search."),
                    "409": _error("The search is defined in the config file."),
                },
            }
        },
        "/feeds/{name}.atom": {
            "get": {
                "summary": "The newest 50 matches of a saved search, as an Atom 1.0 feed.",
                "parameters": [{"name": "name", "in": "path", "required": True, "schema": _STR}],
                "responses": {
                    "200": {
                        "description": "The feed.",
                        "content": {"application/atom+xml": {"schema": _STR}},
                    },
                    "401": UNAUTHORIZED,
                    "404": _error("No such saved search."),
                    "503": DOWN,
                },
            }
        },
        "/api/export": {
            "get": {
                "summary": "Every matching article, newest first, streamed as CSV or JSON Lines.",
                "parameters": [
                    _param("format", "Output format.", {"enum": ["csv", "jsonl"]}),
                    *FILTERS,
                ],
                "responses": {
                    "200": {
                        "description": "Columns: id, url, title, source, language, "
                        "published_at, authors, topics.",
                        "content": {
                            "text/csv": {"schema": _STR},
                            "application/x-ndjson": {"schema": _STR},
                        },
                    },
                    "400": BAD,
                    "401": UNAUTHORIZED,
                    "503": DOWN,
                },
            }
        },
    },
}
