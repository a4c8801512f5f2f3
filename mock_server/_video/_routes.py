"""The Video v1 subset's URL table, served by the same Twilio handler (and auth, limits, faults) as Intelligence.

method  path                                            operationId                 permission (/twilio/video/…)
    GET    /v1/Rooms                                    ListRoom                    rooms/list
    GET    /v1/Rooms/{Sid}                              FetchRoom                   rooms/read
    POST   /v1/Rooms/{Sid}                              UpdateRoom (Status=completed) rooms/update
    GET    /v1/Rooms/{RoomSid}/Participants             ListRoomParticipant         participants/list
    GET    /v1/Rooms/{RoomSid}/Participants/{Sid}       FetchRoomParticipant        participants/read
    GET    /v1/Rooms/{RoomSid}/Recordings               ListRoomRecording           room-recordings/list
    GET    /v1/Rooms/{RoomSid}/Recordings/{Sid}         FetchRoomRecording          room-recordings/read
    DELETE /v1/Rooms/{RoomSid}/Recordings/{Sid}         DeleteRoomRecording         room-recordings/delete
    GET    /v1/Rooms/{RoomSid}/Recordings/{Sid}/Media   (not in the spec)           room-recordings/read
    GET    /v1/Recordings                               ListRecording               recordings/list
    GET    /v1/Recordings/{Sid}                         FetchRecording              recordings/read
    DELETE /v1/Recordings/{Sid}                         DeleteRecording             recordings/delete
    GET    /v1/Recordings/{Sid}/Media                   (not in the spec)           recordings/read
    POST   /v1/Compositions                             CreateComposition           compositions/create
    GET    /v1/Compositions                             ListComposition             compositions/list
    GET    /v1/Compositions/{Sid}                       FetchComposition            compositions/read
    DELETE /v1/Compositions/{Sid}                       DeleteComposition           compositions/delete
    GET    /v1/Compositions/{Sid}/Media                 (not in the spec)           compositions/read

Every route is in the `video` family (`rate_limits.video`, `latency_ms.routes.video`; else the account's defaults).
The permission strings follow Twilio's `/twilio/<product>/<resource>/<action>` pattern but are the
mock's guess: Twilio's Video list is in a PDF this project has not read.

`…/Media` answers as twilio-wire.md §6 says: 302 with `Location` *and* the JSON body `{"redirect_to": url}`, the URL
a signed one on the mock that works for `Ttl` seconds (1-3600, default 600) without credentials; 404 while the media
is not available. `ContentDisposition` (`attachment`, the default, or `inline`) sets the download's header.
"""

from __future__ import annotations

from typing import Any

from mock_server._model._params import Params, Result
from mock_server._routes import Call, Route
from mock_server._video._render import choice
from mock_server._video._service import TTL_DEFAULT_S, TTL_MAX_S, VideoService

__all__ = ["PERMISSION_PREFIX", "video_routes"]

PERMISSION_PREFIX = "/twilio/video/"
FAMILY = "video"


def _route(method: str, template: str, operation_id: str, permission: str, call: Call) -> Route:
    full = PERMISSION_PREFIX + permission
    return Route(method, template, operation_id, FAMILY, full, call, full.rsplit("/", 1)[0] + "/*")


def _redirect(service: VideoService, account_sid: str, sid: str, p: Params) -> Result:
    ttl = p.int("Ttl", TTL_DEFAULT_S, low=1, high=TTL_MAX_S)
    disposition = choice(p, "ContentDisposition", ("attachment", "inline")) or "attachment"
    url = service.media_url(account_sid, sid, ttl, disposition)
    return Result(302, {"redirect_to": url}, {"Location": url})


