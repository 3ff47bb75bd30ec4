"""WARC in and out (issue 22): the exchange kept per capture, exports checked by warcio and py-wacz,
imports of WARCs ours and other tools', replay through pywb on loopback."""

# ruff: noqa: E501  (long expected summary lines and SQL read better whole)
from __future__ import annotations

import collections
import gzip
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from tests.crawling import rows, run, run_crawl
from tests.site import load_fixture_pages

ARTICLES = [p for p in load_fixture_pages() if p["expected"].get("is_article", True)]


def _gzip_route(html: str):
    """A route that answers with ``html`` gzip-encoded (``Content-Encoding: gzip``) and a header
    sent twice."""
    data = gzip.compress(html.encode("utf-8"), mtime=0)

    def route(request):
        request.send_response(200)
        request.send_header("Content-Type", "text/html; charset=utf-8")
        request.send_header("Content-Encoding", "gzip")
        request.send_header("Content-Length", str(len(data)))
        request.send_header("Vary", "Accept-Encoding")
        request.send_header("Vary", "Cookie")
        request.end_headers()
        if request.command != "HEAD":
            request.wfile.write(data)
    return route, data


def test_capture_keeps_the_exchange_as_received(loopback_site, tmp_path):
    """Headers as received before decoding (Content-Encoding, the compressed Content-Length, both Vary
    values in order), the request as sent, the peer IP; the stored payload is marked decoded."""
    route, data = _gzip_route(ARTICLES[1]["html"])
    loopback_site.add_route("/news/gz.html", route)
    loopback_site.add_page("/news/plain.html", ARTICLES[0]["html"])
    db = tmp_path / "news.db"
    run_crawl(db, loopback_site.url("/news/gz.html"), loopback_site.url("/news/plain.html"))
    found = {url: row for url, *row in rows(
        db, "SELECT c.final_url, e.protocol, e.response_headers, e.request_method, e.request_headers, "
            "e.peer_ip, e.payload_decoded, e.payload_encoding, c.content_length "
            "FROM capture_exchanges e JOIN captures c ON c.id = e.capture_id")}
    gz = found[loopback_site.url("/news/gz.html")]
    protocol, headers, method, request_headers, ip, decoded, encoding, length = gz
    headers = json.loads(headers)
    assert (protocol, method, ip, decoded, encoding) == ("HTTP/1.0", "GET", "127.0.0.1", 1, None)
    assert ["Content-Encoding", "gzip"] in headers and ["Content-Length", str(len(data))] in headers
    assert [v for n, v in headers if n == "Vary"] == ["Accept-Encoding", "Cookie"]
    assert length == len(ARTICLES[1]["html"].encode("utf-8"))  # the decoded body is what is stored
    request_headers = dict(json.loads(request_headers))
    assert request_headers["Host"] == loopback_site.base_url.removeprefix("http://")
    assert "gzip" in request_headers["Accept-Encoding"] and request_headers["User-Agent"].startswith("newscrawler")
    plain = found[loopback_site.url("/news/plain.html")]
    assert plain[5:7] == [0, None]
    assert not any(n == "Content-Encoding" for n, _ in json.loads(plain[1]))


# --- an archive with every kind of capture, crawled four times -----------------------------------


BIN = Path(sys.executable).parent
EDIT = ("300,000 euros", "350,000 euros")


