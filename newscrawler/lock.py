"""The crawl lock: one crawl at a time per archive, the holder's pid in a file beside the database."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shlex
import socket
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from newscrawler.dates import utcnow_iso

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.2

# The locks this process holds, by the lock file's real path: a second CrawlLock of the same archive
# in this process would wait for the first forever (a flock belongs to one open file description).
_held: dict[str, CrawlLock] = {}


def held_here(db_path: str | Path) -> CrawlLock | None:
    """The lock of the archive at ``db_path`` when this very process holds it (through any path
    naming the same file), else None."""
    return _held.get(os.path.realpath(f"{db_path}.lock"))


def command_line(argv: Iterable[str]) -> str:
    """``argv`` as one shell-quoted line (:func:`shlex.join`) that can be stored as UTF-8 text.

    Bytes of an argument that are not in the locale's encoding (kept by Python as surrogate
    escapes, PEP 383) are shown as ``\\xff`` escapes.
    """
    return shlex.join(os.fsencode(arg).decode("utf-8", "backslashreplace") for arg in argv)


def format_seconds(seconds: float) -> str:
    """Seconds as people write them: whole from 10 s on (``600``), else to a tenth with no
    trailing zero (``5`` for 5.0002, ``1.5`` for 1.5004, ``0.2``)."""
    if seconds >= 10:
        return f"{seconds:.0f}"
    return f"{seconds:.1f}".rstrip("0").rstrip(".")


class ArchiveLocked(Exception):
    """Another crawl holds the archive's lock; ``holder`` is what its lock file says (may be {})."""

    def __init__(self, path: Path, holder: dict[str, Any], waited: float):
        self.path = path
        self.holder = holder
        self.waited = waited
        who = f"pid {holder['pid']}" if holder.get("pid") else "another process"
        if holder.get("host") and holder["host"] != socket.gethostname():
            who += f" on {holder['host']}"
        since = f", since {holder['started_at']}" if holder.get("started_at") else ""
        command = f": {holder['command']}" if holder.get("command") else ""
        super().__init__(f"another crawl is writing this archive ({who}{since}{command}); "
                         f"gave up after waiting {format_seconds(waited)} s for its lock {path}")


class CrawlLock:
    """An exclusive lock on ``<db>.lock``, held by one process at a time.

    The lock is a ``flock`` on the file, so the kernel releases it when its holder exits however it
    exits (``kill -9`` included): a lock left by a dead process is free and is simply taken over,
    with no pid guessing and no race. The file says who holds it, as JSON: ``{"pid", "host",
    "started_at" (ISO 8601 UTC), "command"}``, for the message a waiting crawl prints; it stays in
    place (empty) when released, since deleting a lock file races with a process about to lock it.
    Local file systems only (flock over NFS depends on the client).
    """

    def __init__(self, db_path: str | Path):
        self.path = Path(f"{db_path}.lock")
        self._fd: int | None = None

    def acquire(self, wait: float = 0, command: str = "",
                on_wait: Callable[[dict[str, Any]], None] | None = None) -> CrawlLock:
        """Take the lock, waiting up to ``wait`` seconds for its holder to finish.

        ``command`` is recorded for others to read; ``on_wait(holder)`` is called once when the
        lock is busy and there is time to wait, with what the lock file says of its holder.

        :raises ArchiveLocked: when another process still holds it after ``wait`` seconds.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        start = time.monotonic()
        deadline = start + max(wait, 0)
        waited = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                now = time.monotonic()
                if now >= deadline:
                    holder = _read(fd)
                    os.close(fd)
                    raise ArchiveLocked(self.path, holder, now - start) from None
                if not waited and on_wait is not None:
                    on_wait(_read(fd))
                waited = True
                time.sleep(min(POLL_SECONDS, deadline - now))
        previous = _read(fd)
        if previous.get("pid") and previous["pid"] != os.getpid():
            logger.warning("taking over the lock %s left by pid %s (started %s), which ended "
                           "without releasing it", self.path, previous["pid"],
                           previous.get("started_at", "at an unknown time"))
        holder = {"pid": os.getpid(), "host": socket.gethostname(), "started_at": utcnow_iso(),
                  "command": command}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(holder) + "\n").encode(), 0)
        self._fd = fd
        _held[os.path.realpath(self.path)] = self
        return self

    def release(self) -> None:
        """Empty the lock file and release the lock (no-op when not held)."""
        if self._fd is None:
            return
        if _held.get(os.path.realpath(self.path)) is self:
            del _held[os.path.realpath(self.path)]
        try:
            os.ftruncate(self._fd, 0)
        finally:
            os.close(self._fd)  # closing the last descriptor releases the flock
            self._fd = None

    def __enter__(self) -> CrawlLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _read(fd: int) -> dict[str, Any]:
    """What a lock file says of its holder ({} when empty or unreadable)."""
    try:
        data = os.pread(fd, 4096, 0)
        holder = json.loads(data) if data.strip() else {}
    except (OSError, ValueError):
        return {}
    return holder if isinstance(holder, dict) else {}
