"""The media pipeline: from a created transcript to the audio it names, heard off the request path.

`create_transcript` leaves a `MediaJob`; `MockState.after_create()` hands it here, and one asyncio task per job:

1. tells the account the transcript is in progress (`media_started`);
2. hears the media in a worker (`_worker.py`): a process of the pool downloads `media_url` on its own event loop
   (once, no auth, bounded time, size and redirects: `_fetch.fetch_to_file`), decodes it and finds the speech
   (`mock_server._media.analyse`), and hashes it (SHA-256: the key a script may be registered under and the seed of
   its words); a `source_sid` is read from the account's recordings store and written to the file first;
3. asks the account how the transcript will read (`plan_sentences`: segments, script, seed, redaction) and builds
   those sentences in the worker too, so completion only has to take them;
4. reports back: `media_ready(analysis, path, sha256=…, prepared=…)` keeps the file for the Media subresource and
   starts the lifecycle, `media_failed(code, message)` fails the transcript and writes the alert (`_alerts.py` says
   which code when).

An analyser injected with `create_app(analyse=…)` (tests) need not be picklable: then the same steps run in a thread
pool, with the download on the app's event loop. A transcript deleted while its media is in flight is simply
forgotten (its file removed). `reset()` cancels every job and removes the old files; `close()` (app shutdown) also
closes the HTTP session and the thread pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Protocol, TypeVar

import aiohttp

from mock_server._clock import Clock
from mock_server._media._alerts import INVALID_MEDIA_TYPE, RECORDING_NOT_FOUND, MediaFailure
from mock_server._media._fetch import fetch_to_file, new_session
from mock_server._media._worker import discard_pool, file_sha256, hear_file, processes_allowed, shared_pool
from mock_server._model._media import MediaJob
from mock_server._model._records import MediaInfo
from mock_server._model._sentences import SentencePlan, SentenceSet, build_sentences
from mock_server._scratch import ScratchSpace

__all__ = ["Analyser", "MediaPipeline", "MediaTarget", "file_sha256"]

log = logging.getLogger("mock_server")

Analyser = Callable[[bytes | str | os.PathLike[str]], MediaInfo]


class MediaTarget(Protocol):
    """What the pipeline needs of an account (`mock_server._model.Account`)."""

    def media_started(self, transcript_sid: str, now: float) -> bool: ...
    def plan_sentences(self, transcript_sid: str, analysis: MediaInfo, sha256: str | None) -> SentencePlan | None: ...
    def media_ready(
        self,
        transcript_sid: str,
        analysis: MediaInfo,
        media_path: str | None,
        now: float,
        *,
        sha256: str | None = None,
        prepared: tuple[SentencePlan, SentenceSet] | None = None,
    ) -> bool: ...
    def media_failed(self, transcript_sid: str, code: int, message: str, now: float) -> bool: ...
    def recording(self, recording_sid: str) -> bytes | None: ...


T = TypeVar("T")
Heard = tuple[MediaInfo, str, tuple[SentencePlan, SentenceSet] | None]


def _rejection(exc: BaseException) -> MediaFailure | None:
    """An analyser's `MediaRejected(code, message)` (duck-typed: this module must not need the audio libraries)."""
    code, message = getattr(exc, "code", None), getattr(exc, "message", None)
    if isinstance(code, int) and not isinstance(code, bool) and isinstance(message, str):
        return MediaFailure(code, message)
    return None


class MediaPipeline:
    def __init__(self, clock: Clock, *, analyse: Analyser | None = None, workers: int | None = None) -> None:
        self.clock = clock
        self.analyse = analyse  # None: the shipped analyser, in the worker processes
        self.workers = workers or min(4, os.cpu_count() or 1)
        self.tasks: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None
        self.scratch = ScratchSpace("cintel-mock-media", self.workers)

    # --- resources, made on first use ---------------------------------------------------------------------------

    @property
    def executor(self) -> ThreadPoolExecutor:
        """Threads for the blocking work: files written and removed, and (an injected analyser) the analysis."""
        return self.scratch.executor

    def _session_now(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = new_session()
        return self._session

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
        path = self.scratch.folder() / f"{job.account_sid}-{tsid}"
        kept = False
        try:
            analysis, sha256, prepared = await self._hear(account, job, path)
            kept = account.media_ready(tsid, analysis, str(path), self.clock.now(), sha256=sha256, prepared=prepared)
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

    async def _hear(self, account: MediaTarget, job: MediaJob, path: Path) -> Heard:
        loop = asyncio.get_running_loop()
        media_url = job.media_url
        if media_url is None:
            sid = job.source_sid or ""
            data = account.recording(sid)
            if data is None:
                raise MediaFailure(RECORDING_NOT_FOUND, f"The requested resource Recording {sid} was not found")
            if len(data) > job.limits.max_bytes:
                raise MediaFailure(
                    INVALID_MEDIA_TYPE, f"Recording {sid} is larger than the {job.limits.max_bytes} bytes allowed"
                )
            await loop.run_in_executor(self.executor, path.write_bytes, data)
        analysis: MediaInfo
        if self.analyse is None:  # the shipped analyser: everything in a worker process
            analysis, sha256 = await self._in_process(hear_file, media_url, str(path), job.limits)
        else:
            if media_url is not None:
                await fetch_to_file(self._session_now(), media_url, path, job.limits)
            analysis, sha256 = await loop.run_in_executor(self.executor, self._analyse_and_hash, str(path))
        plan = account.plan_sentences(job.transcript_sid, analysis, sha256)
        if plan is None:  # gone meanwhile; media_ready will say so
            return analysis, sha256, None
        if self.analyse is None:
            sentences = await self._in_process(build_sentences, plan)
        else:
            sentences = await loop.run_in_executor(self.executor, build_sentences, plan)
        return analysis, sha256, (plan, sentences)

    def _analyse_and_hash(self, path: str) -> tuple[MediaInfo, str]:
        """In a worker thread (injected analyser): what is heard in the file (or its refusal), then the file's hash."""
        assert self.analyse is not None
        analysis = self.analyse(path)
        return analysis, file_sha256(path)

    async def _in_process(self, fn: Callable[..., T], *args: object) -> T:
        """`fn(*args)` in the shared worker pool. A worker that dies (a decoder crashing on hostile bytes) breaks
        the pool: it is replaced for the next job, and this one fails as undecodable (never fetched twice)."""
        if not processes_allowed():
            return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)
        pool = shared_pool(self.workers)
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, fn, *args)
        except BrokenProcessPool:
            discard_pool(pool)
            log.warning("a media worker process died while hearing media; the pool is replaced")
            raise MediaFailure(INVALID_MEDIA_TYPE, "Invalid media type: the media could not be decoded") from None

    # --- files and shutdown -------------------------------------------------------------------------------------

    def discard(self, path: str) -> None:
        """Remove a media file without blocking the loop (a deleted transcript's, or one nobody kept)."""
        self.scratch.discard(path)

    def reset(self) -> None:
        """Forget every job and file (the mock was reset): running jobs are cancelled, old files removed."""
        for task in list(self.tasks):
            task.cancel()
        self.scratch.next_generation()

    async def close(self) -> None:
        tasks = list(self.tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._session is not None:
            await self._session.close()
            self._session = None
        await self.scratch.close()
