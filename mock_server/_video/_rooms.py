"""Rooms, Participants and Recordings as Twilio's Video v1 API shows them (read-only, plus completing a room).

Rooms come from the control plane (`POST /__mock__/rooms`): participants cannot join a mock room, so there is no
`POST /v1/Rooms`. A room is addressed by its SID, or by its UniqueName while it is in progress (as Twilio documents:
the name is unique, and usable in place of the SID, only then). `POST /v1/Rooms/{Sid}` with `Status=completed` ends an
in-progress room (its waiting compositions then start); on a completed room it is Twilio's 53118 "Room Completed".

Every body follows `tests/specs/twilio_video_v1.json`. Times: the room's `date_created` is its start, a participant's
`start_time`/`end_time` its join and leave, a recording's `date_created` when its track started (the participant's
join); ISO dates are whole seconds, so a client needing the exact offset reads the `.mka` container start time.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from typing import Any

from mock_server._errors import ApiError, invalid_parameter, not_found
from mock_server._model._params import Params, Result
from mock_server._sids import is_sid
from mock_server._video._records import (
    COMPLETED,
    DELETED,
    IN_PROGRESS,
    ParticipantRecord,
    RecordingRecord,
    RoomRecord,
)
from mock_server._video._render import VIDEO, choice, created_between, in_window, iso, page

__all__ = ["RoomOperations", "recording_duration"]

ROOM_STATUSES = ("in-progress", "completed", "failed")
RECORDING_STATUSES = ("processing", "completed", "deleted", "failed")
PARTICIPANT_STATUSES = ("connected", "disconnected", "reconnecting")
_ANY_SID = re.compile(r"[a-zA-Z]{2}[0-9a-fA-F]{32}")  # the spec's pattern for GroupingSid values


def recording_duration(seconds: float) -> int:
    """Twilio's `duration`: seconds rounded to the nearest second, and 1 for a sub-second track."""
    return max(1, round(seconds)) if seconds > 0 else 0


