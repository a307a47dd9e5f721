"""Normalise stage: tidy an article's fields before anything decides on it."""

from __future__ import annotations

import html

from scrapy.exceptions import DropItem

from crawler.items import Article
from pipelines.prepared import done


def _clean(text: str | None) -> str | None:
    if text is None:
        return None
    text = " ".join(html.unescape(text).split())
    return text or None


def tidy(item: Article) -> None:
    """Collapse whitespace and entities in short fields, and blank lines in the body."""
    item.title = _clean(item.title) or ""
    item.description = _clean(item.description)
    item.authors = list(dict.fromkeys(a for a in map(_clean, item.authors) if a))
    # Paragraph breaks carry meaning for snippets and near-duplicate detection:
    # keep one newline between paragraphs, collapse the rest.
    lines = (" ".join(line.split()) for line in item.body.splitlines())
    paragraphs = [line for line in lines if line]
    # Extractors often repeat the headline as the body's first line.
    if paragraphs and paragraphs[0].casefold() == item.title.casefold():
        paragraphs = paragraphs[1:]
    item.body = "\n".join(paragraphs)


class NormalizePipeline:
    """Tidies an article's fields (:func:`tidy`); drops articles without text.

    A worker process may have tidied the article already: tidying twice would
    unescape entities twice.
    """

    stage = "normalize"

    def process_item(self, item: Article) -> Article:
        if not done(item, self.stage):
            tidy(item)
        if not item.title:
            raise DropItem("no-title")
        if not item.body:
            raise DropItem("no-body-text")
        return item
