"""Compositions (`/v1/Compositions`): create, fetch, list, delete, their media, and their lifecycle with callbacks.

Lifecycle (the account's `lifecycle` config, as for transcripts), counted from when the room has completed — at once
for a completed room; for an in-progress one, when it completes (Twilio starts processing only then, §6):
`immediate` starts processing at once; `after_seconds` starts at a quarter of `seconds + per_media_second × the
composition's length` and completes at the end of it; `after_polls` starts at the first fetch and completes at the
`polls`-th. In every mode the media must also be encoded (in the worker pool) before `completed`; `failure_rate`
(seeded) ends some in `failed` (53626). Status only moves forward: enqueued → processing → completed | failed, and
DELETE makes any of them `deleted` (the media goes, the resource stays).

Status callbacks, when `StatusCallback` was given: `composition-started`, then `composition-available` or
`composition-failed`, form-encoded and signed (`_callbacks.py`). `composition-enqueued` is sent for compositions made by
Composition Hooks only (§6), and the mock has none; `composition-progress` is not sent.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from mock_server import _strict_json as strict_json
from mock_server._errors import ApiError, invalid_parameter, missing_parameter, not_found
from mock_server._model._params import CallbackEvent, Params, Result
from mock_server._sids import is_sid
from mock_server._video._context import Owner, VideoContext
from mock_server._video._records import (
    COMPLETED,
    DELETED,
    ENQUEUED,
    FAILED,
    PROCESSING,
    CompositionRecord,
    RecordingRecord,
    RoomRecord,
)
from mock_server._video._render import VIDEO, choice, created_between, in_window, iso, page
from mock_server._video._sources import Track, check_sources, select_tracks
from mock_server._video._timeline import kept_spans, total_length
from mock_server._video._tracks import RATE

__all__ = ["INTERNAL_FAILURE", "RECORDINGS_DELETED", "CompositionOperations", "callback_time"]

STATUSES = ("enqueued", "processing", "completed", "deleted", "failed")
FORMATS = ("mp4", "webm")
INTERNAL_FAILURE = 53626  # "Internal failure while processing media composition" (twilio.com/docs/api/errors/53626)
RECORDINGS_DELETED = 53628  # "Room recordings deleted" (twilio.com/docs/api/errors/53628)
_RESOLUTION = re.compile(r"([0-9]{2,4})x([0-9]{2,4})")


def callback_time(epoch: float) -> str:
    """A callback's `Timestamp`: ISO-8601 UTC with milliseconds."""
    whole = math.floor(epoch)
    return f"{iso(whole)[:-1]}.{int((epoch - whole) * 1000):03d}Z"


def _resolution(p: Params) -> str:
    value = p.get("Resolution") or "640x480"
    match = _RESOLUTION.fullmatch(value)
    width, height = (int(match.group(1)), int(match.group(2))) if match else (0, 0)
    if not (16 <= width <= 1280 and 16 <= height <= 1280 and width * height <= 921_600):
        raise invalid_parameter("Resolution", value, "must be {width}x{height}, each 16-1280, at most 921600 pixels")
    return value


def _video_layout(p: Params) -> object:
    raw = p.get("VideoLayout")
    if raw is None or raw == "":
        return {}
    try:
        layout = strict_json.loads(raw)
    except ValueError as exc:
        raise invalid_parameter("VideoLayout", raw, f"must be a JSON object ({exc})") from None
    if not isinstance(layout, dict):
        raise invalid_parameter("VideoLayout", raw, "must be a JSON object")
    return layout


def _callback(p: Params) -> tuple[str | None, str]:
    url = p.get("StatusCallback") or None
    if url is not None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname or not url.isprintable() or " " in url:
            raise invalid_parameter("StatusCallback", url, "must be an absolute http or https URL (no spaces)")
    method = (p.get("StatusCallbackMethod") or "POST").upper()
    if method not in ("GET", "POST"):
        raise invalid_parameter("StatusCallbackMethod", p.get("StatusCallbackMethod"), "must be GET or POST")
    return url, method


