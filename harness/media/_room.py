"""`download_room_tracks`: a Video room's participants' audio, downloaded, each with its offset from room start.

Where the offsets come from (twilio-wire.md §6):

- `via="recordings"` (default): one file per audio track recording (`.mka`, Opus). Twilio time-stamps a track
  recording from the room's creation, so the container's start time (its first sample's timestamp) *is* the track's
  offset from room start, to the millisecond. The Recording's `offset` field is no help within a room: it is the
  room's start on a clock common to all rooms, the same for every track of one room. A file without timestamps falls
  back to the Recording's `date_created` minus the Room's (1 s resolution), then the participant's join time.
- `via="compositions"`: one audio-only composition per participant (`AudioSources=PA…`, `Trim=false`). A composition
  always trims the initial gap — it starts at that participant's first recorded media, whatever `Trim` says — so
  its own timeline has lost the participant's offset. It is re-applied from the participant's earliest audio
  recording: its container start time, read from the first 256 KiB of the recording's media (a Range request), with
  the same date fallbacks.

Tracks are ordered by the participant's join time (then SID, then offset). The audio is PHI: directories this
makes are 0700 and the downloaded files 0600 (an existing `directory` keeps its mode).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

from harness._errors import CintelError
from harness._private import PRIVATE_FILE, make_dirs
from harness.media._decode import MergeError, container_start
from harness.media._video import VideoClient
from harness.media._video_models import Composition, Participant, Recording, Room

HEAD_BYTES = 256 * 1024  # enough for a track recording's header and first cluster (its first timestamp)
logger = logging.getLogger("harness.media")
Via = Literal["recordings", "compositions"]


class RoomNotReady(CintelError):
    """The room has not ended, or its recordings or compositions are not ready in time: try again later."""


@dataclass(frozen=True)
class RoomTrack:
    """One downloaded participant track and where it goes: `offset_s` seconds from the room's start."""

    participant_sid: str
    identity: str
    path: Path
    offset_s: float


