"""A runner for the shared failure cases (../shared/cases): serve a case on loopback, crawl it, read the
archive.

Each case's hosts (``https://harbourtimes.example``...) are served by one :class:`tests.site.LoopbackSite`
per host, each on its own loopback address (127.0.0.2, 127.0.0.3, ...: another host is another
site), and every ``https://<host>`` in the inputs is rewritten to that site's ``http://127.0.0.N:PORT``
(gzip bodies are gunzipped, rewritten and gzipped again); :meth:`CaseWorld.local` and
:meth:`CaseWorld.original` map URLs both ways. Status lines and headers come from the case's
``Cnn.headers.txt`` (:func:`read_headers`). Crawls are the real ``newscrawler crawl`` in a
subprocess (:func:`tests.crawling.run_crawl`) into a real SQLite archive.
"""

from __future__ import annotations

import gzip
import json
import re
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SHARED
from tests.crawling import rows, run_crawl
from tests.site import LoopbackSite, status_route

CASES = SHARED / "cases"
"""The shared cases: ``README.md``, ``expected.json``, ``inputs/Cnn.*``."""


def expected(case_id: str) -> dict[str, Any]:
    """The ``expect`` object of ``case_id`` in ``expected.json``; skips when ../shared is absent."""
    path = CASES / "expected.json"
    if not path.is_file():
        pytest.skip(f"../shared/cases is absent: {path} not found (the cases live in the shared/ "
                    "folder beside the repository clone)")
    return json.loads(path.read_text(encoding="utf-8"))[case_id]["expect"]


def case_input(name: str) -> bytes:
    """The bytes of ``inputs/<name>`` (e.g. ``C13.xml``)."""
    return (CASES / "inputs" / name).read_bytes()


@dataclass
class Answer:
    """One HTTP answer of a ``Cnn.headers.txt``: the URL it is for (from the comments, if named)."""

    url: str | None
    status: int
    headers: dict[str, str] = field(default_factory=dict)


def read_headers(name: str) -> list[Answer]:
    """The answers of a ``Cnn.headers.txt``, in order.

    Each answer is a status line (``HTTP/1.1 301 Moved Permanently``) and ``Name: value`` lines up
    to a blank line; ``#`` lines are comments, and the last URL the comments name before a status
    line is the URL it answers (None when they name none).
    """
    answers: list[Answer] = []
    last_url: str | None = None
    current: Answer | None = None
    for line in (CASES / "inputs" / name).read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            found = re.findall(r"https?://\S+", line)
            if found and current is None:
                last_url = found[-1].rstrip(").,")
            continue
        if line.startswith("HTTP/"):
            current = Answer(last_url, int(line.split()[1]))
            answers.append(current)
        elif line.strip() and current is not None:
            name_, _, value = line.partition(":")
            current.headers[name_.strip()] = value.strip()
        else:
            current = None
    return answers


