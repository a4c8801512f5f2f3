"""The video service of one mock: every account's Video state, the worker pool that records and composes audio, the
files it writes, the composition ticker and the status-callback dispatcher.

Audio work never runs on the event loop: recording a room's tracks (`_tracks.write_track`) and mixing a composition
(`_compose.compose`) run in a small thread pool (`loop.run_in_executor`, the media pipeline's pattern), block by
block, and report back on the loop. Files live in a `_scratch.ScratchSpace`: a private temporary folder, one
sub-folder per reset generation, so a reset forgets them (removed in the pool) and shutdown removes the folder.

The ticker looks at compositions whose lifecycle is due (`after_seconds`), reading the injected clock, and sleeps
until the next due time (at most `TICK_S`, so a test's manual clock is followed) or until something is scheduled.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import math
import random
from collections.abc import Callable, Mapping
from typing import Any

from mock_server._clock import Clock
from mock_server._config import WebhookFaultsConfig
from mock_server._errors import ApiError, not_found
from mock_server._model._params import CallbackEvent
from mock_server._model._registry import Registry
from mock_server._scratch import ScratchSpace
from mock_server._sids import is_sid
from mock_server._video._account import VideoAccount
from mock_server._video._compose import SourceTrack, compose
from mock_server._video._context import Owner, VideoContext
from mock_server._video._records import CompositionRecord, ParticipantRecord, RecordingRecord, RoomRecord
from mock_server._video._room_body import RoomBodyError, RoomPlan
from mock_server._video._tracks import RATE, TrackError, write_track

__all__ = ["MEDIA_PREFIX", "TICK_S", "MediaFile", "VideoService"]

log = logging.getLogger("mock_server")

TICK_S = 0.05
WORKERS = 2
MEDIA_PREFIX = "/__mock__/media/video"  # signed downloads: /__mock__/media/video/{AccountSid}/{RT…|CJ…}
TTL_DEFAULT_S, TTL_MAX_S = 600, 3600  # the Media subresource's Ttl (twilio-wire.md §6)
CONTENT_TYPES = {"mka": "audio/x-matroska", "mp4": "audio/mp4", "webm": "audio/webm"}


class MediaFile:
    __slots__ = ("content_type", "filename", "path")

    def __init__(self, path: str, content_type: str, filename: str) -> None:
        self.path = path
        self.content_type = content_type
        self.filename = filename


class VideoService:
    def __init__(
        self,
        clock: Clock,
        registry: Callable[[], Registry],
        faults: Callable[[str], WebhookFaultsConfig | None],
        seed: int,
    ) -> None:
        from mock_server._video._callbacks import VideoCallbacks  # aiohttp: the HTTP side of the service

        self.clock = clock
        self._registry = registry
        self._faults = faults
        self._rng = random.Random(f"{seed}/video-callbacks")
        self.callbacks = VideoCallbacks(self._rng, clock)
        self.scratch = ScratchSpace("cintel-mock-video", WORKERS)
        self.ctx = VideoContext(
            clock=clock,
            sids=lambda: registry().ctx.sids,
            rng=lambda: registry().ctx.rng,
            schedule=self._schedule,
            encode=self._encode,
            emit=self._emit,
            discard=self.scratch.discard,
        )
        self.accounts: dict[str, VideoAccount] = {}
        self._heap: list[tuple[float, str, str]] = []
        self._wake: asyncio.Event | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._jobs: set[asyncio.Future[Any]] = set()

    # --- accounts ---------------------------------------------------------------------------------------------

    def account(self, owner: Owner) -> VideoAccount:
        found = self.accounts.get(owner.sid)
        if found is None:
            found = self.accounts[owner.sid] = VideoAccount(owner, self.ctx)
        return found

    def stats_for(self, account_sid: str) -> dict[str, Any]:
        found = self.accounts.get(account_sid)
        sent = self.callbacks.stats_for(account_sid)
        return {
            **(found.stats() if found is not None else VideoAccount.empty_stats()),
            "composition_callbacks_sent": sent["webhooks_sent"],
            "composition_callbacks_failed": sent["webhooks_failed"],
            "composition_callbacks_dropped": sent["webhooks_dropped"],
        }

    # --- lifecycle of the service -----------------------------------------------------------------------------

    async def start(self) -> None:
        self.scratch.reopen()
        self._wake = asyncio.Event()
        await self.callbacks.start()
        self._ticker = asyncio.get_running_loop().create_task(self._run(), name="cintel-mock-video-ticker")

    async def close(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        for job in list(self._jobs):
            job.cancel()
        await self.callbacks.close()
        await self.scratch.close()

    def reset(self, seed: int) -> None:
        """Forget every room, composition and counter; old files are removed in the pool (running jobs finish
        into the old folder and are dropped)."""
        self.accounts.clear()
        self._heap.clear()
        self.callbacks.reset_stats()
        self._rng.seed(f"{seed}/video-callbacks")
        self.scratch.next_generation()

    # --- rooms ------------------------------------------------------------------------------------------------

    async def create_room(self, plan: RoomPlan, owner: Owner, media: Mapping[str, bytes]) -> RoomRecord:
        """Record every participant's track (in the pool) and store the room; `RoomBodyError` if a media file
        cannot be decoded or the unique name is taken."""
        account = self.account(owner)
        if plan.unique_name is not None and account.unique_name_taken(plan.unique_name):
            raise RoomBodyError(f"'unique_name' is already used by an in-progress room, got {plan.unique_name!r}")
        generation = self.scratch.generation
        sids = self.ctx.sids()
        room_sid = sids.new("RM")
        per_participant = [(sids.new("PA"), sids.new("MT"), sids.new("RT")) for _ in plan.participants]
        created = math.floor(self.clock.now() - plan.end_s)  # the room ends now: it started end_s ago
        folder = self.scratch.folder(owner.sid)
        loop = asyncio.get_running_loop()
        jobs = [
            loop.run_in_executor(
                self.scratch.executor,
                write_track,
                p,
                media.get(p.media) if p.media else None,
                str(folder / f"{rt}.mka"),
            )
            for p, (_, _, rt) in zip(plan.participants, per_participant, strict=True)
        ]
        results = await asyncio.gather(*jobs, return_exceptions=True)
        failure = next(((i, r) for i, r in enumerate(results) if isinstance(r, BaseException)), None)
        if failure is not None or generation != self.scratch.generation:
            for r in results:
                if not isinstance(r, BaseException):
                    self.scratch.discard(r.path)
            if failure is None:
                raise RoomBodyError("the mock was reset while the room was being recorded")
            index, error = failure
            if isinstance(error, TrackError):
                raise RoomBodyError(f"'participants[{index}].media' {error}, got {plan.participants[index].media!r}")
            raise error
        participants = []
        for p, (pa, mt, rt), result in zip(plan.participants, per_participant, results, strict=True):
            assert not isinstance(result, BaseException)
            recording = RecordingRecord(rt, room_sid, pa, mt, p.track_name or mt, p.joined_s, p.stay_s,
                                        created + p.joined_s)  # fmt: skip
            recording.size, recording.media_path = result.size, result.path
            participants.append(ParticipantRecord(pa, p.identity, p.joined_s, p.left_s, recording))
        room = RoomRecord(room_sid, plan.unique_name or room_sid, created, plan.end_s, participants)
        if plan.in_progress:
            room.status, room.completed = "in-progress", None
        account.add_room(room)
        return room

    # --- compositions: scheduling, encoding, callbacks --------------------------------------------------------

    def _schedule(self, due: float, account_sid: str, composition_sid: str) -> None:
        heapq.heappush(self._heap, (due, account_sid, composition_sid))
        if self._wake is not None:
            self._wake.set()

    def tick(self, now: float) -> None:
        heap = self._heap
        while heap and heap[0][0] <= now:
            _, account_sid, composition_sid = heapq.heappop(heap)
            account = self.accounts.get(account_sid)
            c = account.compositions.get(composition_sid) if account is not None else None
            if account is not None and c is not None:
                account.advance(c, now)

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            now = self.clock.now()
            try:
                self.tick(now)
            except Exception:  # a bug here must not stop every later transition
                log.exception("video tick failed")
            delay = None if not self._heap else min(max(self._heap[0][0] - now, 0.0), TICK_S)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)

    def _encode(self, account: VideoAccount, c: CompositionRecord) -> None:
        tracks = []
        for sid in c.sources:
            rec = account.recordings[sid]
            assert rec.media_path is not None
            tracks.append(SourceTrack(rec.media_path, round(rec.start_s * RATE), round(rec.duration_s * RATE)))
        path = str(self.scratch.folder(account.sid) / f"{c.sid}.{c.format}")
        generation = self.scratch.generation
        future = asyncio.get_running_loop().run_in_executor(
            self.scratch.executor, compose, tracks, c.trim, c.format, path
        )
        self._jobs.add(future)

        def done(f: asyncio.Future[Any]) -> None:
            self._jobs.discard(f)
            if f.cancelled():
                return
            error = f.exception()
            if generation != self.scratch.generation:  # reset meanwhile: the account is gone
                if error is None:
                    self.scratch.discard(f.result().path)
                return
            if error is not None:
                log.error("composing %s failed", c.sid, exc_info=error)
                account.encoded(c, None, 0, f"{type(error).__name__}: {error}")
            else:
                result = f.result()
                account.encoded(c, result.path, result.size, None)

        future.add_done_callback(done)

    def _emit(self, event: CallbackEvent) -> None:
        faults = self._faults(event.account_sid)
        if faults is not None:
            self.callbacks.submit(event, faults)

    # --- media ------------------------------------------------------------------------------------------------

    def media_url(self, account_sid: str, sid: str, ttl_s: int, disposition: str) -> str:
        """A URL on the mock serving this recording's or composition's file for `ttl_s` seconds (no credentials)."""
        registry = self._registry()
        path = f"{MEDIA_PREFIX}/{account_sid}/{sid}"
        expires = int(self.clock.now()) + ttl_s
        url = f"{registry.public_base_url}{path}?Expires={expires}&Signature={registry.ctx.sign(path, expires)}"
        return url if disposition == "attachment" else f"{url}&Disposition={disposition}"

    def media_file(self, account_sid: str, sid: str, expires: str | None, signature: str | None) -> MediaFile:
        """The file a signed media URL names: 403 / 20403 unless signed and unexpired, 404 once gone."""
        path = f"{MEDIA_PREFIX}/{account_sid}/{sid}"
        self._registry().verify_signed(path, expires, signature)
        account = self.accounts.get(account_sid)
        if account is None:
            raise not_found(path)
        if is_sid(sid, "RT"):
            rec = account.recording_media_path(sid, path)
            assert rec.media_path is not None
            return MediaFile(rec.media_path, CONTENT_TYPES["mka"], f"{sid}.mka")
        if is_sid(sid, "CJ"):
            c = account.composition_media(sid)
            assert c.media_path is not None
            return MediaFile(c.media_path, CONTENT_TYPES[c.format], f"{sid}.{c.format}")
        raise ApiError(404, 20404, f"The requested resource {path} was not found")
