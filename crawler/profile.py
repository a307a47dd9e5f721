"""Per-stage timing: how many milliseconds each stage of the crawl costs per page.

``TimedItemPipelineManager`` (Scrapy's ``ITEM_PROCESSOR``) wraps every item
pipeline's ``process_item`` and adds its time to the crawl stats, so the
profile covers every stage without code in the stages. The spiders add the
download latency as the ``fetch`` stage.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from typing import Any

from scrapy.pipelines import ItemPipelineManager

TIME_PREFIX = "newswatch/time/"
ITEMS_PREFIX = "newswatch/items/"


def record(stats: Any, stage: str, seconds: float, count: bool = True) -> None:
    """Add one item's time in ``stage`` to the stats (``count``: and count the item)."""
    stats.inc_value(TIME_PREFIX + stage, seconds)
    if count:
        stats.inc_value(ITEMS_PREFIX + stage)


def stage_name(component: Any) -> str:
    """A pipeline's stage name: its ``stage`` attribute, else its class name."""
    return getattr(component, "stage", None) or type(component).__name__.lower()


class TimedItemPipelineManager(ItemPipelineManager):
    """Scrapy's item pipeline manager, timing each stage into the crawl stats."""

    def _add_middleware(self, mw: Any) -> None:
        super()._add_middleware(mw)
        if hasattr(mw, "process_item") and self.crawler is not None:
            method = self.methods["process_item"].pop()
            self.methods["process_item"].append(_timed(method, stage_name(mw), self.crawler.stats))


def _timed(method: Callable[..., Any], stage: str, stats: Any) -> Callable[..., Any]:
    def timed(item: Any, *args: Any) -> Any:
        start = time.perf_counter()
        result = None
        try:
            result = method(item, *args)
            return result
        finally:  # a drop (DropItem) is time spent in the stage too
            # A stage that hands its work elsewhere (a coroutine) records its own time.
            if not inspect.isawaitable(result):
                record(stats, stage, time.perf_counter() - start)

    return timed


def profile(stats_of_crawlers: list[dict]) -> dict[str, dict[str, float]]:
    """Milliseconds per item of each stage, over all crawlers' stats."""
    seconds: dict[str, float] = {}
    items: dict[str, int] = {}
    for stats in stats_of_crawlers:
        for key, value in stats.items():
            if key.startswith(TIME_PREFIX):
                stage = key.removeprefix(TIME_PREFIX)
                seconds[stage] = seconds.get(stage, 0.0) + value
            elif key.startswith(ITEMS_PREFIX):
                stage = key.removeprefix(ITEMS_PREFIX)
                items[stage] = items.get(stage, 0) + value
    return {
        stage: {
            "items": items.get(stage, 0),
            "ms_per_item": round(1000 * total / max(items.get(stage, 0), 1), 3),
        }
        for stage, total in seconds.items()
    }
