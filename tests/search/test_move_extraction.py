"""search.moves: who moved from where to where, and what is no move."""

from __future__ import annotations

import pytest

from search.moves import extract


def triples(text: str) -> list[tuple]:
    return [(m.person, m.origin, m.destination) for m in extract("", text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Meta hired Jack Rae, a principal scientist at DeepMind.",
            [("Jack Rae", "Google DeepMind", "Meta")],
        ),
        (
            "Marcus Bell leaves Google DeepMind for xAI.",
            [("Marcus Bell", "Google DeepMind", "xAI")],
        ),
        ("Julien Morel quitte Meta pour Anthropic.", [("Julien Morel", "Meta", "Anthropic")]),
        (
            "Jonas Weber wechselt von OpenAI zu Aleph Alpha.",
            [("Jonas Weber", "OpenAI", "Aleph Alpha")],
        ),
        ("Javier Soto deja Microsoft por xAI.", [("Javier Soto", "Microsoft", "xAI")]),
        (
            "Marco Ferri lascia Google DeepMind per Mistral AI.",
            [("Marco Ferri", "Google DeepMind", "Mistral AI")],
        ),
        ("Rumours say Meta may poach John Roe from OpenAI.", []),
        ("John Roe declined to join Meta.", []),
        ("Former OpenAI researcher Lisa Park said the benchmark was flawed.", []),
        ("Striker Luca Brenner joins FC Tesla from Amazon United in a record transfer.", []),
        ("Microsoft dementiert, dass Max Hahn zu OpenAI wechselt.", []),
    ],
)
def test_moves_and_traps(text, expected):
    assert triples(text) == expected


def test_a_background_move_keeps_its_year_and_the_sentence_as_evidence():
    (move,) = extract("", "Intro.\nTom Keller, who joined Anthropic from OpenAI in 2021, spoke.")
    assert (move.person, move.origin, move.destination, move.date) == (
        "Tom Keller",
        "OpenAI",
        "Anthropic",
        "2021",
    )
    assert move.evidence == "Tom Keller, who joined Anthropic from OpenAI in 2021, spoke."


def test_a_huge_text_of_capitals_and_triggers_is_read_in_one_pass():
    text = "Meta hires " + "Ab Cd, " * 50_000 + "joins " * 50_000
    moves = extract("", text)
    assert len(moves) == 1  # one person name repeated: one move, no blow-up
