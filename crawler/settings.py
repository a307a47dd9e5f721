"""Scrapy settings of the newswatch project.

These are the defaults for every crawl, also when the project runs under
``scrapy crawl`` or scrapyd. ``newswatch crawl`` layers the settings derived from
the config file on top (see ``newswatch/runs/crawl.py``).
"""

from crawler import __version__

BOT_NAME = "newswatch"
# The spiders of the three source kinds are built per source by `newswatch crawl`; the one
# spider `scrapy crawl` and scrapyd can name is `newswatch` (-a source=NAME), which reads
# the newswatch config (named here as a module path, so this package imports nothing of it).
SPIDER_MODULES = ["crawler.spiders", "newswatch.cluster.scrapyd"]
NEWSPIDER_MODULE = "crawler.spiders"

# Good citizenship by default: identify, obey robots.txt, throttle, cap per domain.
CONTACT_URL = "https://github.com/newswatch/newswatch"
USER_AGENT = f"newswatch/{__version__} (+{CONTACT_URL})"
ROBOTSTXT_OBEY = True
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 2
DOWNLOAD_DELAY = 0.5
DOWNLOAD_DELAY_JITTER = 0.5  # ±50%: a steady rhythm is easy to spot and unkind to servers
REMOTE_CONTROL_ENABLED = False  # no listening port of our own
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
DOWNLOAD_TIMEOUT = 30
DOWNLOAD_MAXSIZE = 10 * 1024 * 1024
DOWNLOAD_WARNSIZE = 4 * 1024 * 1024
RETRY_ENABLED = True
RETRY_TIMES = 2
# Retries wait: Retry-After, else exponential backoff (crawler/middlewares.py).
NEWSWATCH_RETRY_BACKOFF = 1.0
NEWSWATCH_RETRY_MAX_DELAY = 60.0
DOWNLOADER_MIDDLEWARES = {
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "crawler.middlewares.BackoffRetryMiddleware": 550,
}
REDIRECT_MAX_TIMES = 10
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False
REQUEST_FINGERPRINTER_IMPLEMENTATION = "2.7"
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
FEED_EXPORT_ENCODING = "utf-8"

# Scrapy runs CONCURRENT_ITEMS asyncio tasks for every response's output; an article
# response yields one page, and 100 tasks per response cost a tenth of the reactor's time.
CONCURRENT_ITEMS = 8

ITEM_PIPELINES = {
    "pipelines.extract.ExtractPipeline": 100,
    "pipelines.normalize.NormalizePipeline": 200,
    "pipelines.language.LanguageFilterPipeline": 300,
    "pipelines.topics.TopicFilterPipeline": 400,
    "pipelines.duplicates.DuplicatePipeline": 500,
    "pipelines.index.IndexPipeline": 600,
}
ITEM_PROCESSOR = "crawler.profile.TimedItemPipelineManager"
EXTENSIONS = {
    "crawler.extensions.DropReasons": 0,
    "crawler.archive.WarcArchive": 10,  # with NEWSWATCH_ARCHIVE (a directory)
}
LOG_FORMATTER = "crawler.extensions.QuietDropFormatter"
LOG_LEVEL = "INFO"
