"""Test-only hooks: a worker that crashes, raises or hangs on pages carrying a marker; an
extension that drops requests.

:class:`HookedExtractPipeline` is :class:`newscrawler.pipelines.ExtractPipeline` with its
``extract_function`` replaced by :func:`extract_with_hooks`; a crawl uses it through
``-s ITEM_PIPELINES=`` + :func:`item_pipelines_setting`. :class:`DropLongRequests` joins a
crawl through ``-s EXTENSIONS=`` + :func:`extensions_setting`. Never used outside the tests.
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import time
from typing import Any

from scrapy import signals
from scrapy.exceptions import IgnoreRequest

from newscrawler.extraction import Extracted, extract_article
from newscrawler.pipelines import ExtractPipeline

HOOK = re.compile(r"<!-- test-hook: (segfault|exit|memory-error|sleep) ?([\d.]*) -->")
"""A marker in a page, e.g. ``<!-- test-hook: segfault -->`` or ``<!-- test-hook: sleep 1.5 -->``."""


def extract_with_hooks(html: str | bytes, url: str, **kwargs: Any) -> Extracted | None:
    """:func:`extract_article`, after doing what the page's test-hook marker says.

    ``segfault`` reads address 0 through ctypes (SIGSEGV, as a crashing C extension would),
    ``exit`` ends the process with ``os._exit(3)``, ``memory-error`` raises :class:`MemoryError`,
    ``sleep N`` waits N seconds first.
    """
    match = HOOK.search(html.decode("utf-8", "replace") if isinstance(html, bytes) else html)
    if match is not None:
        action, argument = match.groups()
        if action == "segfault":
            ctypes.string_at(0)
        elif action == "exit":
            os._exit(3)
        elif action == "memory-error":
            raise MemoryError
        elif action == "sleep":
            time.sleep(float(argument))
    return extract_article(html, url, **kwargs)


class HookedExtractPipeline(ExtractPipeline):
    """ExtractPipeline whose workers run :func:`extract_with_hooks`."""

    extract_function = staticmethod(extract_with_hooks)


def item_pipelines_setting() -> str:
    """The project's ITEM_PIPELINES with ExtractPipeline swapped for the hooked one, as JSON for ``-s``."""
    from newscrawler import settings

    pipelines = {("tests.hooks.HookedExtractPipeline" if path == "newscrawler.pipelines.ExtractPipeline"
                  else path): order for path, order in settings.ITEM_PIPELINES.items()}
    return json.dumps(pipelines)


def with_hook(html: str, hook: str) -> str:
    """The page with a test-hook marker (e.g. ``"segfault"``, ``"sleep 2"``) right after ``<head>``."""
    marker = f"<!-- test-hook: {hook} -->"
    head = re.search(r"<head[^>]*>", html, re.IGNORECASE)
    return html[:head.end()] + marker + html[head.end():] if head else marker + html


class DropLongRequests:
    """Extension that drops every request for a URL over 2083 characters as it is scheduled: no
    errback runs, as with Scrapy's own URL-length spider middleware (a request silently lost)."""

    @classmethod
    def from_crawler(cls, crawler: Any) -> DropLongRequests:
        extension = cls()
        crawler.signals.connect(extension.request_scheduled, signal=signals.request_scheduled)
        return extension

    def request_scheduled(self, request: Any, spider: Any) -> None:
        if len(request.url) > 2083:
            raise IgnoreRequest(f"dropped: {len(request.url)} characters")


def extensions_setting(*extra: str) -> str:
    """The project's EXTENSIONS plus the ``extra`` ones (dotted paths), as JSON for ``-s``."""
    from newscrawler import settings

    return json.dumps({**settings.EXTENSIONS, **{path: 900 for path in extra}})


class SchedulerDepth:
    """Extension that keeps, in the stat ``test/scheduler/max_queued``, the most requests Scrapy's
    scheduler held at once (its ``scheduler/enqueued`` minus ``scheduler/dequeued`` counts)."""

    def __init__(self, stats: Any):
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Any) -> SchedulerDepth:
        extension = cls(crawler.stats)
        crawler.signals.connect(extension.request_scheduled, signal=signals.request_scheduled)
        return extension

    def request_scheduled(self, request: Any, spider: Any) -> None:
        queued = 1 + self.stats.get_value("scheduler/enqueued", 0) - self.stats.get_value("scheduler/dequeued", 0)
        self.stats.max_value("test/scheduler/max_queued", queued)
