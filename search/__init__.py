"""Text analysis, query parsing, topic matching and snippets: no Scrapy here."""
