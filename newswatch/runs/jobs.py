"""A crawl's hold on its sources: the lock, the backoff, the job directory, the settings.

Before a run crawls a source it *claims* it:

- the source's lock (``<crawler.locks>/<source>.lock``): a second run of the same
  source, from cron, the scheduler or a person, is refused with a one-line message;
- the backoff: a source whose server asked for a pause (429/503 with Retry-After) is
  left alone until then;
- its Scrapy job directory (``JOBDIR``, ``<crawler.jobs>/<source>``): a run stopped
  gracefully (SIGTERM, Ctrl-C, the time limit, a backoff) leaves its queue there and
  the next run resumes it. A finished run removes it, so the next run starts afresh.
  A run killed outright (SIGKILL, power loss) cannot save Scrapy's queue; the marker
  file it leaves tells the next run to discard the directory. Nothing is lost even
  then: every URL it discovered is pending in the crawl state until it is decided on.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from crawler.state import CrawlState, SourceBusy, SourceLock, SourceSchedule, parse_iso
from newswatch.config import Config, SourceConfig, seconds

RUNNING_MARKER = "newswatch-running"  # in a job directory while a run uses it


@dataclass
class Job:
    """One source claimed for one run."""

    source: SourceConfig
    lock: SourceLock
    jobdir: Path | None = None


@dataclass
class Claims:
    """The sources a run may crawl, and one line for each it may not."""

    jobs: list[Job] = field(default_factory=list)
    busy: list[str] = field(default_factory=list)  # another process crawls them
    waiting: list[str] = field(default_factory=list)  # backed off


def open_state(config: Config) -> CrawlState | None:
    """The crawl state of ``config`` (None when incremental crawling is off)."""
    return CrawlState(config.crawler.state) if config.crawler.state else None


def interval(source: SourceConfig, schedule: SourceSchedule) -> int:
    """Seconds between two runs of ``source``: adapted within its bounds, else configured."""
    if not source.is_adaptive or schedule.interval is None:
        return source.interval
    return min(max(schedule.interval, source.min_interval), source.max_interval)


def next_due(source: SourceConfig, schedule: SourceSchedule) -> datetime:
    """When ``source`` should be crawled next: an interval after its last poll, after any
    backoff (a source never polled is due at once)."""
    due = datetime.min.replace(tzinfo=UTC)
    if schedule.last_polled:
        due = parse_iso(schedule.last_polled) + timedelta(seconds=interval(source, schedule))
    if schedule.backoff_until:
        due = max(due, parse_iso(schedule.backoff_until))
    return due


def claim(config: Config, sources: list[SourceConfig], due_only: bool = False) -> Claims:
    """Claim ``sources`` for a run (see the module docstring); ``due_only`` skips, silently,
    the ones whose interval has not passed yet."""
    claims = Claims()
    state = open_state(config)
    now = datetime.now(UTC)
    try:
        for source in sources:
            schedule = state.schedule(source.name) if state else SourceSchedule()
            if due_only and next_due(source, schedule) > now:
                continue
            if schedule.backoff_until and parse_iso(schedule.backoff_until) > now:
                claims.waiting.append(
                    f"source {source.name!r} is backed off until"
                    f" {schedule.backoff_until} (the server asked for a"
                    " pause); not crawled"
                )
                continue
            lock = SourceLock(config.crawler.locks, source.name)
            try:
                lock.acquire()
            except SourceBusy as exc:
                claims.busy.append(str(exc))
                continue
            claims.jobs.append(Job(source, lock, _jobdir(config, source)))
    except BaseException:
        release_all(claims.jobs)
        raise
    finally:
        if state is not None:
            state.close()
    return claims


def _jobdir(config: Config, source: SourceConfig) -> Path | None:
    if not config.crawler.jobs:
        return None
    path = Path(config.crawler.jobs) / source.name
    if (path / RUNNING_MARKER).exists():
        # The run that used it was killed before Scrapy could save its queue.
        shutil.rmtree(path)
    path.mkdir(parents=True, exist_ok=True)
    (path / RUNNING_MARKER).write_text(str(os.getpid()), encoding="ascii")
    return path


def job_settings(config: Config, job: Job, time_limit: float | None = None) -> dict[str, Any]:
    """The Scrapy settings of one source's crawler in this run."""
    crawler = config.crawler
    return {
        "JOBDIR": str(job.jobdir) if job.jobdir else None,
        "NEWSWATCH_STATE": crawler.state or None,
        "NEWSWATCH_ARCHIVE": crawler.archive or None,
        "NEWSWATCH_UNCONDITIONAL_EVERY": crawler.unconditional_every,
        "NEWSWATCH_REFRESH_YOUNGER_THAN": seconds(crawler.refresh_younger_than),
        "NEWSWATCH_REFRESH_AFTER": seconds(crawler.refresh_after),
        # Scrapy's CloseSpider extension ends the run gracefully at the limit.
        "CLOSESPIDER_TIMEOUT": time_limit or 0,
    }


def release(job: Job, finish_reason: str) -> None:
    """End the run's hold on a source; its queue stays only if the run did not finish."""
    try:
        if job.jobdir is not None:
            if finish_reason == "finished":
                shutil.rmtree(job.jobdir, ignore_errors=True)
            else:
                (job.jobdir / RUNNING_MARKER).unlink(missing_ok=True)
    finally:
        job.lock.release()


def release_all(jobs: list[Job], finish_reasons: dict[str, str] | None = None) -> None:
    for job in jobs:
        release(job, (finish_reasons or {}).get(job.source.name, ""))
