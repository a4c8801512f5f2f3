"""Preparing a merge row for its create: get its tracks (files, URLs, or a Video room's), merge them onto two
channels, host the merged file, and give back the Channel to create the transcript with.

Every step is journaled (`_journal_media`) so a crash resumes where it stopped: a merge that completed is not made
again (its file is checked against the recorded sha256 first; a missing or changed file is merged again), a hosted
file is not uploaded again (its URL is made again from the recorded location: an S3 URL is signed again, a served
directory's URL is the location itself — only the mock's host must be sent the file again, see `_hosting`). The
item stays `pending` in the journal until the preparation is done; the runner then marks it `submitting` and sends
the create, so a crash after the create is reconciled by CustomerKey as for any row, never created twice.

Merging is CPU-bound: it runs in a daemon thread (numpy and libsndfile release the GIL, so the event loop and the
other items keep flowing), at most `merge_workers` at a time; an interrupted run does not wait for a merge to end
(a partial file is `*.part`, replaced on the next try). Downloads (track URLs, a room's recordings) are bounded too.

Only what will be merged is downloaded: a room's participants with audio are listed and mapped onto the channels
first (a room the row cannot map fails before any download). An item's downloads are removed once it is merged, and
when it fails or is deferred (the next try downloads again).

The audio is PHI: every directory made for merged files or downloads is 0700 and every file 0600 — except in a
directory the user serves (`DirectoryHost`, `--media-dir` with `--media-base-url`), whose mode is theirs: a batch's
directory made in it takes its mode (less group/other write), so their web server can reach in, and a merged file is
0600 plus read for group and others where the directory lets them in (0644 in a 0755 directory, 0640 in 0750).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import shutil
import threading
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx

from harness._errors import CintelError
from harness._hosting import DirectoryHost, Host, HostingError, HostUnusable, merged_name
from harness._journal import Journal
from harness._manifest import ManifestItem
from harness._merge_assign import Assignment, AssignmentError, assign_room, assign_tracks, room_channels
from harness._merge_rows import MergeSpec
from harness._private import PRIVATE_DIR, PRIVATE_FILE, make_dirs
from harness._redact import scrub_text, scrub_url

T = TypeVar("T")
AUDIO_SUFFIXES = frozenset({".wav", ".flac", ".mp3", ".ogg", ".mka", ".mkv", ".webm", ".mp4", ".m4a"})
DOWNLOADS = 4  # track downloads at a time (each room download is bounded by harness.media too)
RunBlocking = Callable[..., Awaitable[Any]]


class PrepareFailed(CintelError):
    """The row itself cannot be merged (a bad file, a room with three participants, …): the item fails."""


class PrepareDeferred(CintelError):
    """Not now (a host or a download that did not answer, a room not yet ended): the item stays pending."""


async def in_daemon_thread(function: Callable[..., T], *args: Any) -> T:
    """`function(*args)` in a new daemon thread: awaiting it keeps the loop free, and a process interrupted meanwhile
    exits without waiting for it (an executor's threads would be joined at exit, holding Ctrl-C for a whole merge)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: T | None, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]  # None only alongside an error

    def run() -> None:
        try:
            result, error = function(*args), None
        except BaseException as caught:  # handed to the awaiting task, which re-raises it
            result, error = None, caught
        with contextlib.suppress(RuntimeError):  # the loop is gone: the run was interrupted, nobody is waiting
            loop.call_soon_threadsafe(settle, result, error)

    threading.Thread(target=run, name="cintel-merge", daemon=True).start()
    return await future


@dataclass
class MediaOptions:
    """How merge rows are prepared: where merged files go and are hosted, and the bounds on the work."""

    host: Host
    media_dir: Path  # merged files are written to media_dir/<batch id>/<name>.flac (private unless served)
    work_dir: Path | None = None  # private: downloaded tracks until their merge (default media_dir/.tracks)
    merge_workers: int = 2
    rate: int = 16_000
    video: Callable[[], Any] | None = None  # opens an async-context VideoClient, for room_sid rows
    run_blocking: RunBlocking = field(default=in_daemon_thread)  # tests run merges inline on a virtual clock
    transport: httpx.AsyncBaseTransport | None = None  # for track URLs (tests)


def merge_to_file(assignment: Assignment, output: Path, rate: int, mode: int = PRIVATE_FILE) -> tuple[str, int]:
    """Merge, verify and hash, in the calling (worker) thread; the file appears under `output` only when complete,
    with `mode`."""
    from harness.media import MergeError, Track, plan, verify, write

    for stale in output.parent.glob(f"{output.name}.*.part"):  # an interrupted earlier try
        stale.unlink(missing_ok=True)
    part = output.with_name(f"{output.name}.{uuid.uuid4().hex[:8]}.part")
    try:
        channels = [[Track(s.path, s.offset_s if s.explicit else None) for s in assignment.channel(n)] for n in (1, 2)]
        result = write(plan(channels[0], channels[1], rate=rate), part)
        check = verify(result)
        if not check.ok:
            raise MergeError("the merged file failed verification: " + "; ".join(check.problems))
        digest, size = file_digest(part)
        part.chmod(mode)
        os.replace(part, output)
    finally:
        part.unlink(missing_ok=True)
    return digest, size


def file_digest(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _same_file(path: Path, sha256: str, size: int | None) -> bool:
    try:
        if size is not None and path.stat().st_size != size:
            return False
        return file_digest(path)[0] == sha256
    except OSError:
        return False


class MediaPreparer:
    """Prepares merge rows for one run (see the module docstring); `aclose()` when the run ends."""

    def __init__(self, journal: Journal, options: MediaOptions, batch_id: str) -> None:
        self.journal = journal
        self.options = options
        self.batch_dir = options.media_dir / batch_id
        self.work_dir = options.work_dir or options.media_dir / ".tracks"
        self.served = isinstance(options.host, DirectoryHost)  # media_dir is the user's, served by their server
        self._merges = asyncio.Semaphore(max(1, options.merge_workers))
        self._downloads = asyncio.Semaphore(DOWNLOADS)
        self._http: httpx.AsyncClient | None = None
        self.merged = 0  # merges completed by this run
        self.hosted = 0  # uploads completed by this run

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
        await self.options.host.aclose()
        with contextlib.suppress(OSError):  # every item's downloads are gone: so is their directory, if it is empty
            self.work_dir.rmdir()

    async def prepare(self, item: ManifestItem) -> dict[str, Any]:
        """The Channel to create `item`'s transcript with; `PrepareFailed` / `PrepareDeferred` / `HostUnusable` (the
        run stops) / the Video API's errors (`TwilioApiError`, for the runner to tell the account's from the row's)
        otherwise."""
        assert item.merge is not None
        key, host = item.customer_key, self.options.host
        name = f"{self.batch_dir.name}/{merged_name(key)}"
        path = self.options.media_dir / name
        step = self.journal.media_step(key)
        if step is not None and step.merged:
            assert step.merged_sha256 is not None
            same = await self.options.run_blocking(_same_file, path, step.merged_sha256, step.merged_bytes)
            if not same:  # deleted or changed since: merged (and hosted) again
                self.journal.forget_merged(key)
                step = None
        if step is None or not step.merged or step.channel is None:
            channel = await self._merge(item, item.merge, path)
            hosted = None
        else:
            channel, hosted = step.channel, step.hosted
        try:
            if hosted is None:
                self.journal.begin_upload(key)
                placed = await host.put(path, name)
                self.journal.mark_hosted(key, placed.location)
                self.hosted += 1
                url = placed.url if placed.url is not None else await host.url(placed.location, path, name)
            else:
                url = await host.url(hosted, path, name)
        except HostUnusable:  # every row would fail alike: the runner stops the run
            raise
        except HostingError as error:
            raise (PrepareDeferred if error.transient else PrepareFailed)(str(error)) from None
        return {"media_properties": {"media_url": url}, **channel}

    async def _merge(self, item: ManifestItem, spec: MergeSpec, path: Path) -> dict[str, Any]:
        work = self.work_dir / path.stem  # this item's downloads: removed once merged, failed or deferred
        try:
            try:
                if spec.room_sid is not None:
                    assignment = assign_room(spec, await self._room_tracks(spec, spec.room_sid, work))
                else:
                    files = [await self._track_file(t.source, t.is_url, work, t.index) for t in spec.tracks]
                    assignment = assign_tracks(spec, files)
            except AssignmentError as error:
                raise PrepareFailed(str(error)) from None
            channel = {"participants": list(assignment.participants)}
            dir_mode, file_mode = self._modes()
            await self.options.run_blocking(make_dirs, path.parent, dir_mode)
            async with self._merges:
                self.journal.begin_merge(item.customer_key)
                try:
                    merge = (merge_to_file, assignment, path, self.options.rate, file_mode)
                    digest, size = await self.options.run_blocking(*merge)
                except OSError as error:  # the media directory: full, unwritable…
                    raise PrepareDeferred(f"cannot write {path}: {error.strerror or error}") from None
                except CintelError as error:  # MergeError: a track that cannot be decoded, a failed verification
                    raise PrepareFailed(scrub_text(str(error))) from None
        finally:
            await self.options.run_blocking(shutil.rmtree, work, True)
        self.journal.mark_merged(item.customer_key, path, digest, size, channel)
        self.merged += 1
        return channel

    def _modes(self) -> tuple[int, int]:
        """Modes for a batch directory and a merged file (module docstring): private, unless media_dir is served."""
        if not self.served:
            return PRIVATE_DIR, PRIVATE_FILE
        try:
            served = self.options.media_dir.stat().st_mode & 0o755
        except OSError as error:
            raise PrepareDeferred(f"{self.options.media_dir}: {error.strerror or error}") from None
        readable = (0o040 if served & 0o050 else 0) | (0o004 if served & 0o005 else 0)
        return served | PRIVATE_DIR, PRIVATE_FILE | readable

    async def _room_tracks(self, spec: MergeSpec, room_sid: str, work: Path) -> list[Any]:
        """The room's tracks of the participants to merge: the channels are decided from its participant list
        first, so a room the row cannot map fails before any download, and nobody left out is downloaded."""
        from harness.media import MergeError, RoomNotReady, download_room_tracks, participants_with_audio

        if self.options.video is None:
            raise PrepareFailed("room_sid rows need the Video API (no Video client configured)")
        try:
            async with self._downloads, self.options.video() as video:
                people = await participants_with_audio(video, room_sid)
                chosen = list(room_channels(spec, list(dict.fromkeys(p.identity or p.sid for p in people))))
                await self.options.run_blocking(make_dirs, work, PRIVATE_DIR)
                return list(await download_room_tracks(video, room_sid, work, participants=chosen))
        except RoomNotReady as error:
            raise PrepareDeferred(str(error)) from None
        except MergeError as error:  # a room without audio, a track that cannot be read
            raise PrepareFailed(str(error)) from None
        except OSError as error:
            raise PrepareDeferred(f"cannot write {work}: {error.strerror or error}") from None

    async def _track_file(self, source: str, is_url: bool, work: Path, index: int) -> Path:
        if not is_url:
            return Path(source)
        suffix = Path(urlsplit(source).path).suffix.lower()
        target = work / f"track{index}{suffix if suffix in AUDIO_SUFFIXES else '.audio'}"
        if self._http is None:
            self._http = httpx.AsyncClient(transport=self.options.transport, follow_redirects=True,
                                           timeout=httpx.Timeout(300.0, connect=10.0))  # fmt: skip
        shown = scrub_url(source)
        await self.options.run_blocking(make_dirs, work, PRIVATE_DIR)
        async with self._downloads:
            try:
                async with self._http.stream("GET", source) as answer:
                    status = answer.status_code
                    if status != 200:
                        later = status >= 500 or status == 429
                        raise (PrepareDeferred if later else PrepareFailed)(
                            f"tracks[{index}].url {shown}: HTTP {status}"
                        )
                    target.unlink(missing_ok=True)  # an earlier try's: made again, private
                    with os.fdopen(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE), "wb") as out:
                        async for chunk in answer.aiter_bytes(1 << 20):
                            out.write(chunk)
            except httpx.HTTPError as error:
                raise PrepareDeferred(f"tracks[{index}].url {shown}: {type(error).__name__}") from None
        return target
