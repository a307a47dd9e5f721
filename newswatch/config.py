"""The configuration file: typed, validated settings for sources, filters, topics and store.

One TOML file is read from ``--config PATH``, else ``$NEWSWATCH_CONFIG``, else
``newswatch.toml`` in the working directory, else the default config shipped with
the package. A bad file raises :class:`ConfigError` with a one-line message naming
the file, the key and what was expected; unknown keys are errors.
"""

from __future__ import annotations

import os
import re
import tomllib
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

DEFAULT_FILE = "newswatch.toml"
ENV_VAR = "NEWSWATCH_CONFIG"

Name = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=64)]
LanguageCode = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}$")]
Duration = Annotated[str, StringConstraints(pattern=r"^\d+[smhd]$")]

DEFAULT_EVERY = "1h"  # a source's interval when it names none
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def seconds(duration: str) -> int:
    """The seconds a validated duration stands for: ``"15m"`` -> 900."""
    return int(duration[:-1]) * _UNITS[duration[-1]]


class ConfigError(Exception):
    """A configuration file that cannot be used; ``str()`` is a one-line message."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class TermSpec(_Strict):
    """One keyword of a topic rule, with its matching options."""

    term: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    case_sensitive: bool = False  # for acronyms: AI, IA, KI
    prefix: bool = False  # match words starting with the term ("superintellig" + anything)
    stem: bool = False  # match inflections through the language's stemmer
    needs_context: bool = False  # counts only when one of the topic's context terms is present
    variants: list[str] = []  # other spellings that count as this term (super-intelligence)

    @property
    def label(self) -> str:
        return self.term + ("*" if self.prefix else "")


def _term(value: Any) -> Any:
    # A plain string is a term with default options; a trailing * asks for a prefix.
    if isinstance(value, str):
        return {"term": value[:-1], "prefix": True} if value.endswith("*") else {"term": value}
    return value


Term = TermSpec


class TopicConfig(_Strict):
    """A named keyword rule; an article is on the topic when the rule holds."""

    name: Name
    description: str = ""
    any: list[Term] = []
    min_mentions: int = Field(1, ge=1)
    all: list[list[Term]] = []
    none: list[Term] = []
    context: list[Term] = []
    context_min_mentions: int = Field(1, ge=1)  # context mentions a needs_context term requires

    @field_validator("any", "none", "context", mode="before")
    @classmethod
    def _terms(cls, value: Any) -> Any:
        return [_term(v) for v in value] if isinstance(value, list) else value

    @field_validator("all", mode="before")
    @classmethod
    def _groups(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [[_term(v) for v in g] if isinstance(g, list) else g for g in value]
        return value

    @model_validator(mode="after")
    def _has_terms(self) -> TopicConfig:
        if not self.any and not self.all:
            raise ValueError("a topic needs terms in 'any' or 'all'")
        return self


class SourceConfig(_Strict):
    """A place to collect articles from."""

    name: Name
    kind: Literal["feed", "sitemap", "site"]
    urls: list[Annotated[str, StringConstraints(pattern=r"^https?://\S+$")]] = Field(min_length=1)
    allow: list[str] = []  # regular expressions a followed URL must match (one of)
    deny: list[str] = []  # regular expressions no followed URL may match
    max_depth: int = Field(2, ge=0, le=20)
    max_pages: int = Field(500, ge=1)
    language: LanguageCode | None = None  # a hint, used when detection is unsure
    since: date | None = None  # sitemaps: skip entries older than this
    every: Duration | None = None  # how often `newswatch schedule` crawls it (default 1h)
    # Adaptive polling: the interval shrinks while polls find mostly new links and grows
    # while they find mostly known ones, within min_every..max_every. Default: on for feeds.
    adaptive: bool | None = None
    min_every: Duration = "10m"
    max_every: Duration = "24h"
    enabled: bool = True

    @property
    def interval(self) -> int:
        """The configured interval in seconds."""
        return seconds(self.every or DEFAULT_EVERY)

    @property
    def min_interval(self) -> int:
        return seconds(self.min_every)

    @property
    def max_interval(self) -> int:
        return seconds(self.max_every)

    @property
    def is_adaptive(self) -> bool:
        return self.kind == "feed" if self.adaptive is None else self.adaptive

    @model_validator(mode="after")
    def _polling(self) -> SourceConfig:
        if seconds(self.min_every) > seconds(self.max_every):
            raise ValueError(
                f"min_every ({self.min_every}) is longer than max_every ({self.max_every})"
            )
        if self.adaptive and self.kind == "site":
            raise ValueError("adaptive polling needs a feed or sitemap source, not kind 'site'")
        return self

    @field_validator("allow", "deny")
    @classmethod
    def _regexes(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from None
        return patterns


class FilterConfig(_Strict):
    """Which articles are kept."""

    languages: list[LanguageCode] = ["en", "fr", "de", "es", "it"]
    min_language_probability: float = Field(0.80, ge=0.0, le=1.0)
    keep_unmatched: bool = False  # keep articles that match no topic (stored untagged)


class CrawlerConfig(_Strict):
    """How politely the crawler fetches."""

    contact_url: str = "https://github.com/newswatch/newswatch"
    user_agent: str | None = None  # default: "newswatch/<version> (+contact_url)"
    obey_robots_txt: bool = True
    download_delay: float = Field(0.5, ge=0)
    concurrent_requests_per_domain: int = Field(2, ge=1, le=64)
    autothrottle: bool = True
    download_timeout: float = Field(30, gt=0)
    max_response_bytes: int = Field(10 * 1024 * 1024, ge=1024)
    # Retries of 5xx, 429, timeouts and resets wait: Retry-After, else retry_backoff
    # seconds doubled at each retry; never more than retry_max_delay (crawler/middlewares.py).
    retry_times: int = Field(2, ge=0, le=10)
    retry_backoff: float = Field(1.0, ge=0)
    retry_max_delay: float = Field(60, ge=0)
    # Processes for extraction and language detection; default one per core (none on one).
    workers: int | None = Field(None, ge=0, le=64)
    # Incremental crawling (docs/scheduling.md): what the crawler remembers between runs.
    state: str = "data/crawl-state.db"  # "" forgets everything: each crawl fetches it all
    jobs: str = "data/jobs"  # Scrapy JOBDIR per source, so a stopped crawl resumes; "" off
    locks: Annotated[str, StringConstraints(min_length=1)] = "data/locks"
    archive: str = "data/warc"  # raw responses of stored articles, WARC; "" keeps none
    unconditional_every: int = Field(10, ge=1)  # every Nth poll of a feed ignores ETags
    refresh_younger_than: Duration = "48h"  # articles this young are fetched again...
    refresh_after: Duration = "6h"  # ...when their last fetch is this old


class ScheduleConfig(_Strict):
    """``newswatch schedule``: each source at its own interval, in child processes."""

    max_concurrent: int = Field(2, ge=1, le=64)  # crawls running at once, all sources
    time_limit: Duration = "30m"  # a run still going after this is stopped: failed "timeout"

    @field_validator("time_limit")
    @classmethod
    def _positive(cls, value: str) -> str:
        if seconds(value) <= 0:
            raise ValueError("expected a duration longer than 0s")
        return value


class HealthConfig(_Strict):
    """When ``newswatch stats`` flags a source."""

    failed_runs: int = Field(3, ge=1)  # this many failed runs in a row
    silent_after: Duration = "3d"  # no new article for this long


_ES_URL = re.compile(r"^https?://\S+$")
_ES_URL_LIST = re.compile(r",\s*https?://")  # "http://a:9200,http://b:9200" in one string


class ElasticsearchConfig(_Strict):
    """How to reach Elasticsearch; secrets may come from the environment instead."""

    # One node, or an array of several nodes of one cluster: the client spreads requests
    # over them and retries a failed one on the next (docs/architecture.md, "Several nodes").
    url: str | list[str] = "http://127.0.0.1:9200"
    index: Name = "newswatch-articles"
    # Copies of each shard besides the primary; unset: 0 on one node, 1 on two or more
    # (auto_expand_replicas 0-1). Used for indices created from then on and by `es init`.
    replicas: int | None = Field(None, ge=0, le=16)
    api_key: str | None = None
    username: str | None = None
    password: str | None = None
    ca_certs: str | None = None
    # Articles wait here (a SQLite file) while the cluster is away; see pipelines/stores/outbox.py.
    outbox: str = "data/elasticsearch-outbox.db"

    @field_validator("url", mode="before")
    @classmethod
    def _url(cls, value: Any) -> Any:
        if isinstance(value, str):
            if _ES_URL_LIST.search(value):
                raise ValueError(
                    'several nodes are an array: url = ["http://a:9200", "http://b:9200"]'
                )
            if not _ES_URL.match(value):
                raise ValueError("expected an http:// or https:// URL")
            return value
        if not isinstance(value, list):
            raise ValueError("expected a URL or an array of URLs")
        if not value:
            raise ValueError("expected at least 1 URL")
        for url in value:
            if not isinstance(url, str) or not _ES_URL.match(url) or _ES_URL_LIST.search(url):
                raise ValueError(f"expected http:// or https:// URLs (got {_toml(url)})")
            if value.count(url) > 1:
                raise ValueError(f"{_toml(url)} is listed twice")
        return value

    @property
    def urls(self) -> list[str]:
        """The node URLs, one or several."""
        return [self.url] if isinstance(self.url, str) else list(self.url)


class StoreConfig(_Strict):
    """Where articles are indexed."""

    backend: Literal["sqlite", "elasticsearch"] = "sqlite"
    path: str = "data/newswatch.db"
    # SQLite: how long a write waits for another process's lock before the crawl stops.
    busy_timeout: float = Field(30, gt=0)
    elasticsearch: ElasticsearchConfig = ElasticsearchConfig()


class WebConfig(_Strict):
    """The web interface (``newswatch serve``)."""

    # Every request must carry it (``Authorization: Bearer``, or ``?token=``) when set;
    # $NEWSWATCH_WEB_TOKEN takes precedence. Needed to serve beyond 127.0.0.1.
    token: Annotated[str, StringConstraints(min_length=8, max_length=512)] | None = None


HttpUrl = Annotated[str, StringConstraints(pattern=r"^https?://\S+$")]


class SavedSearchConfig(_Strict):
    """A named search, served as an Atom feed and optionally posted to a webhook."""

    name: Name
    # "" follows the filters only; at most search.query.MAX_SAVED_LENGTH characters
    query: Annotated[str, StringConstraints(max_length=10000)]
    lang: list[LanguageCode] = []
    source: list[str] = []
    topic: list[str] = []
    webhook: HttpUrl | None = None  # new matches are POSTed here as JSON

    @field_validator("query")
    @classmethod
    def _query(cls, query: str) -> str:
        from search.query import MAX_SAVED_LENGTH, MAX_SAVED_TERMS, QuerySyntaxError, parse

        if query.strip():
            try:
                parse(query, MAX_SAVED_TERMS, MAX_SAVED_LENGTH)
            except QuerySyntaxError as exc:
                raise ValueError(f"bad query: {exc}") from None
        return query


class ClusterConfig(_Strict):
    """Crawl workers on several machines sharing one frontier in Redis (docs/cluster.md)."""

    # Set: `newswatch worker` and `newswatch enqueue` use this Redis as the shared queue,
    # seen-URL set and per-domain politeness clock; `newswatch schedule` enqueues.
    redis_url: Annotated[str, StringConstraints(pattern=r"^(redis|rediss|unix)://\S+$")] | None = (
        None
    )
    key_prefix: Name = "newswatch"  # every Redis key starts with it: clusters can share a Redis
    # A request a worker took goes back to the queue when the worker has not renewed its
    # lease for this long (the worker died); live workers renew every third of it.
    lease: Duration = "60s"


class Config(_Strict):
    """The whole configuration file."""

    sources: list[SourceConfig] = []
    filters: FilterConfig = FilterConfig()
    topics: list[TopicConfig] = []
    store: StoreConfig = StoreConfig()
    crawler: CrawlerConfig = CrawlerConfig()
    web: WebConfig = WebConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    health: HealthConfig = HealthConfig()
    saved_searches: list[SavedSearchConfig] = []
    cluster: ClusterConfig = ClusterConfig()
    path: str = "<defaults>"  # where this config was read from (not a file key)

    @model_validator(mode="after")
    def _unique_names(self) -> Config:
        for kind, names in (
            ("sources", [s.name for s in self.sources]),
            ("topics", [t.name for t in self.topics]),
            ("saved_searches", [s.name for s in self.saved_searches]),
        ):
            seen = {n for n in names if names.count(n) > 1}
            if seen:
                raise ValueError(f"{kind}: duplicate name {sorted(seen)[0]!r}")
        return self

    def source(self, name: str) -> SourceConfig:
        for source in self.sources:
            if source.name == name:
                return source
        known = ", ".join(s.name for s in self.sources) or "none"
        raise ConfigError(f"{self.path}: no source named {name!r} (known: {known})")


def default_config_text() -> str:
    """The default configuration shipped with the package."""
    return resources.files("newswatch").joinpath("default.toml").read_text(encoding="utf-8")


def find_config(explicit: str | None = None) -> Path | None:
    """The config file to use: explicit, then $NEWSWATCH_CONFIG, then ./newswatch.toml."""
    if explicit:
        return Path(explicit)
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR])
    local = Path(DEFAULT_FILE)
    return local if local.exists() else None


def load_config(explicit: str | None = None) -> Config:
    """Load and validate the configuration, or raise :class:`ConfigError`."""
    path = find_config(explicit)
    if path is None:
        return parse_config(default_config_text(), "<default config>")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc}") from None
    return parse_config(text, str(path))


def parse_config(text: str, path: str) -> Config:
    """Validate TOML ``text`` read from ``path`` (used in messages)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return config_from_dict(data, path)


