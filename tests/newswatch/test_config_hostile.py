"""Malformed configs the first suite (test_config.py) does not cover: tables and arrays in
the wrong place, TOML types where others are expected, lengths, bounds, saved searches.

Each message is one line naming the file, the key and what was expected, and shows the
value as the file wrote it (``true``, ``2026-01-01``, "a table"), not as Python does.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from newswatch.config import ConfigError, parse_config

SOURCE = '[[sources]]\nname = "a"\nkind = "feed"\nurls = ["https://example.com/feed"]\n'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("crawler = 5\n", "crawler: expected a table (got 5)", id="value-for-table"),
        pytest.param(
            "[[crawler]]\ndownload_delay = 1\n",
            "crawler: expected a table (got an array)",
            id="array-of-tables-for-table",
        ),
        pytest.param(
            "[sources]\nname = 'a'\n",
            "sources: expected a valid list (got a table)",
            id="table-for-array-of-tables",
        ),
        pytest.param(
            'sources = ["a"]\n',
            "sources[0]: expected a table (got 'a')",
            id="string-for-table-in-array",
        ),
        pytest.param(
            SOURCE + "max_pages = 1.5\n",
            "sources[0].max_pages: expected a valid integer (got 1.5)",
            id="float-for-int",
        ),
        pytest.param(
            SOURCE + "max_pages = inf\n",
            "sources[0].max_pages: expected a valid integer (got inf)",
            id="inf-for-int",
        ),
        pytest.param(
            SOURCE + "max_depth = true\n",
            "sources[0].max_depth: expected a valid integer (got true)",
            id="bool-for-int",
        ),
        pytest.param(
            SOURCE.replace('"a"', "5"),
            "sources[0].name: expected a valid string (got 5)",
            id="int-for-string",
        ),
        pytest.param(
            SOURCE + "every = 30\n",
            "sources[0].every: expected a valid string (got 30)",
            id="int-for-duration",
        ),
        pytest.param(
            "[store]\npath = 2026-01-01\n",
            "store.path: expected a valid string (got 2026-01-01)",
            id="date-for-string",
        ),
        pytest.param(
            SOURCE + "since = 2026-11-01T10:00:00Z\n",
            "sources[0].since: expected a valid date (got 2026-11-01T10:00:00+00:00)",
            id="datetime-for-date",
        ),
        pytest.param(
            SOURCE + "since = 2026-13-01\n",
            "not valid TOML: Expected newline or end of document after a statement"
            " (at line 5, column 13)",
            id="impossible-date",
        ),
        pytest.param(
            "[crawler]\nuser_agent = []\n",
            "crawler.user_agent: expected a valid string (got an empty array)",
            id="array-for-string",
        ),
        pytest.param(
            SOURCE + 'allow = "x"\n',
            "sources[0].allow: expected a valid list (got 'x')",
            id="string-for-array",
        ),
        pytest.param(
            SOURCE + 'enabled = "no"\n',
            "sources[0].enabled: expected a valid boolean (got 'no')",
            id="string-for-bool",
        ),
        pytest.param(
            "[crawler]\ndownload_delay = 1\ndownload_delay = 2\n",
            "not valid TOML: Cannot overwrite a value (at line 3, column 19)",
            id="duplicate-key",
        ),
        pytest.param(
            SOURCE.replace('["https://example.com/feed"]', "[]"),
            "sources[0].urls: expected at least 1 item (got an empty array)",
            id="empty-array",
        ),
        pytest.param(
            SOURCE.replace('"a"', '"' + "a" * 65 + '"'),
            f"sources[0].name: String should have at most 64 characters (got '{'a' * 57}...')",
            id="string-too-long",
        ),
        pytest.param(
            '[web]\ntoken = "abc"\n',
            "web.token: String should have at least 8 characters (got 'abc')",
            id="string-too-short",
        ),
        pytest.param(
            '[[topics]]\nname = "t"\nany = [""]\n',
            "topics[0].any[0].term: String should have at least 1 character (got '')",
            id="empty-term",
        ),
        pytest.param(
            '[[topics]]\nname = "t"\nany = [5]\n',
            "topics[0].any[0]: expected a table (got 5)",
            id="number-for-term",
        ),
        pytest.param(
            '[[topics]]\nname = "t"\nany = [{ case_sensitive = true }]\n',
            "topics[0].any[0].term: missing required key",
            id="term-table-without-term",
        ),
        pytest.param(
            '[[topics]]\nname = "t"\nall = ["a"]\n',
            "topics[0].all[0]: expected a valid list (got 'a')",
            id="group-not-an-array",
        ),
        pytest.param(
            "[crawler]\ndownload_timeout = 0\n",
            "crawler.download_timeout: expected greater than 0 (got 0)",
            id="zero-timeout",
        ),
        pytest.param(
            "[crawler]\ndownload_delay = -1\n",
            "crawler.download_delay: expected greater than or equal to 0 (got -1)",
            id="negative-delay",
        ),
        pytest.param(
            "[crawler]\nmax_response_bytes = 10\n",
            "crawler.max_response_bytes: expected greater than or equal to 1024 (got 10)",
            id="tiny-size-cap",
        ),
        pytest.param(
            "[crawler]\nretry_times = 11\n",
            "crawler.retry_times: expected less than or equal to 10 (got 11)",
            id="too-many-retries",
        ),
        pytest.param(
            "[crawler]\nretry_backoff = -0.5\n",
            "crawler.retry_backoff: expected greater than or equal to 0 (got -0.5)",
            id="negative-backoff",
        ),
        pytest.param(
            "[store]\nbusy_timeout = 0\n",
            "store.busy_timeout: expected greater than 0 (got 0)",
            id="zero-busy-timeout",
        ),
        pytest.param(
            "[filters]\nmin_language_probability = 2.0\n",
            "filters.min_language_probability: expected less than or equal to 1 (got 2.0)",
            id="probability-above-one",
        ),
        pytest.param(
            "[store.elasticsearch]\nurl = 5\n",
            "store.elasticsearch.url: expected a URL or an array of URLs (got 5)",
            id="es-url-number",
        ),
        pytest.param(
            '[[saved_searches]]\nname = "s"\nquery = "(a b"\n',
            "saved_searches[0].query: bad query: unmatched '(' in query (got '(a b')",
            id="saved-search-bad-query",
        ),
        pytest.param(
            '[[saved_searches]]\nname = "s"\nquery = "a"\nwebhook = "ftp://x"\n',
            "saved_searches[0].webhook: expected an http:// or https:// URL (got 'ftp://x')",
            id="saved-search-bad-webhook",
        ),
        pytest.param(
            '[[saved_searches]]\nname = "s"\nquery = "a"\n'
            '[[saved_searches]]\nname = "s"\nquery = "b"\n',
            "(top level): saved_searches: duplicate name 's'",
            id="duplicate-saved-search",
        ),
    ],
)
def test_malformed_config_kinds(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "my.toml")
    assert str(caught.value) == f"my.toml: {message}"
    assert "\n" not in str(caught.value)


def test_a_malformed_config_on_the_command_line_is_one_line(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[crawler]\ndownload_timeout = 0\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "newswatch", "--config", str(config), "crawl"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == (
        f"newswatch: {config}: crawler.download_timeout: expected greater than 0 (got 0)\n"
    )
