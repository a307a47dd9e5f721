"""The configuration file: the shipped default, one-line errors, and where it is read from."""

from __future__ import annotations

from pathlib import Path

import pytest

from newswatch.config import (
    Config,
    ConfigError,
    TopicConfig,
    default_config_text,
    find_config,
    load_config,
    parse_config,
)

SOURCE = '[[sources]]\nname = "a"\nkind = "feed"\nurls = ["https://example.com/feed"]\n'


# --- the shipped default -----------------------------------------------------------------


def test_the_default_config_parses() -> None:
    config = parse_config(default_config_text(), "<default config>")
    assert isinstance(config, Config)
    assert config.path == "<default config>"
    assert len(config.sources) >= 12
    assert {s.language for s in config.sources} >= {"en", "fr", "de", "es"}
    assert len({s.name for s in config.sources}) == len(config.sources)
    assert all(s.urls and all(u.startswith("https://") for u in s.urls) for s in config.sources)
    assert [t.name for t in config.topics] == ["ai-race"]
    assert config.filters.languages == ["en", "fr", "de", "es", "it"]
    assert config.store.backend == "sqlite"


def test_the_default_topic() -> None:
    config = parse_config(default_config_text(), "<default config>")
    (topic,) = config.topics
    assert isinstance(topic, TopicConfig)
    assert topic.min_mentions == 3
    assert len(topic.all) == 1
    by_term = {t.term: t for t in topic.any}
    assert by_term["Meta"].case_sensitive and by_term["Meta"].needs_context
    assert by_term["superintelligen"].prefix
    assert by_term["superintelligen"].label == "superintelligen*"
    assert by_term["superintelligen"].variants == ["super-intelligen", "super intelligen"]
    assert {"AI", "IA", "KI"} <= {t.term for t in topic.all[0] if t.case_sensitive}


