"""Scrapy settings for newscrawler; our own settings are the ARCHIVE_* group at the end."""

from newscrawler import PROJECT_URL, __version__

BOT_NAME = "newscrawler"
SPIDER_MODULES = ["newscrawler.spiders"]
NEWSPIDER_MODULE = "newscrawler.spiders"

# Politeness for real sites: identify ourselves, obey robots.txt, adapt to the server's latency.
USER_AGENT = f"newscrawler/{__version__} (+{PROJECT_URL})"
ROBOTSTXT_OBEY = True
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 4
DOWNLOAD_DELAY = 0.5
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 60.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 2.0

# Retries with exponential backoff (Scrapy >= 2.13 backs off between retries of one request).
RETRY_ENABLED = True
RETRY_TIMES = 2
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
DOWNLOAD_TIMEOUT = 30

# News pages are rarely above a few MB; a 10 MB page is refused, not archived half-read.
DOWNLOAD_MAXSIZE = 10 * 1024 * 1024
DOWNLOAD_WARNSIZE = 2 * 1024 * 1024

# Article fetches are deliberate: the spiders pass dont_filter and dedupe per crawl themselves.
DUPEFILTER_DEBUG = False
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False
# No remote-control HTTP port on a cron box.
REMOTE_CONTROL_ENABLED = False
LOG_LEVEL = "INFO"

ITEM_PIPELINES = {
    "newscrawler.pipelines.ExtractPipeline": 300,
    "newscrawler.pipelines.ArchivePipeline": 800,
}

# --- newscrawler's own settings -------------------------------------------------------------
# Path of the SQLite archive (created with its schema when missing).
ARCHIVE_DB = "archive/news.db"
# Shortest body, in characters after normalisation, that counts as an article.
ARCHIVE_MIN_BODY_CHARS = 250
# A known article whose new body is shorter than this share of its current version is not compared
# (a paywall teaser, soft 404 or error page): the capture is kept as not_comparable.
ARCHIVE_SHRINK_RATIO = 0.5
# A paragraph that recurs in this many articles of one site is that site's boilerplate (masked).
ARCHIVE_BOILERPLATE_MIN_ARTICLES = 3
# At most this many due articles are re-checked per run (--recheck), most overdue first.
ARCHIVE_RECHECK_MAX = 1000
# Time zone applied to dates that carry none (IANA name).
ARCHIVE_DEFAULT_TZ = "UTC"
# Extraction worker processes; None = one per CPU this process may use, 0 = in the crawl process.
ARCHIVE_EXTRACT_WORKERS = None
# Seconds one page's extraction may take in a worker before it is killed (capture failed); 0 = no limit.
ARCHIVE_EXTRACT_TIMEOUT = 60
