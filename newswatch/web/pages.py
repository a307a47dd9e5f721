"""The search page, ``GET /``: server-rendered HTML, every state in the URL.

The page reads the same query parameters as ``/api/search`` and renders the
store's answer with Jinja2 (autoescape on). Highlighted titles and snippets come
from ``search.snippets.to_html``, which escapes before marking; only http(s)
URLs are ever put in an ``href``. The timeline is inline SVG drawn here, so no
scraped text goes near a script.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from crawler.items import Article
from newswatch.web.api import search_request
from newswatch.web.app import one_line, web
from pipelines.stores.base import Hit, SearchRequest, SearchResult, StoreError
from search.query import QuerySyntaxError
from search.snippets import to_html

PAGE_SIZE = 10
FACETS = (
    ("language", "lang", "Language"),
    ("source", "source", "Source"),
    ("topics", "topic", "Topic"),
)
_HTTP_URL = re.compile(r"https?://[^\s\x00-\x1f\x7f]+", re.IGNORECASE)

templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def is_http_url(url: str | None) -> bool:
    """Whether ``url`` may go in an href: http(s), no whitespace or control characters."""
    return bool(url) and _HTTP_URL.fullmatch(url) is not None  # type: ignore[arg-type]


def article_link(article: Article) -> str | None:
    """Where a result links: its canonical URL, else the fetched one, if http(s); else None."""
    return next((u for u in (article.canonical_url, article.url) if is_http_url(u)), None)


@dataclass
class State:
    """The page's state: its query parameters, and how to link to another state."""

    params: dict[str, Any]
    token: str | None = None

    @classmethod
    def of(cls, request: Request) -> State:
        """The state of a request; a ``?token=`` is kept in links when the app needs one."""
        q = request.query_params
        params = {
            "q": q.get("q", ""),
            "lang": [v for v in q.getlist("lang") if v],
            "source": [v for v in q.getlist("source") if v],
            "topic": [v for v in q.getlist("topic") if v],
            "since": q.get("since", ""),
            "until": q.get("until", ""),
            "sort": q.get("sort", ""),
            "page": q.get("page", ""),
        }
        return cls(params, (q.get("token") or None) if web(request).token else None)

    def url(self, **changes: Any) -> str:
        params = {**self.params, **changes}
        pairs = []
        for name, value in params.items():
            for item in value if isinstance(value, list) else [value]:
                if item not in ("", None) and not (name == "page" and str(item) == "1"):
                    pairs.append((name, str(item)))
        if self.token:
            pairs.append(("token", self.token))
        return "/" + ("?" + urlencode(pairs) if pairs else "")

    def toggle(self, param: str, value: str) -> str:
        """The URL with a filter value switched on or off, back on page 1."""
        values = list(self.params[param])
        values = [v for v in values if v != value] if value in values else [*values, value]
        return self.url(**{param: values, "page": ""})

    def with_token(self, path: str) -> str:
        """A link to another path of this server, carrying the token when the page has one."""
        return path + ("?" + urlencode({"token": self.token}) if self.token else "")

    def static(self, name: str) -> str:
        return self.with_token(f"/static/{name}")


@dataclass
class Bar:
    label: str
    count: int
    x: float
    y: float
    width: float
    height: float


@dataclass
class Timeline:
    bars: list[Bar] = field(default_factory=list)
    first: str = ""
    last: str = ""
    unit: str = "day"
    peak: int = 0
    width: int = 600
    height: int = 90
    summary: str = ""