# --- one-line errors naming file, key and expectation ------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "sources = [",
            "my.toml: not valid TOML: Invalid value (at end of document)",
            id="invalid-toml",
        ),
        pytest.param(
            "[x\n",
            "my.toml: not valid TOML: Expected ']' at the end of a table declaration"
            " (at line 1, column 3)",
            id="invalid-toml-table",
        ),
        pytest.param('colour = "blue"\n', "my.toml: colour: unknown key", id="unknown-top"),
        pytest.param('path = "x"\n', "my.toml: path: unknown key", id="path-is-not-a-key"),
        pytest.param(
            SOURCE + 'colour = "blue"\n',
            "my.toml: sources[0].colour: unknown key",
            id="unknown-nested",
        ),
        pytest.param(
            '[filters]\nlangs = ["en"]\n', "my.toml: filters.langs: unknown key", id="unknown-table"
        ),
        pytest.param(
            '[store.elasticsearch]\nhost = "x"\n',
            "my.toml: store.elasticsearch.host: unknown key",
            id="unknown-deep",
        ),
        pytest.param(
            '[[topics]]\nname = "t"\nany = [{ term = "x", cs = true }]\n',
            "my.toml: topics[0].any[0].cs: unknown key",
            id="unknown-term-option",
        ),
        pytest.param(
            SOURCE + 'max_depth = "deep"\n',
            "my.toml: sources[0].max_depth: expected a valid integer (got 'deep')",
            id="wrong-type-int",
        ),
        pytest.param(
            '[filters]\nkeep_unmatched = "yes"\n',
            "my.toml: filters.keep_unmatched: expected a valid boolean (got 'yes')",
            id="wrong-type-bool",
        ),
        pytest.param(
            '[filters]\nmin_language_probability = "high"\n',
            "my.toml: filters.min_language_probability: expected a valid number (got 'high')",
            id="wrong-type-float",
        ),
        pytest.param(
            'sources = "x"\n', "my.toml: sources: expected a valid list (got 'x')", id="not-a-list"
        ),
        pytest.param(
            SOURCE + 'since = "2026-01-01"\n',
            "my.toml: sources[0].since: expected a valid date (got '2026-01-01')",
            id="date-as-string",
        ),
        pytest.param(
            SOURCE + "max_depth = 50\n",
            "my.toml: sources[0].max_depth: expected less than or equal to 20 (got 50)",
            id="out-of-range",
        ),
        pytest.param(
            SOURCE.replace('"feed"', '"rss"'),
            "my.toml: sources[0].kind: expected 'feed', 'sitemap' or 'site' (got 'rss')",
            id="bad-enum",
        ),
        pytest.param(
            '[store]\nbackend = "postgres"\n',
            "my.toml: store.backend: expected 'sqlite' or 'elasticsearch' (got 'postgres')",
            id="bad-backend",
        ),
        pytest.param(
            '[[sources]]\nname = "a"\nkind = "feed"\n',
            "my.toml: sources[0].urls: missing required key",
            id="missing-urls",
        ),
        pytest.param(
            SOURCE.replace("https://example.com/feed", "ftp://example.com/feed"),
            "my.toml: sources[0].urls[0]: expected an http:// or https:// URL"
            " (got 'ftp://example.com/feed')",
            id="bad-url",
        ),
        pytest.param(
            SOURCE.replace("https://example.com/feed", "https://example.com/a feed"),
            "my.toml: sources[0].urls[0]: expected an http:// or https:// URL"
            " (got 'https://example.com/a feed')",
            id="url-with-space",
        ),
        pytest.param(
            SOURCE + 'language = "english"\n',
            "my.toml: sources[0].language: expected an ISO 639-1 language code such as 'en'"
            " (got 'english')",
            id="bad-language",
        ),
        pytest.param(
            SOURCE + 'language = "EN"\n',
            "my.toml: sources[0].language: expected an ISO 639-1 language code such as 'en'"
            " (got 'EN')",
            id="uppercase-language",
        ),
        pytest.param(
            '[filters]\nlanguages = ["en", "French"]\n',
            "my.toml: filters.languages[1]: expected an ISO 639-1 language code such as 'en'"
            " (got 'French')",
            id="bad-filter-language",
        ),
        pytest.param(
            SOURCE + 'allow = ["(unclosed"]\n',
            "my.toml: sources[0].allow: invalid regular expression '(unclosed':"
            " missing ), unterminated subpattern at position 0",
            id="bad-regex",
        ),
        pytest.param(
            SOURCE + 'deny = ["ok", "[z-a]"]\n',
            "my.toml: sources[0].deny: invalid regular expression '[z-a]':"
            " bad character range z-a at position 1",
            id="bad-regex-deny",
        ),
        pytest.param(
            SOURCE + SOURCE,
            "my.toml: (top level): sources: duplicate name 'a'",
            id="duplicate-sources",
        ),
        pytest.param(
            '[[topics]]\nname = "t"\nany = ["a"]\n[[topics]]\nname = "t"\nany = ["b"]\n',
            "my.toml: (top level): topics: duplicate name 't'",
            id="duplicate-topics",
        ),
        pytest.param(
            SOURCE + 'every = "5 minutes"\n',
            "my.toml: sources[0].every: expected a duration such as '30s', '15m', '6h' or '1d'"
            " (got '5 minutes')",
            id="bad-every",
        ),
        pytest.param(
            SOURCE.replace('"a"', '"a b"'),
            "my.toml: sources[0].name: expected a name of letters, digits, '.', '_' or '-'"
            " (got 'a b')",
            id="bad-name",
        ),
        pytest.param(
            '[[topics]]\nname = "t"\n',
            "my.toml: topics[0]: a topic needs terms in 'any' or 'all'",
            id="topic-without-terms",
        ),
        pytest.param(
            '[[topics]]\nname = "t"\nnone = ["x"]\ncontext = ["y"]\n',
            "my.toml: topics[0]: a topic needs terms in 'any' or 'all'",
            id="topic-with-only-vetoes",
        ),
        pytest.param(
            '[[topics]]\nname = "t"\nany = ["x"]\nmin_mentions = 0\n',
            "my.toml: topics[0].min_mentions: expected greater than or equal to 1 (got 0)",
            id="min-mentions",
        ),
        pytest.param(
            SOURCE + 'max_depth = "x"\nmax_pages = "y"\n',
            "my.toml: sources[0].max_depth: expected a valid integer (got 'x')"
            " (and 1 more problems)",
            id="two-problems",
        ),
    ],
)
def test_malformed_configs(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "my.toml")
    assert str(caught.value) == message
    assert "\n" not in str(caught.value)


def test_plain_and_prefix_terms() -> None:
    config = parse_config(
        '[[topics]]\nname = "t"\nany = ["chip", "superintell*", { term = "AI", '
        "case_sensitive = true }]\n",
        "my.toml",
    )
    terms = config.topics[0].any
    assert [(t.term, t.prefix, t.case_sensitive, t.label) for t in terms] == [
        ("chip", False, False, "chip"),
        ("superintell", True, False, "superintell*"),
        ("AI", False, True, "AI"),
    ]


def test_an_empty_file_is_the_defaults() -> None:
    config = parse_config("", "empty.toml")
    assert (config.sources, config.topics, config.path) == ([], [], "empty.toml")
    assert config.filters.languages == ["en", "fr", "de", "es", "it"]


# --- Elasticsearch: one node or several ----------------------------------------------------

ES = "[store.elasticsearch]\n"


