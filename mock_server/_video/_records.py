"""Stored Video resources: rooms, their participants and recordings, and compositions. `__slots__` classes, no logic.

Times are epoch seconds (floats); positions inside a room are seconds from the room's start. The audio of a
recording lives in a file the video service owns (`media_path`), written before the room is stored.
"""

from __future__ import annotations

__all__ = [
    "COMPLETED",
    "DELETED",
    "ENQUEUED",
    "FAILED",
    "IN_PROGRESS",
    "PROCESSING",
    "CompositionRecord",
    "ParticipantRecord",
    "RecordingRecord",
    "RoomRecord",
]

# Room statuses (room_enum_room_status), recording statuses (recording_enum_status) and composition statuses
# (composition_enum_status) share their words where they mean the same thing.
IN_PROGRESS, COMPLETED, FAILED, DELETED = "in-progress", "completed", "failed", "deleted"
ENQUEUED, PROCESSING = "enqueued", "processing"


class RecordingRecord:
    """One participant's audio track recording (RT…): an Opus track in a Matroska audio (mka) file."""

    __slots__ = (
        "created",
        "duration_s",
        "media_path",
        "participant_sid",
        "room_sid",
        "sid",
        "size",
        "source_sid",
        "start_s",
        "status",
        "track_name",
    )

    def __init__(
        self, sid: str, room_sid: str, participant_sid: str, source_sid: str, track_name: str, start_s: float,
        duration_s: float, created: float,
    ) -> None:  # fmt: skip
        self.sid = sid
        self.room_sid = room_sid
        self.participant_sid = participant_sid
        self.source_sid = source_sid  # the audio track (MT…)
        self.track_name = track_name
        self.start_s = start_s  # where the track starts in the room: the mka's container start time
        self.duration_s = duration_s
        self.created = created
        self.status = COMPLETED
        self.size = 0
        self.media_path: str | None = None


class ParticipantRecord:
    __slots__ = ("identity", "joined_s", "left_s", "recording", "sid")

    def __init__(self, sid: str, identity: str, joined_s: float, left_s: float, recording: RecordingRecord) -> None:
        self.sid = sid
        self.identity = identity
        self.joined_s = joined_s
        self.left_s = left_s
        self.recording = recording


class RoomRecord:
    """A group room whose participants have all come and gone; `completed` None while it is still in progress."""

    __slots__ = ("completed", "created", "end_s", "participants", "sid", "status", "unique_name")

    def __init__(
        self, sid: str, unique_name: str, created: float, end_s: float, participants: list[ParticipantRecord]
    ) -> None:
        self.sid = sid
        self.unique_name = unique_name
        self.created = created  # the room's start: every `*_s` position counts from here
        self.end_s = end_s  # when the last participant left
        self.participants = participants
        self.status = COMPLETED
        self.completed: float | None = created + end_s  # when it ended (None while in progress)


class CompositionRecord:
    """One composition (CJ…). Status moves forward only: enqueued → processing → completed | failed (→ deleted)."""

    __slots__ = (
        "audio_sources",
        "audio_sources_excluded",
        "bitrate",
        "callback_method",
        "callback_url",
        "completed",
        "created",
        "deleted",
        "done_due",
        "duration",
        "encoded",
        "error",
        "format",
        "media_path",
        "polls",
        "resolution",
        "room_sid",
        "sid",
        "size",
        "sources",
        "start_due",
        "started",
        "status",
        "trim",
        "video_layout",
        "will_fail",
    )

    def __init__(self, sid: str, room_sid: str, created: float) -> None:
        self.sid = sid
        self.room_sid = room_sid
        self.created = created
        self.status = ENQUEUED
        self.audio_sources: list[str] = []
        self.audio_sources_excluded: list[str] = []
        self.video_layout: object = {}
        self.resolution = "640x480"
        self.format = "webm"
        self.trim = True
        self.callback_url: str | None = None
        self.callback_method = "POST"
        self.sources: tuple[str, ...] = ()  # the selected recordings (RT…), in room order
        self.duration = 0.0  # seconds of media the composition will have (known from the timeline at create)
        self.size = 0
        self.bitrate = 0
        self.media_path: str | None = None
        self.started: float | None = None  # when processing began (the lifecycle runs from the room's end)
        self.completed: float | None = None
        self.deleted: float | None = None
        self.start_due = float("inf")  # when processing starts (after_seconds); inf until the room has ended
        self.done_due = float("inf")  # the earliest completion (after_seconds); the encoding must be done too
        self.polls = 0
        self.encoded = False  # the media file is written
        self.error: tuple[int, str] | None = None  # (Twilio code, message) when it failed
        self.will_fail = False  # drawn at create from the lifecycle's failure_rate
