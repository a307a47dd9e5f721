"""Language stage: detect each article's language and keep the allowed ones."""

from __future__ import annotations

import numpy as np
from langdetect import DetectorFactory, detector_factory
from langdetect.detector import Detector
from langdetect.lang_detect_exception import ErrorCode, LangDetectException
from langdetect.utils.ngram import NGram
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem

from crawler.items import Article
from search.analysis import base_language

# How much text the detector reads (title, description, the start of the body), and
# how many random trials it averages (langdetect's default is 7). benchmarks/filters.py
# measures both: on 5,000 articles, 600 characters and 3 trials keep every language
# right at less than half the cost of the defaults.
SAMPLE_CHARS = 600
TRIALS = 3

DetectorFactory.seed = 0  # langdetect is random by default: make it deterministic


def detect(text: str) -> tuple[str | None, float]:
    """The most probable language of ``text`` and its probability (None, 0.0 if unknown)."""
    try:
        # What langdetect.detect_langs does, with fewer trials, computed by _detect_block.
        detector_factory.init_factory()
        detector = detector_factory._factory.create()
        detector.n_trial = TRIALS
        detector.append(text)
        _detect_block(detector)
        best = detector.get_probabilities()[0]
    except (LangDetectException, IndexError):
        return None, 0.0
    return base_language(best.lang), float(best.prob)


# langdetect's own algorithm, the same numbers, at less than half the cost: every character
# is normalised once per process instead of once per occurrence, and the 55 languages'
# probabilities are updated as one array (the same floating-point operations, in the same
# order, as langdetect's loop; sums stay Python's left-to-right sums). tests/pipelines/
# test_language.py checks that both give identical results.
_NORMALIZED: dict[str, str] = {}
_WORD_ARRAYS: dict[str, np.ndarray] = {}


def _normalize(ch: str) -> str:
    normalized = _NORMALIZED.get(ch)
    if normalized is None:
        normalized = _NORMALIZED[ch] = NGram.normalize(ch)
    return normalized


def _extract_ngrams(text: str, known: dict) -> list[str]:
    """``Detector._extract_ngrams`` with ``NGram.add_char`` inlined."""
    result: list[str] = []
    grams, capital = " ", False
    for ch in text:
        ch = _normalize(ch)
        last = grams[-1]
        if last == " ":
            grams, capital = " ", False
            if ch == " ":
                continue
        elif len(grams) >= NGram.N_GRAM:
            grams = grams[1:]
        grams += ch
        if ch.isupper():
            if last.isupper():
                capital = True
        else:
            capital = False
        if capital:
            continue
        for n in (1, 2, 3):
            if len(grams) < n:
                break
            word = grams[-n:]
            if word != " " and word in known:
                result.append(word)
    return result


def _word_array(detector: Detector, word: str) -> np.ndarray:
    array = _WORD_ARRAYS.get(word)
    if array is None:
        array = _WORD_ARRAYS[word] = np.array(detector.word_lang_prob_map[word], dtype=float)
    return array


def _detect_block(detector: Detector) -> None:
    """``Detector._detect_block`` (no prior map), setting ``detector.langprob``."""
    detector.cleaning_text()
    ngrams = _extract_ngrams(detector.text, detector.word_lang_prob_map)
    if not ngrams:
        raise LangDetectException(ErrorCode.CantDetectError, "No features in text.")
    count = len(detector.langlist)
    langprob = [0.0] * count
    rng = detector.random
    rng.seed(detector.seed)
    for _ in range(detector.n_trial):
        prob = np.array([1.0 / count] * count)
        alpha = detector.alpha + rng.gauss(0.0, 1.0) * detector.ALPHA_WIDTH
        weight = alpha / detector.BASE_FREQ
        i = 0
        while True:
            prob *= weight + _word_array(detector, rng.choice(ngrams))
            if i % 5 == 0:
                prob /= sum(prob.tolist())
                if prob.max() > detector.CONV_THRESHOLD or i >= detector.ITERATION_LIMIT:
                    break
            i += 1
        for j, p in enumerate(prob.tolist()):
            langprob[j] += p / detector.n_trial
    detector.langprob = langprob


def decide_language(
    article: Article, source_hint: str | None, feed_language: str | None, threshold: float
) -> tuple[str | None, float, str]:
    """``(language, detector probability, what decided)`` for an article.

    The detector decides when it is sure enough; otherwise the page's ``lang``,
    then the feed's language, then the source's hint, then the detector's guess.
    """
    sample = " ".join(filter(None, [article.title, article.description, article.body]))
    language, probability = detect(sample[:SAMPLE_CHARS])
    if language and probability >= threshold:
        return language, probability, "detector"
    for declared, origin in (
        (article.page_language, "page"),
        (feed_language, "feed"),
        (source_hint, "source"),
    ):
        if base_language(declared):
            return base_language(declared), probability, origin
    return language, probability, "detector"


class LanguageFilterPipeline:
    """Sets ``language`` and drops articles outside the allowed languages (``language:xx``)."""

    stage = "language"

    def __init__(
        self, allowed: list[str], threshold: float, crawler: Crawler | None = None
    ) -> None:
        self.allowed = set(allowed)
        self.threshold = threshold
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> LanguageFilterPipeline:
        filters = crawler.settings.get("NEWSWATCH_FILTERS")
        languages = getattr(filters, "languages", None) or crawler.settings.getlist(
            "NEWSWATCH_LANGUAGES", ["en", "fr", "de", "es", "it"]
        )
        threshold = getattr(filters, "min_language_probability", 0.8)
        return cls(languages, threshold, crawler)

    def process_item(self, item: Article) -> Article:
        spider = self.crawler.spider if self.crawler is not None else None
        hint = getattr(getattr(spider, "source", None), "language", None)
        if item.language_source is None:  # not yet decided by a worker process
            language, probability, origin = decide_language(
                item, hint, item.feed_language, self.threshold
            )
            item.language = language
            item.language_probability = round(probability, 4)
            item.language_source = origin
        language = item.language
        if not language:
            raise DropItem("language:unknown")
        if self.allowed and language not in self.allowed:
            raise DropItem(f"language:{language}")
        return item