def test_elasticsearch_url_one_node_or_several() -> None:
    one = parse_config(ES + 'url = "https://es.internal:9200"\n', "my.toml").store.elasticsearch
    assert (one.url, one.urls, one.replicas) == (
        "https://es.internal:9200",
        ["https://es.internal:9200"],
        None,
    )
    several = parse_config(
        ES + 'url = ["http://es-1:9200", "http://es-2:9200", "http://es-3:9200"]\nreplicas = 2\n',
        "my.toml",
    ).store.elasticsearch
    assert several.urls == ["http://es-1:9200", "http://es-2:9200", "http://es-3:9200"]
    assert several.replicas == 2
    assert parse_config("", "my.toml").store.elasticsearch.urls == ["http://127.0.0.1:9200"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            'url = ["http://a:9200", "ftp://b:9200"]',
            "url: expected http:// or https:// URLs (got 'ftp://b:9200')",
            id="bad-entry",
        ),
        pytest.param(
            'url = ["http://a:9200", 9200]',
            "url: expected http:// or https:// URLs (got 9200)",
            id="not-a-string",
        ),
        pytest.param(
            'url = ["http://a:9200", "http://a:9200"]',
            "url: 'http://a:9200' is listed twice",
            id="twice",
        ),
        pytest.param("url = []", "url: expected at least 1 URL", id="empty"),
        pytest.param(
            'url = "http://a:9200,http://b:9200"',
            'url: several nodes are an array: url = ["http://a:9200", "http://b:9200"]'
            " (got 'http://a:9200,http://b:9200')",
            id="commas",
        ),
        pytest.param(
            'url = "es-1:9200"',
            "url: expected an http:// or https:// URL (got 'es-1:9200')",
            id="no-scheme",
        ),
        pytest.param("url = { a = 1 }", "url: expected a URL or an array of URLs", id="table"),
        pytest.param(
            'url = ["http://a:9200", "http://elastic:s3cret@b :9200"]',
            "url: expected http:// or https:// URLs (got 'http://***@b :9200')",
            id="credentials-not-shown",
        ),
        pytest.param(
            "replicas = -1", "replicas: expected greater than or equal to 0 (got -1)", id="replicas"
        ),
        pytest.param(
            'replicas = "1"', "replicas: expected a valid integer (got '1')", id="replicas-string"
        ),
    ],
)
def test_elasticsearch_url_errors(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(ES + text + "\n", "my.toml")
    assert str(caught.value) == f"my.toml: store.elasticsearch.{message}"
    assert "s3cret" not in str(caught.value)


def test_source_lookup_error_names_the_known_sources() -> None:
    config = parse_config(SOURCE, "my.toml")
    assert config.source("a").name == "a"
    with pytest.raises(ConfigError, match=r"^my\.toml: no source named 'b' \(known: a\)$"):
        config.source("b")


# --- where the config is read from -------------------------------------------------------


def _write(path: Path, name: str) -> Path:
    path.write_text(SOURCE.replace('"a"', f'"{name}"'), encoding="utf-8")
    return path


@pytest.fixture
def places(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.delenv("NEWSWATCH_CONFIG", raising=False)
    return {
        "explicit": _write(tmp_path / "explicit.toml", "explicit"),
        "env": _write(tmp_path / "env.toml", "from-env"),
        "local": work / "newswatch.toml",
    }


def test_explicit_path_wins(places: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    _write(places["local"], "local")
    monkeypatch.setenv("NEWSWATCH_CONFIG", str(places["env"]))
    config = load_config(str(places["explicit"]))
    assert [s.name for s in config.sources] == ["explicit"]
    assert config.path == str(places["explicit"])


def test_environment_variable_before_the_local_file(
    places: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(places["local"], "local")
    monkeypatch.setenv("NEWSWATCH_CONFIG", str(places["env"]))
    config = load_config()
    assert [s.name for s in config.sources] == ["from-env"]
    assert config.path == str(places["env"])


def test_local_file_before_the_default(places: dict[str, Path]) -> None:
    _write(places["local"], "local")
    config = load_config()
    assert [s.name for s in config.sources] == ["local"]
    assert config.path == "newswatch.toml"
    assert find_config() == Path("newswatch.toml")


def test_built_in_default_last(places: dict[str, Path]) -> None:
    assert find_config() is None
    config = load_config()
    assert config.path == "<default config>"
    assert len(config.sources) >= 12
    assert [t.name for t in config.topics] == ["ai-race"]


def test_an_empty_environment_variable_is_ignored(
    places: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSWATCH_CONFIG", "")
    assert load_config().path == "<default config>"


def test_a_missing_explicit_file(places: dict[str, Path], tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "missing.toml"
    with pytest.raises(ConfigError) as caught:
        load_config(str(missing))
    assert str(caught.value) == f"{missing}: config file not found"


def test_a_missing_file_named_by_the_environment(
    places: dict[str, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    missing = tmp_path / "missing.toml"
    monkeypatch.setenv("NEWSWATCH_CONFIG", str(missing))
    with pytest.raises(ConfigError, match=r"config file not found$"):
        load_config()


def test_a_bad_file_is_named_in_the_error(places: dict[str, Path]) -> None:
    places["local"].write_text('[[sources]]\nname = "a"\nkind = "rss"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config()
    assert str(caught.value) == (
        "newswatch.toml: sources[0].kind: expected 'feed', 'sitemap' or 'site' (got 'rss')"
        " (and 1 more problems)"
    )


def test_a_file_that_is_not_utf8(places: dict[str, Path]) -> None:
    places["local"].write_bytes(b'[store]\npath = "\xff\xfe"\n')
    with pytest.raises(ConfigError) as caught:
        load_config()
    message = str(caught.value)
    assert message.startswith("newswatch.toml: cannot read config file: ")
    assert "\n" not in message
