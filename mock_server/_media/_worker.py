"""Where the mock hears media: a small pool of worker processes, below the API in CPU priority.

Measured (BENCHMARKS.md, "API latency while the mock hears media"): with the download on the event loop and
decoding in threads, the mock's p99 answer time grew 27× while eight one-hour files were heard; threads share the
GIL with the loop, and every chunk of a download is a loop wake-up. So the whole job — download (on the worker's own
event loop, with `_fetch.fetch_to_file`'s bounds), SHA-256, decode + VAD, and building the sentences — runs in
another process, in Linux's idle scheduling class, so the kernel gives the API's process the CPU first.

One pool per process, shared by every app in it (a test run starts many apps; each spawn costs a numpy import),
started on first use with the `spawn` method (forking a process that runs an event loop and threads is unsafe), and
shut down at exit. Workers die with their parent (Linux `PR_SET_PDEATHSIG`), so a mock killed with SIGKILL leaves
none behind. A job the pipeline stops waiting for (reset, shutdown, deleted transcript) still runs to its end in
the worker; its result is ignored and its file removed.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import ctypes
import hashlib
import multiprocessing
import os
import signal
import threading
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from mock_server._config import MediaConfig
from mock_server._media._audio_types import MediaAnalysis

__all__ = ["WORKER_NICENESS", "discard_pool", "file_sha256", "hear_file", "processes_allowed", "shared_pool"]

WORKER_NICENESS = 19  # weight 15 against the API's 1024: media takes the CPU time the API leaves
HASH_BLOCK = 1 << 20
_PR_SET_PDEATHSIG = 1

_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None


def _start_worker(niceness: int) -> None:
    """In each new worker: lowest CPU priority (Linux's `SCHED_IDLE`, else niceness 19), and ask Linux to end it
    when the mock process ends.

    `SCHED_IDLE` rather than niceness alone: the kernel preempts an idle-policy task as soon as a normal one wakes
    and counts a CPU running only such tasks as free when it places a waking thread, so an API request never queues
    behind media work; at niceness 19 a worker could keep the CPU until its slice ended (2026-11-25, pinned, 2 runs
    each: p99 1.38× and 1.83× idle at niceness 19, 1.27× and 1.10× idle-policy). Media work still gets every CPU
    cycle the API leaves."""
    with contextlib.suppress(OSError):
        os.nice(niceness)
    with contextlib.suppress(OSError, AttributeError):  # Linux only; the niceness above is the fallback
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the mock's to handle; the pool is shut down for it


def processes_allowed() -> bool:
    """Whether this process may start workers: a daemonic `multiprocessing` child (a mock some harness runs in
    one) may not have children, so its media is heard in threads instead."""
    return not multiprocessing.current_process().daemon


def shared_pool(workers: int) -> ProcessPoolExecutor:
    """This process's media worker pool (made on first use with `workers` processes; later sizes are ignored)."""
    global _pool
    with _lock:
        if _pool is None:
            context = multiprocessing.get_context("spawn")
            _pool = ProcessPoolExecutor(
                workers, mp_context=context, initializer=_start_worker, initargs=(WORKER_NICENESS,)
            )
        return _pool


def discard_pool(broken: ProcessPoolExecutor) -> None:
    """Forget a pool whose worker died (`BrokenProcessPool`): the next job starts a new one."""
    global _pool
    with _lock:
        if _pool is broken:
            _pool = None
    broken.shutdown(wait=False, cancel_futures=True)


@atexit.register
def _shutdown() -> None:
    with _lock:
        pool = _pool
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)


def file_sha256(path: str | os.PathLike[str]) -> str:
    """The hex SHA-256 of a file, read in blocks (a long recording never sits in memory whole)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


async def _download(url: str, path: Path, limits: MediaConfig) -> None:
    from mock_server._media._fetch import fetch_to_file, new_session

    async with new_session() as session:
        await fetch_to_file(session, url, path, limits)


def hear_file(media_url: str | None, path: str, limits: MediaConfig) -> tuple[MediaAnalysis, str]:
    """The worker's job: download `media_url` into `path` (or take the file already there), then what is heard in
    it and its hex SHA-256. Raises `MediaFailure` (fetch) or `MediaRejected` (analysis) with Twilio's code."""
    from mock_server._media._audio_analyse import analyse

    if media_url is not None:
        asyncio.run(_download(media_url, Path(path), limits))
    return analyse(path), file_sha256(path)
