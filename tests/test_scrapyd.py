"""Shard crawls as scrapyd jobs: a real scrapyd on loopback, the project deployed with scrapyd-deploy,
one scheduled job per shard (schedule.json with ``setting=`` and spider arguments), then both shard
archives read and merged (docs/scaling.md)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from newscrawler.store import Archive
from tests.archive_checks import archive_problems
from tests.crawling import FAST, REPO, run
from tests.test_shards import _serve_sites, _watch, content

BIN = Path(sys.executable).parent
pytestmark = pytest.mark.skipif(not (BIN / "scrapyd").exists() or not (BIN / "scrapyd-deploy").exists(),
                                reason="scrapyd and scrapyd-client are not installed (pip install -e '.[test]')")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _api(base: str, endpoint: str, data: list[tuple[str, str]] | None = None) -> dict:
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    with urllib.request.urlopen(urllib.request.Request(f"{base}/{endpoint}", data=body), timeout=30) as response:
        return json.loads(response.read())


def test_two_shard_jobs_on_a_real_scrapyd_write_their_own_archives(tmp_path):
    # The project as an operator checks it out, with a deploy target pointing at the loopback scrapyd.
    project = tmp_path / "project"
    project.mkdir()
    shutil.copytree(REPO / "newscrawler", project / "newscrawler", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, project / name)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    (project / "scrapy.cfg").write_text((REPO / "scrapy.cfg").read_text()
                                        + f"\n[deploy:loopback]\nurl = {base}/\nproject = newscrawler\n")
    service = tmp_path / "scrapyd"
    service.mkdir()
    (service / "scrapyd.conf").write_text(
        f"[scrapyd]\nbind_address = 127.0.0.1\nhttp_port = {port}\npoll_interval = 0.2\nmax_proc = 2\n"
        "items_dir =\nlogs_dir = logs\neggs_dir = eggs\ndbs_dir = dbs\n")
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy", "all_proxy")}
    env.pop("SCRAPY_SETTINGS_MODULE", None)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    daemon = subprocess.Popen([str(BIN / "scrapyd")], cwd=service, env=env, stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    sites = _serve_sites(tmp_path, 2, 5)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                assert _api(base, "daemonstatus.json")["status"] == "ok"
                break
            except OSError:
                assert daemon.poll() is None and time.monotonic() < deadline, daemon.stdout.read()
                time.sleep(0.2)
        deployed = run([str(BIN / "scrapyd-deploy"), "loopback", "-p", "newscrawler", "--version", "r1"],
                       cwd=project)
        assert '"status": "ok"' in deployed.stdout + deployed.stderr
        assert "auto" in _api(base, "listspiders.json?project=newscrawler")["spiders"]

        watched = _watch(tmp_path, sites, [1, 2])
        shards = {k: tmp_path / "shards" / f"shard-{k}.db" for k in (1, 2)}
        jobs = {}
        for k, db in shards.items():
            data = [("project", "newscrawler"), ("spider", "auto"), ("sites", str(watched)),
                    ("setting", f"ARCHIVE_DB={db}"), ("setting", f"ARCHIVE_SHARD={k}/2"),
                    *(("setting", s) for s in FAST)]
            answer = _api(base, "schedule.json", data)
            assert answer["status"] == "ok", answer
            jobs[answer["jobid"]] = k
        deadline = time.monotonic() + 240
        while True:
            listed = _api(base, "listjobs.json?project=newscrawler")
            finished = {job["id"] for job in listed["finished"]}
            if set(jobs) <= finished:
                break
            assert time.monotonic() < deadline, listed
            time.sleep(0.5)
        for k, db in shards.items():
            assert db.exists(), f"shard {k} wrote no archive"
            held = content(db)
            assert {url.split("/")[2] for url, *_ in held["articles"]} == {sites[k - 1].url("/").split("/")[2]}
            assert len(held["versions"]) == 5 and archive_problems(db) == []
            with Archive.open(db, readonly=True) as archive:
                finish, stats = archive.db.execute("SELECT finish_reason, stats FROM crawls").fetchone()
            assert finish == "finished" and json.loads(stats)["archive/shard/skipped_sites"] == 1
        merged = tmp_path / "news.db"
        run([sys.executable, "-m", "newscrawler", "merge", str(shards[1]), str(shards[2]), "--db", str(merged)])
        assert len(content(merged)["versions"]) == 10 and archive_problems(merged) == []
    finally:
        for site in sites:
            site.stop()
        os.killpg(daemon.pid, 15)
        daemon.communicate(timeout=60)
