"""The crawl history as rows, and the health flags computed from it."""

from __future__ import annotations

from datetime import UTC, datetime

from newswatch.runs.history import RUN_KEYS, format_runs, run_row, source_health

NOW = datetime(2026, 5, 10, 12, 0, tzinfo=UTC)


def _run(started: str, status: str = "ok", new: int = 0, error: str | None = None) -> dict:
    return {
        "source": "wire",
        "started_at": started,
        "finished_at": started,
        "status": status,
        "error": error,
        "stats": {"new": new},
    }


def test_run_row_flattens_a_record() -> None:
    record = {
        "source": "wire",
        "started_at": "2026-05-10T10:00:00Z",
        "finished_at": "2026-05-10T10:01:30Z",
        "status": "failed",
        "error": "boom",
        "stats": {
            "pages": 12,
            "new": 3,
            "updated": 1,
            "unchanged": 2,
            "not_modified": 1,
            "skipped_known": 7,
            "dropped": {"no-topic": 4},
            "duration": 89.6,
        },
    }
    row = run_row(record)
    assert tuple(row) == RUN_KEYS
    assert row == {
        "source": "wire",
        "started_at": "2026-05-10T10:00:00Z",
        "finished_at": "2026-05-10T10:01:30Z",
        "duration": 89.6,
        "status": "failed",
        "error": "boom",
        "pages": 12,
        "not_modified": 1,
        "new": 3,
        "updated": 1,
        "unchanged": 2,
        "skipped_known": 7,
        "dropped": {"no-topic": 4},
    }


def test_an_older_record_takes_its_duration_from_its_times() -> None:
    record = {
        "source": "wire",
        "started_at": "2026-05-10T10:00:00Z",
        "finished_at": "2026-05-10T10:01:30Z",
        "status": "ok",
        "error": None,
        "stats": {"pages": 2},
    }
    row = run_row(record)
    assert (row["duration"], row["pages"], row["not_modified"], row["dropped"]) == (90.0, 2, 0, {})


def test_format_runs_shows_one_line_per_run() -> None:
    rows = [
        run_row(
            {
                **_run("2026-05-10T10:00:00Z", new=3),
                "stats": {
                    "pages": 4,
                    "new": 3,
                    "not_modified": 1,
                    "duration": 2.5,
                    "dropped": {"no-topic": 1},
                },
            }
        )
    ]
    assert format_runs(rows).splitlines() == [
        "source  started               duration  status  pages  304s  new  updated  dropped     error",
        "------  --------------------  --------  ------  -----  ----  ---  -------  ----------  -----",
        "wire    2026-05-10T10:00:00Z  2.5s      ok      4      1     3    0        no-topic 1",
    ]
    assert format_runs([]) == "no runs recorded"


def test_a_source_failing_runs_in_a_row_is_flagged() -> None:
    runs = [  # newest first
        _run("2026-05-10T11:00:00Z", "failed", error="http://a/feed: HTTP 500"),
        _run("2026-05-10T10:30:00Z", "interrupted"),  # neither counts nor breaks the streak
        _run("2026-05-10T10:00:00Z", "failed", error="timeout"),
        _run("2026-05-10T09:00:00Z", "failed"),
        _run("2026-05-10T08:00:00Z", "ok", new=2),
    ]
    health = source_health(runs, NOW, failed_runs=3, silent_after=3 * 86400)
    assert health == {
        "last_success": "2026-05-10T08:00:00Z",
        "last_new": "2026-05-10T08:00:00Z",
        "failed_in_a_row": 3,
        "flags": ["failed 3 runs in a row (last: http://a/feed: HTTP 500)"],
    }
    assert source_health(runs, NOW, failed_runs=4)["flags"] == []


def test_a_source_bringing_nothing_new_for_long_is_flagged() -> None:
    runs = [
        _run("2026-05-10T11:00:00Z"),
        _run("2026-05-08T11:00:00Z"),
        _run("2026-05-06T11:00:00Z", new=5),
        _run("2026-05-01T11:00:00Z", new=1),
    ]
    health = source_health(runs, NOW, silent_after=3 * 86400)
    assert health["flags"] == ["no new article since 2026-05-06T11:00:00Z (over 3 days)"]
    assert source_health(runs, NOW, silent_after=5 * 86400)["flags"] == []


def test_a_young_source_is_not_flagged_for_silence() -> None:
    runs = [_run("2026-05-10T11:00:00Z"), _run("2026-05-09T11:00:00Z")]
    assert source_health(runs, NOW, silent_after=3 * 86400)["flags"] == []
    old = [*runs, _run("2026-05-01T11:00:00Z")]
    assert source_health(old, NOW, silent_after=3 * 86400)["flags"] == [
        "no new article in any recorded run (over 3 days)"
    ]
