"""The ``newscrawler`` command: crawl into the archive, list an article's history, diff versions."""

from __future__ import annotations

import contextlib
import datetime as dt
import html as html_lib
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
from newscrawler.changes import diff_versions, render_text, render_words_html
from newscrawler.dates import isoformat
from newscrawler.lock import command_line
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


def _parse_settings(values: tuple[str, ...]) -> dict[str, str]:
    settings = {}
    for value in values:
        name, sep, setting = value.partition("=")
        if not sep or not name.strip():
            raise click.ClickException(f"-s takes NAME=VALUE, got {value!r}")
        settings[name.strip()] = setting
    return settings


def summary_line(stats: dict[str, Any], queued: int | None = None) -> str:
    """One line of counts from a crawl's stats: ``fetched 12, new 3, changed 1, ...``; with
    ``queued``, the fetched count out of it (``fetched 12 of 340, ...``)."""
    parts = [f"{label} {stats.get(key, 0)}" for label, key in _SUMMARY]
    if queued is not None:
        parts[0] += f" of {queued}"
    return ", ".join(parts)


def final_line(stats: dict[str, Any], now: str, seconds: float) -> str:
    """The line a crawl ends with, for cron logs: when (``now``, UTC ISO 8601), which crawl, how
    long (``seconds``), then :func:`summary_line`:
    ``2026-11-30T04:12:03Z crawl 7, 41 s: fetched 12, new 3, ...``."""
    parts = [now]
    if stats.get("archive/crawl_id") is not None:
        parts.append(f"crawl {stats['archive/crawl_id']},")
    parts.append(f"{seconds:.0f} s:")
    return " ".join(parts) + " " + summary_line(stats)


@cli.command()
@click.argument("urls", nargs=-1)
@click.option("--db", "db_path", default=DEFAULT_DB, show_default=True, type=click.Path(),
              help="SQLite archive to write (created when missing).")
@click.option("--recheck", is_flag=True,
              help="Also re-fetch archived articles that are due (conditional requests, most overdue first).")
@click.option("--sites", "sites_file", type=click.Path(exists=True, dir_okay=False),
              help="Watched-sites TOML file: per site its sitemaps, feeds, allow/deny, prune_xpath, recheck.")
@click.option("-s", "--set", "settings", multiple=True, metavar="NAME=VALUE",
              help="Scrapy or ARCHIVE_* setting, e.g. -s DOWNLOAD_DELAY=2 (repeatable).")
@click.option("-v", "--verbose", count=True, help="Log INFO (-v) or DEBUG (-vv) to stderr.")
def crawl(urls: tuple[str, ...], db_path: str, recheck: bool, sites_file: str | None,
          settings: tuple[str, ...], verbose: int) -> None:
    """Fetch articles from URLS into the archive.

    Each URL may be a sitemap (urlset, index, gzip, Google News), an RSS or Atom feed, a
    site's home page (its feeds and robots.txt sitemaps are followed) or an article page.
    Articles named directly are always fetched; sitemap and feed entries when new or when
    their lastmod is newer than the last capture. --recheck re-fetches archived articles whose
    re-check is due; --sites reads a watched-sites file (for cron).

    Examples:

        newscrawler crawl https://www.example.com/sitemap.xml --db archive/news.db

        newscrawler crawl --sites sites.toml --recheck
    """
    from newscrawler.sites import load_sites

    if not (urls or recheck or sites_file):
        raise click.UsageError("give URLs to crawl, --sites FILE, or --recheck")
    _check_writable(db_path)
    try:
        sites = load_sites(sites_file) if sites_file else []
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    from scrapy.crawler import CrawlerProcess
    from scrapy.utils.project import get_project_settings

    from newscrawler.spiders.auto import AutoSpider

    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "newscrawler.settings")
    project = get_project_settings()
    project.set("ARCHIVE_DB", db_path, priority="cmdline")
    project.set("ARCHIVE_COMMAND", command_line(["newscrawler", *sys.argv[1:]]), priority="cmdline")
    project.set("LOG_LEVEL", {0: "WARNING", 1: "INFO"}.get(verbose, "DEBUG"), priority="cmdline")
    for name, value in _parse_settings(settings).items():
        project.set(name, value, priority="cmdline")
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
    process.start()
    if progress is not None:
        click.echo()
    stats = crawler.stats.get_stats()
    if start_errors and "start_time" not in stats:
        raise click.ClickException(f"cannot start the crawl: {start_errors[0]}")
    click.echo(final_line(stats, isoformat(dt.datetime.now(dt.UTC)), time.monotonic() - started))
    # An error that ended the crawl after it started is taken here too, so it is not silenced.
    failure = f"the crawl failed: {start_errors[0]}" if start_errors else crawl_failure(stats, len(urls))
    if failure:
        raise click.ClickException(failure)


