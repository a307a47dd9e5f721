"""A generated news site for end-to-end benchmarks, served by nginx on 127.0.0.1.

``write_site(root, n, host)`` writes n article pages (realistic chrome, 400 to
1,200 words, five outlets in five languages, about a third on the AI race; half
with JSON-LD, half with OpenGraph only), one RSS feed per feed outlet, one news
sitemap per sitemap outlet, a sitemap index and robots.txt. ``Nginx`` serves the
directory: a static server fast enough not to be what is measured.
"""

from __future__ import annotations

import html
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks.corpus import generate

OUTLETS = [  # (slug, name, language, listed in)
    ("daily-bench", "The Daily Bench", "en", "rss"),
    ("quotidien-bench", "Le Quotidien Bench", "fr", "rss"),
    ("bench-bote", "Der Benchbote", "de", "rss"),
    ("diario-bench", "El Diario Bench", "es", "sitemap"),
    ("corriere-bench", "Il Corriere Bench", "it", "sitemap"),
]
SECTIONS = [
    "Home",
    "World",
    "Business",
    "Tech",
    "AI",
    "Science",
    "Sport",
    "Culture",
    "Food",
    "Travel",
    "Opinion",
    "Local",
    "Weather",
    "Podcasts",
    "Newsletters",
]


def _page(doc, i: int, outlet: tuple, url: str, published: str) -> str:
    slug, name, language, _ = outlet
    title = html.escape(doc.title)
    paragraphs = "".join(f"<p>{html.escape(p)}</p>" for p in doc.body.split("\n"))
    nav = "".join(f'<li><a href="/{slug}/section/{s.lower()}.html">{s}</a></li>' for s in SECTIONS)
    related = "".join(
        f'<li><a href="/{slug}/{(i + k) % 997}.html">Related story number {k} from {name}</a></li>'
        for k in range(1, 11)
    )
    if i % 2:
        meta = (
            '<script type="application/ld+json">'
            + json.dumps(
                {
                    "@context": "https://schema.org",
                    "@type": "NewsArticle",
                    "headline": doc.title,
                    "datePublished": published,
                    "author": {"@type": "Person", "name": f"Reporter {i % 40}"},
                    "publisher": {"@type": "Organization", "name": name},
                    "inLanguage": language,
                    "url": url,
                }
            )
            + "</script>"
        )
    else:
        meta = (
            '<meta property="og:type" content="article">'
            f'<meta property="og:title" content="{title}">'
            f'<meta property="og:url" content="{url}">'
            f'<meta property="og:site_name" content="{name}">'
            f'<meta property="article:published_time" content="{published}">'
            f'<meta name="author" content="Reporter {i % 40}">'
        )
    return f"""<!DOCTYPE html><html lang="{language}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title} | {name}</title>
<link rel="canonical" href="{url}"><link rel="stylesheet" href="/static/site.css">{meta}</head>
<body><div id="cookie-consent" class="cookie-banner"><p>We use cookies to measure our audience and
to show you relevant advertising. You can change your choice at any time in the settings.</p>
<button>Accept all</button> <button>Reject non-essential</button></div>
<header><a class="logo" href="/{slug}/index.html">{name}</a><nav><ul>{nav}</ul></nav></header>
<main><article><h1>{title}</h1><p class="byline">By <span class="author">Reporter {i % 40}</span>
· <time datetime="{published}">{published[:10]}</time></p><div class="story-body">{paragraphs}</div>
</article><aside class="related"><h2>Related</h2><ul>{related}</ul></aside></main>
<section class="newsletter"><h2>Newsletter</h2><form><label>Email <input type="email"></label>
<button>Sign up</button></form></section><footer><ul><li><a href="/{slug}/about.html">About</a></li>
<li><a href="/{slug}/privacy.html">Privacy</a></li><li><a href="/{slug}/terms.html">Terms</a></li>
</ul><p>© {name}. Generated benchmark content.</p></footer></body></html>"""


