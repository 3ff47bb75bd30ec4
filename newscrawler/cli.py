"""The ``newscrawler`` command: crawl into the archive, list an article's history, diff versions."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from newscrawler import __version__
from newscrawler.changes import diff_versions, render_text
from newscrawler.dates import isoformat
from newscrawler.lock import command_line
from newscrawler.render import page_html
from newscrawler.store import Archive

DEFAULT_DB = "archive/news.db"
_SUMMARY = (("fetched", "item_scraped_count"), ("new", "archive/captures/new"),
            ("changed", "archive/captures/changed"), ("reverted", "archive/captures/reverted"),
            ("revisits", "archive/captures/revisit"), ("not modified", "archive/captures/not_modified"),
            ("not comparable", "archive/captures/not_comparable"),
            ("not articles", "archive/captures/not_article"), ("gone", "archive/captures/gone"),
            ("failed", "archive/captures/failed"))


@click.group()
@click.version_option(__version__, prog_name="newscrawler")
def cli() -> None:
    """Archive news articles and every version of them."""


def _parse_settings(values: tuple[str, ...], known: dict[str, Any]) -> dict[str, str]:
    """``-s NAME=VALUE`` options as ``{name: value}``, each checked against the ``known`` settings
    (:func:`newscrawler.checks.check_setting`) before anything starts.

    :raises click.ClickException: for the first one that is not NAME=VALUE or not usable.
    """
    from newscrawler.checks import SettingError, check_setting

    settings = {}
    for value in values:
        name, sep, setting = value.partition("=")
        if not sep or not name.strip():
            raise click.ClickException(f"-s takes NAME=VALUE, got {value!r}")
        try:
            check_setting(name.strip(), setting, known)
        except SettingError as exc:
            raise click.ClickException(str(exc)) from None
        settings[name.strip()] = setting
    return settings


def summary_line(stats: dict[str, Any], queued: int | None = None) -> str:
    """One line of counts from a crawl's stats: ``fetched 12, new 3, changed 1, ..., failed 2``
    (fetched: the captures that did not fail); with ``queued``, the fetched count out of it
    (``fetched 12 of 340, ...``)."""
    counts = {key: stats.get(key, 0) for _, key in _SUMMARY}
    # A failed capture is a page not fetched (no response, or one that could not be used).
    counts["item_scraped_count"] = max(0, counts["item_scraped_count"] - counts["archive/captures/failed"])
    parts = [f"{label} {counts[key]}" for label, key in _SUMMARY]
    if queued is not None:
        parts[0] += f" of {queued}"
    return ", ".join(parts)


def final_line(stats: dict[str, Any], now: str, seconds: float) -> str:
    """The line a crawl ends with, for cron logs: when (``now``, UTC ISO 8601), which crawl, how
    long (``seconds``), then :func:`summary_line`, and the site health alerts when there are any:
    ``2026-11-30T04:12:03Z crawl 7, 41 s: fetched 12, new 3, ..., health alerts 1 [example.org: ...]``."""
    parts = [now]
    if stats.get("archive/crawl_id") is not None:
        parts.append(f"crawl {stats['archive/crawl_id']},")
    parts.append(f"{seconds:.0f} s:")
    line = " ".join(parts) + " " + summary_line(stats)
    if stats.get("archive/health/alerts"):  # newscrawler.health: sites departing from their baseline
        line += f", health alerts {stats['archive/health/alerts']} [{stats.get('archive/health/summary', '')}]"
    return line


@cli.command()
@click.argument("urls", nargs=-1)
@click.option("--db", "db_path", default=DEFAULT_DB, show_default=True, type=click.Path(),
              help="SQLite archive to write (created when missing).")
@click.option("--recheck", is_flag=True,
              help="Also re-fetch archived articles that are due (conditional requests, most overdue first).")
@click.option("--sites", "sites_file", type=click.Path(exists=True, dir_okay=False),
              help="Watched-sites TOML file: per site its sitemaps, feeds, allow/deny, prune_xpath, recheck.")
@click.option("--notify", "notify_urls", multiple=True, metavar="URL",
              help="Apprise URL told of each changed or reverted article and of site health alerts, e.g. "
                   "mailto://user:pass@example.org or json://host/hook (repeatable; docs/notifications.md).")
@click.option("--shard", metavar="K/N",
              help="Crawl only the sites of shard K out of N (by a hash of their registered domain, or "
                   "their shard in --sites), into this shard's own --db; see 'newscrawler merge'.")
@click.option("-s", "--set", "settings", multiple=True, metavar="NAME=VALUE",
              help="Scrapy or ARCHIVE_* setting, e.g. -s DOWNLOAD_DELAY=2 (repeatable).")
@click.option("-v", "--verbose", count=True, help="Log INFO (-v) or DEBUG (-vv) to stderr.")
def crawl(urls: tuple[str, ...], db_path: str, recheck: bool, sites_file: str | None,
          notify_urls: tuple[str, ...], shard: str | None, settings: tuple[str, ...], verbose: int) -> None:
    """Fetch articles from URLS into the archive.

    Each URL may be a sitemap (urlset, index, gzip, Google News), an RSS or Atom feed, a
    site's home page (its feeds and robots.txt sitemaps are followed) or an article page.
    Articles named directly are always fetched; sitemap and feed entries when new or when
    their lastmod is newer than the last capture. --recheck re-fetches archived articles whose
    re-check is due; --sites reads a watched-sites file (for cron). --notify sends each
    edit (its word diff) and each site health alert to an Apprise URL. --shard K/N
    reads only the sites (and URLs) of shard K, so N crawls split the sites between them.

    Examples:

        newscrawler crawl https://www.example.com/sitemap.xml --db archive/news.db

        newscrawler crawl --sites sites.toml --recheck --notify json://127.0.0.1:8080/hook

        newscrawler crawl --sites sites.toml --shard 1/2 --db archive/shard-1.db
    """
    from newscrawler.shards import parse_shard
    from newscrawler.sites import read_sites

    if not (urls or recheck or sites_file):
        raise click.UsageError("give URLs to crawl, --sites FILE, or --recheck")
    try:
        parsed_shard = parse_shard(shard)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--shard") from exc
    from scrapy.crawler import CrawlerProcess
    from scrapy.utils.project import get_project_settings

    from newscrawler.checks import known_settings
    from newscrawler.spiders.auto import AutoSpider

    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "newscrawler.settings")
    project = get_project_settings()
    given = _parse_settings(settings, known_settings(project))
    try:
        sites, skipped = read_sites(sites_file) if sites_file else ([], [])
    except (ValueError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    for bad in skipped:  # one line each; the other sites are crawled
        click.echo(str(bad), err=True)
    if sites_file and not sites and not (urls or recheck):
        raise click.ClickException(f"{sites_file}: no site can be crawled (each one is skipped above)")
    if parsed_shard is not None:
        try:
            for site in sites:
                parsed_shard.holds_site(site)  # a site's shard beyond N is an error here, not mid-crawl
        except ValueError as exc:
            raise click.ClickException(str(exc)) from exc
    _check_writable(db_path)
    project.set("ARCHIVE_DB", db_path, priority="cmdline")
    project.set("ARCHIVE_COMMAND", command_line(["newscrawler", *sys.argv[1:]]), priority="cmdline")
    project.set("LOG_LEVEL", {0: "WARNING", 1: "INFO"}.get(verbose, "DEBUG"), priority="cmdline")
    for name, value in given.items():
        project.set(name, value, priority="cmdline")
    if notify_urls:
        project.set("ARCHIVE_NOTIFY", [*_setting_list(project.get("ARCHIVE_NOTIFY")), *notify_urls],
                    priority="cmdline")
    from newscrawler.notify import channels_from

    try:
        channels_from(project, sites)  # a bad URL or filter is refused before anything is fetched
    except ValueError as exc:
        raise click.ClickException(f"--notify: {exc}") from exc
    if parsed_shard is not None:
        project.set("ARCHIVE_SHARD", str(parsed_shard), priority="cmdline")
    _hold_crawl_lock(db_path, project.getfloat("ARCHIVE_LOCK_WAIT"))
    start_errors: list[BaseException] = []
    try:
        process = CrawlerProcess(project)
        crawler = process.create_crawler(AutoSpider)
        # Components (extensions, middlewares, pipelines) are made when the crawl starts: an
        # error there (a bad setting) ends the crawl before the engine runs. The errback takes
        # any error that ends the crawl, which Twisted would otherwise log as unhandled.
        process.crawl(crawler, urls=list(urls), sites=sites, recheck=recheck).addErrback(
            lambda failure: start_errors.append(failure.value))
    except Exception as exc:  # bad settings or arguments surface here, before any fetch
        raise click.ClickException(f"cannot start the crawl: {exc}") from exc
    progress = _start_progress(crawler) if sys.stdout.isatty() else None
    started = time.monotonic()
    # A closed terminal (SIGHUP) stops the crawl as SIGTERM does, through Scrapy's shutdown, so
    # its crawls row is finished; Python's default action would end the process on the spot.
    signal.signal(signal.SIGHUP, _hangup_as_term)
    process.start()
    if progress is not None:
        click.echo()
    stats = crawler.stats.get_stats()
    if start_errors and "start_time" not in stats:
        raise click.ClickException(f"cannot start the crawl: {start_errors[0]}")
    _report_failed_urls(db_path, stats.get("archive/crawl_id"))
    click.echo(final_line(stats, isoformat(dt.datetime.now(dt.UTC)), time.monotonic() - started))
    # An error that ended the crawl after it started is taken here too, so it is not silenced.
    failure = f"the crawl failed: {start_errors[0]}" if start_errors else crawl_failure(stats, len(urls))
    if failure:
        raise click.ClickException(failure)


def _report_failed_urls(db_path: str, crawl_id: int | None) -> None:
    """One line on stderr for each URL named on the command line whose capture in this crawl
    failed, with the reason recorded (robots.txt, scheme, credentials, HTTP status, ...)."""
    if crawl_id is None:
        return
    import sqlite3

    try:
        with Archive.open(db_path, readonly=True) as archive:
            failed = archive.failed_captures(crawl_id, "cli")
    except (sqlite3.Error, OSError) as exc:
        click.echo(f"cannot read the failed captures of crawl {crawl_id} back: {exc}", err=True)
        return
    for row in failed:
        click.echo(f"not archived: {row['requested_url']}: {row['error'] or 'no reason recorded'}", err=True)
def _setting_list(value: Any) -> list[str]:
    """A list setting as given: a list, or one item per line of a string (Apprise URLs hold commas)."""
    if not value:
        return []
    return [v for v in value.splitlines() if v.strip()] if isinstance(value, str) else list(value)


def _hold_crawl_lock(db_path: str, wait: float) -> None:
    """Take the archive's crawl lock (``<db>.lock``) for the rest of this command.

    Waits up to ``wait`` seconds (``ARCHIVE_LOCK_WAIT``) for another crawl of the same archive,
    saying so on stderr; released when the command ends, or by the kernel if the process dies.
    """
    from newscrawler.lock import ArchiveLocked, CrawlLock, format_seconds

    def waiting(holder: dict[str, Any]) -> None:
        click.echo(f"{db_path} is being crawled by pid {holder.get('pid', '?')}: waiting up to "
                   f"{format_seconds(wait)} s for it to finish", err=True)

    lock = CrawlLock(db_path)
    try:
        lock.acquire(wait, command=command_line(["newscrawler", *sys.argv[1:]]), on_wait=waiting)
    except ArchiveLocked as exc:
        raise click.ClickException(str(exc)) from exc
    click.get_current_context().call_on_close(lock.release)


@cli.command()
@click.argument("shards", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--db", "db_path", default=DEFAULT_DB, show_default=True, type=click.Path(),
              help="SQLite archive to merge into (created when missing).")
def merge(shards: tuple[str, ...], db_path: str) -> None:
    """Merge shard archives (crawled with --shard K/N) into one archive.

    Each shard is merged in one transaction: its articles, versions, captures, crawls and
    every other table, row ids renumbered; raw pages are stored once per digest. Merging
    again is safe: a shard merged before adds only what it archived since. A shard whose
    articles are already in the archive from elsewhere is refused (a site's history stays
    in one shard). The archive's crawl lock is held meanwhile.

    Example:

        newscrawler merge archive/shard-1.db archive/shard-2.db --db archive/news.db
    """
    import sqlite3

    from newscrawler.lock import ArchiveLocked, CrawlLock
    from newscrawler.merge import MergeRefused, merge_shard

    resolved = Path(db_path).resolve()
    for shard in shards:
        if Path(shard).resolve() == resolved:
            raise click.ClickException(f"{shard} is the target archive itself")
    lock = CrawlLock(db_path)
    try:
        lock.acquire(0, command=command_line(["newscrawler", *sys.argv[1:]]))
    except ArchiveLocked as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        with Archive.open(db_path) as archive:
            for shard in shards:
                try:
                    counts = merge_shard(archive, shard)
                except (MergeRefused, sqlite3.Error, RuntimeError) as exc:
                    raise click.ClickException(f"{shard} not merged: {exc}") from exc
                inserted = {k: v for k, v in counts.inserted.items() if v}
                updated = {k: v for k, v in counts.updated.items() if v}
                what = ", ".join([*(f"{k} +{v}" for k, v in inserted.items()),
                                  *(f"{k} ~{v}" for k, v in updated.items())]) or "nothing new"
                click.echo(f"{shard}: {what}")
    except (sqlite3.Error, OSError) as exc:
        raise click.ClickException(f"cannot write the archive {db_path}: {exc}") from exc
    finally:
        lock.release()


def _check_writable(db_path: str) -> None:
    """Open (create) the archive and make sure this process can write to it.

    A new archive gets its schema here (no crawl can be using it, and creating it takes
    milliseconds), so a crawl that then fails to start leaves an empty archive, not an empty file.
    An existing one is migrated by the crawl itself, once it holds the crawl lock: an upgraded
    newscrawler waiting for a crawl of the old one must not hold up that crawl's writes meanwhile.

    :raises click.ClickException: when the file is not an archive or cannot be written, or when
        its schema is newer than this newscrawler's.
    """
    import sqlite3

    try:
        with Archive.open(db_path, migrate=not Path(db_path).exists()) as archive:
            version = archive.db.execute("PRAGMA user_version").fetchone()[0]
            archive.db.execute(f"PRAGMA user_version = {int(version)}")  # a write that changes nothing
    except (sqlite3.Error, OSError, RuntimeError) as exc:
        raise click.ClickException(f"cannot write the archive {db_path}: {exc}") from exc


def crawl_failure(stats: dict[str, Any], start_urls: int) -> str | None:
    """Why a crawl failed as a whole, in words, or None when it did its job.

    It failed when Scrapy closed it for another reason than "finished" (interrupted), when a
    capture could not be written, when a spider callback raised, when no URL named on the
    command line could be fetched, when nothing was archived and some sitemap or feed could not
    be read, or when every capture failed.
    """
    reason = stats.get("finish_reason")
    captures = stats.get("item_scraped_count", 0)
    failed = stats.get("archive/captures/failed", 0)
    if reason in (None, "shutdown"):
        return "the crawl was interrupted (a signal or Ctrl-C); what it fetched is archived"
    if reason != "finished":
        return f"the crawl stopped early: {reason}"
    if stats.get("archive/write/failed"):
        return f"{stats['archive/write/failed']} captures could not be written to the archive"
    if stats.get("spider_exceptions/count"):
        return f"{stats['spider_exceptions/count']} errors while reading responses (see the log above)"
    unreadable = sum(stats.get(f"archive/discovery/{k}", 0) for k in ("invalid_sitemap", "invalid_feed", "failed"))
    if not captures and unreadable:
        return f"nothing archived: {unreadable} sitemaps or syndication feeds could not be read"
    if start_urls and stats.get("archive/start/failed", 0) >= start_urls:
        return "none of the given URLs could be fetched"
    if captures and failed == captures:
        return f"all {captures} fetches failed"
    return None


def _start_progress(crawler: Any) -> Any:
    """Rewrite one progress line every second until the spider closes: :func:`summary_line` out of
    the article pages queued so far (``archive/scheduled``, which grows while sitemaps and
    syndication feeds are read)."""
    from scrapy import signals
    from twisted.internet import task

    def show() -> None:
        if crawler.stats is not None:
            stats = crawler.stats.get_stats()
            click.echo("\r" + summary_line(stats, queued=stats.get("archive/scheduled", 0)), nl=False)

    loop = task.LoopingCall(show)

    def stop() -> None:
        if loop.running:
            loop.stop()

    crawler.signals.connect(stop, signal=signals.spider_closed, weak=False)
    loop.start(1.0, now=False)
    return loop


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _open_readonly(db_path: str) -> Archive:
    if not Path(db_path).exists():
        raise click.ClickException(f"no archive at {db_path}: run 'newscrawler crawl' first")
    return Archive.open(db_path, readonly=True)


def _article_or_fail(archive: Archive, url: str) -> dict[str, Any]:
    article = archive.article(url)
    if article is None:
        raise click.ClickException(f"{url} is not in the archive")
    return article


@cli.command()
@click.argument("url")
@click.option("--db", "db_path", default=DEFAULT_DB, show_default=True, type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print the versions and captures as JSON.")
def history(url: str, db_path: str, as_json: bool) -> None:
    """List the versions and captures of the article at URL.

    Each version shows its change kind (correction, update, headline, stealth, metadata, or revert
    to an older version); the current one is marked "current". Other URLs the story was found at
    (a redirect, a new canonical, the same numeric id) are listed as aliases.

    Example:

        newscrawler history https://www.example.com/news/story.html
    """
    with _open_readonly(db_path) as archive:
        article = _article_or_fail(archive, url)
        versions = archive.versions(article["id"])
        captures = archive.captures(article["id"])
        aliases = archive.aliases(article["id"])
    if as_json:
        click.echo(json.dumps({"article": article, "aliases": aliases, "versions": [
            {**{k: v for k, v in row.items() if k != "body"}, "current": row["id"] == article["latest_version_id"]}
            for row in versions], "captures": captures}, indent=2))
        return
    click.echo(f"{article['url']}  (first seen {article['first_seen_at']}, "
               f"{_plural(len(versions), 'version')}, {_plural(len(captures), 'capture')})")
    for alias in aliases:
        click.echo(f"  alias {alias['url']}  ({alias['reason']}, {alias['first_seen_at']})")
    for row in versions:
        changed = ", ".join(row["changed"]) if row["version"] > 1 else "first version"
        kind = row.get("change_kind")
        if kind == "revert":
            kind = f"revert to v{row['reverts_to']}"
        label = f"{kind}: {changed}" if kind else changed
        current = "  (current)" if row["id"] == article["latest_version_id"] else ""
        click.echo(f"  v{row['version']}  {row['captured_at']}  {row['headline']}  [{label}]{current}")
    outcomes: dict[str, int] = {}
    for row in captures:
        outcomes[row["outcome"]] = outcomes.get(row["outcome"], 0) + 1
    click.echo("  captures: " + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())))


@cli.command()
@click.argument("url")
@click.option("--db", "db_path", default=DEFAULT_DB, show_default=True, type=click.Path())
@click.option("--from", "from_version", type=click.IntRange(min=1),
              help="Older version number, from 1 (default: to - 1).")
@click.option("--to", "to_version", type=click.IntRange(min=1),
              help="Newer version number, from 1 (default: the latest).")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "html"]), default="text",
              show_default=True)
def diff(url: str, db_path: str, from_version: int | None, to_version: int | None,
         fmt: str) -> None:
    """Show what changed between two versions of the article at URL, word by word.

    Headline and metadata changes come first, then the body paragraph by paragraph:
    text marks deletions [-like this-] and insertions {+like this+}.

    Example:

        newscrawler diff https://www.example.com/news/story.html --from 1 --to 2
    """
    with _open_readonly(db_path) as archive:
        article = _article_or_fail(archive, url)
        versions = {row["version"]: row for row in archive.versions(article["id"])}
    latest = max(versions)
    to_version = latest if to_version is None else to_version
    from_version = max(to_version - 1, 1) if from_version is None else from_version
    for number in (to_version, from_version):
        if number not in versions:
            raise click.ClickException(
                f"{article['url']} has no version {number} (versions 1 to {latest})")
    old, new = versions[from_version], versions[to_version]
    result = diff_versions(old, new)
    if fmt == "json":
        click.echo(json.dumps({"url": article["url"], "from": from_version, "to": to_version,
                               **result}, indent=2, ensure_ascii=False))
    elif fmt == "html":
        click.echo(page_html(article["url"], old, new, result))
    else:
        click.echo(f"{article['url']}: version {from_version} ({old['captured_at']}) -> "
                   f"{to_version} ({new['captured_at']})")
        click.echo(render_text(result), nl=False)


ARCHIVE_CONFIG = Path(__file__).resolve().parent.parent / "archive"
"""The Datasette configuration directory of this checkout: metadata.yml, settings.json, templates/
(newscrawler's own plugin, :mod:`newscrawler.web`, loads by its ``datasette`` entry point)."""


def _exit_on_signal(signum: int, frame: object) -> None:
    """Signal handler: exit with status 128 + ``signum`` (143 for SIGTERM, 130 for SIGINT) through
    ``SystemExit``, so that context managers on the stack clean up."""
    sys.exit(128 + signum)


def _hangup_as_term(signum: int, frame: object) -> None:
    """SIGHUP handler: stop as on SIGTERM (whose handler is uvicorn's while Datasette runs)."""
    signal.raise_signal(signal.SIGTERM)


@contextlib.contextmanager
def _stopped_by_signals_cleanly() -> Iterator[None]:
    """Within: SIGTERM, SIGINT and SIGHUP end the process through ``SystemExit``.

    uvicorn handles SIGTERM and SIGINT while it serves, shuts down, then raises the signal again
    with the handler found before it; Python's default action for SIGTERM (and SIGHUP, which
    uvicorn leaves alone) would end the process there, and asyncio's for SIGINT would exit 0. The
    previous handlers are restored on the way out; outside the main thread nothing is changed.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    handlers = {signal.SIGTERM: _exit_on_signal, signal.SIGINT: _exit_on_signal,
                signal.SIGHUP: _hangup_as_term}
    previous = {signum: signal.signal(signum, handler) for signum, handler in handlers.items()}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@cli.command()
@click.option("--db", "db_path", default=DEFAULT_DB, show_default=True, type=click.Path(),
              help="SQLite archive to browse (opened read-only; a crawl may write meanwhile).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; 127.0.0.1 allows this machine only.")
@click.option("--port", default=8001, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on (0 picks a free one).")
@click.option("--config-dir", type=click.Path(file_okay=False, path_type=Path),
              default=ARCHIVE_CONFIG, show_default=True,
              help="Datasette configuration directory: metadata.yml, settings.json, templates/, "
                   "and plugins/ for any of your own (newscrawler's loads by its entry point).")
def serve(db_path: str, host: str, port: int, config_dir: Path) -> None:
    """Browse and compare the archive in Datasette.

    Runs Datasette with the configuration directory (metadata, settings, templates)
    and newscrawler's plugin: canned queries (recent changes, headline changes, most-edited articles,
    history of a URL, full-text search, failing sites), a word-level diff of every
    version, each article's timeline and an Atom feed of changes at
    /news/-/changes.atom (the database is named after the file: news.db is "news").
    The archive is opened read-only, never immutable, so browsing neither blocks nor
    breaks a crawl writing to it.

    Example:

        newscrawler serve --db archive/news.db --port 8001
    """
    import tempfile

    import yaml
    from datasette.cli import cli as datasette_cli

    db = Path(db_path)
    if not db.is_file():
        raise click.ClickException(f"no archive at {db_path}: run 'newscrawler crawl' first")
    metadata_file = config_dir / "metadata.yml"
    if not metadata_file.is_file():
        raise click.ClickException(f"no Datasette configuration in {config_dir}: "
                                   "it needs metadata.yml (pass --config-dir)")
    with Archive.open(db, readonly=True) as archive:
        if "versions" not in archive.db.table_names():
            raise click.ClickException(f"{db_path} is not a newscrawler archive")
    settings_file = config_dir / "settings.json"
    settings = json.loads(settings_file.read_text()) if settings_file.is_file() else {}
    # Stopped by a signal, the temporary directory below is removed (see the context manager).
    with _stopped_by_signals_cleanly(), tempfile.TemporaryDirectory(prefix="newscrawler-serve-") as tmp:
        if db.stem != "news":  # metadata.yml describes the database named "news"
            metadata = yaml.safe_load(metadata_file.read_text(encoding="utf-8"))
            metadata["databases"] = {db.stem: metadata["databases"]["news"]}
            for dashboard in (metadata.get("plugins", {}).get("datasette-dashboards") or {}).values():
                for chart in dashboard.get("charts", {}).values():
                    if chart.get("db") == "news":
                        chart["db"] = db.stem
            metadata_file = Path(tmp) / "metadata.json"
            metadata_file.write_text(json.dumps(metadata), encoding="utf-8")
        args = ["serve", str(db), "--metadata", str(metadata_file), "--host", host,
                "--port", str(port)]
        for option, folder in (("--template-dir", "templates"), ("--plugins-dir", "plugins")):
            if (config_dir / folder).is_dir():
                args += [option, str(config_dir / folder)]
        if (config_dir / "static").is_dir():
            args += ["--static", f"static:{config_dir / 'static'}"]
        for name, value in settings.items():
            value = json.dumps(value) if isinstance(value, bool) else str(value)
            args += ["--setting", name, value]
        datasette_cli.main(args=args, prog_name="datasette", standalone_mode=False)


@cli.group()
def export() -> None:
    """Write the archive in a format other tools read (WARC, WACZ).

    \b
    Example:
        newscrawler export warc --db archive/news.db news.warc.gz
        newscrawler export wacz --db archive/news.db news.wacz
    """


def _export_filters(f: Any) -> Any:
    f = click.option("--site", help="Only this site (registered domain, e.g. example.com).")(f)
    f = click.option("--since", "since", type=int, metavar="CRAWL_ID",
                     help="Only captures of crawls after this one (crawls.id): an export that follows another.")(f)
    return click.option("--db", "db_path", default=DEFAULT_DB, show_default=True, type=click.Path())(f)


@export.command("warc")
@click.argument("out", type=click.Path(dir_okay=False))
@_export_filters
def export_warc_command(out: str, db_path: str, since: int | None, site: str | None) -> None:
    """Write the archive as a WARC 1.1 file (gzip per record when OUT ends in .gz).

    Responses with their requests, revisits (same bytes, 304s) referring to the capture they
    repeat, resource records for captures made before schema 10, and a conversion record (JSON)
    per version. The same archive always gives the same bytes.

    \b
    Example:
        newscrawler export warc --db archive/news.db news.warc.gz
        newscrawler export warc --db archive/news.db --since 41 --site example.com new.warc.gz
    """
    from newscrawler.warc import export_warc

    with _open_readonly(db_path) as archive:
        counts = export_warc(archive, out, since, site)
    click.echo(f"{out}: {counts.summary()}")


@export.command("wacz")
@click.argument("out", type=click.Path(dir_okay=False))
@_export_filters
@click.option("--title", help="The WACZ's title (datapackage.json).")
def export_wacz_command(out: str, db_path: str, since: int | None, site: str | None, title: str | None) -> None:
    """Write the archive as a WACZ (py-wacz): the WARC, a CDXJ index, pages/pages.jsonl (one page
    per version: headline and body) and datapackage.json; ReplayWeb.page and pywb replay it.

    \b
    Example:
        newscrawler export wacz --db archive/news.db news.wacz
        wacz validate -f news.wacz
    """
    from newscrawler.warc import export_wacz

    with _open_readonly(db_path) as archive:
        try:
            counts = export_wacz(archive, out, since, site, title)
        except RuntimeError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"{out}: {counts.summary()}; {len(counts.versions)} pages")


@cli.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--db", "db_path", default=DEFAULT_DB, show_default=True, type=click.Path(),
              help="SQLite archive to write (created when missing).")
@click.option("-s", "--set", "settings", multiple=True, metavar="NAME=VALUE",
              help="ARCHIVE_* setting, e.g. -s ARCHIVE_MIN_BODY_CHARS=400 (repeatable).")
def import_command(files: tuple[str, ...], db_path: str, settings: tuple[str, ...]) -> None:
    """Archive the article pages of WARC files (.warc or .warc.gz, any tool's) with their capture
    times, in time order, through the same extraction and version rules as a crawl.

    Revisit records are resolved to the page they repeat; pages that are not HTML or hold no
    article are counted and skipped; a truncated or corrupt file is read up to the damage, which
    is reported (exit status 1 when any file was damaged, after importing what was readable).

    \b
    Example:
        newscrawler import CC-NEWS-20261101.warc.gz crawl-2.warc --db archive/news.db
    """
    from scrapy.utils.project import get_project_settings

    from newscrawler.checks import known_settings
    from newscrawler.warc_import import import_warcs

    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "newscrawler.settings")
    project = get_project_settings()
    overrides = _parse_settings(settings, known_settings(project))
    _check_writable(db_path)
    project.setdict(overrides, priority="cmdline")
    _hold_crawl_lock(db_path, project.getfloat("ARCHIVE_LOCK_WAIT"))
    report = import_warcs(files, db_path, overrides, command_line(["newscrawler", *sys.argv[1:]]))
    for file in report.files:
        records = ", ".join(f"{kind} {n}" for kind, n in sorted(file.records.items())) or "no records"
        click.echo(f"{file.path}: {records}" + (f"; DAMAGED: {file.damage}" if file.damage else ""))
    click.echo(f"crawl {report.crawl_id}: {report.summary()}")
    damaged = [f.path for f in report.files if f.damage]
    if damaged:
        raise click.ClickException(f"{len(damaged)} damaged file(s), read up to the damage: {', '.join(damaged)}")
