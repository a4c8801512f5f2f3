"""The media pipeline: from a created transcript to the audio it names, heard off the request path.

`create_transcript` leaves a `MediaJob`; `MockState.after_create()` hands it here, and one asyncio task per job:

1. tells the account the transcript is in progress (`media_started`);
2. gets the bytes into a file of its own: `media_url` is downloaded by `_fetch.fetch_to_file` (once, no auth, bounded
   time, size and redirects), a `source_sid` is read from the account's recordings store;
3. runs the analyser (`mock_server._media.analyse`, or the one injected with `create_app(analyse=…)`) in a thread
   pool via `loop.run_in_executor`, so decoding never blocks the event loop that serves the API; the same worker
   hashes the file (SHA-256, read in blocks), the key a script may be registered under and the seed of its words;
4. reports back: `media_ready(analysis, path, sha256=…)` keeps the file for the Media subresource and starts the
   lifecycle, `media_failed(code, message)` fails the transcript and writes the alert (`_alerts.py` says which code
   when).

A transcript deleted while its media is in flight is simply forgotten (its file removed). `reset()` cancels every
job and removes the old files; `close()` (app shutdown) also closes the HTTP session and the thread pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

import aiohttp

from mock_server._clock import Clock
from mock_server._media._alerts import INVALID_MEDIA_TYPE, RECORDING_NOT_FOUND, MediaFailure
from mock_server._media._fetch import fetch_to_file, new_session, remove_quietly
from mock_server._model._media import MediaJob
from mock_server._model._records import MediaInfo

__all__ = ["Analyser", "MediaPipeline", "MediaTarget"]

log = logging.getLogger("mock_server")

Analyser = Callable[[bytes | str | os.PathLike[str]], MediaInfo]


class MediaTarget(Protocol):
    """What the pipeline needs of an account (`mock_server._model.Account`)."""

    def media_started(self, transcript_sid: str, now: float) -> bool: ...
    def media_ready(
        self, transcript_sid: str, analysis: MediaInfo, media_path: str | None, now: float, *, sha256: str | None = None
    ) -> bool: ...
    def media_failed(self, transcript_sid: str, code: int, message: str, now: float) -> bool: ...
    def recording(self, recording_sid: str) -> bytes | None: ...


def _default_analyse(source: bytes | str | os.PathLike[str]) -> MediaInfo:
    """`mock_server._media.analyse`, imported on first use (it brings the audio libraries)."""
    from mock_server import _media

    analyse: Analyser = getattr(_media, "analyse")  # noqa: B009 - resolved at run time, not at import
    return analyse(source)


HASH_BLOCK = 1 << 20


def file_sha256(path: str | os.PathLike[str]) -> str:
    """The hex SHA-256 of a file, read in blocks (a long recording never sits in memory whole)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def _rejection(exc: BaseException) -> MediaFailure | None:
    """An analyser's `MediaRejected(code, message)` (duck-typed: this module must not need the audio libraries)."""
    code, message = getattr(exc, "code", None), getattr(exc, "message", None)
    if isinstance(code, int) and not isinstance(code, bool) and isinstance(message, str):
        return MediaFailure(code, message)
    return None


class MediaPipeline:
    def __init__(self, clock: Clock, *, analyse: Analyser | None = None, workers: int | None = None) -> None:
        self.clock = clock
        self.analyse = analyse or _default_analyse
        self.workers = workers or min(4, os.cpu_count() or 1)
        self.tasks: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._root: Path | None = None
        self._generation = 0
        self._closed = False

    # --- resources, made on first use ---------------------------------------------------------------------------

    @property
    def executor(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="cintel-mock-media")
        return self._executor

    def _session_now(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = new_session()
        return self._session

    def _directory(self) -> Path:
        if self._root is None:
            self._root = Path(tempfile.mkdtemp(prefix="cintel-mock-media-"))
        folder = self._root / str(self._generation)
        folder.mkdir(mode=0o700, exist_ok=True)
        return folder

    # --- jobs ---------------------------------------------------------------------------------------------------

    def start(self, account: MediaTarget, job: MediaJob, settled: Callable[[], None]) -> None:
        """Work on `job` in the background; `settled()` runs after the account was told the outcome."""
        task = asyncio.get_running_loop().create_task(
            self._run(account, job, settled), name=f"media-{job.transcript_sid}"
        )
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _run(self, account: MediaTarget, job: MediaJob, settled: Callable[[], None]) -> None:
        tsid = job.transcript_sid
        if not account.media_started(tsid, self.clock.now()):
            return
        path = self._directory() / f"{job.account_sid}-{tsid}"
        kept = False
        try:
            analysis, sha256 = await self._hear(account, job, path)
            kept = account.media_ready(tsid, analysis, str(path), self.clock.now(), sha256=sha256)
        except MediaFailure as failure:
            account.media_failed(tsid, failure.code, failure.message, self.clock.now())
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            rejected = _rejection(exc)
            if rejected is None:
                log.exception("media analysis of %s failed unexpectedly", tsid)
                rejected = MediaFailure(INVALID_MEDIA_TYPE, "Invalid media type: the media could not be decoded")
            account.media_failed(tsid, rejected.code, rejected.message, self.clock.now())
        finally:
            if not kept:
                self.discard(str(path))
            settled()

    def _analyse_and_hash(self, path: str) -> tuple[MediaInfo, str]:
        """In a worker thread: what is heard in the file (or the analyser's refusal), then the file's hash."""
        analysis = self.analyse(path)
        return analysis, file_sha256(path)

    async def _hear(self, account: MediaTarget, job: MediaJob, path: Path) -> tuple[MediaInfo, str]:
        loop = asyncio.get_running_loop()
        if job.media_url is not None:
            await fetch_to_file(self._session_now(), job.media_url, path, job.limits)
        else:
            sid = job.source_sid or ""
            data = account.recording(sid)
            if data is None:
                raise MediaFailure(RECORDING_NOT_FOUND, f"The requested resource Recording {sid} was not found")
            if len(data) > job.limits.max_bytes:
                raise MediaFailure(
                    INVALID_MEDIA_TYPE, f"Recording {sid} is larger than the {job.limits.max_bytes} bytes allowed"
                )
            await loop.run_in_executor(self.executor, path.write_bytes, data)
        return await loop.run_in_executor(self.executor, self._analyse_and_hash, str(path))

    # --- files and shutdown -------------------------------------------------------------------------------------

    def discard(self, path: str) -> None:
        """Remove a media file without blocking the loop (a deleted transcript's, or one nobody kept)."""
        if self._closed:
            remove_quietly(path)
            return
        try:
            self.executor.submit(remove_quietly, path)
        except RuntimeError:  # the pool is shut down: the app is closing and removes the whole folder
            remove_quietly(path)

    def reset(self) -> None:
        """Forget every job and file (the mock was reset): running jobs are cancelled, old files removed."""
        for task in list(self.tasks):
            task.cancel()
        if self._root is not None:
            old = self._root / str(self._generation)
            self._generation += 1
            with contextlib.suppress(RuntimeError):
                self.executor.submit(shutil.rmtree, old, True)

    async def close(self) -> None:
        self._closed = True
        tasks = list(self.tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._executor is not None:
            executor, self._executor = self._executor, None
            await asyncio.get_running_loop().run_in_executor(None, lambda: executor.shutdown(cancel_futures=True))
        if self._root is not None:
            root, self._root = self._root, None
            await asyncio.to_thread(shutil.rmtree, root, True)