class RoomOperations:
    sid: str
    rooms: dict[str, RoomRecord]
    room_order: list[RoomRecord]
    recordings: dict[str, RecordingRecord]
    recording_order: list[RecordingRecord]
    counts: Counter[str]
    # Provided by the other parts of `VideoAccount` (declared, not defined: a stub here would shadow them).
    room_completed: Callable[[RoomRecord, float], None]  # `_compositions.CompositionOperations`
    discard_media: Callable[[str], None]  # `_account.VideoAccount`

    # --- storing ----------------------------------------------------------------------------------------------

    def add_room(self, room: RoomRecord) -> None:
        self.rooms[room.sid] = room
        self.room_order.append(room)
        for participant in room.participants:
            self.recordings[participant.recording.sid] = participant.recording
            self.recording_order.append(participant.recording)
        self.counts["rooms"] += 1

    def unique_name_taken(self, name: str) -> bool:
        return any(r.unique_name == name and r.status == IN_PROGRESS for r in self.room_order)

    # --- rendering --------------------------------------------------------------------------------------------

    def render_room(self, room: RoomRecord) -> dict[str, Any]:
        url = f"{VIDEO}/v1/Rooms/{room.sid}"
        completed = room.completed
        return {
            "sid": room.sid,
            "status": room.status,
            "date_created": iso(room.created),
            "date_updated": iso(completed if completed is not None else room.created),
            "account_sid": self.sid,
            "enable_turn": True,
            "unique_name": room.unique_name,
            "status_callback": None,
            "status_callback_method": "POST",
            "end_time": iso(completed) if completed is not None else None,
            "duration": round(completed - room.created) if completed is not None else None,
            "type": "group",
            "max_participants": 50,
            "max_participant_duration": 14_400,
            "max_concurrent_published_tracks": 170,
            "record_participants_on_connect": True,
            "video_codecs": ["VP8", "H264"],
            "media_region": "us1",
            "audio_only": True,
            "empty_room_timeout": 5,
            "unused_room_timeout": 5,
            "large_room": False,
            "url": url,
            "links": {
                "participants": f"{url}/Participants",
                "recordings": f"{url}/Recordings",
                "transcriptions": f"{url}/Transcriptions",
                "recording_rules": f"{url}/RecordingRules",
            },
        }

    def render_participant(self, room: RoomRecord, p: ParticipantRecord) -> dict[str, Any]:
        url = f"{VIDEO}/v1/Rooms/{room.sid}/Participants/{p.sid}"
        joined, left = room.created + p.joined_s, room.created + p.left_s
        return {
            "sid": p.sid,
            "room_sid": room.sid,
            "account_sid": self.sid,
            "status": "disconnected",  # every participant of a mock room has already left it
            "identity": p.identity,
            "date_created": iso(joined),
            "date_updated": iso(left),
            "start_time": iso(joined),
            "end_time": iso(left),
            "duration": round(p.left_s - p.joined_s),
            "url": url,
            "links": {
                name: f"{url}/{part}"
                for name, part in (
                    ("published_tracks", "PublishedTracks"),
                    ("subscribed_tracks", "SubscribedTracks"),
                    ("subscribe_rules", "SubscribeRules"),
                    ("anonymize", "Anonymize"),
                )
            },
        }

    def render_recording(self, rec: RecordingRecord, *, in_room: bool) -> dict[str, Any]:
        room = self.rooms[rec.room_sid]
        url = f"{VIDEO}/v1/Rooms/{rec.room_sid}/Recordings/{rec.sid}" if in_room else f"{VIDEO}/v1/Recordings/{rec.sid}"
        body: dict[str, Any] = {
            "account_sid": self.sid,
            "status": rec.status,
            "date_created": iso(rec.created),
            "sid": rec.sid,
            "source_sid": rec.source_sid,
            "size": rec.size,
            "url": url,
            "type": "audio",
            "duration": recording_duration(rec.duration_s),
            "container_format": "mka",
            "codec": "OPUS",  # the spec's enum spelling (its examples write "opus")
            "grouping_sids": {"room_sid": rec.room_sid, "participant_sid": rec.participant_sid},
            "track_name": rec.track_name,
            # Milliseconds from a point common to all rooms (here the Unix epoch) to the *room's* start: the same for
            # every track of one room (the spec's definition), so it cannot place tracks relative to each other.
            "offset": round(room.created * 1000),
            "media_external_location": None,
        }
        if in_room:
            body["room_sid"] = rec.room_sid
        else:
            body["status_callback"] = None
            body["status_callback_method"] = "POST"
        body["links"] = {"media": f"{url}/Media"}
        return body

    # --- lookups ----------------------------------------------------------------------------------------------

    def find_room(self, sid_or_name: str, path: str) -> RoomRecord:
        """A room by SID, or by the UniqueName of an in-progress room; 404 / 20404 naming `path` otherwise."""
        room = self.rooms.get(sid_or_name)
        if room is None and not is_sid(sid_or_name, "RM"):
            room = next((r for r in self.room_order if r.unique_name == sid_or_name and r.status == IN_PROGRESS), None)
        if room is None:
            raise not_found(path)
        return room

    def _recording(self, sid: str, path: str, room: RoomRecord | None = None) -> RecordingRecord:
        rec = self.recordings.get(sid)
        if rec is None or (room is not None and rec.room_sid != room.sid):
            raise not_found(path)
        return rec

    # --- rooms ------------------------------------------------------------------------------------------------

    def fetch_room(self, sid: str) -> Result:
        return Result(200, self.render_room(self.find_room(sid, f"/v1/Rooms/{sid}")))

    def update_room(self, sid: str, p: Params, now: float) -> Result:
        room = self.find_room(sid, f"/v1/Rooms/{sid}")
        status = p.required("Status")
        if status != COMPLETED:
            raise invalid_parameter("Status", status, "must be completed")
        if room.status != IN_PROGRESS:
            raise ApiError(400, 53118, "Room completed: the operation cannot be performed on a completed Room")
        room.status, room.completed = COMPLETED, max(now, room.created + room.end_s)
        self.room_completed(room, now)
        return Result(202, self.render_room(room))

    def list_rooms(self, p: Params) -> Result:
        status = choice(p, "Status", ROOM_STATUSES)
        name = p.get("UniqueName")
        after, before, filters = created_between(p)
        filters = [(n, v) for n, v in (("Status", status), ("UniqueName", name)) if v] + filters

        def keep(r: RoomRecord) -> bool:
            return (
                (status is None or r.status == status)
                and (name is None or r.unique_name == name)
                and in_window(r.created, after, before)
            )

        return Result(200, page(p, key="rooms", path="/v1/Rooms", items=self.room_order, render=self.render_room,
                                keep=keep, filters=filters, max_page_size=1000))  # fmt: skip

    # --- participants -----------------------------------------------------------------------------------------

    def list_participants(self, room_sid: str, p: Params) -> Result:
        path = f"/v1/Rooms/{room_sid}/Participants"
        room = self.find_room(room_sid, path)
        status = choice(p, "Status", PARTICIPANT_STATUSES)
        identity = p.get("Identity")
        after, before, filters = created_between(p)
        filters = [(n, v) for n, v in (("Status", status), ("Identity", identity)) if v] + filters

        def keep(x: ParticipantRecord) -> bool:
            return (
                status in (None, "disconnected")
                and (identity is None or x.identity == identity)
                and in_window(room.created + x.joined_s, after, before)
            )

        ordered = sorted(room.participants, key=lambda x: x.joined_s)  # in the order they joined
        body = page(p, key="participants", path=path, items=ordered, keep=keep, filters=filters,
                    render=lambda x: self.render_participant(room, x), max_page_size=1000,
                    newest_first=False)  # fmt: skip
        return Result(200, body)

    def fetch_participant(self, room_sid: str, sid: str) -> Result:
        path = f"/v1/Rooms/{room_sid}/Participants/{sid}"
        room = self.find_room(room_sid, path)
        # Twilio also takes a participant's identity here (while it is connected, which a mock one never is).
        found = next((x for x in room.participants if x.sid == sid), None)
        if found is None:
            raise not_found(path)
        return Result(200, self.render_participant(room, found))

    # --- recordings -------------------------------------------------------------------------------------------

    def _recording_filter(self, p: Params, *, grouping: bool) -> tuple[Any, list[tuple[str, str]]]:
        status = choice(p, "Status", RECORDING_STATUSES)
        source_sid = p.get("SourceSid")
        media_type = choice(p, "MediaType", ("audio", "video", "data"))
        groups = set(p.getall("GroupingSid")) if grouping else set()
        for value in groups:
            if _ANY_SID.fullmatch(value) is None:
                raise invalid_parameter("GroupingSid", value, "must be a Room or Participant SID")
        after, before, dates = created_between(p)
        filters = [(n, v) for n, v in (("Status", status), ("SourceSid", source_sid)) if v]
        filters += [("GroupingSid", g) for g in sorted(groups)]
        filters += [("MediaType", media_type)] if media_type else []

        def keep(r: RecordingRecord) -> bool:
            return (
                (status is None or r.status == status)
                and (source_sid is None or r.source_sid == source_sid)
                and media_type in (None, "audio")
                and groups <= {r.room_sid, r.participant_sid}
                and in_window(r.created, after, before)
            )

        return keep, filters + dates

    def list_recordings(self, p: Params) -> Result:
        keep, filters = self._recording_filter(p, grouping=True)
        body = page(p, key="recordings", path="/v1/Recordings", items=self.recording_order, keep=keep,
                    filters=filters, render=lambda r: self.render_recording(r, in_room=False),
                    max_page_size=100)  # fmt: skip
        return Result(200, body)

    def fetch_recording(self, sid: str) -> Result:
        return Result(200, self.render_recording(self._recording(sid, f"/v1/Recordings/{sid}"), in_room=False))

    def list_room_recordings(self, room_sid: str, p: Params) -> Result:
        path = f"/v1/Rooms/{room_sid}/Recordings"
        room = self.find_room(room_sid, path)
        keep, filters = self._recording_filter(p, grouping=False)
        items = [x.recording for x in sorted(room.participants, key=lambda x: x.joined_s)]
        body = page(p, key="recordings", path=path, items=items, keep=keep, filters=filters,
                    render=lambda r: self.render_recording(r, in_room=True), max_page_size=1000,
                    newest_first=False)  # fmt: skip
        return Result(200, body)

    def fetch_room_recording(self, room_sid: str, sid: str) -> Result:
        path = f"/v1/Rooms/{room_sid}/Recordings/{sid}"
        room = self.find_room(room_sid, path)
        return Result(200, self.render_recording(self._recording(sid, path, room), in_room=True))

    def delete_recording(self, sid: str, room_sid: str | None = None) -> Result:
        """The media goes; the resource stays with status `deleted` (as Twilio keeps the metadata)."""
        path = f"/v1/Rooms/{room_sid}/Recordings/{sid}" if room_sid else f"/v1/Recordings/{sid}"
        room = self.find_room(room_sid, path) if room_sid else None
        rec = self._recording(sid, path, room)
        if rec.status == DELETED:
            raise not_found(path)
        rec.status = DELETED
        if rec.media_path is not None:
            self.discard_media(rec.media_path)
            rec.media_path = None
        return Result(204, None)

    def recording_media_path(self, sid: str, path: str, room_sid: str | None = None) -> RecordingRecord:
        """The recording whose media a `…/Media` request asks for: 404 unless completed with its file."""
        room = self.find_room(room_sid, path) if room_sid else None
        rec = self._recording(sid, path, room)
        if rec.status != COMPLETED or rec.media_path is None:
            raise ApiError(404, 20404, f"The media of Recording {sid} is not available (status {rec.status})")
        return rec
