"""Running a crawl: config -> Scrapy settings -> one crawler per source -> a report.

All sources of one ``newswatch crawl`` run concurrently in one Scrapy process
(Twisted's reactor runs once per process). Each source's stats become its row
in the summary and its record in the store's run history.

With Elasticsearch, articles the cluster could not take wait in the outbox
(``pipelines/stores/outbox.py``): a crawl sends them before it starts and again when
it ends, and says how many are still waiting.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings

from crawler import __version__
from crawler.extensions import DROP_PREFIX
from crawler.incremental import NOT_MODIFIED, SKIPPED_KNOWN
from crawler.profile import profile
from crawler.spiders import SPIDERS
from newswatch.config import Config, SourceConfig
from newswatch.runs.jobs import claim, job_settings, release_all
from pipelines.stores import StoreError, open_store
from pipelines.stores.outbox import FlushReport, outbox_for


@dataclass
class SourceReport:
    """What one source's crawl did."""

    source: str
    kind: str
    started_at: str
    finished_at: str = ""
    pages: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    queued: int = 0  # waiting in the outbox: the store could not take them
    dropped: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)  # left alone, by why (max-pages...)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # wrong but survived: a malformed feed
    finish_reason: str = ""
    not_modified: int = 0  # polls of feeds and sitemaps answered 304
    skipped_known: int = 0  # article links not requested: fetched in an earlier run
    duration: float = 0.0  # seconds

    @property
    def failed(self) -> bool:
        return bool(self.errors) or self.finish_reason not in ("finished", "")

    @property
    def status(self) -> str:
        if self.finish_reason == "shutdown":  # stopped by a signal; the next run resumes
            return "interrupted"
        return "failed" if self.failed else "ok"

    def as_run(self) -> dict:
        return {
            "source": self.source,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "status": self.status,
            "error": "; ".join(self.errors) or None,
            "stats": {
                "pages": self.pages,
                "new": self.new,
                "updated": self.updated,
                "unchanged": self.unchanged,
                "queued": self.queued,
                "dropped": self.dropped,
                "skipped": self.skipped,
                "notes": self.notes,
                "finish_reason": self.finish_reason,
                "not_modified": self.not_modified,
                "skipped_known": self.skipped_known,
                "duration": self.duration,
            },
        }


class CrawlReports(list[SourceReport]):
    """One report per source, and what happened to the outbox (Elasticsearch only)."""

    outbox: OutboxStatus | None = None
    # One line per source not crawled (set per instance): another process crawls it,
    # or its server asked for a pause.
    busy: list[str] = []
    waiting: list[str] = []


@dataclass
class OutboxStatus:
    """The outbox around a crawl: sent before and after it, and what still waits."""

    path: str
    sent: int = 0
    dropped: int = 0
    pending: int = 0
    error: str | None = None  # why the last flush stopped

    def add(self, report: FlushReport) -> None:
        self.sent += report.sent
        self.dropped += sum(report.dropped.values())
        self.pending = report.pending
        self.error = report.error


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_settings(
    config: Config, log_file: str | None = None, drop_log: str | None = None
) -> Settings:
    """Scrapy settings for ``config``: the project defaults with the config layered on."""
    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    crawler = config.crawler
    user_agent = crawler.user_agent or f"newswatch/{__version__} (+{crawler.contact_url})"
    settings.setdict(
        {
            "USER_AGENT": user_agent,
            "ROBOTSTXT_OBEY": crawler.obey_robots_txt,
            "DOWNLOAD_DELAY": crawler.download_delay,
            "CONCURRENT_REQUESTS_PER_DOMAIN": crawler.concurrent_requests_per_domain,
            "AUTOTHROTTLE_ENABLED": crawler.autothrottle,
            "DOWNLOAD_TIMEOUT": crawler.download_timeout,
            "DOWNLOAD_MAXSIZE": crawler.max_response_bytes,
            "RETRY_TIMES": crawler.retry_times,
            "NEWSWATCH_RETRY_BACKOFF": crawler.retry_backoff,
            "NEWSWATCH_RETRY_MAX_DELAY": crawler.retry_max_delay,
            "NEWSWATCH_FILTERS": config.filters,
            "NEWSWATCH_WORKERS": crawler.workers,
            "NEWSWATCH_TOPICS": list(config.topics),
            "NEWSWATCH_STORE": config.store,
            "LOG_LEVEL": "INFO" if log_file else "ERROR",
            "LOG_FILE": log_file,
            "NEWSWATCH_DROP_LOG": drop_log,
        },
        priority="cmdline",
    )
    return settings


