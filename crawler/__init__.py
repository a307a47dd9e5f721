"""The Scrapy project: settings, the article model, spiders and article extraction."""

__version__ = "0.1.0"
