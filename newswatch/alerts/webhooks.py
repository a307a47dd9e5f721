"""Alerts: POST the new matches of each saved search that has a webhook.

``deliver_alerts(config)`` runs after every crawl (and as ``newswatch alerts send``):
for each saved search with a ``webhook``, it searches the store, leaves out the
articles already sent to that webhook (remembered in the saved-search file,
:mod:`newswatch.alerts.saved`), and POSTs the rest as JSON in batches, retrying with
exponential backoff on network errors, 429 and 5xx. A batch's articles count as
sent only once the receiver answered 2xx, so each match is delivered once; a
delivery that keeps failing is retried at the next run.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from newswatch.alerts.saved import SavedSearch, SavedSearches
from newswatch.config import Config
from pipelines.stores import open_store
from pipelines.stores.base import Store
from search.query import QuerySyntaxError

BATCH = 50  # matches per POST
PAGE = 100  # matches read from the store per search
RETRYABLE = {408, 425, 429, 500, 502, 503, 504}


@dataclass
class AlertReport:
    """What one delivery run did for one saved search."""

    search: str
    new: int = 0  # matches not sent before
    sent: int = 0  # matches the receiver accepted in this run
    error: str | None = None


def _user_agent() -> str:
    try:
        return f"newswatch/{version('newswatch')}"
    except PackageNotFoundError:
        return "newswatch"


def match_payload(search: SavedSearch, hits: list[Any]) -> dict[str, Any]:
    """The JSON body of one POST: the search and its new matches."""
    return {
        "saved_search": search.name,
        "query": search.query,
        "matches": [
            {
                "id": h.article.id,
                "url": h.article.url,
                "title": h.article.title,
                "source": h.article.source,
                "language": h.article.language,
                "published_at": h.article.published_at,
                "authors": h.article.authors,
                "topics": h.article.topics,
                "story_id": h.article.story_id or h.article.id,  # its own when alone
                "snippet": h.snippet.text,
            }
            for h in hits
        ],
    }


def post_json(
    url: str,
    payload: dict[str, Any],
    attempts: int = 4,
    backoff: float = 0.5,
    timeout: float = 10.0,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """POST ``payload`` as JSON; retry transient failures; raise RuntimeError at the end."""
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": _user_agent()}
    error = "not attempted"
    for attempt in range(attempts):
        if attempt:
            sleep(backoff * 2 ** (attempt - 1))
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                response.read()
                return
        except urllib.error.HTTPError as exc:
            error = f"HTTP {exc.code} from {url}"
            exc.close()
            if exc.code not in RETRYABLE:
                break
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            error = f"cannot reach {url}: {reason}"
    raise RuntimeError(f"{error} (after {attempt + 1} attempt(s))")


def deliver_search(
    store: Store, saved: SavedSearches, search: SavedSearch, **post_options: Any
) -> AlertReport:
    """Send the new matches of one saved search to its webhook."""
    report = AlertReport(search.name)
    assert search.webhook is not None
    sent = saved.sent_ids(search.name)
    new = []
    page = 1
    while True:  # every match, newest first, a page at a time
        try:
            result = store.search(search.request(sort="date", page=page, size=PAGE))
        except QuerySyntaxError as exc:
            report.error = f"bad query: {exc}"
            saved.record_attempt(search.name, error=report.error)
            return report
        new += [h for h in result.hits if h.article.id not in sent]
        if page * PAGE >= result.total or not result.hits:
            break
        page += 1
    report.new = len(new)
    for start in range(0, len(new), BATCH):
        batch = new[start : start + BATCH]
        try:
            post_json(search.webhook, match_payload(search, batch), **post_options)
        except RuntimeError as exc:
            report.error = str(exc)
            saved.record_attempt(search.name, error=report.error)
            break
        saved.record_attempt(search.name, sent=[h.article.id for h in batch])
        report.sent += len(batch)
    return report


def deliver_alerts(
    config: Config,
    store: Store | None = None,
    saved: SavedSearches | None = None,
    **post_options: Any,
) -> list[AlertReport]:
    """Deliver the new matches of every saved search that has a webhook.

    Webhook failures are reported, never raised; a store that is down raises StoreError.
    ``post_options`` tune the retries (attempts, backoff, timeout) of :func:`post_json`.
    """
    saved = saved or SavedSearches(config)
    searches = [s for s in saved.all() if s.webhook]
    if not searches:
        return []
    own_store = store is None
    store = store or open_store(config.store, languages=list(config.filters.languages))
    try:
        return [deliver_search(store, saved, s, **post_options) for s in searches]
    finally:
        if own_store:
            store.close()


def format_alert_reports(reports: list[AlertReport]) -> str:
    """One line per saved search."""
    lines = []
    for r in reports:
        line = f"alerts: {r.search}: {r.sent} of {r.new} new match(es) sent"
        lines.append(line + (f" ({r.error})" if r.error else ""))
    return "\n".join(lines)


def format_alert_status(status: dict[str, dict[str, Any]]) -> str:
    """The ``alerts`` part of ``newswatch stats``."""
    lines = []
    for name, s in status.items():
        line = (
            f"  {name}: {s['sent']} sent; last attempt {s['last_attempt'] or 'never'},"
            f" last success {s['last_success'] or 'never'}"
        )
        lines.append(line + (f"; last error: {s['last_error']}" if s["last_error"] else ""))
    return "\n".join(["alerts:", *lines]) if lines else ""
