"""Datasette on the archive: metadata, canned queries, the diff and article views, the Atom feed of
changes, inert untrusted content and reads while a crawl writes.

The archive is filled through the real pipeline: ``newscrawler crawl`` in a subprocess against a
:class:`~tests.site.LoopbackSite`, twice, with edits in between.
"""

from __future__ import annotations

import html
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.site import FIXTURES, LoopbackSite, status_route

ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = ROOT / "archive"
ATOM = "{http://www.w3.org/2005/Atom}"
_SCRIPT = Path(sys.executable).with_name("newscrawler")
NEWSCRAWLER = [str(_SCRIPT)] if _SCRIPT.exists() else [
    sys.executable, "-c", "from newscrawler.cli import cli; cli()"]
"""The installed console script (or the same entry point through this interpreter)."""

HARBOUR = "/news/harbour-dredging-delayed.html"
INJECTION = "/news/injection-test.html"
BUS_DEPOT = "/news/council-approves-electric-bus-depot.html"
SECTION = "/local/index.html"
BROKEN = "/news/broken.html"

#: Strings from the open web that must show as text, never act (they sit in the page as escaped
#: text, so extraction keeps them literally in the headline and body).
INJECTIONS = (
    "<script>window.__xss = 'script'; alert(1)</script>",
    "<img src=x onerror=\"window.__xss = 'img'; alert(1)\">",
    "<a href=\"javascript:window.__xss = 'link'\">click here</a>",
    "</textarea><script>window.__xss = 'textarea'</script>",
)
INJECTION_HEADLINE = "Council <script>window.__xss = 'headline'</script> vote delayed"


def injection_page(extra: str = "") -> str:
    """An article whose visible text holds the :data:`INJECTIONS` (escaped in the markup)."""
    esc = html.escape
    paragraphs = [
        "The regional council postponed its vote on the harbour budget on Tuesday after members "
        "asked for more time to read the amended figures, the council clerk said.",
        f"A reader wrote to us quoting the markup {esc(INJECTIONS[0])} which we print here as text.",
        f"Another reader sent the image tag {esc(INJECTIONS[1])} to test our comment form.",
        f"A third message held the link {esc(INJECTIONS[2])} in its signature line.",
        f"The last one closed a form with {esc(INJECTIONS[3])} and nothing else happened.",
        "The council will meet again next Thursday, when the finance committee expects to publish "
        "a revised draft of the budget with the changes members asked for." + extra,
    ]
    body = "\n".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{esc(INJECTION_HEADLINE)}</title></head><body><article>"
        f"<h1>{esc(INJECTION_HEADLINE)}</h1>"
        "<p class='byline'>By Alex Example</p>"
        f"{body}</article></body></html>"
    )


def harbour_page(edited: bool) -> str:
    """The Coastline Times fixture, optionally edited: headline and two sentences reworded, a
    paragraph removed and one added."""
    page = (FIXTURES / "www.coastlinetimes.example.harbour-dredging-delayed.html").read_text(
        encoding="utf-8")
    if not edited:
        return page
    page = page.replace("Harbour dredging delayed again as permit dispute drags on",
                        "Harbour dredging delayed a third time as permit dispute drags on")
    page = page.replace("will not start before autumn", "will not start before winter")
    page = page.replace("next Tuesday", "next Monday")
    page = page.replace(
        "<p>The environment office said in a statement that the eelgrass beds were among the last "
        "in the bay and that the original survey, carried out in 2021, no longer reflected their "
        "extent.</p>", "")
    return page.replace(
        "<p>At low tide",
        "<p>A spokeswoman for the regional environment office declined to say when the new survey "
        "would be finished, adding that the office had received the board's application only last "
        "week.</p>\n<p>At low tide")


def crawl(site: LoopbackSite, db: Path) -> subprocess.CompletedProcess:
    """Run ``newscrawler crawl`` on the site's sitemap in a subprocess, as a person would."""
    return subprocess.run(
        [*NEWSCRAWLER, "crawl", site.url("/sitemap.xml"), "--db", str(db),
         "-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "ROBOTSTXT_OBEY=False",
         "-s", "RETRY_ENABLED=False"],
        capture_output=True, text=True, timeout=300, cwd=ROOT, check=False,
    )


def fill_archive(site: LoopbackSite, db: Path) -> None:
    """Crawl the site twice with edits in between: the harbour and injection articles get two
    versions, the bus depot article one; a section front is not an article and a page fails."""
    first = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
    site.add_page(HARBOUR, harbour_page(edited=False), lastmod=first)
    site.add_page(INJECTION, injection_page(), lastmod=first)
    site.add_page(BUS_DEPOT, (FIXTURES / (
        "www.northfieldcourier.example.council-approves-electric-bus-depot.html")).read_text(
        encoding="utf-8"), lastmod=first)
    site.add_page(SECTION, (FIXTURES / "www.northfieldcourier.example.section-local.html")
                  .read_text(encoding="utf-8"), lastmod=first)
    site.add_page(BROKEN, "<html><body>gone</body></html>", lastmod=first)
    site.add_route(BROKEN, status_route(404, "Not Found"))
    site.write_discovery()
    result = crawl(site, db)
    assert result.returncode == 0, result.stdout + result.stderr

    # newer than the first captures, whatever the clock says (lastmod has one-second resolution)
    second = datetime.now(UTC) + timedelta(seconds=2)
    site.add_page(HARBOUR, harbour_page(edited=True), lastmod=second)
    site.add_page(INJECTION, injection_page(
        extra=" It was <script>window.__xss = 'diff'</script> adjourned."), lastmod=second)
    site.write_discovery()
    result = crawl(site, db)
    assert result.returncode == 0, result.stdout + result.stderr
