"""A pool of worker processes for CPU-bound work off the reactor: one task per process, crashes cost one task.

Unlike :class:`concurrent.futures.ProcessPoolExecutor`, which fails every pending task and stays
broken once any worker dies, each worker here runs one task at a time behind its own pipe, so a
worker that dies (a segfault in a C extension, ``os._exit``, the OOM killer) or overruns the
timeout fails exactly the task it was running; the process is replaced and the pool goes on.
No Scrapy here: callers get :class:`concurrent.futures.Future` objects.
"""

from __future__ import annotations

import concurrent.futures
import logging
import math
import multiprocessing
import multiprocessing.connection
import os
import queue
import signal
import threading
from collections.abc import Callable, Iterable
from typing import Any

logger = logging.getLogger(__name__)

_STOP = None  # sentinel on the task queue and on a worker's pipe


class WorkerCrashed(Exception):
    """The worker process running a task died before it answered (signal, ``os._exit``, OOM kill)."""


class TaskTimeout(Exception):
    """A task ran longer than the pool's timeout; its worker process was killed."""


#: CPU the crawl process spends per page, as a share of a bare trafilatura page's CPU
#: (benchmarks/scaling.py measures it: ``crawl_process_over_bare``; see benchmarks/README.md).
CRAWL_PROCESS_SHARE = 0.3
#: CPU an extraction worker spends per page, over a bare trafilatura page's (our extraction's extra
#: work: decoding, dates, boilerplate; benchmarks/scaling.py: ``workers_over_bare``). A worker busy
#: all the time makes the crawl process busy CRAWL_PROCESS_SHARE / WORKER_CPU_RATIO of a core.
WORKER_CPU_RATIO = 1.25
#: Memory one extraction worker holds of its own (bytes): its proportional set size (PSS, shared
#: pages divided among the processes sharing them) while extracting real pages, with room for larger
#: pages than the corpus's; benchmarks/scaling.py measures it (``worker_pss_mb``, benchmarks/README.md).
WORKER_BYTES = 80 << 20
#: Share of the memory available when the crawl starts that the workers may take together.
WORKER_MEMORY_SHARE = 0.5


def machine_cpus() -> int:
    """CPUs this process may use: its affinity mask (``os.sched_getaffinity``, else ``os.cpu_count()``),
    lowered to a cgroup v2 CPU quota when one is set (``/sys/fs/cgroup/cpu.max``, as containers
    get), rounded up; at least 1."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    try:
        quota, period = open("/sys/fs/cgroup/cpu.max").read().split()[:2]
        if quota != "max":
            cpus = min(cpus, -(-int(quota) // int(period)))
    except (OSError, ValueError):
        pass
    return max(1, cpus)


def available_memory() -> int | None:
    """Bytes of memory available to new processes: ``MemAvailable`` of ``/proc/meminfo``, lowered to
    what a cgroup v2 memory limit leaves (``memory.max`` - ``memory.current``); None when unknown."""
    available = None
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemAvailable:"):
                available = int(line.split()[1]) * 1024
                break
    except (OSError, ValueError):
        pass
    try:
        limit = open("/sys/fs/cgroup/memory.max").read().strip()
        if limit != "max":
            left = int(limit) - int(open("/sys/fs/cgroup/memory.current").read())
            available = left if available is None else min(available, left)
    except (OSError, ValueError):
        pass
    return available


def default_workers(cpus: int | None = None, memory: int | None = None, *,
                    crawl_share: float = CRAWL_PROCESS_SHARE, worker_ratio: float = WORKER_CPU_RATIO,
                    worker_bytes: int = WORKER_BYTES) -> int:
    """How many extraction workers a crawl on this machine gets by default; at least 1.

    Each busy worker keeps the crawl process busy ``load = crawl_share / worker_ratio`` of a core.
    The count is the smallest of: the cores left after the crawl process, ``cpus / (1 + load)``
    rounded (2 cores: 2, 4: 3, 16: 13 at the defaults); the workers the crawl process can keep busy
    before it is the bottleneck, ``1 / load`` rounded up (5 at the defaults: more would only add
    memory); and the workers that fit in :data:`WORKER_MEMORY_SHARE` of ``memory`` at
    ``worker_bytes`` each.

    :param cpus: CPUs to plan for (default :func:`machine_cpus`).
    :param memory: bytes available (default :func:`available_memory`; unknown: no memory bound).
    """
    cpus = machine_cpus() if cpus is None else cpus
    memory = available_memory() if memory is None else memory
    load = crawl_share / worker_ratio if worker_ratio > 0 else 0.0
    counts = [int(cpus / (1 + load) + 0.5)]
    if load > 0:
        counts.append(math.ceil(1 / load - 1e-9))
    if memory is not None and worker_bytes > 0:
        counts.append(int(memory * WORKER_MEMORY_SHARE // worker_bytes))
    return max(1, min(counts))


def describe_exit(exitcode: int | None) -> str:
    """A worker's end in words: ``killed by signal 11 (SIGSEGV)``, ``exited with status 3``."""
    if exitcode is None:
        return "vanished (exit status unknown)"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = "unknown signal"
        return f"killed by signal {-exitcode} ({name})"
    return f"exited with status {exitcode}"


