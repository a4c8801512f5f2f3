"""The Video control plane and downloads over HTTP: `POST /__mock__/rooms` and the signed media files.

`POST /__mock__/rooms` (JSON body, see `_room_body.py`; the control token applies) records every participant's
track off the event loop, stores a completed (or in-progress) room and answers 201 with the SIDs made:

    {"account_sid": "AC…", "room_sid": "RM…", "unique_name": "…", "status": "completed",
     "date_created": "…Z", "end_time": "…Z" | null, "duration_s": 12.0,
     "participants": [{"identity": "alice", "participant_sid": "PA…", "recording_sid": "RT…", "source_sid": "MT…",
                       "track_name": "MT…", "joined_s": 1.0, "left_s": 9.0, "start_time_s": 1.0,
                       "duration_s": 8.0, "size": 12345}]}

A bad body is 400 / 20001 naming the key path and value (a media file libav cannot decode too).

`GET /__mock__/media/video/{AccountSid}/{RT…|CJ…}?Expires=&Signature=[&Disposition=inline]` is where the
`…/Media` redirects point: no credentials (the signature is one), 403 / 20403 once expired or when the signature does
not match, 404 when the media is gone, else the file (`.mka` for a recording, `.mp4`/`.webm` for a composition).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from mock_server import _strict_json as strict_json
from mock_server._errors import ApiError
from mock_server._handlers import error_response, json_response, read_body
from mock_server._model._render import iso
from mock_server._video._room_body import RoomBodyError, parse_room_body

if TYPE_CHECKING:
    from mock_server._app import MockState
    from mock_server._video._records import RoomRecord

__all__ = ["create_room_handler", "video_media_handler"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _bad(message: str) -> ApiError:
    return ApiError(400, 20001, message)


def _answer(account_sid: str, room: RoomRecord) -> dict[str, Any]:
    return {
        "account_sid": account_sid,
        "room_sid": room.sid,
        "unique_name": room.unique_name,
        "status": room.status,
        "date_created": iso(room.created),
        "end_time": iso(room.completed) if room.completed is not None else None,
        "duration_s": room.end_s,
        "participants": [
            {
                "identity": p.identity,
                "participant_sid": p.sid,
                "recording_sid": p.recording.sid,
                "source_sid": p.recording.source_sid,
                "track_name": p.recording.track_name,
                "joined_s": p.joined_s,
                "left_s": p.left_s,
                "start_time_s": p.recording.start_s,  # the .mka's container start time (±1 ms when read back)
                "duration_s": p.recording.duration_s,
                "size": p.recording.size,
            }
            for p in room.participants
        ],
    }


def create_room_handler(state: MockState) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        raw = await read_body(request, state.read_timeout_s)
        try:
            body = strict_json.loads(raw) if raw.strip() else {}
        except ValueError as exc:
            raise _bad(f"The request body must be a JSON object: {exc}") from None
        hosted = state.hosted_media
        try:
            plan = parse_room_body(body, account_exists=state.accounts.__contains__, media_exists=hosted.__contains__)
            runtime = state.accounts[plan.account_sid]
            # The bytes as they are now: a later PUT of the same name does not change this room.
            media = {p.media: hosted[p.media].data for p in plan.participants if p.media is not None}
            room = await state.video.create_room(plan, runtime.account, media)
        except RoomBodyError as exc:
            raise _bad(str(exc)) from None
        return json_response(201, _answer(plan.account_sid, room))

    return handle


def video_media_handler(state: MockState) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        query = request.rel_url.query
        try:
            found = state.video.media_file(
                request.match_info["account_sid"], request.match_info["Sid"], query.get("Expires"),
                query.get("Signature"),
            )  # fmt: skip
        except ApiError as error:
            return error_response(error)
        disposition = "inline" if query.get("Disposition") == "inline" else "attachment"
        headers = {
            "Content-Type": found.content_type,
            "Content-Disposition": f'{disposition}; filename="{found.filename}"',
        }
        return web.FileResponse(found.path, headers=headers)

    return handle
