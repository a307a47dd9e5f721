"""``newswatch reparse``: stored articles through the stages again, from the WARC archive.

After a change of topics, filters or extraction, the articles already stored are
re-extracted and re-filtered from their archived responses (``crawler/archive.py``)
by the same item pipelines as a crawl, without a single request: one
:class:`~newswatch.runs.reparse_spider.ReparseSpider` per source, in one Scrapy process.
Each source is locked as for a crawl, so a reparse never runs beside a crawl of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from scrapy.crawler import CrawlerProcess

from crawler.extensions import DROP_PREFIX
from crawler.state import SourceBusy, SourceLock
from newswatch.config import Config, SourceConfig
from newswatch.runs import reparse_spider as reparse
from newswatch.runs.crawl import build_settings


@dataclass
class ReparseReport:
    """What reparsing one source did."""

    source: str
    archived: int = 0  # articles with an archived response
    not_stored: int = 0  # of those, no longer in the store
    reparsed: int = 0  # sent through the stages
    updated: int = 0  # their title, body or dates changed: revision + 1
    unchanged: int = 0
    retagged: int = 0  # kept, with other topics than before
    removed: int = 0  # dropped by the stages now, so removed from the store
    dropped: dict[str, int] = field(default_factory=dict)  # why, by reason
    errors: list[str] = field(default_factory=list)


@dataclass
class ReparseRun:
    reports: list[ReparseReport] = field(default_factory=list)
    busy: list[str] = field(default_factory=list)


def archived_sources(config: Config) -> list[SourceConfig]:
    """The configured sources with something in the archive."""
    root = Path(config.crawler.archive)
    return [s for s in config.sources if any((root / s.name).glob("*.warc.gz"))]


def run_reparse(config: Config, sources: list[SourceConfig]) -> ReparseRun:
    """Reparse ``sources`` from the archive; a source another process holds is skipped."""
    run = ReparseRun()
    locks: list[SourceLock] = []
    claimed = []
    for source in sources:
        lock = SourceLock(config.crawler.locks, source.name)
        try:
            lock.acquire()
        except SourceBusy as exc:
            run.busy.append(str(exc))
            continue
        locks.append(lock)
        claimed.append(source)
    if not claimed:
        return run
    crawlers = []
    try:
        settings = build_settings(config)
        settings.set("LOG_INSTALL_ROOT_HANDLER", False, priority="cmdline")
        settings.set("NEWSWATCH_STATE", config.crawler.state or None, priority="cmdline")
        process = CrawlerProcess(settings)
        for source in claimed:
            crawler = process.create_crawler(reparse.ReparseSpider)
            crawlers.append((source, crawler))
            process.crawl(crawler, source=source, archive=config.crawler.archive)
        process.start()
    finally:
        for lock in locks:
            lock.release()
    for source, crawler in crawlers:
        stats = crawler.stats.get_stats()
        run.reports.append(
            ReparseReport(
                source=source.name,
                archived=stats.get(reparse.ARCHIVED, 0),
                not_stored=stats.get(reparse.NOT_STORED, 0),
                reparsed=stats.get(reparse.REPARSED, 0),
                updated=stats.get("newswatch/articles/updated", 0),
                unchanged=stats.get("newswatch/articles/unchanged", 0),
                retagged=stats.get(reparse.RETAGGED, 0),
                removed=stats.get(reparse.REMOVED, 0),
                dropped={
                    k.removeprefix(DROP_PREFIX): v
                    for k, v in sorted(stats.items())
                    if k.startswith(DROP_PREFIX)
                },
                errors=list(getattr(crawler.spider, "errors", [])),
            )
        )
    return run


def format_reparse(reports: list[ReparseReport]) -> str:
    """One line per source: what was read, kept, changed and removed."""
    headers = ("source", "archived", "reparsed", "updated", "unchanged", "retagged", "removed")
    table = [headers] + [
        (
            r.source,
            str(r.archived),
            str(r.reparsed),
            str(r.updated),
            str(r.unchanged),
            str(r.retagged),
            f"{r.removed}"
            + (f" ({', '.join(f'{k} {v}' for k, v in r.dropped.items())})" if r.dropped else ""),
        )
        for r in reports
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(headers))]
    lines = [
        "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in table
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    for report in reports:
        if report.not_stored:
            lines.append(
                f"{report.source}: {report.not_stored} archived article(s) no longer"
                " in the store, left out"
            )
        for error in report.errors:
            lines.append(f"{report.source}: {error}")
    return "\n".join(lines)