def config_from_dict(data: dict[str, Any], path: str) -> Config:
    """Validate already-parsed config ``data`` read from ``path`` (used in messages)."""
    if "path" in data:
        raise ConfigError(f"{path}: path: unknown key")
    try:
        return Config.model_validate({**data, "path": path})
    except ValidationError as exc:
        raise ConfigError(f"{path}: {_describe(exc)}") from None


def _describe(exc: ValidationError) -> str:
    error = exc.errors()[0]
    location = _location(error["loc"])
    kind = error["type"]
    value = error.get("input")
    if kind == "extra_forbidden":
        return f"{location}: unknown key"
    if kind == "missing":
        return f"{location}: missing required key"
    message = error["msg"].removeprefix("Value error, ")
    if kind == "literal_error":
        message = message.replace("Input should be", "expected")
    elif kind == "string_pattern_mismatch":
        field = next((p for p in reversed(error["loc"]) if isinstance(p, str)), "")
        message = _PATTERN_HELP.get(field, message)
    elif kind in ("model_type", "model_attributes_type", "dict_type"):
        message = "expected a table"  # pydantic says "a valid dictionary or instance of X"
    elif kind in _LENGTH_HELP:
        limit = (error.get("ctx") or {}).get(_LENGTH_HELP[kind][1])
        message = _LENGTH_HELP[kind][0].format(limit, "" if limit == 1 else "s")
    else:
        message = message.replace("Input should be", "expected")
    # A validator's own message (value_error) is about the whole value: not repeated.
    whole = isinstance(value, dict | list) and kind == "value_error"
    shown = "" if value is None or whole else f" (got {_toml(value)})"
    extra = "" if len(exc.errors()) == 1 else f" (and {len(exc.errors()) - 1} more problems)"
    return f"{location}: {message}{shown}{extra}"