async def download_room_tracks(
    video: VideoClient,
    room_sid: str,
    directory: Path,
    *,
    via: Via = "recordings",
    composition_format: str = "mp4",
    poll_s: float = 5.0,
    timeout_s: float = 1800.0,
    concurrency: int = 4,
    participants: Collection[str] | None = None,
    sleep: Callable[[float], Awaitable[None]] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> list[RoomTrack]:
    """Download every participant's audio of a completed room into `directory` (module docstring for the offsets);
    only those whose SID or identity is in `participants`, when given.

    Recordings still processing, and compositions, are polled every `poll_s` for at most `timeout_s` (then
    `RoomNotReady`). Raises `RoomNotReady` for a room that has not ended, `MergeError` for a room without audio."""
    if via not in ("recordings", "compositions"):
        raise MergeError(f"via must be 'recordings' or 'compositions', got {via!r}")
    pause = sleep or asyncio.sleep
    deadline = clock() + timeout_s
    room = await _completed_room(video, room_sid)
    everyone = {p.sid: p for p in await video.list_participants(room_sid)}
    recordings = await _audio_recordings(video, room_sid, poll_s, deadline, pause, clock)
    if participants is not None:  # SIDs or identities
        wanted = set(participants)
        recordings = [r for r in recordings if _chosen(r.participant_sid or "", everyone, wanted)]
    if not recordings:
        raise MergeError(f"room {room_sid} has no completed audio recordings: nothing to merge")
    await asyncio.to_thread(make_dirs, directory)
    limit = asyncio.Semaphore(max(1, concurrency))

    async def bounded(job: Awaitable[RoomTrack]) -> RoomTrack:
        async with limit:
            return await job

    if via == "recordings":
        jobs = [_recording_track(video, room, r, everyone, directory) for r in recordings]
    else:
        by_participant: dict[str, list[Recording]] = {}
        for recording in recordings:
            by_participant.setdefault(recording.participant_sid or "", []).append(recording)
        compositions = [
            (sid, await video.create_composition(room_sid, audio_sources=[sid], trim=False, format=composition_format))
            for sid in by_participant
            if sid
        ]
        polling = (poll_s, deadline, pause, clock)
        jobs = [
            _composition_track(video, room, c, by_participant[sid], everyone, directory, *polling)
            for sid, c in compositions
        ]
    try:
        async with asyncio.TaskGroup() as group:  # one failure cancels the other downloads
            tasks = [group.create_task(bounded(job)) for job in jobs]
    except ExceptionGroup as errors:  # the first failure is the one to report (the rest were cancelled by it)
        raise errors.exceptions[0] from None
    tracks = [task.result() for task in tasks]
    return sorted(tracks, key=lambda t: (_join_key(everyone.get(t.participant_sid)), t.participant_sid, t.offset_s))


async def participants_with_audio(video: VideoClient, room_sid: str) -> list[Participant]:
    """A completed room's participants that have an audio recording (done or still processing), by join time.
    Raises `RoomNotReady` for a room that has not ended."""
    await _completed_room(video, room_sid)
    everyone = await video.list_participants(room_sid)
    audio = {r.participant_sid for r in await video.list_recordings(room_sid) if r.type == "audio"
             and r.status in ("completed", "processing", "enqueued")}  # fmt: skip
    return sorted((p for p in everyone if p.sid in audio), key=lambda p: (_join_key(p), p.sid))


async def _completed_room(video: VideoClient, room_sid: str) -> Room:
    room = await video.fetch_room(room_sid)
    if room.status != "completed":
        raise RoomNotReady(f"room {room_sid} is {room.status or 'not completed'}: its recordings are ready once "
                           "it has ended (status completed)")  # fmt: skip
    return room


def _chosen(participant_sid: str, everyone: dict[str, Participant], wanted: set[str]) -> bool:
    participant = everyone.get(participant_sid)
    return participant_sid in wanted or (participant is not None and participant.identity in wanted)


async def _audio_recordings(
    video: VideoClient,
    room_sid: str,
    poll_s: float,
    deadline: float,
    pause: Callable[[float], Awaitable[None]],
    clock: Callable[[], float],
) -> list[Recording]:
    """The room's completed audio recordings, once none is still processing (failed/deleted ones are skipped)."""
    while True:
        audio = [r for r in await video.list_recordings(room_sid) if r.type == "audio"]
        processing = [r.sid for r in audio if r.status in ("processing", "enqueued")]
        if not processing:
            break
        if clock() + poll_s > deadline:
            raise RoomNotReady(f"room {room_sid}: recordings still processing: {', '.join(processing)}")
        await pause(poll_s)
    for r in audio:
        if r.status != "completed":
            logger.warning("room %s: audio recording %s is %s: left out", room_sid, r.sid, r.status)
    return [r for r in audio if r.status == "completed"]


async def _recording_track(
    video: VideoClient, room: Room, recording: Recording, participants: dict[str, Participant], directory: Path
) -> RoomTrack:
    participant_sid = recording.participant_sid or ""
    path = directory / f"{participant_sid or 'PA'}_{recording.sid}.{recording.container_format or 'mka'}"
    await video.download(await video.recording_media_url(recording.sid), path)
    path.chmod(PRIVATE_FILE)  # before anything reads it (the download wrote it with the umask's mode)
    offset = await asyncio.to_thread(container_start, path)
    if offset is None:
        offset = _date_offset(room, recording, participants.get(participant_sid))
    return RoomTrack(participant_sid, _identity(participants.get(participant_sid), participant_sid), path, offset)


async def _composition_track(
    video: VideoClient,
    room: Room,
    composition: Composition,
    recordings: Sequence[Recording],
    participants: dict[str, Participant],
    directory: Path,
    poll_s: float,
    deadline: float,
    pause: Callable[[float], Awaitable[None]],
    clock: Callable[[], float],
) -> RoomTrack:
    participant_sid = recordings[0].participant_sid or ""
    participant = participants.get(participant_sid)
    offsets = [await _recording_start(video, room, r, participant, directory) for r in recordings]
    while not composition.is_final:
        if clock() + poll_s > deadline:
            raise RoomNotReady(f"composition {composition.sid} of {participant_sid} is still {composition.status}")
        await pause(poll_s)
        composition = await video.fetch_composition(composition.sid)
    if composition.status != "completed":
        raise MergeError(f"composition {composition.sid} of participant {participant_sid} is {composition.status}")
    path = directory / f"{participant_sid}_{composition.sid}.{composition.format or 'mp4'}"
    await video.download(await video.composition_media_url(composition.sid), path)
    path.chmod(PRIVATE_FILE)  # before anything reads it (the download wrote it with the umask's mode)
    # The composition starts at the participant's first recorded media (the initial gap is always trimmed).
    return RoomTrack(participant_sid, _identity(participant, participant_sid), path, min(offsets))


async def _recording_start(
    video: VideoClient, room: Room, recording: Recording, participant: Participant | None, directory: Path
) -> float:
    """A track recording's offset from room start, from the head of its media (dates as the fallback)."""
    head = directory / f".head_{recording.sid}.{recording.container_format or 'mka'}"
    try:
        await video.download(await video.recording_media_url(recording.sid), head, head_bytes=HEAD_BYTES)
        start = await asyncio.to_thread(container_start, head)
    finally:
        head.unlink(missing_ok=True)
    return _date_offset(room, recording, participant) if start is None else start


def _date_offset(room: Room, recording: Recording, participant: Participant | None) -> float:
    """Seconds from room start by the resources' dates (whole seconds): the recording's creation, else the join."""
    room_start = room.time("date_created")
    for moment in (recording.time("date_created"), participant.time("start_time") if participant else None):
        if room_start and moment:
            logger.warning("recording %s carries no start time: placed by its dates (1 s resolution)", recording.sid)
            return max(0.0, (moment - room_start).total_seconds())
    raise MergeError(f"recording {recording.sid}: no start time in its file and no dates to place it by")


def _identity(participant: Participant | None, participant_sid: str) -> str:
    return (participant.identity if participant else None) or participant_sid


def _join_key(participant: Participant | None) -> tuple[int, datetime | float]:
    joined = participant.time("start_time") if participant else None
    return (0, joined) if joined else (1, 0.0)
