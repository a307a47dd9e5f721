"""The text analysis chain: tokenise, strip elisions and possessives, fold, stem."""

from __future__ import annotations

import pytest

from search.analysis import (
    analyze,
    base_language,
    fold,
    index_terms,
    stem,
    term_variants,
    tokenize,
)


def words_with_offsets(text: str) -> list[tuple[str, int, int]]:
    return [(t.word, t.start, t.end) for t in tokenize(text)]


# --- tokenisation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", []),
        ("  \n\t ", []),
        ("Nvidia sells chips.", [("Nvidia", 0, 6), ("sells", 7, 12), ("chips", 13, 18)]),
        # Digits are word characters; underscores and hyphens are not.
        ("GPT-5 in 2026", [("GPT", 0, 3), ("5", 4, 5), ("in", 6, 8), ("2026", 9, 13)]),
        ("snake_case_name", [("snake", 0, 5), ("case", 6, 10), ("name", 11, 15)]),
        ("3,5 €42", [("3", 0, 1), ("5", 2, 3), ("42", 5, 7)]),
        # Unicode letters of any script are words; accents are kept in the token.
        (
            "Straße Ünïcödé 東京 Москва",
            [("Straße", 0, 6), ("Ünïcödé", 7, 14), ("東京", 15, 17), ("Москва", 18, 24)],
        ),
        ("Générale,ÉLÈVE!", [("Générale", 0, 8), ("ÉLÈVE", 9, 14)]),
    ],
)
def test_tokenize_words_and_offsets(text: str, expected: list[tuple[str, int, int]]) -> None:
    assert words_with_offsets(text) == expected


@pytest.mark.parametrize(
    ("text", "word", "start", "end"),
    [
        # French elisions, both apostrophes.
        ("l'IA", "IA", 2, 4),
        ("l’IA", "IA", 2, 4),
        ("d'OpenAI", "OpenAI", 2, 8),
        ("d’OpenAI", "OpenAI", 2, 8),
        ("qu'il", "il", 3, 5),
        ("lorsqu’elle", "elle", 7, 11),
        # Italian elisions.
        ("dell'IA", "IA", 5, 7),
        ("dell’IA", "IA", 5, 7),
        ("all'IA", "IA", 4, 6),
        ("un'azienda", "azienda", 3, 10),
        # English possessives, both apostrophes, any case.
        ("OpenAI's", "OpenAI", 0, 6),
        ("OpenAI’s", "OpenAI", 0, 6),
        ("OPENAI'S", "OPENAI", 0, 6),
        # Elision and possessive together.
        ("l'OpenAI's", "OpenAI", 2, 8),
        # Not an elision: the word stays whole (apostrophe normalised to ').
        ("aujourd'hui", "aujourd'hui", 0, 11),
        ("aujourd’hui", "aujourd'hui", 0, 11),
        ("rock'n'roll", "rock'n'roll", 0, 11),
    ],
)
def test_elisions_and_possessives(text: str, word: str, start: int, end: int) -> None:
    tokens = tokenize(text)
    assert len(tokens) == 1
    assert (tokens[0].word, tokens[0].start, tokens[0].end) == (word, start, end)


def test_offsets_point_at_the_bare_word_in_running_text() -> None:
    text = "Selon l’IA d'OpenAI, OpenAI’s rivals et dell'IA aujourd’hui."
    tokens = tokenize(text)
    assert [t.word for t in tokens] == [
        "Selon",
        "IA",
        "OpenAI",
        "OpenAI",
        "rivals",
        "et",
        "IA",
        "aujourd'hui",
    ]
    # Every offset slices the bare word out of the raw text (apostrophes kept as written).
    assert [text[t.start : t.end] for t in tokens] == [
        "Selon",
        "IA",
        "OpenAI",
        "OpenAI",
        "rivals",
        "et",
        "IA",
        "aujourd’hui",
    ]


# --- folding -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "folded"),
    [
        ("Générale", "generale"),
        ("Straße", "strasse"),
        ("ÉLÈVE", "eleve"),
        ("élève", "eleve"),
        ("Ünïcödé", "unicode"),
        ("ﬁnance", "finance"),  # compatibility ligature
        ("İstanbul", "istanbul"),
        ("aujourd'hui", "aujourdhui"),  # the apostrophe is not part of the term
        ("OpenAI", "openai"),
        ("2026", "2026"),
    ],
)
def test_fold(word: str, folded: str) -> None:
    assert fold(word) == folded


# --- stemming ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "inflected", "base", "expected_stem"),
    [
        ("fr", "modèles", "modèle", "model"),
        ("fr", "générales", "Générale", "general"),
        ("fr", "puces", "puce", "puc"),
        ("en", "Chips", "chip", "chip"),
        ("en", "models", "model", "model"),
        ("en", "racing", "race", "race"),
        ("de", "Sprachmodelle", "Sprachmodell", "sprachmodell"),
        ("de", "künstlichen", "künstliche", "kunstlich"),
        ("es", "modelos", "modelo", "model"),
        ("es", "empresas", "empresa", "empres"),
        ("it", "modelli", "modello", "modell"),
        ("it", "aziende", "azienda", "azi"),
    ],
)
def test_stemming_joins_inflections(
    language: str, inflected: str, base: str, expected_stem: str
) -> None:
    assert stem(fold(inflected), language) == expected_stem
    assert stem(fold(base), language) == expected_stem


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "chip"),
        ("EN", "chip"),
        ("en-GB", "chip"),
        ("en_US", "chip"),
        ("xx", "chips"),  # no stemmer: folded but not stemmed
        ("", "chips"),
        (None, "chips"),
    ],
)
def test_stem_language_codes(language: str | None, expected: str) -> None:
    assert stem("chips", language) == expected


@pytest.mark.parametrize(
    ("language", "expected"),
    [("fr-FR", "fr"), ("pt_BR", "pt"), ("DE", "de"), ("", ""), (None, "")],
)
def test_base_language(language: str | None, expected: str) -> None:
    assert base_language(language) == expected


# --- query-side variants -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "languages", "expected"),
    [
        ("modèles", ["fr"], ["model"]),
        ("modèles", ["fr", "it"], ["model", "modeles"]),
        ("modèles", ["en", "fr", "de", "es", "it"], ["model", "modeles"]),
        ("Modelle", ["de", "en"], ["modell"]),
        ("chips", ["en", "es", "it"], ["chip", "chips"]),
        ("races", ["en", "fr"], ["race", "rac"]),
        ("Générale", [], ["generale"]),  # no language: folded only
    ],
)
def test_term_variants(word: str, languages: list[str], expected: list[str]) -> None:
    assert term_variants(word, languages) == expected


# --- index terms -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "text", "expected"),
    [
        ("en", "OpenAI's new models are racing ahead.", "openai new model are race ahead"),
        ("fr", "L'IA générale et les modèles d’OpenAI.", "ia general et le model open"),
        (
            "de",
            "Die großen Sprachmodelle brauchen Rechenzentren.",
            "die gross sprachmodell brauch rechenzentr",
        ),
        (
            "es",
            "Las empresas compiten por los mejores modelos.",
            "las empres compit por los mejor model",
        ),
        ("it", "La corsa all'IA tra le aziende italiane.", "la cors ia tra le azi italian"),
        (None, "Les modèles d’OpenAI", "les modeles openai"),
        ("en", "", ""),
    ],
)
def test_index_terms(language: str | None, text: str, expected: str) -> None:
    assert index_terms(text, language) == expected
    assert analyze(text, language) == expected.split()
