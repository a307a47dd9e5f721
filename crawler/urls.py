"""URL normalisation and article ids.

Two URLs that name the same article (tracking parameters, session ids, fragments,
case of scheme and host, default ports, trailing slashes, query order) normalise to one
string, and the article id is derived from it, so a re-crawl updates in place.
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import urlsplit, urlunsplit

from w3lib.url import canonicalize_url, url_query_cleaner

# Query parameters that only track the reader and never select content.
_TRACKING = re.compile(
    r"^(utm_[a-z_]*|fbclid|gclid|dclid|gbraid|wbraid|msclkid|mc_cid|mc_eid|yclid|igshid"
    r"|_ga|_gl|ocid|cmpid|ns_mchannel|ns_source|ns_campaign|ns_linkname|at_medium|at_campaign)$",
    re.IGNORECASE,
)
# Session ids: a server's name for one visit, never for the content. Left in, every
# visit mints new URLs for the same pages (a crawler trap); taken out, they are one URL.
# ``sid`` is also some sites' story id; such a site needs the parameter kept.
_SESSION = re.compile(
    r"^(sid|sessid|sessionid|session_id|jsessionid|phpsessid|aspsessionid|cfid|cftoken)$",
    re.IGNORECASE,
)
# Java-style session path parameters: /story;jsessionid=0A1B2C?page=2
_SESSION_PATH = re.compile(r";(?:jsessionid|phpsessid|sessionid|sid)=[^;/?#]*", re.IGNORECASE)
_DEFAULT_PORTS = {"http": 80, "https": 443}


def normalize_url(url: str) -> str:
    """The canonical form of an http(s) URL; other strings come back stripped.

    >>> normalize_url("HTTPS://Example.COM:443/News/Story/?utm_source=rss&b=2&a=1#top")
    'https://example.com/News/Story?a=1&b=2'
    """
    url = url.strip()
    try:
        parts = urlsplit(url)
        if parts.scheme.lower() not in _DEFAULT_PORTS or not parts.hostname:
            return url
        port = parts.port
    except ValueError:  # an unparseable port or host
        return url
    if ";" in parts.path:
        path = _SESSION_PATH.sub("", parts.path)
        url = urlunsplit((parts.scheme, parts.netloc, path, parts.query, parts.fragment))
    params = [p.split("=", 1)[0] for p in parts.query.split("&") if p]
    tracking = [p for p in params if _TRACKING.match(p) or _SESSION.match(p)]
    if tracking:
        url = url_query_cleaner(url, tracking, remove=True, keep_fragments=True)
    url = canonicalize_url(url, keep_fragments=False)
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if ":" in netloc:  # IPv6 literal
        netloc = f"[{netloc}]"
    if port and port != _DEFAULT_PORTS[parts.scheme]:
        netloc = f"{netloc}:{port}"
    path = parts.path.rstrip("/") or "/"
    return urlunsplit((parts.scheme, netloc, path, parts.query, ""))


def article_id(url: str) -> str:
    """The stable id of an article: a short hash of its normalised canonical URL."""
    return hashlib.sha1(normalize_url(url).encode("utf-8")).hexdigest()[:16]


def same_site(url: str, domains: set[str]) -> bool:
    """Whether ``url``'s host is one of ``domains`` or a subdomain of one."""
    try:
        host = (urlsplit(url).hostname or "").lower()
    except ValueError:
        return False
    return any(host == d or host.endswith("." + d) for d in domains)