class CaseWorld:
    """The hosts of one case, served on loopback; crawls of them into one archive.

    :param root: folder for the sites' files and the archive (``tmp_path``).
    :param hosts: the case's host names (``harbourtimes.example``), each given its own
        :class:`LoopbackSite` on 127.0.0.2, 127.0.0.3, ... in this order.
    """

    def __init__(self, root: Path, hosts: list[str]):
        self.root = Path(root)
        self.db = self.root / "archive" / "news.db"
        self.sites: dict[str, LoopbackSite] = {
            host: LoopbackSite(self.root / "sites" / host, host=f"127.0.0.{i + 2}")
            for i, host in enumerate(hosts)}
        self._stack = ExitStack()

    def __enter__(self) -> CaseWorld:
        for site in self.sites.values():
            self._stack.enter_context(site.serve())
        self.base_urls = {host: site.base_url for host, site in self.sites.items()}
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def local(self, url: str) -> str:
        """``https://<case host>/path`` as served here (``http://127.0.0.N:PORT/path``)."""
        return self.rewrite(url.encode()).decode()

    def original(self, url: str | None) -> str | None:
        """A served URL back as the case names it (the inverse of :meth:`local`)."""
        if url is None:
            return None
        for host, base_url in self.base_urls.items():  # kept after the sites stop
            url = url.replace(base_url, f"https://{host}")
        return url

    def rewrite(self, data: bytes) -> bytes:
        """``data`` with every ``https://<case host>`` (and ``http://``) pointed at its loopback site."""
        for host, base_url in self.base_urls.items():
            data = re.sub(rb"https?://" + re.escape(host.encode()) + rb"(?![\w.-])", base_url.encode(), data)
        return data

    def serve(self, url: str, body: bytes, status: int = 200, headers: dict[str, str] | None = None,
              content_type: str | None = None) -> bytes:
        """Answer GETs of ``url`` (a case URL) with ``body``, its case URLs rewritten; returns the bytes
        sent. A gzip body is rewritten inside and gzipped again (mtime 0)."""
        if body[:2] == b"\x1f\x8b":
            body = gzip.compress(self.rewrite(gzip.decompress(body)), mtime=0)
        else:
            body = self.rewrite(body)
        headers = dict(headers or {})
        headers = {k: self.rewrite(v.encode()).decode() for k, v in headers.items()}
        kind = headers.pop("Content-Type", content_type or "text/html; charset=utf-8")
        host, path = self._split(url)
        self.sites[host].add_route(path, status_route(status, body, content_type=kind, headers=headers))
        return body

    def hits(self, url: str) -> int:
        """How many requests the case URL ``url``'s path got."""
        host, path = self._split(url)
        return self.sites[host].hits[path]

    def crawl(self, *urls: str, settings: tuple[str, ...] = (), check: bool = True) -> subprocess.CompletedProcess:
        """``newscrawler crawl`` of the case URLs ``urls`` into :attr:`db` (robots.txt not obeyed
        unless ``settings`` say so)."""
        return run_crawl(self.db, *(self.local(u) for u in urls),
                         settings=("ROBOTSTXT_OBEY=False", *settings), check=check)

    def rows(self, sql: str, params: tuple = ()) -> list[tuple]:
        """Rows of a query on the archive (read-only)."""
        return rows(self.db, sql, params)

    def versions(self) -> list[dict[str, Any]]:
        """Every stored version, oldest first, as dicts."""
        return self._dicts("SELECT * FROM versions ORDER BY article_id, version")

    def captures(self) -> list[dict[str, Any]]:
        """Every capture row, in order, as dicts, URLs mapped back to the case's."""
        found = self._dicts("SELECT * FROM captures ORDER BY id")
        for row in found:
            for column in ("requested_url", "final_url"):
                row[column] = self.original(row[column])
        return found

    def _dicts(self, sql: str) -> list[dict[str, Any]]:
        import sqlite3

        conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True)
        conn.row_factory = sqlite3.Row
        try:
            return [dict(r) for r in conn.execute(sql)]
        finally:
            conn.close()

    def _split(self, url: str) -> tuple[str, str]:
        match = re.match(r"https?://([^/]+)(/.*)?$", url)
        assert match, url
        return match.group(1), match.group(2) or "/"


class Expectations(dict):
    """``expect`` of ``expected.json``, remembering which keys a test read: :meth:`unchecked` lists
    the others, so that a test fails when a case gains an expectation nobody checks."""

    #: Keys that explain rather than expect.
    PROSE = frozenset({"note", "rule", "acceptable_designs", "interleaving", "recorded_as", "detected_by"})

    def __init__(self, case_id: str):
        super().__init__(expected(case_id))
        self.read: set[str] = set()

    def __getitem__(self, key: str) -> Any:
        self.read.add(key)
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        self.read.add(key)
        return super().get(key, default)

    def unchecked(self) -> list[str]:
        """The keys no test read, prose keys left out."""
        return sorted(set(self) - self.read - self.PROSE)


def texts_in_order(body: str, texts: list[str]) -> Iterator[str]:
    """The texts of ``texts`` missing from ``body`` or out of order (none for a good body)."""
    position = 0
    for text in texts:
        found = body.find(text, position)
        if found < 0:
            yield text
        else:
            position = found + len(text)
