"""Spiders: each decides what to fetch for one kind of source and yields pages."""

from crawler.spiders.feed import FeedSpider
from crawler.spiders.site import SiteSpider
from crawler.spiders.sitemap import SitemapSpider

SPIDERS = {"feed": FeedSpider, "sitemap": SitemapSpider, "site": SiteSpider}

__all__ = ["SPIDERS", "FeedSpider", "SiteSpider", "SitemapSpider"]