class WorkerPool:
    """``workers`` processes that run picklable callables, each one task at a time.

    :param workers: number of processes (>= 1); they start at once, in the background.
    :param timeout: seconds a task may run before its process is killed and the task fails
        with :class:`TaskTimeout`; ``None`` for no limit.
    :param preload: modules imported once by the fork server, so new processes start warm
        (e.g. ``["newscrawler.extraction"]``: trafilatura takes about a second to import).
    :param initializer: a picklable callable run with no arguments in each new process before its
        first task (e.g. a ``mallopt`` setting); it must not raise: its process would die, failing
        the task it was given.

    Processes come from a ``forkserver`` (not ``fork``: the crawl process runs threads, and a
    fork may copy a held lock), so as with any ``multiprocessing`` pool the main module must be
    importable again (a file with an ``if __name__ == "__main__"`` guard, or ``python -m``).
    Ctrl-C is left to the parent: workers ignore SIGINT.

    Example::

        with WorkerPool(2, timeout=60) as pool:
            future = pool.submit(extract_article, html, url)
            extracted = future.result()
    """

    def __init__(self, workers: int, *, timeout: float | None = None, preload: Iterable[str] = (),
                 initializer: Callable[[], Any] | None = None):
        if workers < 1:
            raise ValueError(f"a WorkerPool needs at least 1 worker, got {workers}")
        self.timeout = timeout
        self.initializer = initializer
        self._context = multiprocessing.get_context("forkserver")
        preload = list(preload)
        if preload:
            self._context.set_forkserver_preload(preload)
        self._tasks: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._closed = False
        self.crashes = 0
        """Tasks failed because their worker died."""
        self.timeouts = 0
        """Tasks failed because they overran ``timeout``."""
        self.started = 0
        """Worker processes started so far (replacements included)."""
        self._workers = [_Worker(self, n) for n in range(workers)]
        for worker in self._workers:
            worker.thread.start()

    @property
    def size(self) -> int:
        """Number of worker processes."""
        return len(self._workers)

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future:
        """Queue ``fn(*args, **kwargs)`` for a worker; returns its future at once (never blocks).

        ``fn`` must be importable by name (a module-level function) and the arguments picklable.
        The future raises what ``fn`` raised, or :class:`WorkerCrashed` / :class:`TaskTimeout`.

        :raises RuntimeError: when the pool is shut down.
        """
        future: concurrent.futures.Future = concurrent.futures.Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("submit() on a WorkerPool that is shut down")
            self._tasks.put((future, fn, args, kwargs))
        return future

    def shutdown(self, wait: bool = True) -> None:
        """Finish the queued tasks, then stop the processes; with ``wait``, return when they are gone."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for _ in self._workers:
                self._tasks.put(_STOP)
        if wait:
            for worker in self._workers:
                worker.thread.join()

    def pids(self) -> list[int]:
        """Process ids of the running workers (for memory measurements)."""
        return [w.process.pid for w in self._workers if w.process is not None and w.process.pid]

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()


class _Worker:
    """One process and the parent thread that feeds it tasks and waits for its answers."""

    def __init__(self, pool: WorkerPool, number: int):
        self.pool = pool
        self.number = number
        self.process: multiprocessing.process.BaseProcess | None = None
        self.conn: multiprocessing.connection.Connection | None = None
        self.thread = threading.Thread(target=self._serve, name=f"worker-pool-{number}", daemon=True)

    def _serve(self) -> None:
        try:
            self._ensure_process()  # warm before the first task: the fork server imports the preload
        except Exception:  # retried with the first task, which then fails with the reason
            logger.exception("worker %d could not start", self.number)
            self._discard(kill=True)
        try:
            while True:
                task = self.pool._tasks.get()
                if task is _STOP:
                    return
                future, fn, args, kwargs = task
                if not future.set_running_or_notify_cancel():
                    continue
                try:
                    result = self._run(fn, args, kwargs)
                except BaseException as exc:  # the task's own error, or the worker's end
                    future.set_exception(exc)
                else:
                    future.set_result(result)
        finally:
            self._stop()

    def _run(self, fn: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
        task = (fn, args, kwargs)
        try:
            self._ensure_process().send(task)
        except (BrokenPipeError, ConnectionResetError, EOFError):
            # The idle process was gone before it took the task (killed from outside): not the
            # task's fault, so it gets one more try in a fresh process.
            self._discard()
            self._ensure_process().send(task)
        conn, process = self.conn, self.process
        if not conn.poll(self.pool.timeout):
            self._discard(kill=True)
            self.pool.timeouts += 1
            raise TaskTimeout(f"still running after {self.pool.timeout:g} s; worker killed")
        try:
            ok, value = conn.recv()
        except (EOFError, ConnectionResetError):
            process.join(5)
            how = describe_exit(process.exitcode)
            self._discard(kill=True)
            self.pool.crashes += 1
            raise WorkerCrashed(f"worker process {how}") from None
        if ok:
            return value
        raise value

    def _ensure_process(self) -> multiprocessing.connection.Connection:
        if self.process is None:
            parent, child = self.pool._context.Pipe(duplex=True)
            process = self.pool._context.Process(target=_worker_main, args=(child, self.pool.initializer),
                                                 name=f"newscrawler-worker-{self.number}",
                                                 daemon=True)
            process.start()
            child.close()
            self.process, self.conn = process, parent
            self.pool.started += 1
            logger.debug("worker %d started: pid %s", self.number, process.pid)
        return self.conn

    def _discard(self, kill: bool = False) -> None:
        """Forget the current process, killing it first when asked (a timeout, a broken pipe)."""
        process, conn = self.process, self.conn
        self.process = self.conn = None
        if conn is not None:
            conn.close()
        if process is not None:
            if kill and process.is_alive():
                process.kill()
            process.join(5)

    def _stop(self) -> None:
        """Ask the process to exit after its current task; kill it when it does not in 5 s."""
        if self.conn is not None:
            try:
                self.conn.send(_STOP)
            except OSError:
                pass
        if self.process is not None:
            self.process.join(5)
        self._discard(kill=True)


def _worker_main(conn: multiprocessing.connection.Connection, initializer: Callable[[], Any] | None = None) -> None:
    """A worker process: run tasks from ``conn`` and send back ``(True, result)`` or ``(False, error)``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if initializer is not None:
        initializer()
    while True:
        try:
            task = conn.recv()
        except EOFError:  # the parent is gone
            return
        except Exception as exc:  # the task could not be unpickled (e.g. fn not importable)
            conn.send((False, exc))
            continue
        if task is _STOP:
            return
        fn, args, kwargs = task
        try:
            answer = (True, fn(*args, **kwargs))
        except BaseException as exc:  # the task's failure is its result (MemoryError included)
            answer = (False, exc)
        del task, fn, args, kwargs
        try:
            conn.send(answer)
        except Exception as exc:  # an unpicklable result or exception
            conn.send((False, RuntimeError(f"the worker could not send its answer back: {exc!r}")))
        del answer  # the page is freed before the next one arrives