def _hold_crawl_lock(db_path: str, wait: float) -> None:
    """Take the archive's crawl lock (``<db>.lock``) for the rest of this command.

    Waits up to ``wait`` seconds (``ARCHIVE_LOCK_WAIT``) for another crawl of the same archive,
    saying so on stderr; released when the command ends, or by the kernel if the process dies.
    """
    from newscrawler.lock import ArchiveLocked, CrawlLock

    def waiting(holder: dict[str, Any]) -> None:
        click.echo(f"{db_path} is being crawled by pid {holder.get('pid', '?')}: waiting up to "
                   f"{wait:g} s for it to finish", err=True)

    lock = CrawlLock(db_path)
    try:
        lock.acquire(wait, command=command_line(["newscrawler", *sys.argv[1:]]), on_wait=waiting)
    except ArchiveLocked as exc:
        raise click.ClickException(str(exc)) from exc
    click.get_current_context().call_on_close(lock.release)


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
@click.option("--from", "from_version", type=int, help="Older version number (default: to - 1).")
@click.option("--to", "to_version", type=int, help="Newer version number (default: the latest).")
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
    to_version = to_version or latest
    from_version = from_version or max(to_version - 1, 1)
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
        click.echo(render_html_page(article["url"], old, new, result))
    else:
        click.echo(f"{article['url']}: version {from_version} ({old['captured_at']}) -> "
                   f"{to_version} ({new['captured_at']})")
        click.echo(render_text(result), nl=False)


def render_html_page(url: str, old: dict[str, Any], new: dict[str, Any],
                     result: dict[str, Any]) -> str:
    """A self-contained HTML page of a version diff; every archived string is escaped."""
    esc = html_lib.escape
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; "
        "style-src 'unsafe-inline'\">",
        f"<title>Diff of {esc(url)}</title><style>"
        "body{font:16px/1.5 Georgia,serif;max-width:46em;margin:2em auto;padding:0 1em}"
        "del{background:#fdd;color:#900}ins{background:#dfd;color:#060;text-decoration:none}"
        ".move{border-left:3px solid #99f;padding-left:.5em}.meta{font:14px sans-serif}"
        "</style></head><body>",
        f"<p class='meta'>{esc(url)}<br>version {old['version']} ({esc(old['captured_at'])}) "
        f"&rarr; version {new['version']} ({esc(new['captured_at'])})</p>",
        f"<h1>{render_words_html(result['headline'])}</h1>",
    ]
    for m in result["metadata"]:
        parts.append(f"<p class='meta'>{esc(m['field'])}: <del>{esc(str(m['old']))}</del> "
                     f"<ins>{esc(str(m['new']))}</ins></p>")
    for blk in result["body"]:
        if blk["op"] == "equal":
            parts.append(f"<p>{esc(blk['new'])}</p>")
        elif blk["op"] == "replace":
            parts.append(f"<p>{render_words_html(blk['words'])}</p>")
        elif blk["op"] == "insert":
            parts.append(f"<p><ins>{esc(blk['new'])}</ins></p>")
        elif blk["op"] == "delete":
            parts.append(f"<p><del>{esc(blk['old'])}</del></p>")
        else:
            parts.append(f"<p class='move' title='moved'>{esc(blk['new'])}</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


ARCHIVE_CONFIG = Path(__file__).resolve().parent.parent / "archive"
"""The Datasette configuration directory of this checkout: metadata.yml, templates/, plugins/."""


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
                   "plugins/.")
def serve(db_path: str, host: str, port: int, config_dir: Path) -> None:
    """Browse and compare the archive in Datasette.

    Runs Datasette with the configuration directory (metadata, settings, templates,
    plugins): canned queries (recent changes, headline changes, most-edited articles,
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