def video_routes(service: VideoService) -> tuple[Route, ...]:
    """The Video routes, each calling into `service` for the requesting account."""

    def of(a: Any) -> Any:
        return service.account(a)

    def now() -> float:
        return service.clock.now()

    def recording_media(a: Any, sid: str, p: Params, room_sid: str | None = None) -> Result:
        path = f"/v1/Rooms/{room_sid}/Recordings/{sid}/Media" if room_sid else f"/v1/Recordings/{sid}/Media"
        rec = of(a).recording_media_path(sid, path, room_sid)
        return _redirect(service, a.sid, rec.sid, p)

    def composition_media(a: Any, sid: str, p: Params) -> Result:
        return _redirect(service, a.sid, of(a).composition_media(sid).sid, p)

    return (
        _route("GET", "/v1/Rooms", "ListRoom", "rooms/list", lambda a, i, p, m: of(a).list_rooms(p)),
        _route("GET", "/v1/Rooms/{Sid}", "FetchRoom", "rooms/read", lambda a, i, p, m: of(a).fetch_room(i[0])),
        _route("POST", "/v1/Rooms/{Sid}", "UpdateRoom", "rooms/update",
               lambda a, i, p, m: of(a).update_room(i[0], p, now())),
        _route("GET", "/v1/Rooms/{RoomSid}/Participants", "ListRoomParticipant", "participants/list",
               lambda a, i, p, m: of(a).list_participants(i[0], p)),
        _route("GET", "/v1/Rooms/{RoomSid}/Participants/{Sid}", "FetchRoomParticipant", "participants/read",
               lambda a, i, p, m: of(a).fetch_participant(i[0], i[1])),
        _route("GET", "/v1/Rooms/{RoomSid}/Recordings", "ListRoomRecording", "room-recordings/list",
               lambda a, i, p, m: of(a).list_room_recordings(i[0], p)),
        _route("GET", "/v1/Rooms/{RoomSid}/Recordings/{Sid}", "FetchRoomRecording", "room-recordings/read",
               lambda a, i, p, m: of(a).fetch_room_recording(i[0], i[1])),
        _route("DELETE", "/v1/Rooms/{RoomSid}/Recordings/{Sid}", "DeleteRoomRecording", "room-recordings/delete",
               lambda a, i, p, m: of(a).delete_recording(i[1], i[0])),
        _route("GET", "/v1/Rooms/{RoomSid}/Recordings/{Sid}/Media", "FetchRoomRecordingMedia",
               "room-recordings/read", lambda a, i, p, m: recording_media(a, i[1], p, i[0])),
        _route("GET", "/v1/Recordings", "ListRecording", "recordings/list",
               lambda a, i, p, m: of(a).list_recordings(p)),
        _route("GET", "/v1/Recordings/{Sid}", "FetchRecording", "recordings/read",
               lambda a, i, p, m: of(a).fetch_recording(i[0])),
        _route("DELETE", "/v1/Recordings/{Sid}", "DeleteRecording", "recordings/delete",
               lambda a, i, p, m: of(a).delete_recording(i[0])),
        _route("GET", "/v1/Recordings/{Sid}/Media", "FetchRecordingMedia", "recordings/read",
               lambda a, i, p, m: recording_media(a, i[0], p)),
        _route("POST", "/v1/Compositions", "CreateComposition", "compositions/create",
               lambda a, i, p, m: of(a).create_composition(p)),
        _route("GET", "/v1/Compositions", "ListComposition", "compositions/list",
               lambda a, i, p, m: of(a).list_compositions(p)),
        _route("GET", "/v1/Compositions/{Sid}", "FetchComposition", "compositions/read",
               lambda a, i, p, m: of(a).fetch_composition(i[0])),
        _route("DELETE", "/v1/Compositions/{Sid}", "DeleteComposition", "compositions/delete",
               lambda a, i, p, m: of(a).delete_composition(i[0])),
        _route("GET", "/v1/Compositions/{Sid}/Media", "FetchCompositionMedia", "compositions/read",
               lambda a, i, p, m: composition_media(a, i[0], p)),
    )  # fmt: skip
