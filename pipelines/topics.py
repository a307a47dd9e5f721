"""Topic stage: keep articles that match at least one topic rule."""

from __future__ import annotations

from typing import Any

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem

from crawler.items import Article
from pipelines.prepared import done
from search.matcher import TopicMatcher


def tag_topics(matcher: TopicMatcher, item: Article) -> None:
    """Set the article's matched topics, the terms that matched and its best score."""
    body = item.body
    if item.description and item.description not in body:
        body = item.description + "\n" + body
    matches = [m for m in matcher.match(item.title, body, item.language) if m.matched]
    item.topics = [m.topic for m in matches]
    item.topic_matches = {m.topic: m.terms for m in matches}
    item.topic_score = max((m.score for m in matches), default=0.0)


class TopicFilterPipeline:
    """Tags articles with their matched topics; drops the rest as ``no-topic``.

    With ``keep_unmatched`` (or no topics configured) unmatched articles are kept untagged.
    A worker process may have tagged the article already (the same rules): then the
    stage only decides.
    """

    stage = "topics"

    def __init__(self, topics: list[Any], keep_unmatched: bool) -> None:
        self.matcher = TopicMatcher(topics)
        self.keep_unmatched = keep_unmatched or not topics

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> TopicFilterPipeline:
        filters = crawler.settings.get("NEWSWATCH_FILTERS")
        return cls(
            crawler.settings.get("NEWSWATCH_TOPICS") or [],
            bool(getattr(filters, "keep_unmatched", False)),
        )

    def process_item(self, item: Article) -> Article:
        if not done(item, self.stage):
            tag_topics(self.matcher, item)
        if not item.topics and not self.keep_unmatched:
            raise DropItem("no-topic")
        return item
