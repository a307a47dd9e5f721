"""The offline demo: a sample news site served on 127.0.0.1, crawled by the real spiders."""

from pathlib import Path

SITE = Path(__file__).parent / "site"