# Array lengths, in the words of the file (pydantic: "List should have at least 1 item
# after validation, not 0"); its string lengths read well as they are.
_LENGTH_HELP = {
    "too_short": ("expected at least {} item{}", "min_length"),
    "too_long": ("expected at most {} item{}", "max_length"),
}


def _toml(value: Any) -> str:
    """A value as the file wrote it: ``true``, ``2026-01-01``, a table, an array."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):  # datetime too
        return value.isoformat()
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an empty array" if not value else "an array"
    if isinstance(value, str):
        value = _USERINFO.sub("//***@", value)  # credentials in a URL are never shown
        return repr(value[:57] + "...") if len(value) > 60 else repr(value)
    return repr(value)


_USERINFO = re.compile(r"//[^/?#@\s]*@")


DURATION_KEYS = (
    "every",
    "min_every",
    "max_every",
    "refresh_younger_than",
    "refresh_after",
    "time_limit",
    "silent_after",
    "lease",
)
_PATTERN_HELP = {
    "name": "expected a name of letters, digits, '.', '_' or '-'",
    **dict.fromkeys(DURATION_KEYS, "expected a duration such as '30s', '15m', '6h' or '1d'"),
    "languages": "expected an ISO 639-1 language code such as 'en'",
    "language": "expected an ISO 639-1 language code such as 'en'",
    "urls": "expected an http:// or https:// URL",
    "webhook": "expected an http:// or https:// URL",
    "redis_url": "expected a redis://, rediss:// or unix:// URL",
    "key_prefix": "expected a name of letters, digits, '.', '_' or '-'",
}


def _location(loc: tuple) -> str:
    """``('sources', 2, 'kind')`` -> ``sources[2].kind``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else ("." if out else "") + str(part)
    return out or "(top level)"
