"""The mock's Video v1 subset: rooms defined through the control plane, their recordings, and compositions.

`POST /__mock__/rooms` describes a room that has happened (participants, when each joined and left, and what each
said: hosted media or generated speech); the mock records every participant's track as Twilio does (Opus in `.mka`,
timestamped from the room's start) and serves Rooms, Participants, Recordings and Compositions on `/v1/…` with the
same accounts, credentials, limits and faults as Intelligence. Compositions are the real mix of the selected tracks,
trimmed as Twilio trims and encoded as asked (AAC/MP4 or Opus/WebM), with signed form-encoded status callbacks.

Domain state (`_account.py`, `_rooms.py`, `_compositions.py`, …) imports no aiohttp; `_http.py` and `_callbacks.py`
are the HTTP side (`_http.py` is imported by the control plane itself: it needs `mock_server._app`, which imports
this package); audio work (`_tracks.py`, `_compose.py`) runs in the service's worker threads only.
"""

from mock_server._video._account import STATS, VideoAccount
from mock_server._video._room_body import RoomBodyError, RoomPlan, parse_room_body
from mock_server._video._routes import video_routes
from mock_server._video._service import MEDIA_PREFIX, VideoService

__all__ = [
    "MEDIA_PREFIX",
    "STATS",
    "RoomBodyError",
    "RoomPlan",
    "VideoAccount",
    "VideoService",
    "parse_room_body",
    "video_routes",
]