def timeline(histogram: dict[str, int], width: int = 600, height: int = 90) -> Timeline:
    """SVG bars of matches per day (per month past 92 days), empty days included."""
    days = {}
    for key, count in histogram.items():
        try:
            days[date.fromisoformat(key)] = count
        except ValueError:
            continue
    if not days:
        return Timeline()
    first, last = min(days), max(days)
    if (last - first).days <= 92:
        unit = "day"
        labels = [(first + timedelta(n)).isoformat() for n in range((last - first).days + 1)]
        counts = {d.isoformat(): c for d, c in days.items()}
    else:
        unit = "month"
        counts = {}
        for d, c in days.items():
            counts[d.isoformat()[:7]] = counts.get(d.isoformat()[:7], 0) + c
        labels, (year, month) = [], (first.year, first.month)
        while (year, month) <= (last.year, last.month):
            labels.append(f"{year:04d}-{month:02d}")
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    peak = max(counts.values())
    slot = width / len(labels)
    gap = min(2.0, slot * 0.2)
    chart = height - 4
    bars = []
    for i, label in enumerate(labels):
        count = counts.get(label, 0)
        h = 0.0 if not count else max(2.0, round(chart * count / peak, 2))
        bars.append(
            Bar(
                label,
                count,
                round(i * slot + gap / 2, 2),
                round(height - h, 2),
                round(slot - gap, 2),
                h,
            )
        )
    top = max(counts, key=lambda k: (counts[k], k))
    total = sum(counts.values())
    summary = (
        f"Matching articles per {unit}, {labels[0]} to {labels[-1]}: {total} in all,"
        f" most on {top} ({counts[top]})"
    )
    return Timeline(bars, labels[0], labels[-1], unit, peak, width, height, summary)


@dataclass
class Result:
    """One hit as the page shows it."""

    id: str
    title_html: Markup
    url: str | None  # only an http(s) URL, or None
    outlet: str
    published: str
    language: str
    topics: list[str]
    snippet_html: Markup
    similar: int

    @classmethod
    def of(cls, hit: Hit) -> Result:
        a = hit.article
        return cls(
            id=a.id,
            title_html=Markup(to_html(hit.title)),  # escaped, then marked
            url=article_link(a),
            outlet=a.site_name or a.source,
            published=(a.published_at or "")[:10],
            language=a.language or "",
            topics=list(a.topics),
            snippet_html=Markup(to_html(hit.snippet)),
            similar=hit.similar,
        )


def _facets(state: State, result: SearchResult) -> list[dict[str, Any]]:
    groups = []
    for field_name, param, title in FACETS:
        counts = dict(result.facets.get(field_name, {}))
        for active in state.params[param]:  # a chosen filter can always be switched off
            counts.setdefault(active, 0)
        items = [
            {
                "value": value,
                "count": count,
                "active": value in state.params[param],
                "href": state.toggle(param, value),
            }
            for value, count in counts.items()
        ]
        if items:
            groups.append({"title": title, "param": param, "items": items})
    return groups


def _pages(state: State, request: SearchRequest, total: int) -> dict[str, Any]:
    last = max(1, math.ceil(total / request.size))
    return {
        "current": request.page,
        "last": last,
        "prev": state.url(page=request.page - 1) if request.page > 1 else None,
        "next": state.url(page=request.page + 1) if request.page < last else None,
        "first_shown": request.offset + 1,
        "last_shown": min(total, request.offset + request.size),
    }


def index(request: Request) -> Response:
    """GET /: the search page."""
    state = State.of(request)
    context: dict[str, Any] = {
        "state": state,
        "error": None,
        "result": None,
        "saved": [],
        "hint": 'All words must match · "exact phrase" · OR · -exclude · prefix*',
    }
    status = 200
    try:
        search_req = search_request(request.query_params, size=PAGE_SIZE)
        search_req.facets = search_req.collapse = True
        found = web(request).store.search(search_req)
        context["result"] = {
            "total": found.total,
            "hits": [Result.of(h) for h in found.hits],
            "facets": _facets(state, found),
            "timeline": timeline(found.histogram),
            "pages": _pages(state, search_req, found.total),
        }
        context["saved"] = [
            {
                "name": s.name,
                "href": state.url(
                    q=s.query,
                    lang=s.lang,
                    source=s.source,
                    topic=s.topic,
                    since="",
                    until="",
                    page="",
                ),
                "feed": state.with_token(f"/feeds/{s.name}.atom"),
            }
            for s in web(request).saved.all()
        ]
    except (HTTPException, QuerySyntaxError) as exc:
        status = 400
        detail = exc.detail if isinstance(exc, HTTPException) else f"bad query: {exc}"
        context["error"] = str(detail)
    except StoreError as exc:
        status = 503
        context["error"] = f"the store is unavailable: {one_line(exc)}"
    html = templates.get_template("index.html").render(context)
    return HTMLResponse(html, status_code=status)