def _cli(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return run([sys.executable, "-m", "newscrawler", *args], check=check)


def _tool(name: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run a console script installed beside this Python (warcio, wacz, wb-manager)."""
    return run([str(BIN / name), *args], check=check)


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    """An archive of four crawls of a loopback site: new pages (one gzip-encoded, one a PDF, one a
    section front), then an edit, bytes changed with the same content, same bytes, a 304 to a
    re-check, and a revert. Returns ``{"db", "site", "urls"}``."""
    from tests.site import LoopbackSite

    tmp = tmp_path_factory.mktemp("warc")
    by_name = {p["name"]: p for p in load_fixture_pages()}
    site = LoopbackSite(tmp / "site", keep_alive=True)
    with site.serve():
        names = {"edited": "www.coastlinetimes.example.harbour-dredging-delayed",
                 "rebuilt": "www.rferl.org.putin-nato-clinton",
                 "same": "www.rheinpost.example.bahnstrecke-gesperrt",
                 "section": "www.northfieldcourier.example.section-local"}
        for role, name in names.items():
            site.add_page(f"/news/{role}.html", by_name[name]["html"])
        route, _ = _gzip_route(by_name["www.northfieldcourier.example.council-approves-electric-bus-depot"]["html"])
        site.add_route("/news/gzip.html", route)
        site.add_file("/files/report.pdf", (Path(__file__).parent / "fixtures" / "report.pdf").read_bytes())
        site.write_discovery()
        urls = {role: site.url(f"/news/{role}.html") for role in (*names, "gzip")}
        urls["pdf"] = site.url("/files/report.pdf")
        db = tmp / "news.db"
        run_crawl(db, *urls.values())                                      # crawl 1: all new
        original = by_name[names["edited"]]["html"]
        assert EDIT[0] in original
        site.add_page("/news/edited.html", original.replace(*EDIT))
        site.add_page("/news/rebuilt.html", by_name[names["rebuilt"]]["html"].replace(
            "</head>", "<script>var build = 2;</script></head>"))
        run_crawl(db, urls["edited"], urls["rebuilt"], urls["same"])       # crawl 2: changed, revisits
        conn = sqlite3.connect(db)
        conn.execute("UPDATE articles SET next_check_at = '2000-01-01T00:00:00Z' WHERE url = ?", [urls["same"]])
        conn.commit()
        conn.close()
        run_crawl(db, "--recheck")                                         # crawl 3: a 304
        site.add_page("/news/edited.html", original)
        run_crawl(db, urls["edited"])                                      # crawl 4: reverted
    outcomes = dict(rows(db, "SELECT outcome, count(*) FROM captures GROUP BY outcome"))
    assert outcomes == {"new": 4, "not_article": 2, "changed": 1, "revisit": 2, "not_modified": 1,
                        "reverted": 1}, outcomes
    return {"db": db, "urls": urls, "tmp": tmp}


def _records(path: Path) -> list[dict]:
    """Every record of a WARC: its WARC headers (first value of each), HTTP headers and payload."""
    found = []
    with path.open("rb") as stream:
        for record in ArchiveIterator(stream):
            found.append({"type": record.rec_type, "warc": dict(record.rec_headers.headers),
                          "http": list(record.http_headers.headers) if record.http_headers else None,
                          "status": record.http_headers.get_statuscode() if record.http_headers else None,
                          "payload": record.content_stream().read()})
    return found


def _check_with_warcio(path: Path) -> list[dict]:
    """``warcio check`` passes and ``warcio index`` lists every record; returns the index lines."""
    check = _tool("warcio", "check", "-v", str(path))
    assert "digest pass" in check.stdout and "fail" not in check.stdout.lower()
    index = _tool("warcio", "index", "-f", "warc-type,warc-target-uri,warc-record-id", str(path))
    return [json.loads(line) for line in index.stdout.splitlines()]


def test_export_warc_is_valid_deterministic_and_says_what_each_capture_was(history, tmp_path):
    """warcio check and index pass; two exports are the same bytes; responses and requests,
    revisits of both profiles pointing at records in the file, metadata for a capture whose bytes
    were not kept, a conversion per version."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first, second = tmp_path / "a" / "news.warc.gz", tmp_path / "b" / "news.warc.gz"
    out = _cli("export", "warc", "--db", str(history["db"]), str(first))
    _cli("export", "warc", "--db", str(history["db"]), str(second))
    assert first.read_bytes() == second.read_bytes()
    assert "revisit 3" in out.stdout
    index = _check_with_warcio(first)
    records = _records(first)
    assert len(index) == len(records)
    kinds = collections.Counter(r["type"] for r in records)
    # 11 captures: 5 responses (4 new, 1 changed), 3 revisits (same bytes, a 304, a revert), 3 whose
    # bytes the archive did not keep (the PDF and the section front: not articles; a revisit by content)
    assert kinds == {"warcinfo": 1, "response": 5, "request": 8, "revisit": 3, "metadata": 3,
                     "conversion": 5}, kinds
    ids = {r["warc"]["WARC-Record-ID"]: r for r in records}
    urls = history["urls"]
    revisits = {(r["warc"]["WARC-Target-URI"], r["warc"]["WARC-Profile"].rsplit("/", 1)[1]): r
                for r in records if r["type"] == "revisit"}
    assert set(revisits) == {(urls["same"], "identical-payload-digest"), (urls["edited"], "identical-payload-digest"),
                             (urls["same"], "server-not-modified")}
    for revisit in revisits.values():
        original = ids[revisit["warc"]["WARC-Refers-To"]]
        assert original["type"] == "response"
        assert original["warc"]["WARC-Target-URI"] == revisit["warc"]["WARC-Refers-To-Target-URI"]
        assert original["warc"]["WARC-Date"] == revisit["warc"]["WARC-Refers-To-Date"]
        if "identical" in revisit["warc"]["WARC-Profile"]:
            assert original["warc"]["WARC-Payload-Digest"] == revisit["warc"]["WARC-Payload-Digest"]
    assert revisits[(urls["same"], "server-not-modified")]["status"] == "304"
    # The gzip page's block is the decoded body: its headers say so, the received ones kept aside.
    [gz] = [r for r in records if r["type"] == "response" and r["warc"]["WARC-Target-URI"] == urls["gzip"]]
    names = [n for n, _ in gz["http"]]
    assert "Content-Encoding" not in names and "X-Archive-Orig-Content-Encoding" in names
    assert dict(gz["http"])["Content-Length"] == str(len(gz["payload"]))
    assert gz["payload"].lower().startswith(b"<!doctype html>")
    assert gz["warc"]["WARC-IP-Address"] == "127.0.0.1" and gz["warc"]["WARC-Protocol"] == "http/1.1"
    for record in records:
        if record["type"] == "request":
            assert ids[record["warc"]["WARC-Concurrent-To"]]["type"] in ("response", "revisit")
    metadata = {r["warc"]["WARC-Target-URI"]: json.loads(r["payload"]) for r in records if r["type"] == "metadata"}
    assert {url: m["outcome"] for url, m in metadata.items()} == {
        urls["rebuilt"]: "revisit", urls["section"]: "not_article", urls["pdf"]: "not_article"}
    conversions = [json.loads(r["payload"]) for r in records if r["type"] == "conversion"]
    versions = rows(history["db"], "SELECT a.url, v.version, v.headline, v.body, v.changed FROM versions v "
                                   "JOIN articles a ON a.id = v.article_id ORDER BY v.captured_at")
    assert [(c["article_url"], c["version"], c["headline"], c["body"], c["changed"]) for c in conversions] == [
        (u, n, h, b, json.loads(c)) for u, n, h, b, c in versions]
    for record in records:
        if record["type"] == "conversion":
            assert ids[record["warc"]["WARC-Refers-To"]]["type"] == "response"


def test_export_warc_since_and_site_filters(history, tmp_path):
    """--since N: only captures of crawls after N, their revisits still naming the earlier records;
    --site: only that site; plain .warc when OUT does not end in .gz."""
    later = tmp_path / "later.warc"
    _cli("export", "warc", "--db", str(history["db"]), "--since", "1", str(later))
    assert later.read_bytes().startswith(b"WARC/1.1")
    _check_with_warcio(later)
    records = _records(later)
    assert collections.Counter(r["type"] for r in records) == {
        "warcinfo": 1, "response": 1, "request": 4, "revisit": 3, "metadata": 1, "conversion": 1}
    none = tmp_path / "none.warc.gz"
    _cli("export", "warc", "--db", str(history["db"]), "--site", "example.org", str(none))
    assert [r["type"] for r in _records(none)] == ["warcinfo"]


def test_export_wacz_passes_wacz_validate(history, tmp_path):
    """The WACZ has the WARC, a CDXJ index, pages.jsonl (a page per version: headline, body) and
    datapackage.json; py-wacz's validator accepts it."""
    import zipfile

    out = tmp_path / "news.wacz"
    _cli("export", "wacz", "--db", str(history["db"]), str(out))
    check = _tool("wacz", "validate", "-f", str(out))
    assert "Validation succeeded" in check.stdout
    with zipfile.ZipFile(out) as wacz:
        names = set(wacz.namelist())
        assert {"archive/news.warc.gz", "indexes/index.cdx.gz", "pages/pages.jsonl", "datapackage.json"} <= names
        pages = [json.loads(line) for line in wacz.read("pages/pages.jsonl").splitlines()]
        index = gzip.decompress(wacz.read("indexes/index.cdx.gz")).decode().splitlines()
        package = json.loads(wacz.read("datapackage.json"))
    assert pages[0]["format"] == "json-pages-1.0"
    assert [(p["url"], p["title"], p["text"]) for p in pages[1:]] == rows(
        history["db"], "SELECT a.url, v.headline, v.body FROM versions v JOIN articles a ON a.id = v.article_id "
                       "ORDER BY v.captured_at")
    assert any(history["urls"]["gzip"] in line for line in index)
    assert {r["path"] for r in package["resources"]} >= {"archive/news.warc.gz", "pages/pages.jsonl"}
    assert all(r["hash"].startswith("sha256:") for r in package["resources"])


# --- import ---------------------------------------------------------------------------------------

def _versions(db: Path) -> dict[str, list[tuple]]:
    """Per article URL: its versions as (number, captured_at, content digest, changed fields)."""
    found: dict[str, list[tuple]] = collections.defaultdict(list)
    for url, *version in rows(db, "SELECT a.url, v.version, v.captured_at, v.content_digest, v.changed "
                                  "FROM versions v JOIN articles a ON a.id = v.article_id ORDER BY a.url, v.version"):
        found[url].append(tuple(version))
    return dict(found)


def test_round_trip_crawl_export_import_gives_the_same_articles_versions_and_changes(history, tmp_path):
    """Crawl -> export -> import into a fresh archive: the same articles, versions (times, content,
    changed fields) and outcomes; the revisit by content, of which the archive kept no bytes, is the
    one capture a WARC cannot carry back. Importing the file again adds nothing."""
    warc = tmp_path / "news.warc.gz"
    _cli("export", "warc", "--db", str(history["db"]), str(warc))
    fresh = tmp_path / "fresh.db"
    out = _cli("import", str(warc), "--db", str(fresh))
    assert "skipped 0" in out.stdout and "imported 8 (changed 1, new 4, not_modified 1, reverted 1, revisit 1)" in out.stdout
    assert _versions(fresh) == _versions(history["db"])
    outcomes = "SELECT final_url, captured_at, outcome, status, payload_digest FROM captures WHERE {} ORDER BY captured_at"
    kept = "outcome != 'not_article' AND NOT (outcome = 'revisit' AND note NOT LIKE 'same bytes%')"
    assert rows(fresh, outcomes.format("1")) == rows(history["db"], outcomes.format(kept))
    [(decoded, headers)] = rows(fresh, "SELECT e.payload_decoded, e.response_headers FROM capture_exchanges e "
                                       "JOIN captures c ON c.id = e.capture_id WHERE c.final_url = ?",
                                [history["urls"]["gzip"]])
    assert ["X-Archive-Orig-Content-Encoding", "gzip"] in json.loads(headers) and decoded == 0
    again = _cli("import", str(warc), "--db", str(fresh))
    assert "imported 0" in again.stdout and "already archived 8" in again.stdout
    assert rows(fresh, "SELECT count(*) FROM captures") == [(8,)]


def _http_response(status: str, headers: list[tuple[str, str]], body: bytes):
    from warcio.statusandheaders import StatusAndHeaders

    return StatusAndHeaders(status, headers, protocol="HTTP/1.1")


def _chunked(data: bytes, size: int = 1000) -> bytes:
    parts = [data[i:i + size] for i in range(0, len(data), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"


def _hand_made_warc(path: Path, gzip_records: bool) -> dict[str, str]:
    """A WARC written with warcio's WARCWriter as another crawler would (WARC/1.0 dates to the second):
    an edited article's later version written first (import goes by time), its first version
    chunked and gzip-encoded, a revisit naming its original only by URI and date, a PNG, a 404, a
    non-article page, a warcinfo and a metadata record."""
    import io

    from warcio.warcwriter import WARCWriter

    by_name = {p["name"]: p for p in load_fixture_pages()}
    page = by_name["www.coastlinetimes.example.harbour-dredging-delayed"]["html"].encode("utf-8")
    edited = page.replace(EDIT[0].encode(), EDIT[1].encode())
    section = by_name["www.northfieldcourier.example.section-local"]["html"].encode("utf-8")
    url = "https://www.coastline.example/news/harbour.html"
    with path.open("wb") as stream:
        writer = WARCWriter(stream, gzip=gzip_records)
        writer.write_record(writer.create_warcinfo_record(path.name, {"software": "hand-made test crawler"}))

        def response(uri, date, status, headers, body):
            record = writer.create_warc_record(
                uri, "response", payload=io.BytesIO(body), length=len(body),
                http_headers=_http_response(status, headers, body), warc_headers_dict={"WARC-Date": date})
            writer.write_record(record)
            return record

        html = [("Content-Type", "text/html; charset=utf-8")]
        response(url, "2024-03-02T09:00:00Z", "200 OK", [*html, ("Content-Length", str(len(edited)))], edited)
        original = gzip.compress(page, mtime=0)
        first = response(url, "2024-03-01T09:00:00Z", "200 OK",
                         [*html, ("Content-Encoding", "gzip"), ("Transfer-Encoding", "chunked")], _chunked(original))
        revisit = writer.create_revisit_record(
            url, first.rec_headers.get_header("WARC-Payload-Digest"), url, "2024-03-01T09:00:00Z",
            http_headers=_http_response("200 OK", html, b""), warc_headers_dict={"WARC-Date": "2024-03-01T12:00:00Z"})
        writer.write_record(revisit)
        png = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
        response("https://www.coastline.example/logo.png", "2024-03-01T09:01:00Z", "200 OK",
                 [("Content-Type", "image/png")], png)
        response("https://www.coastline.example/missing.html", "2024-03-01T09:02:00Z", "404 Not Found", html, b"gone")
        response("https://www.coastline.example/local/", "2024-03-01T09:03:00Z", "200 OK", html, section)
        data = b'{"note": "a crawler log line"}'
        writer.write_record(writer.create_warc_record(url, "metadata", payload=io.BytesIO(data), length=len(data),
                                                      warc_content_type="application/json"))
    return {"url": url}


@pytest.mark.parametrize("suffix", [".warc.gz", ".warc"])
def test_a_warc_written_by_another_tool_imports(tmp_path, suffix):
    """WARCWriter's records (gzip and plain): versions in time order whatever the file order, the
    chunked gzip body undone, the revisit resolved by URI and date (a revisit), the PNG, the 404 and
    the section front counted and skipped."""
    warc = tmp_path / f"other{suffix}"
    made = _hand_made_warc(warc, gzip_records=suffix.endswith(".gz"))
    _check_with_warcio(warc)
    db = tmp_path / "news.db"
    out = _cli("import", str(warc), "--db", str(db))
    assert "metadata 1, response 5, revisit 1, warcinfo 1" in out.stdout
    assert "imported 3 (changed 1, new 1, revisit 1), skipped 3 (HTTP 404 1, not HTML 1, not an article 1)" in out.stdout
    versions = rows(db, "SELECT v.version, v.captured_at, v.body FROM versions v JOIN articles a ON a.id = v.article_id "
                        "WHERE a.url = ? ORDER BY v.version", [made["url"]])
    assert [(n, at) for n, at, _ in versions] == [(1, "2024-03-01T09:00:00.000000Z"), (2, "2024-03-02T09:00:00.000000Z")]
    assert EDIT[0] in versions[0][2] and EDIT[1] in versions[1][2]
    assert rows(db, "SELECT captured_at, outcome FROM captures ORDER BY captured_at") == [
        ("2024-03-01T09:00:00.000000Z", "new"), ("2024-03-01T12:00:00.000000Z", "revisit"),
        ("2024-03-02T09:00:00.000000Z", "changed")]
    [(decoded, headers)] = rows(db, "SELECT payload_decoded, response_headers FROM capture_exchanges e JOIN captures c "
                                    "ON c.id = e.capture_id WHERE c.outcome = 'new'")
    assert decoded == 1 and ["Content-Encoding", "gzip"] in json.loads(headers)
    # ...and exported again, the block is the decoded body and says so
    again = tmp_path / "again.warc.gz"
    _cli("export", "warc", "--db", str(db), str(again))
    _check_with_warcio(again)
    [first] = [r for r in _records(again) if r["type"] == "response" and r["warc"]["WARC-Date"].startswith("2024-03-01")]
    names = [n for n, _ in first["http"]]
    assert "Content-Encoding" not in names and "Transfer-Encoding" not in names
    assert {"X-Archive-Orig-Content-Encoding", "X-Archive-Orig-Transfer-Encoding"} <= set(names)
    assert EDIT[0].encode() in first["payload"]


@pytest.mark.parametrize("suffix", [".warc.gz", ".warc"])
def test_a_truncated_or_corrupt_warc_is_read_up_to_the_damage(tmp_path, suffix):
    """Cut inside the fifth record (or garbage there): the records before it are imported, the damage
    is reported, the exit status is 1."""
    whole = tmp_path / f"whole{suffix}"
    _hand_made_warc(whole, gzip_records=suffix.endswith(".gz"))
    offsets = [int(line["offset"]) for line in
               map(json.loads, _tool("warcio", "index", "-f", "offset", str(whole)).stdout.splitlines())]
    data = whole.read_bytes()
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(data[:offsets[4] + 40])
    corrupt = tmp_path / f"corrupt{suffix}"
    corrupt.write_bytes(data[:offsets[4]] + b"\x00garbage, not a record\r\n" * 20 + data[offsets[5]:])
    for damaged in (cut, corrupt):
        db = tmp_path / f"{damaged.stem}.db"
        out = _cli("import", str(damaged), "--db", str(db), check=False)
        assert out.returncode == 1, out.stdout + out.stderr
        assert "DAMAGED" in out.stdout and "damaged file(s), read up to the damage" in out.stderr
        # the edited version (record 2), the gzip original (3), the revisit (4) came before the damage
        assert "imported 3 (changed 1, new 1, revisit 1)" in out.stdout, out.stdout
        assert rows(db, "SELECT count(*) FROM versions") == [(2,)]


def test_capture_http_warc_imports(loopback_site, tmp_path):
    """A WARC recorded by warcio's capture_http (the raw bytes off the wire: gzip-encoded as sent)."""
    import urllib.request

    from warcio.capture_http import capture_http

    route, _ = _gzip_route(ARTICLES[1]["html"])
    loopback_site.add_route("/news/gz.html", route)
    loopback_site.add_page("/news/plain.html", ARTICLES[0]["html"])
    warc = tmp_path / "captured.warc.gz"
    with capture_http(str(warc)):
        for path in ("/news/gz.html", "/news/plain.html"):
            with urllib.request.urlopen(loopback_site.url(path), timeout=10) as response:
                response.read()
    _check_with_warcio(warc)
    db = tmp_path / "news.db"
    out = _cli("import", str(warc), "--db", str(db))
    assert "imported 2 (new 2)" in out.stdout
    found = dict(rows(db, "SELECT a.url, v.headline FROM versions v JOIN articles a ON a.id = v.article_id"))
    assert sorted(found.values()) == sorted(p["expected"]["headline"] for p in ARTICLES[:2])
    [(method, request_headers, ip)] = rows(
        db, "SELECT request_method, request_headers, peer_ip FROM capture_exchanges e JOIN captures c "
            "ON c.id = e.capture_id WHERE c.final_url LIKE '%gz.html'")
    assert method == "GET" and "Python-urllib" in dict(json.loads(request_headers))["User-Agent"]
    assert ip == "127.0.0.1"


def test_export_of_an_archive_made_before_schema_10_gives_resource_records(tmp_path):
    """An archive left at the schema before m010 (no capture_exchanges): captures become resource
    records, a same-bytes revisit a revisit without HTTP headers; warcio accepts the file and it
    imports into a fresh archive."""
    import sqlite_utils

    from newscrawler.extraction import extract_article
    from newscrawler.items import Capture, Outcome
    from newscrawler.migrations import MIGRATIONS
    from newscrawler.store import Archive

    path = tmp_path / "old.db"
    db = sqlite_utils.Database(path)
    before = MIGRATIONS.names().index("m010_capture_exchanges")
    for migration in MIGRATIONS[:before]:
        migration(db)
    db.execute(f"PRAGMA user_version = {before}")
    old = Archive(db, path)
    html = ARTICLES[0]["html"].encode("utf-8")
    url = "https://www.example.com/news/a.html"
    extracted = extract_article(html, url).to_dict()
    old.record(Capture(requested_url=url, final_url=url, status=200, captured_at="2025-01-01T10:00:00.000000Z",
                       content_type="text/html", body=html, is_text=True, extracted=extracted))
    old.record(Capture(requested_url=url, final_url=url, status=200, captured_at="2025-01-02T10:00:00.000000Z",
                       content_type="text/html", body=html, is_text=True).settle(Outcome.REVISIT))
    old.close()
    warc = tmp_path / "old.warc.gz"
    _cli("export", "warc", "--db", str(path), str(warc))
    _check_with_warcio(warc)
    records = _records(warc)
    assert [r["type"] for r in records] == ["warcinfo", "resource", "conversion", "revisit"]
    assert records[1]["payload"] == html and records[3]["warc"]["WARC-Refers-To"] == records[1]["warc"]["WARC-Record-ID"]
    assert rows(path, "PRAGMA user_version") == [(before,)]  # the export did not migrate it
    fresh = tmp_path / "fresh.db"
    out = _cli("import", str(warc), "--db", str(fresh))
    assert "imported 2 (new 1, revisit 1)" in out.stdout


def test_pywb_replays_an_exported_page(history, tmp_path):
    """A real pywb on loopback (wb-manager init/add, wayback) returns the archived gzip page's body."""
    import socket
    import time
    import urllib.request

    if not (BIN / "wb-manager").exists():
        pytest.skip("pywb is not installed (pip install -e '.[test]')")
    warc = tmp_path / "news.warc.gz"
    _cli("export", "warc", "--db", str(history["db"]), str(warc))
    root = tmp_path / "pywb"
    root.mkdir()
    run([str(BIN / "wb-manager"), "init", "news"], cwd=root)
    run([str(BIN / "wb-manager"), "add", "news", str(warc)], cwd=root)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([str(BIN / "wayback"), "-b", "127.0.0.1", "-p", str(port)], cwd=root,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}/news/2026id_/{history['urls']['gzip']}"
        body = None
        for _ in range(60):
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    body = response.read()
                break
            except OSError:
                time.sleep(0.5)
        expected = rows(history["db"], "SELECT v.body FROM versions v JOIN articles a ON a.id = v.article_id "
                                       "WHERE a.url = ?", [history["urls"]["gzip"]])[0][0]
        assert body is not None and body.lower().startswith(b"<!doctype html>")
        assert expected.split("\n")[0][:60].encode() in body.replace(b"&#x27;", b"'").replace(b"&#39;", b"'")
    finally:
        server.terminate()
        server.wait(timeout=10)