def run_crawl(
    config: Config,
    sources: list[SourceConfig],
    log_file: str | None = None,
    progress: TextIO | None = None,
    drop_log: str | None = None,
    profile_path: str | None = None,
    due_only: bool = False,
    time_limit: float | None = None,
) -> CrawlReports:
    """Crawl ``sources`` to the end and return one report per source.

    With ``progress``, a line of running totals is redrawn there every second; with
    ``profile_path``, the milliseconds per page of each stage are written there as JSON.
    Each source is claimed first (newswatch/runs/jobs.py): one locked by another run or
    backed off is not crawled (``reports.busy``, ``reports.waiting``); ``due_only``
    skips those not due yet; ``time_limit`` (seconds) stops each source's crawl then.
    """
    outbox = _flush(config, None)  # what waits from an earlier crawl goes first
    claims = claim(config, sources, due_only)
    if not claims.jobs:
        reports = CrawlReports()
        reports.busy, reports.waiting, reports.outbox = claims.busy, claims.waiting, outbox
        return reports
    settings = build_settings(config, log_file, drop_log)
    settings.set("LOG_INSTALL_ROOT_HANDLER", log_file is not None, priority="cmdline")
    process = CrawlerProcess(settings)
    crawlers = []
    started = _now()
    for job in claims.jobs:
        crawler = process.create_crawler(SPIDERS[job.source.kind])
        crawler.settings.setdict(job_settings(config, job, time_limit), priority="cmdline")
        crawlers.append((job.source, crawler))
        process.crawl(crawler, source=job.source)
    if progress is not None:
        _show_progress(crawlers, progress)
    try:
        process.start()
    finally:
        release_all(claims.jobs, {s.name: _finish_reason(c) for s, c in crawlers})
    if progress is not None:
        progress.write("\r\x1b[2K" if progress.isatty() else "")
    if profile_path:
        stages = profile([c.stats.get_stats() for _, c in crawlers if c.stats])
        Path(profile_path).write_text(json.dumps(stages, indent=2))
    reports = CrawlReports(
        _report(source, crawler, started, time_limit) for source, crawler in crawlers
    )
    reports.busy, reports.waiting = claims.busy, claims.waiting
    _record(config, reports)
    reports.outbox = _flush(config, outbox)
    return reports


def flush_outbox(config: Config) -> FlushReport | None:
    """Send what waits in the store's outbox (None: the store has no outbox).

    Each article goes through the duplicate stage again first: while the store was
    away, that stage could not see it. Raises StoreError if the outbox cannot be read.
    """
    from scrapy.exceptions import DropItem

    from pipelines.duplicates import DuplicatePipeline

    outbox = outbox_for(config.store)
    if outbox is None:
        return None
    try:
        if not outbox.pending(kind=None):
            return FlushReport()
        store = open_store(config.store, languages=list(config.filters.languages))
        try:
            duplicates = DuplicatePipeline(store, outage_is_no_duplicate=False)

            def prepare(article: Any) -> Any:
                try:
                    return duplicates.process_item(article)
                except DropItem as exc:
                    return str(exc).split(":", 1)[0]  # "duplicate-of", without the id

            return outbox.flush(store, prepare)
        finally:
            store.close()
    finally:
        outbox.close()


def _flush(config: Config, status: OutboxStatus | None) -> OutboxStatus | None:
    """Flush the outbox around a crawl; a failure is reported, never raised."""
    outbox = outbox_for(config.store)
    if outbox is None:
        return None
    status = status or OutboxStatus(str(outbox.path))
    try:
        report = flush_outbox(config)
    except Exception as exc:  # the crawl goes on; the outbox is read again next time
        status.error = str(exc)
        return status
    if report is not None:
        status.add(report)
    return status


def format_outbox(status: OutboxStatus | None) -> str:
    """The crawl output's line about the outbox ("" when there is nothing to say)."""
    if status is None:
        return ""
    lines = []
    if status.sent or status.dropped:
        dropped = f", {status.dropped} dropped as duplicates" if status.dropped else ""
        lines.append(f"outbox: {status.sent} queued article(s) sent to the store{dropped}")
    if status.pending:
        why = status.error or "the store is unavailable"
        lines.append(
            f"newswatch: {status.pending} article(s) queued in {status.path}, not yet"
            f" in the store ({why}); they are sent at the next crawl or with"
            " `newswatch flush`"
        )
    return "\n".join(lines)


SKIP_PREFIX = "newswatch/skipped/"  # max-depth, max-pages, url-rule, known, not-html...


def _pages(stats: dict) -> int:
    """Pages fetched: responses other than robots.txt."""
    return stats.get("response_received_count", 0) - stats.get("robotstxt/response_count", 0)


