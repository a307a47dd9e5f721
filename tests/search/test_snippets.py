"""Snippets and highlights: the passage chosen, its word-boundary cuts and exact spans."""

from __future__ import annotations

import pytest

from search.analysis import fold, stem
from search.query import analyze_query
from search.snippets import Snippet, highlight, make_snippet, to_html, to_terminal

CHIPS = (
    "Chips were on the menu: fish and chips, chips with salt, chips with vinegar, "
    "and more chips for the children who wanted chips."
)
FOG = (
    "The harbour was quiet and the boats stayed in port while the fog lifted slowly over "
    "the hills behind the town, where the market stalls were packed away before noon and "
    "the church bells rang for a wedding that nobody in the village had expected to see "
    "this year."
)
SHORT_FOG = (
    "The harbour was quiet and the boats stayed in port while the fog lifted slowly over "
    "the hills behind the town."
)
NEWS = (
    "Meanwhile Nvidia said TSMC would make its next chips in Arizona, and Nvidia expects "
    "TSMC to double output."
)
REST = (
    "The rest of the afternoon passed without news, and the shops closed early because of "
    "the holiday weekend in the region."
)


def marked(snippet: Snippet) -> list[str]:
    return [snippet.text[start:end] for start, end in snippet.spans]


def test_the_passage_with_the_most_distinct_matches_wins() -> None:
    # Six hits of one word early on; three distinct words later.
    text = " ".join([CHIPS, FOG, NEWS, REST])
    snippet = make_snippet(text, "en", analyze_query("Nvidia chips TSMC", ["en"]))
    assert snippet.text == (
        "…expected to see this year. Meanwhile Nvidia said TSMC would make its next chips in"
        " Arizona, and Nvidia expects TSMC to double output. The rest of the afternoon passed"
        " without news, and the shops closed early because of the holiday weekend…"
    )
    assert snippet.spans == ((38, 44), (50, 54), (75, 80), (97, 103), (112, 116))
    assert marked(snippet) == ["Nvidia", "TSMC", "chips", "Nvidia", "TSMC"]


def test_the_chosen_passage_shows_the_distinct_matches_it_was_chosen_for() -> None:
    # The three distinct words fit in one 240-character passage (from the last "chips" of
    # the first sentence to the first "TSMC", 144 characters); the snippet must show all
    # three, since that is what the passage was chosen for.
    text = " ".join([CHIPS, SHORT_FOG, NEWS, REST])
    snippet = make_snippet(text, "en", analyze_query("Nvidia chips TSMC", ["en"]))
    assert len(snippet.text) <= 242
    assert {stem(fold(word), "en") for word in marked(snippet)} == {"nvidia", "tsmc", "chip"}


def test_distinct_words_near_the_end_of_the_window_are_shown() -> None:
    filler = "the quick brown fox jumps over the lazy dog again and "
    text = filler * 2 + "Nvidia " + (filler * 4)[:210] + " chips " + filler * 3
    assert text.index("chips") - text.index("Nvidia") + len("chips") <= 240
    snippet = make_snippet(text, "en", analyze_query("Nvidia chips", ["en"]))
    assert sorted(marked(snippet)) == ["Nvidia", "chips"]


def test_cuts_fall_on_word_boundaries_with_ellipses() -> None:
    text = " ".join([CHIPS, FOG, NEWS, REST])
    snippet = make_snippet(text, "en", analyze_query("Nvidia", ["en"]), width=120)
    assert snippet.text.startswith("…") and snippet.text.endswith("…")
    inner = snippet.text[1:-1]
    start = text.index(inner)
    # The passage starts after a space and ends before one: no word is cut in half.
    assert text[start - 1] == " "
    assert text[start + len(inner)] == " "
    assert len(inner) <= 120
    assert marked(snippet) == ["Nvidia", "Nvidia"]


