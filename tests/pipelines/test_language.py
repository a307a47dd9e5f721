"""The language stage: langdetect decides when sure, declared languages when not."""

from __future__ import annotations

import pytest
from scrapy.exceptions import DropItem

from crawler.items import Article
from pipelines.language import LanguageFilterPipeline, decide_language, detect

TEXTS = {
    "en": "The laboratory hired dozens of researchers this autumn, offering pay packages that "
    "rival those of professional athletes, as the race to build ever larger models drew in "
    "investors from around the world and pushed the price of computing power even higher.",
    "fr": "Le laboratoire a recruté des dizaines de chercheurs cet automne, avec des salaires "
    "dignes de sportifs professionnels, alors que la course aux modèles toujours plus grands "
    "attire des investisseurs du monde entier et fait grimper le prix de la puissance de calcul.",
    "de": "Das Labor hat in diesem Herbst Dutzende Forscher eingestellt und Gehälter geboten, die "
    "mit denen von Profisportlern mithalten können, während der Wettlauf um immer größere "
    "Modelle Investoren aus aller Welt anzieht und die Preise für Rechenleistung weiter steigen.",
    "es": "El laboratorio contrató a decenas de investigadores este otoño, con sueldos propios de "
    "deportistas profesionales, mientras la carrera por construir modelos cada vez más grandes "
    "atrae a inversores de todo el mundo y encarece todavía más la potencia de cálculo.",
    "it": "Il laboratorio ha assunto decine di ricercatori questo autunno, con stipendi degni di "
    "atleti professionisti, mentre la corsa a modelli sempre più grandi attira investitori da "
    "tutto il mondo e fa salire ancora il prezzo della potenza di calcolo.",
    "pt": "O laboratório contratou dezenas de investigadores neste outono, com salários dignos de "
    "atletas profissionais, enquanto a corrida por modelos cada vez maiores atrai investidores "
    "de todo o mundo e faz subir ainda mais o preço do poder de computação.",
}


def article(
    title: str = "",
    body: str = "",
    page_language: str | None = None,
    feed_language: str | None = None,
) -> Article:
    return Article(
        id="x",
        url="http://t/",
        canonical_url="http://t/",
        title=title,
        body=body,
        source="t",
        fetched_at="2026-11-27T00:00:00Z",
        page_language=page_language,
        feed_language=feed_language,
    )


@pytest.mark.parametrize("language", sorted(TEXTS))
def test_detects_each_language_surely(language):
    detected, probability = detect(TEXTS[language])
    assert detected == language
    assert probability > 0.99


def test_detection_is_deterministic():
    text = "OpenAI Meta Google DeepMind AI"  # short and ambiguous: langdetect's randomness shows
    assert len({detect(text) for _ in range(20)}) == 1


@pytest.mark.parametrize(
    ("page", "feed", "hint", "expected"),
    [
        ("fr-FR", "de", "es", ("fr", "page")),
        (None, "de-DE", "es", ("de", "feed")),
        (None, None, "es", ("es", "source")),
    ],
)
def test_short_texts_fall_back_to_declared_languages(page, feed, hint, expected):
    # "OpenAI, Meta" says nothing about its language: the detector is unsure.
    short = article(title="OpenAI, Meta", page_language=page, feed_language=feed)
    language, probability, origin = decide_language(short, hint, feed, threshold=0.99)
    assert probability < 0.99
    assert (language, origin) == expected


def test_a_sure_detector_overrides_a_wrong_declaration():
    text = article(title="La course à l'IA", body=TEXTS["fr"], page_language="en")
    assert decide_language(text, "de", "de", threshold=0.8)[::2] == ("fr", "detector")


def test_pipeline_keeps_allowed_languages_and_records_how():
    stage = LanguageFilterPipeline(["en", "fr", "de", "es", "it"], threshold=0.8)
    kept = stage.process_item(article(title="Course aux modèles", body=TEXTS["fr"]))
    assert (kept.language, kept.language_source) == ("fr", "detector")
    assert kept.language_probability > 0.99


def test_pipeline_drops_other_languages_with_the_language_in_the_reason():
    stage = LanguageFilterPipeline(["en", "fr", "de", "es", "it"], threshold=0.8)
    with pytest.raises(DropItem, match=r"^language:pt$"):
        stage.process_item(article(title="Corrida", body=TEXTS["pt"]))


def test_pipeline_drops_text_without_any_language():
    stage = LanguageFilterPipeline(["en"], threshold=0.8)
    with pytest.raises(DropItem, match=r"^language:unknown$"):
        stage.process_item(article(title="1234 5678", body="+++ 42 ---"))


def _langdetect_itself(text: str) -> tuple[str | None, float]:
    """What langdetect's own Detector computes, with the stage's number of trials."""
    from langdetect import detector_factory
    from langdetect.lang_detect_exception import LangDetectException

    from pipelines.language import TRIALS, base_language

    try:
        detector_factory.init_factory()
        detector = detector_factory._factory.create()
        detector.n_trial = TRIALS
        detector.append(text)
        best = detector.get_probabilities()[0]
    except (LangDetectException, IndexError):
        return None, 0.0
    return base_language(best.lang), float(best.prob)


def test_the_faster_detection_gives_exactly_langdetects_numbers():
    from benchmarks.corpus import generate

    texts = [t for text in TEXTS.values() for t in (text, text[:30], text.upper())]
    texts += [(d.title + " " + d.body)[:600] for d in generate(300, seed=5)]
    texts += ["", "1234", "OK", "IBM NASA NATO", "Ça va? Très bien!", "l'IA d'OpenAI", "ș ț ş"]
    assert [detect(t) for t in texts] == [_langdetect_itself(t) for t in texts]
