"""`newswatch topics test`: which terms of which topics match a text, a file, stdin."""

from __future__ import annotations

import subprocess
import sys

from newswatch.demo import SITE


def topics_test(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "newswatch", "topics", "test", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "NEWSWATCH_CONFIG": ""},
    )


def test_an_html_page_is_extracted_then_matched():
    page = SITE / "techbote/digital/ki-wettlauf-frankfurt-rechenzentren-stromnetz.html"
    result = topics_test(str(page), "--lang", "de")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "title: KI-Wettlauf: Frankfurt wird zum größten Rechenzentrumsstandort Europas",
        "",
        "ai-race: MATCH, score 15",
        "  terms: KI ×6, KI-Wettlauf ×5, Rechenzentren ×3, Sprachmodelle ×1",
        "  context: KI ×6",
    ]


def test_a_trap_says_why_it_does_not_match():
    page = SITE / "daily-circuit/culture/claude-hartley-gemini-exhibition.html"
    result = topics_test(str(page))
    assert result.returncode == 0, result.stderr
    assert "ai-race: no match (no term of 'all' group 1), score 0" in result.stdout


def test_plain_text_from_stdin_first_line_is_the_title():
    text = "Meta poaches OpenAI researchers\nThe lab hired researchers from OpenAI."
    result = topics_test("-", stdin=text)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "title: Meta poaches OpenAI researchers"
    # OpenAI: once in the title (counting double) and once in the body; Meta counts
    # double in the title, and only because OpenAI's three mentions are AI context.
    assert lines[2] == "ai-race: MATCH, score 5"
    assert lines[3] == "  terms: OpenAI ×3, Meta ×2"


def test_a_missing_file_is_one_line():
    result = topics_test("/nonexistent/article.html")
    assert result.returncode == 2
    assert result.stderr.startswith("newswatch: cannot read /nonexistent/article.html:")
    assert len(result.stderr.strip().splitlines()) == 1
