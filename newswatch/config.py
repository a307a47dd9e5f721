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
    every: Annotated[str, StringConstraints(pattern=r"^\d+[smhd]$")] | None = None
    enabled: bool = True

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
    # Processes for extraction and language detection; default one per core (none on one).
    workers: int | None = Field(None, ge=0, le=64)


class ElasticsearchConfig(_Strict):
    """How to reach Elasticsearch; secrets may come from the environment instead."""

    url: str = "http://127.0.0.1:9200"
    index: Name = "newswatch-articles"
    api_key: str | None = None
    username: str | None = None
    password: str | None = None
    ca_certs: str | None = None
    # Articles wait here (a SQLite file) while the cluster is away; see pipelines/stores/outbox.py.
    outbox: str = "data/elasticsearch-outbox.db"


class StoreConfig(_Strict):
    """Where articles are indexed."""

    backend: Literal["sqlite", "elasticsearch"] = "sqlite"
    path: str = "data/newswatch.db"
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
    query: Annotated[str, StringConstraints(max_length=1000)]  # "" follows the filters only
    lang: list[LanguageCode] = []
    source: list[str] = []
    topic: list[str] = []
    webhook: HttpUrl | None = None  # new matches are POSTed here as JSON

    @field_validator("query")
    @classmethod
    def _query(cls, query: str) -> str:
        from search.query import QuerySyntaxError, parse

        if query.strip():
            try:
                parse(query)
            except QuerySyntaxError as exc:
                raise ValueError(f"bad query: {exc}") from None
        return query


class Config(_Strict):
    """The whole configuration file."""

    sources: list[SourceConfig] = []
    filters: FilterConfig = FilterConfig()
    topics: list[TopicConfig] = []
    store: StoreConfig = StoreConfig()
    crawler: CrawlerConfig = CrawlerConfig()
    web: WebConfig = WebConfig()
    saved_searches: list[SavedSearchConfig] = []
    path: str = "<defaults>"  # where this config was read from (not a file key)

    @model_validator(mode="after")
    def _unique_names(self) -> Config:
        for kind, names in (("sources", [s.name for s in self.sources]),
                            ("topics", [t.name for t in self.topics]),
                            ("saved_searches", [s.name for s in self.saved_searches])):  # fmt: skip
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
    else:
        message = message.replace("Input should be", "expected")
    shown = "" if isinstance(value, dict | list) or value is None else f" (got {value!r})"
    extra = "" if len(exc.errors()) == 1 else f" (and {len(exc.errors()) - 1} more problems)"
    return f"{location}: {message}{shown}{extra}"


_PATTERN_HELP = {
    "name": "expected a name of letters, digits, '.', '_' or '-'",
    "every": "expected a duration such as '30s', '15m', '6h' or '1d'",
    "languages": "expected an ISO 639-1 language code such as 'en'",
    "language": "expected an ISO 639-1 language code such as 'en'",
    "urls": "expected an http:// or https:// URL",
    "webhook": "expected an http:// or https:// URL",
}


def _location(loc: tuple) -> str:
    """``('sources', 2, 'kind')`` -> ``sources[2].kind``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else ("." if out else "") + str(part)
    return out or "(top level)"