def write_site(root: Path, count: int, host: str) -> dict[str, list[str]]:
    """Write the site for ``http://host``; return each outlet's entry URLs by listing."""
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    documents = generate(count)
    start = datetime(2026, 11, 1, tzinfo=UTC)
    entries: dict[str, list[tuple[str, str, str]]] = {o[0]: [] for o in OUTLETS}
    for i, doc in enumerate(documents):
        outlet = next(o for o in OUTLETS if o[2] == doc.language)
        published = (start + timedelta(minutes=7 * i)).strftime("%Y-%m-%dT%H:%M:%SZ")
        path = f"/{outlet[0]}/{i}.html"
        url = f"http://{host}{path}"
        (root / outlet[0]).mkdir(exist_ok=True)
        page = _page(doc, i, outlet, url, published)
        (root / path.lstrip("/")).write_text(page, encoding="utf-8")
        entries[outlet[0]].append((url, doc.title, published))
    listings: dict[str, list[str]] = {"rss": [], "sitemap": []}
    (root / "feeds").mkdir()
    (root / "sitemaps").mkdir()
    for slug, name, language, listing in OUTLETS:
        if listing == "rss":
            items = "".join(
                f"<item><title>{html.escape(t)}</title><link>{u}</link>"
                f"<pubDate>{_rfc822(p)}</pubDate></item>"
                for u, t, p in entries[slug]
            )
            (root / "feeds" / f"{slug}.rss").write_text(
                f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
                f"<title>{name}</title><link>http://{host}/{slug}/</link>"
                f"<language>{language}</language>{items}</channel></rss>",
                encoding="utf-8",
            )
            listings["rss"].append(f"http://{host}/feeds/{slug}.rss")
        else:
            urls = "".join(
                f"<url><loc>{u}</loc><news:news><news:publication><news:name>{name}</news:name>"
                f"<news:language>{language}</news:language></news:publication>"
                f"<news:publication_date>{p}</news:publication_date>"
                f"<news:title>{html.escape(t)}</news:title></news:news></url>"
                for u, t, p in entries[slug]
            )
            (root / "sitemaps" / f"{slug}.xml").write_text(
                '<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/'
                'schemas/sitemap/0.9" xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">'
                f"{urls}</urlset>",
                encoding="utf-8",
            )
            listings["sitemap"].append(f"http://{host}/sitemaps/{slug}.xml")
    (root / "robots.txt").write_text("User-agent: *\nDisallow: /private/\n")
    return listings


def _rfc822(stamp: str) -> str:
    moment = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ")
    return moment.strftime("%a, %d %b %Y %H:%M:%S GMT")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Nginx:
    """nginx (Debian's package) serving ``root`` on 127.0.0.1:port, in the foreground."""

    def __init__(self, root: Path, port: int) -> None:
        self.root, self.port = root.resolve(), port
        self.work = Path(tempfile.mkdtemp(prefix="newswatch-nginx-"))
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> Nginx:
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        if not os.path.exists(binary):
            raise SystemExit("nginx is needed: apt-get install nginx-light (or nginx)")
        user = "user root;" if os.geteuid() == 0 else ""
        (self.work / "nginx.conf").write_text(f"""{user}
worker_processes 1; daemon off; pid {self.work}/nginx.pid; error_log {self.work}/error.log;
events {{ worker_connections 1024; }}
http {{ access_log off; sendfile on; keepalive_requests 100000;
  types {{ text/html html; application/rss+xml rss; application/xml xml; text/plain txt; }}
  default_type application/octet-stream;
  client_body_temp_path {self.work}; proxy_temp_path {self.work}; fastcgi_temp_path {self.work};
  uwsgi_temp_path {self.work}; scgi_temp_path {self.work};
  server {{ listen 127.0.0.1:{self.port}; root {self.root}; charset utf-8;
    charset_types application/rss+xml application/xml; }} }}
""")
        self.process = subprocess.Popen([binary, "-c", str(self.work / "nginx.conf")])
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise SystemExit(f"nginx did not start: {(self.work / 'error.log').read_text()}")

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGQUIT)
            self.process.wait(timeout=10)
        shutil.rmtree(self.work, ignore_errors=True)
