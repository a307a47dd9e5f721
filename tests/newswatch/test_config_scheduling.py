"""The config keys of incremental and scheduled crawling: defaults and one-line errors."""

from __future__ import annotations

import pytest

from newswatch.config import ConfigError, default_config_text, parse_config, seconds

SOURCE = '[[sources]]\nname = "a"\nkind = "{kind}"\nurls = ["https://example.com/feed"]\n'


def test_defaults() -> None:
    config = parse_config(SOURCE.format(kind="feed"), "my.toml")
    crawler, (source,) = config.crawler, config.sources
    assert (crawler.state, crawler.jobs, crawler.locks, crawler.archive) == (
        "data/crawl-state.db",
        "data/jobs",
        "data/locks",
        "data/warc",
    )
    assert crawler.unconditional_every == 10
    assert (seconds(crawler.refresh_younger_than), seconds(crawler.refresh_after)) == (
        48 * 3600,
        6 * 3600,
    )
    assert (config.schedule.max_concurrent, seconds(config.schedule.time_limit)) == (2, 1800)
    assert (config.health.failed_runs, seconds(config.health.silent_after)) == (3, 3 * 86400)
    assert (source.interval, source.min_interval, source.max_interval) == (3600, 600, 86400)
    assert source.is_adaptive
    assert not parse_config(SOURCE.format(kind="sitemap"), "my.toml").sources[0].is_adaptive


def test_the_shipped_default_config_sets_the_defaults() -> None:
    config, defaults = (
        parse_config(default_config_text(), "<default config>"),
        parse_config("", "x"),
    )
    keys = (
        "state",
        "jobs",
        "locks",
        "archive",
        "unconditional_every",
        "refresh_younger_than",
        "refresh_after",
    )
    assert [getattr(config.crawler, k) for k in keys] == [
        getattr(defaults.crawler, k) for k in keys
    ]
    assert config.schedule == defaults.schedule
    assert config.health == defaults.health


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            SOURCE.format(kind="feed") + 'min_every = "2h"\nmax_every = "1h"\n',
            "my.toml: sources[0]: min_every (2h) is longer than max_every (1h)",
        ),
        (
            SOURCE.format(kind="site") + "adaptive = true\n",
            "my.toml: sources[0]: adaptive polling needs a feed or sitemap source, not kind 'site'",
        ),
        (
            SOURCE.format(kind="feed") + 'max_every = "a day"\n',
            "my.toml: sources[0].max_every: expected a duration such as '30s', '15m', '6h' or"
            " '1d' (got 'a day')",
        ),
        (
            '[crawler]\nrefresh_after = "6 hours"\n',
            "my.toml: crawler.refresh_after: expected a duration such as '30s', '15m', '6h' or"
            " '1d' (got '6 hours')",
        ),
        (
            "[crawler]\nunconditional_every = 0\n",
            "my.toml: crawler.unconditional_every: expected greater than or equal to 1 (got 0)",
        ),
        (
            '[schedule]\ntime_limit = "0s"\n',
            "my.toml: schedule.time_limit: expected a duration longer than 0s (got '0s')",
        ),
        (
            "[schedule]\nmax_concurrent = 0\n",
            "my.toml: schedule.max_concurrent: expected greater than or equal to 1 (got 0)",
        ),
        ("[health]\nfailed = 3\n", "my.toml: health.failed: unknown key"),
        (
            '[crawler]\nlocks = ""\n',
            "my.toml: crawler.locks: String should have at least 1 character (got '')",
        ),
    ],
)
def test_errors_are_one_line(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_config(text, "my.toml")
    assert str(error.value) == message
