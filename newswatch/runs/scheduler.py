"""``newswatch schedule``: every source crawled at its own interval, in the foreground.

A long-lived process that starts ``python -m newswatch crawl --source NAME`` as a
child process whenever a source is due (with ``[cluster] redis_url`` set,
``enqueue --source NAME`` instead: the cluster's workers crawl what it queues):

- each source's interval is its ``every`` (default 1h), or the adapted interval the
  crawl state keeps for it (``adaptive``), plus or minus a little jitter so that
  sources configured alike drift apart; a source the server backed off waits;
- one run of a source at a time, and at most ``[schedule] max_concurrent`` runs at
  all; the most overdue source goes first;
- each run stops itself at ``[schedule] time_limit`` (Scrapy's CLOSESPIDER_TIMEOUT,
  recorded as failed "timeout"); one still running a grace period later gets SIGTERM,
  then SIGKILL, and the scheduler records the timeout itself;
- SIGTERM or SIGINT stops it cleanly: no new run starts, each child gets SIGTERM
  (Scrapy's graceful shutdown: its queue waits in the job directory for the next
  run); a second signal kills them at once;
- SIGHUP, or a change of the config file seen at any cycle, reloads the config and
  prints what changed. A config that does not load is reported and the old one kept.

It prints one line when a run starts and one when it ends.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

from crawler.state import SourceSchedule, parse_iso
from newswatch.config import Config, ConfigError, SourceConfig, find_config, load_config, seconds
from newswatch.runs.jobs import interval, next_due, open_state

TICK = 0.2  # seconds between two looks at the children and the clock
JITTER = 0.1  # a run's interval varies by up to this share...
MAX_JITTER = 300.0  # ...and never by more than five minutes
MAX_GRACE = 30.0  # seconds a run may overrun its time limit, then a SIGTERM may take
EXIT_BUSY = 75  # the child found the source locked by another process


def _wall() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Run:
    """A crawl of one source running as a child process."""

    source: str
    process: subprocess.Popen
    started: float  # time.monotonic()
    started_at: str
    log: Any  # the child's output, a temporary file read when it ends
    limit: float
    terminated: float | None = None  # when the scheduler sent SIGTERM
    killed: bool = False


class Scheduler:
    """Runs each source's crawl at its interval; see the module docstring."""

    def __init__(
        self, config_path: str | None = None, out: TextIO | None = None, seed: int | None = None
    ) -> None:
        found = find_config(config_path)
        self.config_file = found.resolve() if found is not None else None
        self.config = load_config(str(self.config_file) if self.config_file else None)
        self.out = out or sys.stdout
        self.random = random.Random(seed)
        self.due: dict[str, float] = {}  # source -> time.monotonic() when it is due
        self.running: dict[str, Run] = {}
        self.stopping = False
        self.kill_now = False
        self.reload_asked = False
        self._mtime = self._config_mtime()

    # --- the loop ---------------------------------------------------------------------

    def run(self) -> int:
        """Schedule until SIGTERM or SIGINT; the exit status."""
        previous = {
            sig: signal.signal(sig, self._on_signal)
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
        }
        try:
            sources = self._sources(self.config)
            self._say(
                f"scheduling {len(sources)} source(s) from {self.config.path}, at most"
                f" {self.config.schedule.max_concurrent} at once"
            )
            for source in sources.values():
                self.due[source.name] = self._first_due(source)
            while not self.stopping:
                if self.reload_asked or self._config_mtime() != self._mtime:
                    self._reload()
                self._reap()
                self._enforce_limits()
                self._launch()
                time.sleep(TICK)
            self._shutdown()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return 0

    def _on_signal(self, number: int, frame: Any) -> None:
        if number == signal.SIGHUP:
            self.reload_asked = True
        elif self.stopping:
            self.kill_now = True
        else:
            self.stopping = True

    def _say(self, line: str) -> None:
        self.out.write(f"{_wall()} {line}\n")
        self.out.flush()

    # --- when each source is due -----------------------------------------------------------

    @staticmethod
    def _sources(config: Config) -> dict[str, SourceConfig]:
        return {s.name: s for s in config.sources if s.enabled}

    def _first_due(self, source: SourceConfig) -> float:
        """From the crawl state: an interval after its last poll (now if never polled)."""
        due = next_due(source, self._schedule(source))
        return time.monotonic() + max(0.0, (due - datetime.now(UTC)).total_seconds())

    def _next_due(self, source: SourceConfig) -> float:
        """After a run: its interval (adapted by the run) with jitter, or its backoff."""
        schedule = self._schedule(source)
        base, wait = float(interval(source, schedule)), 0.0
        if schedule.backoff_until:  # the server asked for a pause: at least that long
            wait = (parse_iso(schedule.backoff_until) - datetime.now(UTC)).total_seconds()
        jitter = min(base * JITTER, MAX_JITTER)
        return time.monotonic() + max(base + self.random.uniform(-jitter, jitter), wait)

    # --- children -----------------------------------------------------------------------

    def _launch(self) -> None:
        now = time.monotonic()
        waiting = sorted(
            (due, name) for name, due in self.due.items() if due <= now and name not in self.running
        )
        sources = self._sources(self.config)
        for _, name in waiting:
            if len(self.running) >= self.config.schedule.max_concurrent:
                return
            self._start(sources[name])

    def _start(self, source: SourceConfig) -> None:
        limit = float(seconds(self.config.schedule.time_limit))
        command = [sys.executable, "-m", "newswatch"]
        if self.config_file is not None:
            command += ["--config", str(self.config_file)]
        if self.config.cluster.redis_url:  # the cluster's workers crawl: the run only seeds
            command += ["enqueue", "--source", source.name]
        else:
            command += ["crawl", "--source", source.name, "--time-limit", f"{int(limit)}s"]
        # The child's output: read and closed when the run ends (_ended).
        log = tempfile.TemporaryFile(mode="w+", encoding="utf-8", errors="replace")  # noqa: SIM115
        # A session of its own: Ctrl-C in the terminal reaches the scheduler only, which
        # then stops each child once (a second signal would make Scrapy stop uncleanly).
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.running[source.name] = Run(source.name, process, time.monotonic(), _wall(), log, limit)
        every = interval(source, self._schedule(source))
        self._say(f"start {source.name} (pid {process.pid}, every {_span(every)})")

    def _schedule(self, source: SourceConfig) -> SourceSchedule:
        state = open_state(self.config)
        if state is None:
            return SourceSchedule()
        try:
            return state.schedule(source.name)
        finally:
            state.close()

    def _reap(self) -> None:
        for name, run in list(self.running.items()):
            code = run.process.poll()
            if code is None:
                continue
            del self.running[name]
            self._ended(run, code)
            source = self._sources(self.config).get(name)
            if source is not None:
                self.due[name] = self._next_due(source)
            else:
                self.due.pop(name, None)

    def _ended(self, run: Run, code: int) -> None:
        elapsed = time.monotonic() - run.started
        run.log.seek(0)
        lines = [line.strip() for line in run.log.read().splitlines() if line.strip()]
        run.log.close()
        if run.killed:
            self._record_timeout(run, elapsed)
            self._say(f"end {run.source}: failed in {elapsed:.1f}s: timeout (killed)")
            return
        if code == EXIT_BUSY:
            self._say(f"end {run.source}: not run: another process is crawling it")
            return
        if self.config.cluster.redis_url and code == 0 and lines:
            self._say(f"end {run.source}: {lines[-1].removeprefix(run.source + ': ')}")
            return
        recorded = self._recorded(run)
        if recorded is not None:
            stats = recorded.get("stats") or {}
            summary = (
                f"{stats.get('new', 0)} new, {stats.get('updated', 0)} updated,"
                f" {stats.get('not_modified', 0)} not modified"
            )
            error = f": {recorded['error']}" if recorded.get("error") else ""
            self._say(f"end {run.source}: {recorded['status']} in {elapsed:.1f}s, {summary}{error}")
            return
        if code < 0 and run.terminated is not None:  # stopped before it could record a run
            self._say(f"end {run.source}: interrupted in {elapsed:.1f}s, before it began")
            return
        why = next((line for line in reversed(lines) if line.startswith("newswatch:")), None)
        why = why or (f"stopped by signal {-code}" if code < 0 else f"exit status {code}")
        self._say(f"end {run.source}: failed in {elapsed:.1f}s: {why}")

    def _recorded(self, run: Run) -> dict | None:
        """The run record the child left in the store, if it left one."""
        from pipelines.stores import open_store

        try:
            store = open_store(self.config.store, languages=list(self.config.filters.languages))
            try:
                latest = store.runs(source=run.source, limit=1)
            finally:
                store.close()
        except Exception:  # the store is away: the end line says less
            return None
        if latest and (latest[0].get("started_at") or "") >= run.started_at:
            return latest[0]
        return None

    def _record_timeout(self, run: Run, elapsed: float) -> None:
        """A child killed at its time limit could not record its run: record it for it."""
        from pipelines.stores import open_store

        record = {
            "source": run.source,
            "started_at": run.started_at,
            "finished_at": _wall(),
            "status": "failed",
            "error": "timeout",
            "stats": {"finish_reason": "timeout", "duration": round(elapsed, 1)},
        }
        try:
            store = open_store(self.config.store, languages=list(self.config.filters.languages))
            try:
                store.record_run(record)
            finally:
                store.close()
        except Exception as exc:
            self._say(f"cannot record the timeout of {run.source}: {exc}")

    def _enforce_limits(self) -> None:
        now = time.monotonic()
        for run in self.running.values():
            grace = min(MAX_GRACE, max(2.0, run.limit / 10))
            if run.terminated is None and now - run.started > run.limit + grace:
                self._terminate(run)
                run.terminated = now
            elif run.terminated is not None and not run.killed and now - run.terminated > grace:
                self._signal(run, signal.SIGKILL)
                run.killed = True

    @staticmethod
    def _terminate(run: Run) -> None:
        """SIGTERM to the crawl process only: it stops its extraction workers itself."""
        with contextlib.suppress(ProcessLookupError):
            run.process.send_signal(signal.SIGTERM)

    @staticmethod
    def _signal(run: Run, number: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(run.process.pid, number)  # the child and anything it started

    def _shutdown(self) -> None:
        if self.running:
            self._say(f"stopping: waiting for {len(self.running)} run(s) to stop")
        for run in self.running.values():
            self._terminate(run)
            run.terminated = time.monotonic()
        deadline = time.monotonic() + MAX_GRACE
        while self.running and time.monotonic() < deadline and not self.kill_now:
            self._reap_stopping()
            time.sleep(TICK)
        for run in self.running.values():
            self._signal(run, signal.SIGKILL)
            run.process.wait()
        self._reap_stopping()
        self._say("stopped")

    def _reap_stopping(self) -> None:
        for name, run in list(self.running.items()):
            code = run.process.poll()
            if code is not None:
                del self.running[name]
                self._ended(run, code)

    # --- the config -----------------------------------------------------------------------

    def _config_mtime(self) -> float | None:
        if self.config_file is None:
            return None
        try:
            return self.config_file.stat().st_mtime
        except OSError:
            return None

    def _reload(self) -> None:
        self.reload_asked = False
        self._mtime = self._config_mtime()
        try:
            config = load_config(str(self.config_file) if self.config_file else None)
        except ConfigError as exc:
            self._say(f"config not reloaded, the previous one stays: {exc}")
            return
        changes = describe_changes(self.config, config)
        self.config = config
        old_due = self.due
        self.due = {}
        for name, source in self._sources(config).items():
            if name in old_due and not any(c.startswith(f"{name}:") for c in changes):
                self.due[name] = old_due[name]
            else:
                self.due[name] = self._first_due(source)
        self._say("config reloaded: " + ("; ".join(changes) if changes else "no change"))


def _span(value: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if value >= size and value % size == 0:
            return f"{int(value // size)}{unit}"
    return f"{value:g}s"


def describe_changes(old: Config, new: Config) -> list[str]:
    """What a reload changes, one item per source added, removed or re-timed."""
    before, after = Scheduler._sources(old), Scheduler._sources(new)
    changes = [
        f"{name}: added (every {_span(after[name].interval)})"
        for name in after
        if name not in before
    ]
    changes += [f"{name}: removed" for name in before if name not in after]
    for name in after.keys() & before.keys():
        a, b = before[name], after[name]
        if a.interval != b.interval:
            changes.append(f"{name}: interval {_span(a.interval)} -> {_span(b.interval)}")
        elif a != b:
            changes.append(f"{name}: changed")
    if old.schedule != new.schedule:
        changes.append(
            f"schedule: max_concurrent {new.schedule.max_concurrent},"
            f" time_limit {new.schedule.time_limit}"
        )
    return sorted(changes)


def run_scheduler(config_path: str | None) -> int:
    """``newswatch schedule``."""
    return Scheduler(config_path).run()
