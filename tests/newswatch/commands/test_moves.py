"""`newswatch moves test`: the talent moves one text tells, through the real CLI."""

from __future__ import annotations

import json
import subprocess
import sys

STORY_FR = (
    "Meta recrute pour sa nouvelle unité de superintelligence\n"
    "Meta a recruté Jack Rae, chercheur principal chez Google DeepMind, ainsi que "
    "Johan Schalkwyk, de Sesame AI. Le groupe a aussi débauché Alexandr Wang, fondateur "
    "de Scale AI, pour diriger sa nouvelle unité. D'autres chercheurs ont décliné ses "
    "offres, selon des rumeurs de la Silicon Valley.\n"
)


def moves_test(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "newswatch", "moves", "test", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "NEWSWATCH_CONFIG": ""},
    )


def test_the_french_story_gives_exactly_three_moves(tmp_path):
    story = tmp_path / "story.txt"
    story.write_text(STORY_FR, encoding="utf-8")
    result = moves_test("--lang", "fr", "--json", str(story))
    assert result.returncode == 0, result.stderr
    moves = json.loads(result.stdout)
    assert [(m["person"], m["from"], m["to"]) for m in moves] == [
        ("Jack Rae", "Google DeepMind", "Meta"),
        ("Johan Schalkwyk", "Sesame AI", "Meta"),
        ("Alexandr Wang", "Scale AI", "Meta"),
    ]
    assert moves[2]["evidence"] == (
        "Le groupe a aussi débauché Alexandr Wang, fondateur de Scale AI, "
        "pour diriger sa nouvelle unité."
    )


def test_stdin_and_the_table_with_unknown_origin_shown_as_a_question_mark():
    result = moves_test("-", stdin="News\nJane Doe joins Anthropic.\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "Jane Doe: ? -> Anthropic",
        "  evidence: Jane Doe joins Anthropic.",
    ]


def test_unknown_origin_is_null_in_json_and_control_characters_never_reach_the_terminal():
    result = moves_test("--json", "-", stdin="News\nJane Doe joins Anthropic.\n")
    assert json.loads(result.stdout)[0]["from"] is None
    result = moves_test("-", stdin="News\nJane Doe joins Anthropic\x1b[2J.\n")
    assert "\x1b" not in result.stdout


def test_a_rumour_and_a_declined_offer_are_no_move():
    text = "News\nOpenAI is in talks to hire Jane Doe from Anthropic. John Roe declined to join Meta.\n"
    result = moves_test("--json", "-", stdin=text)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []


def test_a_missing_file_is_a_one_line_error():
    result = moves_test("/nonexistent/story.txt")
    assert result.returncode != 0
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
