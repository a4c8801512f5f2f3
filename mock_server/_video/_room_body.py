"""The body of `POST /__mock__/rooms`, read strictly: a room plan, or a `RoomBodyError` naming the key path and value.

Shape (every time is seconds from the room's start, one clock for the whole body):

    {"account_sid": "AC…", "unique_name": "standup",            # unique_name optional (default: the Room SID)
     "status": "completed",                                      # or "in-progress" (optional)
     "participants": [
       {"identity": "alice", "joined_s": 1.0, "left_s": 9.0, "media": "alice.wav"},
       {"identity": "bob", "joined_s": 4.0, "left_s": 12.0, "track_name": "bob-mic",
        "segments": [{"at_s": 5.0, "utterance": "hello"}, {"at_s": 8.0, "duration_s": 3.0, "gain": 0.4}]}]}

A participant's audio is exactly one of `media` (a name stored in the media host, `PUT /__mock__/media/{name}`: its
first sample is heard when the participant joins, and it is cut when they leave) or `segments` (generated speech:
a packaged `utterance` or `duration_s` seconds of packaged utterances in a row, placed at `at_s` in room time; every
segment must lie inside the participant's stay; `[]` is a silent track). Nothing is read that the mock does not use:
an unknown key, a wrong type, a number out of range, `left_s` not after `joined_s`, or an unknown media name is an
error naming where (`participants[1].segments[0].at_s`) and what was given.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from mock_server._sids import is_sid
from mock_server._video._speech import VOICES, voice_seconds

__all__ = [
    "DEFAULT_GAIN",
    "MAX_PARTICIPANTS",
    "MAX_ROOM_S",
    "MIN_STAY_S",
    "ParticipantPlan",
    "RoomBodyError",
    "RoomPlan",
    "SpeechSegment",
    "parse_room_body",
]

MAX_PARTICIPANTS = 50  # Twilio's group-room limit
MAX_ROOM_S = 14_400.0  # 4 hours: Twilio's default max_participant_duration, and plenty for a mock
MIN_STAY_S = 0.02  # one 20 ms Opus frame: the shortest track worth recording
MAX_SEGMENTS = 2_000
MAX_SEGMENT_S = 3_600.0
MAX_NAME = 128
DEFAULT_GAIN = 0.5  # of the utterances' -3 dBFS peak: several speakers mixed stay clear of clipping
_MEDIA_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")  # the media host's names (`_media/_host.py`)


class RoomBodyError(ValueError):
    """A room body the mock refuses; the message names the key path and the value given."""


@dataclass(frozen=True, slots=True)
class SpeechSegment:
    at_s: float  # room time
    voice: str | None  # one packaged utterance, or None for `duration_s` of utterances in a row
    duration_s: float
    gain: float


@dataclass(frozen=True, slots=True)
class ParticipantPlan:
    identity: str
    joined_s: float
    left_s: float
    track_name: str | None
    media: str | None  # a media-host name, or None when the audio is `segments`
    segments: tuple[SpeechSegment, ...]

    @property
    def stay_s(self) -> float:
        return self.left_s - self.joined_s


@dataclass(frozen=True, slots=True)
class RoomPlan:
    account_sid: str
    unique_name: str | None
    in_progress: bool
    participants: tuple[ParticipantPlan, ...]

    @property
    def end_s(self) -> float:
        return max(p.left_s for p in self.participants)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:80] + "…"


class _Object:
    """One JSON object at `path`: typed reads that fail naming `path.key`, and a check for keys nobody read."""

    def __init__(self, value: Any, path: str, allowed: frozenset[str]) -> None:
        if not isinstance(value, Mapping):
            raise RoomBodyError(f"'{path or 'body'}' must be an object, got {_show(value)}")
        unknown = sorted(str(k) for k in value if k not in allowed)
        if unknown:
            where = f"{path}.{unknown[0]}" if path else unknown[0]
            raise RoomBodyError(f"unknown key '{where}' (allowed: {', '.join(sorted(allowed))})")
        self.value = value
        self.path = path

    def where(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def fail(self, key: str, why: str) -> RoomBodyError:
        return RoomBodyError(f"'{self.where(key)}' {why}, got {_show(self.value.get(key))}")

    def has(self, key: str) -> bool:
        return key in self.value

    def text(self, key: str, *, required: bool = False, limit: int = MAX_NAME) -> str | None:
        value = self.value.get(key)
        if value is None:
            if required:
                raise RoomBodyError(f"'{self.where(key)}' is required")
            if key in self.value:
                raise self.fail(key, f"must be a string of 1 to {limit} printable characters")
            return None
        if not isinstance(value, str) or not 1 <= len(value) <= limit or not value.isprintable():
            raise self.fail(key, f"must be a string of 1 to {limit} printable characters")
        return value

    def number(self, key: str, low: float, high: float, *, required: bool = True, default: float = 0.0) -> float:
        value = self.value.get(key)
        if value is None and not required and key not in self.value:
            return default
        if value is None:
            raise RoomBodyError(f"'{self.where(key)}' is required")
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        if not ok or not low <= value <= high:
            raise self.fail(key, f"must be a number from {low:g} to {high:g}")
        return float(value)

    def array(self, key: str, limit: int) -> list[Any]:
        value = self.value.get(key)
        if not isinstance(value, list) or len(value) > limit:
            raise self.fail(key, f"must be a list of at most {limit} items")
        return value


_ROOM_KEYS = frozenset({"account_sid", "unique_name", "status", "participants"})
_PARTICIPANT_KEYS = frozenset({"identity", "joined_s", "left_s", "track_name", "media", "segments"})
_SEGMENT_KEYS = frozenset({"at_s", "utterance", "duration_s", "gain"})


def parse_room_body(
    body: Any, *, account_exists: Callable[[str], bool], media_exists: Callable[[str], bool]
) -> RoomPlan:
    """The room `body` describes; `RoomBodyError` (naming the key path and value) for anything else."""
    room = _Object(body, "", _ROOM_KEYS)
    account_sid = room.text("account_sid", required=True, limit=34)
    assert account_sid is not None
    if not is_sid(account_sid, "AC"):
        raise room.fail("account_sid", "must be an Account SID (AC followed by 32 hex digits)")
    if not account_exists(account_sid):
        raise room.fail("account_sid", "is no account of this mock (POST /__mock__/accounts makes one)")
    unique_name = room.text("unique_name")
    if unique_name is not None and is_sid(unique_name, "RM"):
        raise room.fail("unique_name", "must not look like a Room SID (it would hide one in /v1/Rooms/{Sid})")
    status = room.value.get("status", "completed")
    if status not in ("completed", "in-progress"):
        raise room.fail("status", "must be 'completed' (the default) or 'in-progress'")
    if not room.has("participants"):
        raise RoomBodyError("'participants' is required")
    raw = room.array("participants", MAX_PARTICIPANTS)
    if not raw:
        raise room.fail("participants", f"must list 1 to {MAX_PARTICIPANTS} participants")
    participants = tuple(_participant(item, f"participants[{i}]", media_exists) for i, item in enumerate(raw))
    return RoomPlan(account_sid, unique_name, status == "in-progress", participants)


def _participant(value: Any, path: str, media_exists: Callable[[str], bool]) -> ParticipantPlan:
    p = _Object(value, path, _PARTICIPANT_KEYS)
    identity = p.text("identity", required=True)
    assert identity is not None
    joined_s = p.number("joined_s", 0.0, MAX_ROOM_S - MIN_STAY_S)
    left_s = p.number("left_s", 0.0, MAX_ROOM_S)
    if left_s < joined_s + MIN_STAY_S:
        raise p.fail("left_s", f"must be at least {MIN_STAY_S:g} s after joined_s ({joined_s:g})")
    track_name = p.text("track_name")
    if p.has("media") == p.has("segments"):
        raise RoomBodyError(f"'{path}' needs exactly one of 'media' (a hosted media name) or 'segments' (speech)")
    media = None
    segments: tuple[SpeechSegment, ...] = ()
    if p.has("media"):
        media = p.text("media", limit=200)
        if media is None or _MEDIA_NAME.fullmatch(media) is None:
            raise p.fail("media", "must be a media-host name (1-200 of A-Z a-z 0-9 . _ -)")
        if not media_exists(media):
            raise p.fail("media", "is not stored in the media host (PUT /__mock__/media/{name} first)")
    else:
        items = p.array("segments", MAX_SEGMENTS)
        segments = tuple(_segment(item, f"{path}.segments[{i}]", joined_s, left_s) for i, item in enumerate(items))
    return ParticipantPlan(identity, joined_s, left_s, track_name, media, segments)


def _segment(value: Any, path: str, joined_s: float, left_s: float) -> SpeechSegment:
    s = _Object(value, path, _SEGMENT_KEYS)
    at_s = s.number("at_s", 0.0, MAX_ROOM_S)
    if not joined_s <= at_s < left_s:
        raise s.fail("at_s", f"must be inside the participant's stay, from joined_s {joined_s:g} to left_s {left_s:g}")
    if s.has("utterance") == s.has("duration_s"):
        raise RoomBodyError(f"'{path}' needs exactly one of 'utterance' ({', '.join(VOICES)}) or 'duration_s'")
    voice: str | None = None
    if s.has("utterance"):
        voice = s.value["utterance"]
        if voice not in VOICES:
            raise s.fail("utterance", f"must be one of {', '.join(VOICES)}")
        duration_s = voice_seconds(voice)
    else:
        duration_s = s.number("duration_s", MIN_STAY_S, MAX_SEGMENT_S)
    gain = s.number("gain", 0.0, 1.0, required=False, default=DEFAULT_GAIN)
    if at_s + duration_s > left_s + 1e-9:
        what = f"'{voice}' ({duration_s:g} s)" if voice else f"{duration_s:g} s of speech"
        raise s.fail("at_s", f"puts {what} past left_s {left_s:g}")
    return SpeechSegment(at_s, voice, duration_s, gain)