class CompositionOperations:
    sid: str
    owner: Owner
    ctx: VideoContext
    rooms: dict[str, RoomRecord]
    recordings: dict[str, RecordingRecord]
    compositions: dict[str, CompositionRecord]
    composition_order: list[CompositionRecord]
    counts: Counter[str]

    # Provided by the other parts of `VideoAccount` (declared, not defined: a stub here would shadow them).
    find_room: Callable[[str, str], RoomRecord]  # `_rooms.RoomOperations`
    discard_media: Callable[[str], None]  # `_account.VideoAccount`

    # --- rendering --------------------------------------------------------------------------------------------

    def render_composition(self, c: CompositionRecord) -> dict[str, Any]:
        url = f"{VIDEO}/v1/Compositions/{c.sid}"
        done = c.status == COMPLETED
        return {
            "account_sid": self.sid,
            "status": c.status,
            "date_created": iso(c.created),
            "date_completed": iso(c.completed) if c.completed is not None else None,
            "date_deleted": iso(c.deleted) if c.deleted is not None else None,
            "sid": c.sid,
            "room_sid": c.room_sid,
            "audio_sources": list(c.audio_sources),
            "audio_sources_excluded": list(c.audio_sources_excluded),
            "video_layout": c.video_layout,
            "resolution": c.resolution,
            "trim": c.trim,
            "format": c.format,
            "bitrate": c.bitrate if done else 0,
            "size": c.size if done else 0,
            "duration": round(c.duration) if done else 0,
            "media_external_location": None,
            "status_callback": c.callback_url,
            "status_callback_method": c.callback_method,
            "url": url,
            "links": {"media": f"{url}/Media"},
        }

    # --- operations -------------------------------------------------------------------------------------------

    def create_composition(self, p: Params) -> Result:
        room_sid = p.get("RoomSid")
        if not room_sid:
            raise missing_parameter("RoomSid")
        if not is_sid(room_sid, "RM"):
            raise invalid_parameter("RoomSid", room_sid, "must be a Room SID (RM followed by 32 hex digits)")
        room = self.find_room(room_sid, f"/v1/Rooms/{room_sid}")
        included = check_sources("AudioSources", p.getall("AudioSources"))
        excluded = check_sources("AudioSourcesExcluded", p.getall("AudioSourcesExcluded"))
        layout = _video_layout(p)
        if not included and "VideoLayout" not in p:
            raise ApiError(400, 20001, "Either VideoLayout or AudioSources is required")
        resolution = _resolution(p)
        media_format = choice(p, "Format", FORMATS) or "webm"
        trim = p.bool("Trim", True)
        callback_url, callback_method = _callback(p)
        tracks = [
            Track(x.recording.sid, x.sid, x.recording.track_name)
            for x in sorted(room.participants, key=lambda x: x.joined_s)
        ]
        chosen = select_tracks(tracks, included, excluded)
        if not chosen:
            shown = ", ".join(included) or "(none)"
            raise invalid_parameter(
                "AudioSources", shown, f"matches no audio track of Room {room.sid} (mock rooms have no video tracks)"
            )
        now = self.ctx.clock.now()
        c = CompositionRecord(self.ctx.sids().new("CJ"), room.sid, now)
        c.audio_sources, c.audio_sources_excluded, c.video_layout = included, excluded, layout
        c.resolution, c.format, c.trim = resolution, media_format, bool(trim)
        c.callback_url, c.callback_method = callback_url, callback_method
        c.sources = tuple(t.recording_sid for t in chosen)
        c.duration = total_length(kept_spans(self._intervals(c), c.trim)) / RATE
        lifecycle = self.owner.lifecycle
        if lifecycle.failure_rate > 0:
            c.will_fail = self.ctx.rng().random() < lifecycle.failure_rate
        self.compositions[c.sid] = c
        self.composition_order.append(c)
        self.counts["compositions_created"] += 1
        if room.completed is not None:
            self._begin(c, now)
        return Result(201, self.render_composition(c))

    def _intervals(self, c: CompositionRecord) -> list[tuple[int, int]]:
        recs = [self.recordings[sid] for sid in c.sources]
        return [(round(r.start_s * RATE), round(r.start_s * RATE) + round(r.duration_s * RATE)) for r in recs]

    def _composition(self, sid: str, path: str) -> CompositionRecord:
        c = self.compositions.get(sid)
        if c is None:
            raise not_found(path)
        return c

    def fetch_composition(self, sid: str) -> Result:
        c = self._composition(sid, f"/v1/Compositions/{sid}")
        self.advance(c, self.ctx.clock.now(), poll=True)
        return Result(200, self.render_composition(c))

    def list_compositions(self, p: Params) -> Result:
        status = choice(p, "Status", STATUSES)
        room_sid = p.get("RoomSid")
        if room_sid is not None and not is_sid(room_sid, "RM"):
            raise invalid_parameter("RoomSid", room_sid, "must be a Room SID (RM followed by 32 hex digits)")
        after, before, dates = created_between(p)
        filters = [(n, v) for n, v in (("Status", status), ("RoomSid", room_sid)) if v] + dates

        def keep(c: CompositionRecord) -> bool:
            return (
                (status is None or c.status == status)
                and (room_sid is None or c.room_sid == room_sid)
                and in_window(c.created, after, before)
            )

        body = page(p, key="compositions", path="/v1/Compositions", items=self.composition_order, keep=keep,
                    filters=filters, render=self.render_composition, max_page_size=100)  # fmt: skip
        return Result(200, body)

    def delete_composition(self, sid: str) -> Result:
        path = f"/v1/Compositions/{sid}"
        c = self._composition(sid, path)
        if c.status == DELETED:
            raise not_found(path)
        c.status, c.deleted = DELETED, self.ctx.clock.now()
        self._drop_media(c)
        self.counts["compositions_deleted"] += 1
        return Result(204, None)

    def composition_media(self, sid: str) -> CompositionRecord:
        """The composition a `Media` request asks for: 404 until it is completed (and after it is deleted)."""
        c = self._composition(sid, f"/v1/Compositions/{sid}/Media")
        if c.status != COMPLETED or c.media_path is None:
            raise ApiError(404, 20404, f"The media of Composition {sid} is not available (status {c.status})")
        return c

    # --- lifecycle --------------------------------------------------------------------------------------------

    def room_completed(self, room: RoomRecord, now: float) -> None:
        for c in self.composition_order:
            if c.room_sid == room.sid and c.status == ENQUEUED:
                self._begin(c, now)

    def _begin(self, c: CompositionRecord, now: float) -> None:
        """The room has completed: set the due times from the account's lifecycle config, then advance."""
        lifecycle = self.owner.lifecycle
        if lifecycle.mode == "immediate":
            c.start_due = c.done_due = now
        elif lifecycle.mode == "after_seconds":
            total = lifecycle.seconds + lifecycle.per_media_second * c.duration
            c.start_due, c.done_due = now + total / 4, now + total
            self.ctx.schedule(c.start_due, self.sid, c.sid)
            self.ctx.schedule(c.done_due, self.sid, c.sid)
        else:
            c.start_due = c.done_due = math.inf  # after_polls: the fetches decide
        self.advance(c, now)

    def advance(self, c: CompositionRecord, now: float, *, poll: bool = False) -> None:
        """Bring `c` up to date: start it, and complete or fail it when its time has come and its media is made."""
        room = self.rooms.get(c.room_sid)
        if poll and room is not None and room.completed is not None and c.status in (ENQUEUED, PROCESSING):
            c.polls += 1  # a fetch once the room has ended: the first starts processing (after_polls)
        if c.status == ENQUEUED and room is not None and room.completed is not None:
            by_poll = poll and math.isinf(c.start_due) and self.owner.lifecycle.mode == "after_polls"
            if now >= c.start_due or by_poll:
                self._start(c, now)
        if c.status != PROCESSING or not c.encoded:
            return
        polls_done = math.isinf(c.done_due) and c.polls >= self.owner.lifecycle.polls
        if c.error is not None or now >= c.done_due or polls_done:
            self._finish(c, now)

    def _start(self, c: CompositionRecord, now: float) -> None:
        c.status, c.started = PROCESSING, now
        self._notify(c, "composition-started", now)
        missing = [sid for sid in c.sources if self.recordings[sid].media_path is None]
        if missing:
            c.encoded = True
            c.error = (RECORDINGS_DELETED, f"Room recordings deleted: {', '.join(missing)} no longer has media")
            self.advance(c, now)
            return
        if c.will_fail:  # fails at its due time: no media will be kept, so none is made
            c.encoded = True
            self.advance(c, now)
            return
        self.ctx.encode(self, c)  # type: ignore[arg-type]  # self is the VideoAccount mixing this in

    def encoded(self, c: CompositionRecord, media_path: str | None, size: int, error: str | None) -> None:
        """The worker pool is done with `c`: keep its file (or the failure) and advance."""
        if c.status != PROCESSING:  # deleted meanwhile, or the mock was reset: nobody wants the file
            if media_path is not None:
                self.discard_media(media_path)
            return
        c.encoded = True
        if error is not None:
            c.error = (INTERNAL_FAILURE, f"Internal failure while processing media composition: {error}")
        else:
            c.media_path, c.size = media_path, size
            c.bitrate = round(size * 8 / c.duration / 1000) if c.duration > 0 else 0
        self.advance(c, self.ctx.clock.now())

    def _finish(self, c: CompositionRecord, now: float) -> None:
        if c.error is None and c.will_fail:
            c.error = (INTERNAL_FAILURE, "Internal failure while processing media composition")
        if c.error is not None:
            c.status = FAILED
            self._drop_media(c)
            self.counts["compositions_failed"] += 1
            self._notify(c, "composition-failed", now)
            return
        c.status, c.completed = COMPLETED, now
        self.counts["compositions_completed"] += 1
        self._notify(c, "composition-available", now)

    def _drop_media(self, c: CompositionRecord) -> None:
        if c.media_path is not None:
            self.discard_media(c.media_path)
            c.media_path = None

    def _notify(self, c: CompositionRecord, event: str, now: float) -> None:
        if c.callback_url is None:
            return
        body: dict[str, Any] = {
            "AccountSid": self.sid,
            "RoomSid": c.room_sid,
            "CompositionSid": c.sid,
            "CompositionUri": f"/v1/Compositions/{c.sid}",
            "StatusCallbackEvent": event,
            "Timestamp": callback_time(now),
        }
        if event == "composition-available":
            body.update(MediaUri=f"/v1/Compositions/{c.sid}/Media", Duration=str(round(c.duration)), Size=str(c.size))
        elif event == "composition-failed" and c.error is not None:
            body.update(FailedOperation="compose", ErrorMessage=f"{c.error[0]}: {c.error[1]}")
        self.ctx.emit(CallbackEvent(self.sid, c.callback_url, c.callback_method, self.owner.auth_token, body))