def _report(
    source: SourceConfig, crawler: Any, started: str, time_limit: float | None = None
) -> SourceReport:
    stats = crawler.stats.get_stats() if crawler.stats else {}
    spider = crawler.spider
    report = SourceReport(
        source=source.name,
        kind=source.kind,
        started_at=_stamp(stats.get("start_time")) or started,
        finished_at=_stamp(stats.get("finish_time")) or _now(),
        duration=round(float(stats.get("elapsed_time_seconds", 0.0)), 1),
        not_modified=stats.get(NOT_MODIFIED, 0),
        skipped_known=stats.get(SKIPPED_KNOWN, 0),
        pages=_pages(stats),
        new=stats.get("newswatch/articles/new", 0),
        updated=stats.get("newswatch/articles/updated", 0),
        unchanged=stats.get("newswatch/articles/unchanged", 0),
        queued=stats.get("newswatch/articles/queued", 0),
        dropped={
            k.removeprefix(DROP_PREFIX): v
            for k, v in sorted(stats.items())
            if k.startswith(DROP_PREFIX)
        },
        skipped={
            k.removeprefix(SKIP_PREFIX): v
            for k, v in sorted(stats.items())
            if k.startswith(SKIP_PREFIX)
        },
        errors=list(getattr(spider, "errors", [])),
        notes=list(getattr(spider, "notes", [])),
        finish_reason=str(stats.get("finish_reason", "")),
    )
    timed_out = report.finish_reason == "closespider_timeout" or (
        # Stopped by a signal after the time limit: the scheduler ended an overlong run.
        report.finish_reason == "shutdown" and time_limit and report.duration >= time_limit
    )
    if timed_out:
        report.finish_reason = "timeout"
        report.errors.append("timeout")
    elif report.finish_reason == "shutdown":
        report.errors.append("interrupted")
    if report.finish_reason and report.finish_reason != "finished" and not report.errors:
        report.errors.append(f"crawl stopped: {report.finish_reason}")
    return report


def _finish_reason(crawler: Any) -> str:
    """Why a crawler stopped ("" if it never started: Scrapy sets its stats on start)."""
    stats = getattr(crawler, "_stats", None)
    return str(stats.get_value("finish_reason", "")) if stats is not None else ""


def _stamp(moment: Any) -> str | None:
    """A Scrapy stats time (a datetime) as stored: ISO 8601 in UTC, to the second."""
    if not isinstance(moment, datetime):
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _record(config: Config, reports: list[SourceReport]) -> None:
    outbox = outbox_for(config.store)
    try:
        store = open_store(config.store, languages=list(config.filters.languages))
    except Exception as exc:  # the crawl's own summary still shows; the history is lost
        print(f"newswatch: could not record the crawl history: {exc}", file=sys.stderr)
        return
    try:
        for report in reports:
            run = report.as_run()
            try:
                store.record_run(run)
            except StoreError:
                if outbox is None:
                    raise
                outbox.put_run(run)  # recorded when the store is back
    except Exception as exc:
        print(f"newswatch: could not record the crawl history: {exc}", file=sys.stderr)
    finally:
        store.close()
        if outbox is not None:
            outbox.close()


def _show_progress(crawlers: list, out: TextIO) -> None:
    from twisted.internet import task

    def draw() -> None:
        pages = stored = queued = dropped = 0
        for _, crawler in crawlers:
            stats = crawler.stats.get_stats() if crawler.stats else {}
            pages += _pages(stats)
            stored += stats.get("newswatch/articles/new", 0) + stats.get(
                "newswatch/articles/updated", 0
            )
            queued += stats.get("newswatch/articles/queued", 0)
            dropped += sum(v for k, v in stats.items() if k.startswith(DROP_PREFIX))
        waiting = f", {queued} queued" if queued else ""
        out.write(
            f"\r\x1b[2Kcrawling: {pages} pages fetched, {stored} stored{waiting}, {dropped} dropped"
        )
        out.flush()

    loop = task.LoopingCall(draw)
    loop.start(1.0, now=False)


def format_reports(reports: list[SourceReport]) -> str:
    """The end-of-crawl summary: one row per source, then why any source failed."""
    # The queued column shows only when the store was away: most crawls never queue.
    queued = any(r.queued for r in reports)
    headers = (
        "source",
        "kind",
        "status",
        "pages",
        "new",
        "updated",
        "unchanged",
        *(("queued",) if queued else ()),
        "dropped",
    )
    rows = [
        (
            r.source,
            r.kind,
            r.status,
            r.pages,
            r.new,
            r.updated,
            r.unchanged,
            *((r.queued,) if queued else ()),
            ", ".join(f"{k} {v}" for k, v in r.dropped.items()) or "-",
        )
        for r in reports
    ]
    counted = range(3, 8 if queued else 7)
    totals = (
        "total",
        "",
        "",
        *(sum(r[i] for r in rows) for i in counted),
        str(sum(sum(r.dropped.values()) for r in reports)),
    )
    table = [headers, *rows, totals]
    widths = [max(len(str(row[i])) for row in table) for i in range(len(headers))]
    lines = [
        "  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip()
        for row in table
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.insert(len(lines) - 1, "  ".join("-" * w for w in widths))
    for report in reports:
        for error in report.errors:
            lines.append(f"{report.source}: {error}")
        for note in report.notes:
            lines.append(f"{report.source}: warning: {note}")
    return "\n".join(lines)
