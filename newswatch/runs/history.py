"""The crawl history and what it says about each source's health.

Both stores keep one record per run of a source (``Store.record_run``, read back by
``Store.runs()``, newest first); everything here is computed from those records,
so it reads the same from SQLite and Elasticsearch.

- :func:`run_row` flattens a record into the row ``newswatch runs`` shows and prints
  as JSON (:data:`RUN_KEYS`).
- :func:`source_health` tells, per source, when it last succeeded and last brought
  something new, and flags a source that failed ``failed_runs`` runs in a row or has
  brought nothing new for ``silent_after`` seconds.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

RUN_KEYS = (
    "source",
    "started_at",
    "finished_at",
    "duration",
    "status",
    "error",
    "pages",
    "not_modified",
    "new",
    "updated",
    "unchanged",
    "skipped_known",
    "dropped",
)


def _when(stamp: str | None) -> datetime | None:
    if not stamp:
        return None
    try:
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def run_row(run: dict[str, Any]) -> dict[str, Any]:
    """One run as a flat row with the keys of :data:`RUN_KEYS`.

    ``duration`` is in seconds; runs recorded before it was kept take it from their
    start and end.
    """
    stats = run.get("stats") or {}
    duration = stats.get("duration")
    if duration is None:
        start, end = _when(run.get("started_at")), _when(run.get("finished_at"))
        duration = (end - start).total_seconds() if start and end else None
    return {
        "source": run.get("source"),
        "started_at": run.get("started_at"),
        "finished_at": run.get("finished_at"),
        "duration": duration,
        "status": run.get("status"),
        "error": run.get("error"),
        "pages": stats.get("pages", 0),
        "not_modified": stats.get("not_modified", 0),
        "new": stats.get("new", 0),
        "updated": stats.get("updated", 0),
        "unchanged": stats.get("unchanged", 0),
        "skipped_known": stats.get("skipped_known", 0),
        "dropped": dict(stats.get("dropped") or {}),
    }


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 60:
        return f"{value:.1f}s"
    minutes, secs = divmod(int(value), 60)
    return f"{minutes}m{secs:02d}s" if minutes < 60 else f"{minutes // 60}h{minutes % 60:02d}m"


def _span(seconds: float) -> str:
    """A long duration for people: ``3 days``, ``6 hours``, ``90 minutes``."""
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds:g} seconds"


def format_runs(rows: list[dict[str, Any]]) -> str:
    """``newswatch runs``: one line per run, newest first."""
    if not rows:
        return "no runs recorded"
    headers = (
        "source",
        "started",
        "duration",
        "status",
        "pages",
        "304s",
        "new",
        "updated",
        "dropped",
        "error",
    )
    table = [headers] + [
        (
            r["source"],
            r["started_at"] or "-",
            _seconds(r["duration"]),
            r["status"],
            str(r["pages"]),
            str(r["not_modified"]),
            str(r["new"]),
            str(r["updated"]),
            ", ".join(f"{k} {v}" for k, v in r["dropped"].items()) or "-",
            r["error"] or "",
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(headers))]
    lines = [
        "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in table
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def source_health(
    runs: Iterable[dict[str, Any]],
    now: datetime,
    failed_runs: int = 3,
    silent_after: float = 3 * 86400,
) -> dict[str, Any]:
    """What one source's runs (newest first) say about it.

    ``failed_in_a_row`` counts the latest failed runs (interrupted runs neither count
    nor break the streak); ``last_new`` is the start of the latest run that stored a
    new article. ``flags`` holds one line per problem: ``failed_runs`` failures in a
    row, or nothing new for ``silent_after`` seconds of runs.
    """
    runs = list(runs)
    last_success = next((r.get("finished_at") for r in runs if r.get("status") == "ok"), None)
    last_new = next((r.get("started_at") for r in runs if (r.get("stats") or {}).get("new")), None)
    streak = 0
    for run in runs:
        if run.get("status") == "interrupted":
            continue
        if run.get("status") != "failed":
            break
        streak += 1
    flags = []
    if streak >= failed_runs:
        last_error = next((r.get("error") for r in runs if r.get("status") == "failed"), None)
        flags.append(
            f"failed {streak} runs in a row" + (f" (last: {last_error})" if last_error else "")
        )
    cutoff = now - timedelta(seconds=silent_after)
    first = _when(runs[-1].get("started_at")) if runs else None
    newest_new = _when(last_new)
    if first is not None and first <= cutoff and (newest_new is None or newest_new < cutoff):
        since = f"since {last_new}" if last_new else "in any recorded run"
        flags.append(f"no new article {since} (over {_span(silent_after)})")
    return {
        "last_success": last_success,
        "last_new": last_new,
        "failed_in_a_row": streak,
        "flags": flags,
    }


def runs_for_health(store: Any, source: str, now: datetime, silent_after: float) -> list[dict]:
    """The latest runs of ``source``, back to one that stored something new or older than
    the silence window (fetched in growing pages: most sources need only the first)."""
    cutoff = now - timedelta(seconds=silent_after)
    limit = 100
    while True:
        runs = store.runs(source=source, limit=limit)
        oldest = _when(runs[-1].get("started_at")) if runs else None
        found_new = any((r.get("stats") or {}).get("new") for r in runs)
        if len(runs) < limit or found_new or (oldest is not None and oldest < cutoff):
            return runs
        limit *= 10


def add_health(store: Any, data: dict[str, Any], failed_runs: int, silent_after: float) -> None:
    """Add ``health`` (:func:`source_health`) to each source of a store's ``stats()``."""
    now = datetime.now(UTC)
    for name, entry in data.get("sources", {}).items():
        runs = runs_for_health(store, name, now, silent_after)
        entry["health"] = source_health(runs, now, failed_runs, silent_after)
