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
    # process_response runs before RetryMiddleware's (550) schedules the retry
    "newscrawler.middlewares.BackoffMiddleware": 560,
}
SPIDER_MIDDLEWARES = {
    "newscrawler.middlewares.OriginMiddleware": 40,
    "scrapy.spidermiddlewares.urllength.UrlLengthMiddleware": None,
}
# The crawl lock (taken when the crawler is made), the balance of archive/scheduled against the
# captures, the crawls row (in this order: see newscrawler/extensions.py); keeps memory flat (glibc);
# collects Python's cyclic garbage less often once started.
EXTENSIONS = {"newscrawler.extensions.ArchiveLock": 50, "newscrawler.extensions.CaptureLedger": 100,
              "newscrawler.extensions.CrawlRow": 110, "newscrawler.memory.MmapThreshold": 0,
              "newscrawler.memory.GcThreshold": 0}

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
# Allocations of this many bytes or more are given back to the OS when freed, in the crawl process
# (glibc's mallopt M_MMAP_THRESHOLD; see newscrawler/memory.py); 0 = glibc's own dynamic threshold,
# under which a long crawl's heap grows with its largest pages.
ARCHIVE_MMAP_THRESHOLD = 128 * 1024
# The same in each extraction worker, which holds one page at a time: its heap keeps the page
# buffers of all but the largest pages, and up to 4 times this free at its top; 0 = glibc's own.
ARCHIVE_WORKER_MMAP_THRESHOLD = 1024 * 1024
# Python's cyclic garbage collector in the crawl process (once the engine has started) and the
# extraction workers: start-up objects frozen, the youngest generation collected every this many
# container allocations (see newscrawler/memory.py); 0 = Python's own default (700 in CPython 3.11).
ARCHIVE_GC_THRESHOLD = 10_000
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
# Crawl only the watched sites (and URLs) of one shard, "K/N" (1 <= K <= N; see newscrawler/shards.py
# and docs/scaling.md); empty = every site.
ARCHIVE_SHARD = ""
