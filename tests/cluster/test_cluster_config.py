"""The ``[cluster]`` section of the config, and the Scrapy settings it turns into."""

from __future__ import annotations

import pytest

from newswatch.cluster.workers import _public, cluster_settings
from newswatch.config import ConfigError, parse_config


def test_the_cluster_is_off_by_default() -> None:
    config = parse_config("", "my.toml")
    assert config.cluster.redis_url is None
    assert config.cluster.key_prefix == "newswatch"
    assert config.cluster.lease == "60s"


def test_a_cluster_section_becomes_worker_settings() -> None:
    config = parse_config(
        '[crawler]\ndownload_delay = 1.5\n[cluster]\nredis_url = "redis://10.0.0.5:6379/2"\n'
        'key_prefix = "nw-prod"\nlease = "2m"\n',
        "my.toml",
    )
    settings = cluster_settings(config, exit_when_done=True)
    assert settings["REDIS_URL"] == "redis://10.0.0.5:6379/2"
    assert settings["SCHEDULER"] == "crawler.frontier.FrontierScheduler"
    assert settings["SCHEDULER_QUEUE_CLASS"] == "crawler.frontier.LeasedQueue"
    assert settings["SCHEDULER_QUEUE_KEY"] % {"spider": "feed:x"} == "nw-prod:feed:x:requests"
    assert settings["SCHEDULER_DUPEFILTER_KEY"] % {"spider": "feed:x"} == (
        "nw-prod:feed:x:dupefilter"
    )
    assert settings["SCHEDULER_PERSIST"] is True
    assert settings["NEWSWATCH_CLUSTER_LEASE"] == 120.0
    assert settings["NEWSWATCH_CLUSTER_EXIT_WHEN_DONE"] is True
    # The configured delay is kept by the cluster's clock, not by each worker.
    assert (settings["NEWSWATCH_CLUSTER_DELAY"], settings["DOWNLOAD_DELAY"]) == (1.5, 0)
    assert (settings["NEWSWATCH_STATE"], settings["JOBDIR"]) == (None, None)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            '[cluster]\nredis_url = "http://10.0.0.5:6379"\n',
            "my.toml: cluster.redis_url: expected a redis://, rediss:// or unix:// URL"
            " (got 'http://10.0.0.5:6379')",
            id="not-redis",
        ),
        pytest.param(
            '[cluster]\nredis_url = "redis://h"\nlease = "forever"\n',
            "my.toml: cluster.lease: expected a duration such as '30s', '15m', '6h' or '1d'"
            " (got 'forever')",
            id="bad-lease",
        ),
        pytest.param(
            '[cluster]\nkey_prefix = "a b"\n',
            "my.toml: cluster.key_prefix: expected a name of letters, digits, '.', '_' or '-'"
            " (got 'a b')",
            id="bad-prefix",
        ),
        pytest.param(
            '[cluster]\nredis = "redis://h"\n',
            "my.toml: cluster.redis: unknown key",
            id="unknown-key",
        ),
    ],
)
def test_malformed_cluster_sections(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "my.toml")
    assert str(caught.value) == message


def test_a_redis_password_is_never_shown() -> None:
    assert _public("redis://:s3cret@10.0.0.5:6379/0") == "redis://:***@10.0.0.5:6379/0"
    assert _public("redis://worker:s3cret@h/1") == "redis://worker:***@h/1"
    assert _public("redis://10.0.0.5:6379/0") == "redis://10.0.0.5:6379/0"
