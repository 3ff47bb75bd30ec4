"""Notifications: which edits reach whom (filters), what a message says, and sending it after the commit.

A message goes through Apprise (https://github.com/caronc/apprise), whose one URL syntax reaches
e-mail, webhooks, Matrix, Slack, Telegram, ntfy and many more. Channels come from ``--notify URL``
(``ARCHIVE_NOTIFY``, with the ``ARCHIVE_NOTIFY_*`` filters) and from ``notify = [...]`` of a watched
site (:mod:`newscrawler.sites`, with its own ``notify_*`` keys). Deciding is pure (:class:`Filters`,
:func:`change_event`, :func:`change_message`, :func:`queue_rows`); :class:`newscrawler.store.Archive`
queues the rows in the transaction of the capture, and the :class:`Notifications` extension sends
what is due when the spider closes (and, first, runs the site health check of
:mod:`newscrawler.health`), so a dead channel can neither lose an edit nor fail the crawl.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import html as html_lib
import logging
import re
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from newscrawler.changes import diff_versions, render_text
from newscrawler.dates import isoformat, utcnow_iso
from newscrawler.items import Outcome
from newscrawler.render import words_html as render_words_html

logger = logging.getLogger(__name__)

#: Capture outcomes that notify by default: an edit, or a return to an older version (not new articles).
CHANGE_OUTCOMES = (Outcome.CHANGED, Outcome.REVERTED)
#: ``changes`` filter values, after changedetection.io's "only trigger when lines are added/removed".
CHANGE_DIRECTIONS = ("any", "additions", "removals")
#: Most characters of diff text in one message (services cut or refuse longer ones); the diff page has all.
MAX_DIFF_CHARS = 6000


# --- what passes ----------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Filters:
    """Which changes a channel is told of; the defaults let every ``changed`` and ``reverted`` through.

    ``headline_only``: only versions whose headline changed. ``kinds``: change kinds to tell of
    (the version's ``change_kind``, "reverted", or "changed" for any edit); empty: all.
    ``min_words``: fewest words added plus removed (headline and body). ``changes``: ``any``,
    ``additions`` (at least one word added) or ``removals`` (at least one removed). ``sites``:
    watched-site names or registered domains; empty: all. ``urls``: regular expressions, one of
    which must be found in the article URL; empty: all.
    """

    headline_only: bool = False
    kinds: frozenset[str] = frozenset()
    min_words: int = 0
    changes: str = "any"
    sites: frozenset[str] = frozenset()
    urls: tuple[re.Pattern[str], ...] = ()

    def passes(self, event: ChangeEvent) -> bool:
        """Whether ``event`` is worth a message on a channel with these filters."""
        if self.headline_only and not event.headline_changed:
            return False
        if self.kinds and not ({event.kind, "changed" if event.outcome == Outcome.CHANGED else event.kind}
                               & self.kinds):
            return False
        if event.words_added + event.words_removed < self.min_words:
            return False
        if self.changes == "additions" and not event.words_added:
            return False
        if self.changes == "removals" and not event.words_removed:
            return False
        if self.sites and not ({event.site, event.site_name} & self.sites):
            return False
        return not self.urls or any(p.search(event.url) for p in self.urls)

    @classmethod
    def from_options(cls, options: dict[str, Any], base: Filters | None = None, where: str = "") -> Filters:
        """Filters from a dict of ``headline_only``, ``kinds``, ``min_words``, ``changes``, ``sites``,
        ``urls`` (values as in TOML or Scrapy settings: lists may be comma-separated strings); keys
        absent keep ``base``'s values.

        :raises ValueError: naming ``where`` and the key, for a value of the wrong type, an unknown
            ``changes`` value or a pattern that does not compile.
        """
        base = base or cls()
        values = dataclasses.asdict(base)
        values["urls"] = base.urls
        for key, value in options.items():
            if value is None:
                continue
            try:
                if key == "headline_only":
                    values[key] = _boolean(value)
                elif key in ("kinds", "sites"):
                    values[key] = frozenset(_strings(value))
                elif key == "min_words":
                    values[key] = int(value)
                    if values[key] < 0:
                        raise ValueError("must be 0 or more")
                elif key == "changes":
                    if value not in CHANGE_DIRECTIONS:
                        raise ValueError(f"must be one of {', '.join(CHANGE_DIRECTIONS)}")
                    values[key] = value
                elif key == "urls":
                    values[key] = tuple(re.compile(p) for p in _strings(value))
                else:
                    raise ValueError("unknown filter")
            except re.error as exc:
                raise ValueError(f"{where}{key}: bad pattern {exc.pattern!r}: {exc}") from exc
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{where}{key}: {exc} (got {value!r})") from exc
        return cls(**values)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, (list, tuple, set, frozenset)) and all(isinstance(v, str) for v in value):
        return list(value)
    raise TypeError("must be a list of strings")


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("1", "true", "yes", "0", "false", "no", ""):
        return value.lower() in ("1", "true", "yes")
    raise TypeError("must be true or false")


@dataclasses.dataclass(frozen=True)
class Channel:
    """One Apprise URL with the filters it was given, for every site (``site`` None) or one watched site.

    ``domains``: the registered domains of that site. ``digest``: one message per crawl instead of
    one per change.
    """

    url: str
    filters: Filters = Filters()
    digest: bool = False
    site: str | None = None
    domains: frozenset[str] = frozenset()

    @property
    def key(self) -> str:
        """``sha256:<hex>`` of the URL: how the archive names the channel without storing its secrets."""
        return channel_key(self.url)

    def covers(self, site: str | None) -> bool:
        """Whether this channel speaks for a registered domain ``site``."""
        return self.site is None or site in self.domains


def channel_key(url: str) -> str:
    """``sha256:<hex>`` of an Apprise URL."""
    return "sha256:" + hashlib.sha256(url.encode("utf-8")).hexdigest()


def masked_url(url: str) -> str:
    """An Apprise URL with passwords, tokens and keys masked (Apprise's own ``url(privacy=True)``);
    ``<scheme>://...`` for one Apprise cannot read."""
    plugin = _plugin(url)
    if plugin is None:
        return url.partition("://")[0] + "://..."
    return plugin.url(privacy=True)


def check_url(url: str) -> None:
    """:raises ValueError: when Apprise does not understand ``url`` (unknown scheme, missing parts)."""
    if _plugin(url) is None:
        raise ValueError(f"not an Apprise URL it can send to: {masked_url(url)} "
                         "(see https://github.com/caronc/apprise/wiki for the URL of each service)")


def _plugin(url: str) -> Any:
    import apprise

    return apprise.Apprise.instantiate(url, suppress_exceptions=True)


#: The ``ARCHIVE_NOTIFY_*`` settings that are filters, by filter name.
FILTER_SETTINGS = {"headline_only": "ARCHIVE_NOTIFY_HEADLINE_ONLY", "kinds": "ARCHIVE_NOTIFY_KINDS",
                   "min_words": "ARCHIVE_NOTIFY_MIN_WORDS", "changes": "ARCHIVE_NOTIFY_CHANGES",
                   "sites": "ARCHIVE_NOTIFY_SITES", "urls": "ARCHIVE_NOTIFY_URLS"}


def channels_from(settings: Any, sites: Sequence[Any] = ()) -> list[Channel]:
    """The channels of a crawl: every URL of ``ARCHIVE_NOTIFY`` (a list, or one URL per line) with the
    ``ARCHIVE_NOTIFY_*`` filters and ``ARCHIVE_NOTIFY_DIGEST``, then each watched site's ``notify``
    URLs with the site's ``notify_*`` options over those (:class:`newscrawler.sites.SiteConfig`).

    :raises ValueError: for a filter setting that does not parse or a URL Apprise does not understand.
    """
    raw = settings.get("ARCHIVE_NOTIFY") or []
    urls = [u.strip() for u in (raw.splitlines() if isinstance(raw, str) else raw) if u and u.strip()]
    base = Filters.from_options({name: settings.get(setting) for name, setting in FILTER_SETTINGS.items()},
                                where="ARCHIVE_NOTIFY_")
    digest = settings.getbool("ARCHIVE_NOTIFY_DIGEST", False)
    channels = []
    for url in urls:
        check_url(url)
        channels.append(Channel(url, base, digest))
    for site in sites:
        options = dict(getattr(site, "notify_options", None) or {})
        site_digest = _boolean(options.pop("digest", digest))
        filters = Filters.from_options(options, base, where=f"site {site.name}: notify_")
        for url in getattr(site, "notify", None) or []:
            check_url(url)
            channels.append(Channel(url, filters, site_digest, site.name, frozenset(site.domains)))
    return channels


# --- what a message says --------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class ChangeEvent:
    """A ``changed`` or ``reverted`` capture, with what the filters and the message need.

    ``kind``: the new version's ``change_kind`` when the archive has that column (else "changed"),
    or "reverted". ``diff``: :func:`newscrawler.changes.diff_versions` of the version that was
    current before and the one current now. ``site``: the registered domain; ``site_name``: the
    watched site's name, or None.
    """

    outcome: Outcome
    kind: str
    url: str
    site: str
    site_name: str | None
    headline: str
    diff: dict[str, Any]
    words_added: int
    words_removed: int
    crawl_id: int | None
    capture_id: int
    article_id: int
    version_id: int
    old_version: int
    new_version: int

    @property
    def headline_changed(self) -> bool:
        return "headline" in self.diff["changed"]


def word_counts(diff: dict[str, Any]) -> tuple[int, int]:
    """Words added and removed by a :func:`newscrawler.changes.diff_versions` result (headline and
    body; a moved paragraph counts as neither)."""
    added = removed = 0
    words = list(diff["headline"]) if "headline" in diff["changed"] else []
    for block in diff["body"]:
        if block["op"] == "replace":
            words += block["words"]
        elif block["op"] == "insert":
            added += len(block["new"].split())
        elif block["op"] == "delete":
            removed += len(block["old"].split())
    for op, text in words:
        if op == "+":
            added += len(text.split())
        elif op == "-":
            removed += len(text.split())
    return added, removed


def change_event(outcome: Outcome, old: dict[str, Any], new: dict[str, Any], *, url: str, site: str,
                 site_name: str | None, crawl_id: int | None, capture_id: int) -> ChangeEvent:
    """The event of a capture whose outcome is ``changed`` or ``reverted``: ``old`` is the version row
    that was current before, ``new`` the one current now (dicts with the compared fields, ``id``,
    ``version``, ``article_id`` and, when the column exists, ``change_kind``)."""
    outcome = Outcome(outcome)
    diff = diff_versions(old, new)
    added, removed = word_counts(diff)
    kind = "reverted" if outcome is Outcome.REVERTED else (new.get("change_kind") or "changed")
    return ChangeEvent(outcome, kind, url, site, site_name, new.get("headline") or old.get("headline") or url,
                       diff, added, removed, crawl_id, capture_id, new["article_id"], new["id"],
                       old["version"], new["version"])


@dataclasses.dataclass(frozen=True)
class Message:
    """One message: a title, the body as plain text and as an HTML fragment."""

    title: str
    text: str
    html: str


def diff_link(public_url: str | None, database: str, event: ChangeEvent) -> str | None:
    """The diff page of the event's version in Datasette under ``public_url`` (``ARCHIVE_PUBLIC_URL``,
    e.g. ``https://archive.example.org``; ``database`` is the archive file's stem), or None when unset.
    A reverted capture links to the article's timeline (its versions are all archived already)."""
    if not public_url:
        return None
    base = f"{public_url.rstrip('/')}/{database}/-/"
    if event.outcome is Outcome.REVERTED:
        return f"{base}article/{event.article_id}"
    return f"{base}diff/{event.version_id}"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit].rstrip() + "\n... (cut; the diff page has it all)\n"


def change_message(event: ChangeEvent, link: str | None = None, max_chars: int = MAX_DIFF_CHARS) -> Message:
    """The message of one change: headline, change kind, article URL, the word diff (as text:
    ``[-removed-]{+added+}``, and as HTML: ``<del>``/``<ins>``), and the diff page's ``link``."""
    esc = html_lib.escape
    what = (f"back to version {event.new_version} from version {event.old_version}"
            if event.outcome is Outcome.REVERTED else f"version {event.old_version} -> {event.new_version}")
    title = f"{event.kind.capitalize()}: {event.headline}"
    counts = f"{event.words_added} words added, {event.words_removed} removed"
    text = [f"{event.headline}", f"{event.kind} ({what}, {counts})", event.url]
    if link:
        text.append(f"diff: {link}")
    text += ["", _cut(render_text(event.diff), max_chars)]
    parts = [f"<p><strong>{esc(event.headline)}</strong><br>{esc(event.kind)} ({esc(what)}, {esc(counts)})<br>"
             f"<a href=\"{esc(event.url)}\">{esc(event.url)}</a>"
             + (f" &middot; <a href=\"{esc(link)}\">diff</a>" if link else "") + "</p>"]
    if event.headline_changed:
        parts.append(f"<p>headline: {render_words_html(event.diff['headline'])}</p>")
    for m in event.diff["metadata"]:
        parts.append(f"<p>{esc(m['field'])}: <del>{esc(str(m['old']))}</del> <ins>{esc(str(m['new']))}</ins></p>")
    size = 0
    for block in event.diff["body"]:
        op = block["op"]
        if op == "equal":
            continue
        if op == "replace":
            piece = f"<p>{render_words_html(block['words'])}</p>"
        elif op == "insert":
            piece = f"<p><ins>{esc(block['new'])}</ins></p>"
        elif op == "delete":
            piece = f"<p><del>{esc(block['old'])}</del></p>"
        else:
            piece = f"<p><em>(moved)</em> {esc(block['new'])}</p>"
        size += len(piece)
        if size > max_chars * 2:
            parts.append("<p>... (cut; the diff page has it all)</p>")
            break
        parts.append(piece)
    return Message(title, "\n".join(text).rstrip() + "\n", "\n".join(parts))


def queue_rows(channels: Iterable[Channel], kind: str, event: str, message: Message, now: str, *,
               site: str | None, passes: Any = None, **fields: Any) -> list[dict[str, Any]]:
    """Rows of the ``notifications`` table for one event (``capture:<id>``, ``health:<crawl>:<site>``):
    one per channel URL that covers ``site`` and whose filters let it through (``passes(filters)``;
    None: all). A URL named by several channels gets one row, in digest mode when any asks for it.
    ``fields`` are further columns (crawl, capture, article and version ids, change kind)."""
    chosen: dict[str, Channel] = {}
    for channel in channels:
        if not channel.covers(site) or (passes is not None and not passes(channel.filters)):
            continue
        if channel.key not in chosen or (channel.digest and not chosen[channel.key].digest):
            chosen[channel.key] = channel
    return [{"kind": kind, "event": event, "channel_digest": key, "channel": masked_url(channel.url),
             "digest": int(channel.digest), "site": site, "title": message.title, "body_text": message.text,
             "body_html": message.html, "status": "pending", "attempts": 0, "created_at": now,
             "next_attempt_at": now, **fields} for key, channel in chosen.items()]


def digest_message(rows: Sequence[dict[str, Any]], crawl_id: int | None) -> Message:
    """One message for several queued rows of a channel in digest mode (their texts one after another)."""
    title = f"newscrawler: {len(rows)} change{'s' if len(rows) != 1 else ''}" + (
        f" (crawl {crawl_id})" if crawl_id is not None else "")
    rule = "\n" + "-" * 40 + "\n"
    return Message(title, rule.join(f"{r['title']}\n{r['body_text']}" for r in rows),
                   "<hr>".join(f"<h3>{html_lib.escape(r['title'])}</h3>{r['body_html'] or ''}" for r in rows))


# --- sending --------------------------------------------------------------------------------------

def send(url: str, message: Message, timeout: float, warning: bool = False, plugin: Any = None) -> str | None:
    """Send ``message`` through the Apprise URL ``url``: HTML to services that prefer it (e-mail, or a
    URL with ``format=html``), else the text (``format=text``). ``timeout``: seconds to connect and to wait for
    each read (Apprise's ``cto``/``rto``), unless the URL sets them.

    ``plugin``: the Apprise service object of ``url`` from an earlier send, so that Apprise's pause
    between two messages to one service (its rate limit) holds.

    Returns None when sent, else why not in words (Apprise's warnings); never raises for a failed send.
    """
    import apprise

    plugin = plugin or _plugin(url)
    if plugin is None:
        return f"not an Apprise URL it can send to: {masked_url(url)}"
    if "cto=" not in url:
        plugin.socket_connect_timeout = timeout
    if "rto=" not in url:
        plugin.socket_read_timeout = timeout
    if hasattr(plugin, "resolve_format"):  # Apprise 2: the URL's format=, else the service's first format
        preferred = plugin.resolve_format()
    else:
        preferred = plugin.notify_format
    as_html = preferred == apprise.NotifyFormat.HTML
    with apprise.LogCapture(level=logging.WARNING) as log:
        try:
            ok = plugin.notify(body=message.html if as_html else message.text, title=message.title,
                               body_format=apprise.NotifyFormat.HTML if as_html else apprise.NotifyFormat.TEXT,
                               notify_type=apprise.NotifyType.WARNING if warning else apprise.NotifyType.INFO)
        except Exception as exc:  # a plugin bug must not end the crawl's close
            return f"{type(exc).__name__}: {exc}"
        said = log.getvalue()
    if ok:
        return None
    lines = [ln.split(" - ", 2)[-1] for ln in said.splitlines() if ln.strip()]
    return "; ".join(lines)[-500:] or "Apprise reported a failure"


def backoff_at(now: dt.datetime, attempts: int, base: float, most: float) -> str:
    """When to try again after ``attempts`` failed tries: ``base`` seconds doubled per try, at most
    ``most`` seconds (ISO 8601 UTC)."""
    delay = min(most, base * 2 ** max(attempts - 1, 0))
    return isoformat(now + dt.timedelta(seconds=delay))


class Notifications:
    """Sends the archive's due notifications when the spider closes, after the site health check.

    On ``spider_opened``: rows left ``sending`` by a crawl that died mid-send (the crawl lock is held,
    so no other process sends) go back to ``pending``: delivery is at-least-once (docs/notifications.md).
    On ``spider_closed``: :func:`newscrawler.health.check_crawl` writes this crawl's ``site_health``
    rows and queues an alert per departing site; then every due row of a configured channel is claimed
    (``sending``, committed), sent, and marked ``sent`` or, failed, retried later with backoff
    (``ARCHIVE_NOTIFY_BACKOFF`` seconds doubled per try, at most ``ARCHIVE_NOTIFY_BACKOFF_MAX``) until
    ``ARCHIVE_NOTIFY_MAX_ATTEMPTS`` tries. Each send waits at most ``ARCHIVE_NOTIFY_TIMEOUT`` seconds
    per connect or read; a channel that fails is not tried again in this run, and sending stops after
    ``ARCHIVE_NOTIFY_BUDGET`` seconds (the rest waits for the next run). Nothing here fails the crawl.

    Stats: ``archive/notify/sent``, ``.../failed`` (tries that failed), ``.../deferred`` (due but left for
    a later run), ``.../requeued`` (found ``sending`` at start); ``archive/health/alerts`` and
    ``archive/health/summary`` (the alerts in words, for the crawl's summary line).

    :raises NotConfigured: when ``ARCHIVE_DB`` is not set.
    """

    def __init__(self, crawler: Crawler, db_path: str):
        settings = crawler.settings
        self.crawler = crawler
        self.stats = crawler.stats
        self.db_path = db_path
        self.timeout = settings.getfloat("ARCHIVE_NOTIFY_TIMEOUT", 10.0)
        self.budget = settings.getfloat("ARCHIVE_NOTIFY_BUDGET", 60.0)
        self.backoff = settings.getfloat("ARCHIVE_NOTIFY_BACKOFF", 60.0)
        self.backoff_max = settings.getfloat("ARCHIVE_NOTIFY_BACKOFF_MAX", 86400.0)
        self.max_attempts = settings.getint("ARCHIVE_NOTIFY_MAX_ATTEMPTS", 10)
        self.channels: list[Channel] = []

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Notifications:
        path = crawler.settings.get("ARCHIVE_DB")
        if not path:
            raise NotConfigured("ARCHIVE_DB must be set")
        extension = cls(crawler, str(path))
        crawler.signals.connect(extension.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        return extension

    def spider_opened(self, spider: Any) -> None:
        from newscrawler.store import Archive

        self.channels = crawl_channels(self.crawler)
        with Archive.open(self.db_path) as archive:
            requeued = archive.requeue_interrupted_notifications()
        if requeued:
            self.stats.set_value("archive/notify/requeued", requeued)
            logger.warning("%d notifications were being sent when a crawl died: sending them again "
                           "(at-least-once: a receiver may see one twice)", requeued)

    def spider_closed(self, spider: Any, reason: str) -> None:
        from newscrawler import health
        from newscrawler.store import Archive

        try:
            with Archive.open(self.db_path) as archive:
                crawl_id = self.stats.get_value("archive/crawl_id")
                if crawl_id is not None:
                    alerts = health.check_crawl(archive, crawl_id, self.stats.get_stats(), self.crawler.settings,
                                                self.channels, getattr(spider, "sites", []))
                    if alerts:
                        self.stats.set_value("archive/health/alerts", len(alerts))
                        self.stats.set_value("archive/health/summary", "; ".join(alerts))
                if self.channels:
                    self.send_due(archive, crawl_id)
        except Exception:  # the archive is unharmed (each write is its own transaction); the crawl goes on
            logger.exception("notifications or the site health check failed; what is queued is sent next run")
            self.stats.inc_value("archive/notify/errors")

    def send_due(self, archive: Any, crawl_id: int | None) -> None:
        """Claim, send and settle every due row of this crawl's channels, within the time budget."""
        by_key = {c.key: c for c in self.channels}
        deadline = time.monotonic() + self.budget
        dead: set[str] = set()
        plugins: dict[str, Any] = {}
        due = archive.due_notifications(utcnow_iso(), list(by_key))
        groups: list[list[dict[str, Any]]] = []
        digests: dict[str, list[dict[str, Any]]] = {}
        for row in due:
            if row["digest"] and row["kind"] == "change":
                digests.setdefault(row["channel_digest"], []).append(row)
            else:
                groups.append([row])
        groups += list(digests.values())
        groups.sort(key=lambda g: g[0]["id"])
        for group in groups:
            key = group[0]["channel_digest"]
            if key in dead or time.monotonic() > deadline:
                self.stats.inc_value("archive/notify/deferred", len(group))
                continue
            ids = [r["id"] for r in group]
            if not archive.claim_notifications(ids, utcnow_iso()):
                continue  # settled meanwhile
            message = (digest_message(group, crawl_id) if len(group) > 1 or group[0]["digest"]
                       else Message(group[0]["title"], group[0]["body_text"], group[0]["body_html"] or ""))
            if key not in plugins:
                plugins[key] = _plugin(by_key[key].url)
            error = send(by_key[key].url, message, self.timeout, warning=group[0]["kind"] == "health",
                         plugin=plugins[key])
            now = dt.datetime.now(dt.UTC)
            if error is None:
                archive.settle_notifications(ids, "sent", isoformat(now))
                self.stats.inc_value("archive/notify/sent", len(group))
                continue
            dead.add(key)
            self.stats.inc_value("archive/notify/failed", len(group))
            attempts = max(r["attempts"] for r in group) + 1
            retry = backoff_at(now, attempts, self.backoff, self.backoff_max) if attempts < self.max_attempts else None
            archive.settle_notifications(ids, "failed", isoformat(now), error=error, next_attempt_at=retry)
            logger.warning("could not notify %s (try %d%s): %s", group[0]["channel"], attempts,
                           f", again after {retry}" if retry else ", given up", error)


def crawl_channels(crawler: Crawler) -> list[Channel]:
    """The channels of the crawler's settings and its spider's watched sites (:func:`channels_from`),
    built once per crawl and shared by the archive pipeline and :class:`Notifications`.

    :raises ValueError: as :func:`channels_from`.
    """
    found = getattr(crawler, "_newscrawler_channels", None)
    if found is None:
        found = channels_from(crawler.settings, getattr(crawler.spider, "sites", None) or [])
        crawler._newscrawler_channels = found  # type: ignore[attr-defined]
    return found


def database_name(path: str | Path | None) -> str:
    """The name Datasette gives the archive's database: the file's stem (``news`` for news.db)."""
    return Path(path).stem if path else "news"
