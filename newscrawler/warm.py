"""Imported by the extraction workers' fork server, to build trafilatura's lazy tables there once.

trafilatura builds some tables at its first extraction in a process, not at import: the stop
words of all jusText languages (its fallback for a page in a language it was not told) and the
public suffix list behind courlan. Built in the fork server
(:class:`newscrawler.workers.WorkerPool`'s ``preload``), they come ready, and shared
copy-on-write, to every worker forked from it, replacements included. What that saves is measured
in ``benchmarks/tuning.py`` (variant ``no_warm``).

Importing this module extracts one built-in page. An exception from that extraction is
swallowed: it costs the workers their warm start, not their work.
"""

from newscrawler.extraction import extract_article

#: Its registered name has 3 letters: courlan's quick pattern does not take it, so it asks tld,
#: which loads the public suffix list.
WARM_UP_URL = "https://www.abc.co.uk/news/warm-up.html"
#: Short enough (under trafilatura's 250 characters) to go to its jusText fallback; its canonical
#: URL is WARM_UP_URL.
WARM_UP_PAGE = b"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Warm-up</title>
<meta property="article:published_time" content="2026-01-01T00:00:00Z">
<link rel="canonical" href="%s"></head>
<body><article><h1>Warm-up</h1><p>A short page, extracted once when the workers' fork server
starts.</p></article></body></html>""" % WARM_UP_URL.encode()

try:
    extract_article(WARM_UP_PAGE, WARM_UP_URL, content_type="text/html; charset=utf-8")
except Exception:  # a cold start, not a failure: see above
    pass
