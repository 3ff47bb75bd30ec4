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
# Item pipelines run for this many items of one response at once. Ours yield one item per
# page, and Scrapy's default (100) costs an asyncio task per slot per response (about 1 ms a page).
CONCURRENT_ITEMS = 4

# Retries; newscrawler.middlewares.BackoffMiddleware slows the site down before each retry
# (Retry-After when sent, else ARCHIVE_BACKOFF_BASE doubled per retry).
RETRY_ENABLED = True
RETRY_TIMES = 2
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
# Every request of ours has an errback that records (a failed capture) or reports (one WARNING
# line) the failure: Scrapy's own give-up line would say it twice.
RETRY_GIVE_UP_LOG_LEVEL = "DEBUG"
DOWNLOAD_TIMEOUT = 30

# Largest response read (bytes, after Content-Encoding): a sitemap may be 50 MB uncompressed
# (sitemaps.org); article pages have their own, lower limit, ARCHIVE_PAGE_MAXSIZE.
DOWNLOAD_MAXSIZE = 50 * 1024 * 1024
# Responses larger than this (bytes) are logged as a warning.
DOWNLOAD_WARNSIZE = 10 * 1024 * 1024

# Article fetches are deliberate: the spiders pass dont_filter and dedupe per crawl themselves.
DUPEFILTER_DEBUG = False
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False
# No remote-control HTTP port on a cron box.
REMOTE_CONTROL_ENABLED = False
LOG_LEVEL = "INFO"

# Refuse non-http(s) URLs, credentials in URLs and private addresses linked from public sites;
# obey robots.txt by RFC 9309; refuse over-long URLs with a recorded reason, not a silent drop.
DOWNLOADER_MIDDLEWARES = {
    "newscrawler.middlewares.TargetGuardMiddleware": 30,
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "newscrawler.middlewares.RobotsTxtMiddleware": 100,
    "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware": None,
    "newscrawler.middlewares.HeadMetaRefreshMiddleware": 580,
    # Scrapy's, stopping at the first repeated URL of a redirect chain
    "scrapy.downloadermiddlewares.redirect.RedirectMiddleware": None,
    "newscrawler.middlewares.RedirectMiddleware": 600,
    # process_response sees every answer before RedirectMiddleware (600) follows it and
    # RetryMiddleware (550) schedules the retry
    "newscrawler.middlewares.BackoffMiddleware": 610,
    # validators on re-fetches; its process_response sees the body decompressed (HttpCompression: 590)
    "newscrawler.middlewares.ConditionalRequestMiddleware": 570,
    # the exchange as sent and received, before decompression (what a WARC export writes)
    "newscrawler.middlewares.ExchangeMiddleware": 950,
}
SPIDER_MIDDLEWARES = {
    "newscrawler.middlewares.OriginMiddleware": 40,
    "scrapy.spidermiddlewares.urllength.UrlLengthMiddleware": None,
}
# The crawl lock (taken when the crawler is made), the balance of archive/scheduled against the
# captures, the notifications and the site health check (newscrawler/notify.py), the crawls row
# (in this order: see newscrawler/extensions.py).
EXTENSIONS = {"newscrawler.extensions.ArchiveLock": 50, "newscrawler.extensions.CaptureLedger": 100,
              "newscrawler.notify.Notifications": 105, "newscrawler.extensions.CrawlRow": 110}

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
# Seconds between requests to a site after its first retryable answer (429, 503, ...) without
# Retry-After; doubled for each further retry of the same request.
ARCHIVE_BACKOFF_BASE = 2.0
# Most seconds a Retry-After or backoff may hold a site's requests.
ARCHIVE_BACKOFF_MAX = 120.0
# Time zone applied to dates that carry none (IANA name).
ARCHIVE_DEFAULT_TZ = "UTC"
# Extraction worker processes; None = sized to the machine's CPUs and memory (newscrawler.workers.default_workers),
# 0 = in the crawl process.
ARCHIVE_EXTRACT_WORKERS = None
# Seconds one page's extraction may take in a worker before it is killed (capture failed); 0 = no limit.
ARCHIVE_EXTRACT_TIMEOUT = 60
# Largest article page (bytes, after Content-Encoding): a bigger one is a failed capture, never
# archived half-read; news pages are rarely above a few MB.
ARCHIVE_PAGE_MAXSIZE = 10 * 1024 * 1024
# Fetch loopback, private and link-local addresses that a public site's sitemaps, feeds or
# redirects point to (a crawl started on such an address may always fetch them).
ARCHIVE_ALLOW_PRIVATE_ADDRESSES = False
# Bytes of a robots.txt that are read and obeyed (RFC 9309 asks crawlers for at least 500 KiB).
ARCHIVE_ROBOTSTXT_MAXSIZE = 500 * 1024
# Seconds a crawl waits for another crawl of the same archive to finish before it gives up.
ARCHIVE_LOCK_WAIT = 600
# Apprise URLs told of changes and site-health alerts (newscrawler crawl --notify URL; docs/notifications.md).
ARCHIVE_NOTIFY = []
# Filters of those: only headline changes; only these change kinds (change_kind, "changed", "reverted");
# at least this many words added plus removed; "any", "additions" or "removals"; only these sites
# (watched-site names or registered domains); only article URLs matching one of these regular expressions.
ARCHIVE_NOTIFY_HEADLINE_ONLY = False
ARCHIVE_NOTIFY_KINDS = []
ARCHIVE_NOTIFY_MIN_WORDS = 0
ARCHIVE_NOTIFY_CHANGES = "any"
ARCHIVE_NOTIFY_SITES = []
ARCHIVE_NOTIFY_URLS = []
# One message per crawl per channel, listing every change, instead of one per change.
ARCHIVE_NOTIFY_DIGEST = False
# Seconds one send may wait to connect, and for each read (a dead channel costs at most this).
ARCHIVE_NOTIFY_TIMEOUT = 10
# Seconds all sending may take when a crawl ends; what is left is sent by the next run.
ARCHIVE_NOTIFY_BUDGET = 60
# Seconds before a failed notification is tried again, doubled per try, at most ..._BACKOFF_MAX; given up
# after ARCHIVE_NOTIFY_MAX_ATTEMPTS tries.
ARCHIVE_NOTIFY_BACKOFF = 60
ARCHIVE_NOTIFY_BACKOFF_MAX = 86400
ARCHIVE_NOTIFY_MAX_ATTEMPTS = 10
# Where Datasette serves the archive (e.g. https://archive.example.org): notifications link to diff pages.
ARCHIVE_PUBLIC_URL = None
# Site health (newscrawler/health.py): a site's baseline is its last this many healthy crawls ...
ARCHIVE_HEALTH_BASELINE_CRAWLS = 5
# ... of which at least this many are needed before any alert ...
ARCHIVE_HEALTH_MIN_CRAWLS = 2
# ... each (and this crawl) with at least this many captures of the site for the share and coverage rules.
ARCHIVE_HEALTH_MIN_CAPTURES = 3
# A share of not_article, failed or not_comparable captures this much (0..1) above the baseline's departs.
ARCHIVE_HEALTH_SHARE_RISE = 0.3
# A median body length below this share of the baseline's departs.
ARCHIVE_HEALTH_BODY_RATIO = 0.5
# A field coverage (headline, date, authors) this much (0..1) below the baseline's departs.
ARCHIVE_HEALTH_COVERAGE_DROP = 0.4
# Crawl only the watched sites (and URLs) of one shard, "K/N" (1 <= K <= N; see newscrawler/shards.py
# and docs/scaling.md); empty = every site.
ARCHIVE_SHARD = ""