@pytest.mark.parametrize(
    ("text", "query", "language", "expected_text", "expected_marks"),
    [
        ("Short text about chips.", "chips", "en", "Short text about chips.", ["chips"]),
        # Newlines and runs of spaces collapse: the snippet is one line.
        ("Line one\n\n  about   chips.", "chips", "en", "Line one about chips.", ["chips"]),
        # Stemmed matches in the article's language, accents kept in the text.
        (
            "Les nouveaux modèles de langage et le modèle Mistral.",
            "modèle",
            "fr",
            "Les nouveaux modèles de langage et le modèle Mistral.",
            ["modèles", "modèle"],
        ),
        # Prefixes.
        (
            "Superintelligence, superintelligent: the super race.",
            "superintell*",
            "en",
            "Superintelligence, superintelligent: the super race.",
            ["Superintelligence", "superintelligent"],
        ),
        # Elisions: the span covers the bare word only.
        ("La course à l’IA s'accélère.", "IA", "fr", "La course à l’IA s'accélère.", ["IA"]),
        ("OpenAI’s model.", "OpenAI", "en", "OpenAI’s model.", ["OpenAI"]),
        # Phrase words are marked; excluded words are not.
        (
            "New data centres will need chips and data centre power.",
            '"data centres" -chips',
            "en",
            "New data centres will need chips and data centre power.",
            ["data", "centres", "data", "centre"],
        ),
        # A phrase marks its words only where they stand together, in order.
        (
            "Data about centres, then new data centres and a data centre for Nvidia.",
            '"data centres" Nvidia',
            "en",
            "Data about centres, then new data centres and a data centre for Nvidia.",
            ["data", "centres", "data", "centre", "Nvidia"],
        ),
        ("centres data", '"data centres"', "en", "centres data", []),
        ("nothing here", "chips", "en", "nothing here", []),
    ],
)
def test_spans_point_exactly_at_matched_words(
    text: str, query: str, language: str, expected_text: str, expected_marks: list[str]
) -> None:
    snippet = make_snippet(text, language, analyze_query(query, [language]))
    assert snippet.text == expected_text
    assert marked(snippet) == expected_marks


def test_no_query_gives_the_start_of_the_text() -> None:
    text = " ".join([CHIPS, FOG])
    snippet = make_snippet(text, "en", None, width=60)
    assert snippet == Snippet("Chips were on the menu: fish and chips, chips with salt,…", ())
    assert make_snippet("", "en", None) == Snippet("", ())


def test_as_dict() -> None:
    assert Snippet("a chips", ((2, 7),)).as_dict() == {"text": "a chips", "highlights": [[2, 7]]}


# --- titles ------------------------------------------------------------------------------


def test_highlight_marks_every_matching_word_of_a_title() -> None:
    query = analyze_query("Nvidia chips IA", ["en", "fr"])
    title = "Nvidia’s new chips: l’IA <race> & chip shortages"
    snippet = highlight(title, "en", query)
    assert snippet.text == title  # the title is not cut or collapsed
    assert snippet.spans == ((0, 6), (13, 18), (22, 24), (34, 38))
    assert marked(snippet) == ["Nvidia", "chips", "IA", "chip"]


# --- output media ------------------------------------------------------------------------


def test_to_html_escapes_text_before_marking() -> None:
    text = '<script>alert("x")</script> & "chips" & more'
    start = text.index("chips")
    snippet = Snippet(text, ((start, start + 5),))
    assert to_html(snippet) == (
        "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &quot;<mark>chips</mark>"
        "&quot; &amp; more"
    )


def test_to_html_escapes_inside_marks_and_uses_the_given_tag() -> None:
    snippet = Snippet("a <b>&'c d", ((2, 8),))
    assert to_html(snippet, mark="em") == "a <em>&lt;b&gt;&amp;&#x27;c</em> d"


def test_to_html_from_a_real_snippet() -> None:
    query = analyze_query("chips", ["en"])
    snippet = make_snippet('Fish & "chips" <b>today</b>', "en", query)
    assert to_html(snippet) == "Fish &amp; &quot;<mark>chips</mark>&quot; &lt;b&gt;today&lt;/b&gt;"


@pytest.mark.parametrize(
    ("color", "expected"),
    [
        (True, "a[31mred[0m \x1b[1mchips\x1b[0m okbell"),
        (False, "a[31mred[0m **chips** okbell"),
    ],
)
def test_to_terminal_drops_control_characters_from_scraped_text(color: bool, expected: str) -> None:
    text = "a\x1b[31mred\x1b[0m chips\x07 ok\x00be\x08ll"
    start = text.index("chips")
    snippet = Snippet(text, ((start, start + 5),))
    out = to_terminal(snippet, color)
    assert out == expected
    # The only escape sequences left are the ones to_terminal wrote itself.
    assert out.count("\x1b") == (2 if color else 0)


def test_to_terminal_cleans_inside_marked_spans_too() -> None:
    snippet = Snippet("x ch\x1bips y", ((2, 8),))
    assert to_terminal(snippet, False) == "x **chips** y"
