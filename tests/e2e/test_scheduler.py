"""End to end: `newswatch schedule` runs each source at its interval, as child processes.

The scheduler runs three one-second sources, at most two crawls at once, against the
fixture site; the test reads the run history it leaves and checks what cannot depend
on the machine's speed: no source ever overlaps itself, never more than two crawls
run at once, no source runs more often than its interval allows; a config change is
picked up and reported, and SIGTERM stops everything cleanly.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from newssite import NewsSite

from pipelines.stores.sqlite import SqliteStore


def config(site: NewsSite, sources: dict[str, str]) -> str:
    text = (
        "[crawler]\ndownload_delay = 0\nautothrottle = false\n"
        '[filters]\nlanguages = ["en"]\n'
        "[schedule]\nmax_concurrent = 2\n"
        '[[topics]]\nname = "robots"\nany = ["robot"]\n'
    )
    for name, every in sources.items():
        text += (
            f'[[sources]]\nname = "{name}"\nkind = "feed"\n'
            f'urls = ["{site.url}/feed.rss?{name}"]\nevery = "{every}"\nadaptive = false\n'
        )
    return text


def runs(root: Path) -> list[dict]:
    path = root / "data" / "newswatch.db"
    if not path.exists():
        return []
    store = SqliteStore(path, ["en"])
    try:
        return store.runs(limit=1000)
    finally:
        store.close()


def wait_for(condition, what: str, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.1)


def _when(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def test_the_scheduler_runs_each_source_at_its_interval(tmp_path: Path) -> None:
    with NewsSite() as site:
        for n in (1, 2, 3):
            site.add(n, (datetime.now(UTC) - timedelta(hours=n)).strftime("%Y-%m-%dT%H:%M:%SZ"))
        (tmp_path / "newswatch.toml").write_text(config(site, {"a": "1s", "b": "1s", "c": "1s"}))
        log = tmp_path / "schedule.log"
        with open(log, "w") as out:
            scheduler = subprocess.Popen(
                [sys.executable, "-m", "newswatch", "schedule"],
                cwd=tmp_path,
                env={**os.environ, "NEWSWATCH_CONFIG": ""},
                stdout=out,
                stderr=subprocess.STDOUT,
            )
            try:

                def finished(name: str) -> int:
                    return sum(1 for r in runs(tmp_path) if r["source"] == name)

                wait_for(lambda: min(finished(n) for n in "abc") >= 3, "three runs of each")
                # An edited config is picked up at the next cycle...
                (tmp_path / "newswatch.toml").write_text(config(site, {"a": "1s", "b": "2s"}))
                changed = "config reloaded: b: interval 1s -> 2s; c: removed"
                wait_for(lambda: changed in log.read_text(), "the reload")
                # ... and SIGHUP reloads it whenever asked.
                scheduler.send_signal(signal.SIGHUP)
                wait_for(lambda: "config reloaded: no change" in log.read_text(), "SIGHUP")
                scheduler.send_signal(signal.SIGTERM)
                assert scheduler.wait(timeout=120) == 0
            finally:
                scheduler.kill()
                scheduler.wait()
        lines = [line.split(" ", 1)[1] for line in log.read_text().splitlines()]

    assert (
        lines[0] == f"scheduling 3 source(s) from {tmp_path / 'newswatch.toml'}, at most 2 at once"
    )
    assert lines[-1] == "stopped"
    after_reload = lines[next(i for i, line in enumerate(lines) if line.startswith("config"))]
    assert not any(line.startswith("start c ") for line in lines[lines.index(after_reload) :])
    for name in "abc":
        starts = sum(1 for line in lines if line.startswith(f"start {name} "))
        ends = sum(1 for line in lines if line.startswith(f"end {name}:"))
        assert starts == ends  # each run ended, the last one at the stop

    history = sorted(runs(tmp_path), key=lambda r: (r["started_at"], r["finished_at"]))
    assert {r["status"] for r in history} <= {"ok", "interrupted"}
    for name, every in (("a", 1), ("b", 1), ("c", 1)):
        own = [r for r in history if r["source"] == name]
        # Never two runs of one source at once.
        for earlier, later in zip(own, own[1:], strict=False):
            assert later["started_at"] >= earlier["finished_at"], (earlier, later)
        # Never more often than its interval allows (timestamps are to the second, and
        # the jitter may shorten an interval by a tenth).
        span = (_when(own[-1]["started_at"]) - _when(own[0]["started_at"])).total_seconds()
        assert 3 <= len(own) <= (span + 1) / (0.9 * every) + 1, own
    # Never more than max_concurrent crawls at once: sweep the start and end times.
    events = sorted(
        [(r["started_at"], 1) for r in history] + [(r["finished_at"], -1) for r in history]
    )
    running = peak = 0
    for _, change in events:  # an end sorts before a start at the same second
        running += change
        peak = max(peak, running)
    assert peak <= 2
