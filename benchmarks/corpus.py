"""A generated multilingual news corpus for benchmarks, built from the demo site's prose.

Each document is a headline and 400 to 1,200 words of paragraphs drawn (shuffled, with
repetition) from the demo articles of one language, about a third of them from AI-race
stories, so language detection and topic rules see realistic text. A fifth of the words
are then swapped for other words of the same language, so that documents differ as
real articles do and near-duplicate detection is not flooded with false candidates.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass

import lxml.html

from newswatch.demo import SITE

AI_MARKERS = ("superintelligen", "superinteligen", "OpenAI", "Nvidia", "Anthropic", "KI-", "IA ")


@dataclass
class Document:
    title: str
    body: str
    language: str
    on_topic: bool


def _pools() -> dict[tuple[str, bool], list[tuple[str, list[str]]]]:
    pools: dict[tuple[str, bool], list[tuple[str, list[str]]]] = defaultdict(list)
    for path in sorted(SITE.rglob("*.html")):
        tree = lxml.html.parse(str(path)).getroot()
        paragraphs = [p.text_content().strip() for p in tree.xpath('//div[@class="story-body"]/p')]
        if not paragraphs or "/amp/" in str(path) or "/private/" in str(path):
            continue
        language = (tree.get("lang") or "")[:2]
        title = tree.xpath("//h1")[0].text_content().strip()
        text = title + " " + " ".join(paragraphs)
        pools[(language, any(m in text for m in AI_MARKERS))].append((title, paragraphs))
    return pools


MUTATION = 0.2


def _vocabulary(pools: dict) -> dict[tuple[str, bool], list[str]]:
    """The words of each pool: swaps stay within the language and the topic."""
    return {
        key: sorted({w for _, ps in articles for p in ps for w in p.split() if w.isalpha()})
        for key, articles in pools.items()
    }


def _mutate(paragraph: str, vocabulary: list[str], rng: random.Random) -> str:
    return " ".join(
        rng.choice(vocabulary) if rng.random() < MUTATION else word for word in paragraph.split()
    )


def generate(count: int, seed: int = 7) -> list[Document]:
    """``count`` documents in en, fr, de, es and it; about a third on the AI race."""
    rng = random.Random(seed)
    pools = _pools()
    vocabulary = _vocabulary(pools)
    languages = ["en", "fr", "de", "es", "it"]
    documents = []
    for i in range(count):
        language = languages[i % len(languages)]
        on_topic = rng.random() < 1 / 3
        title, _ = rng.choice(pools[(language, on_topic)])
        target = rng.randint(400, 1200)
        paragraphs, words = [], 0
        while words < target:
            _, source = rng.choice(pools[(language, on_topic)])
            paragraph = _mutate(rng.choice(source), vocabulary[(language, on_topic)], rng)
            paragraphs.append(paragraph)
            words += len(paragraph.split())
        documents.append(Document(f"{title} ({i})", "\n".join(paragraphs), language, on_topic))
    return documents
