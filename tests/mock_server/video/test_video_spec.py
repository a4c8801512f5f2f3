"""Every Video body the mock emits is valid against Twilio's Video spec (tests/specs/twilio_video_v1.json).

Each test of this package already validates everything its mocks answered (`video_recorder`); this one calls every
Video route — lists with and without filters, one page and the next, every status a composition passes through — and
then proves each of the spec's operations the mock serves had bodies checked.
"""

from __future__ import annotations

from typing import Any

from tests.mock_server.video.test_compositions_api import speech_room
from tests.mock_server.video.video_support import VIDEO_TABLE, VideoApi, VideoRecorder
from tests.spec_schema import operation_ids


def served_operations() -> set[str]:
    ops: set[str] = set()
    stack = [VIDEO_TABLE._root]  # the route trie: every operation the mock serves
    while stack:
        node = stack.pop()
        ops.update(route.operation_id for route in node.methods.values())
        stack.extend(node.literal.values())
        if node.param is not None:
            stack.append(node.param)
    return ops


async def test_every_served_operation_answers_bodies_valid_against_the_spec(
    make_video_api: Any, video_recorder: VideoRecorder, video_spec: dict[str, Any]
) -> None:
    api: VideoApi = await make_video_api({"lifecycle": {"mode": "after_polls", "polls": 2}})
    dev = api.dev
    made = await api.room(speech_room(dev.sid, unique_name="spec", status="in-progress"))
    room, rec, pa = (
        made["room_sid"],
        made["participants"][0]["recording_sid"],
        made["participants"][0]["participant_sid"],
    )
    reads: list[tuple[str, Any]] = [
        ("/v1/Rooms", None), ("/v1/Rooms", {"Status": "in-progress", "PageSize": "1"}),
        (f"/v1/Rooms/{room}", None), ("/v1/Rooms/spec", None),
        (f"/v1/Rooms/{room}/Participants", {"PageSize": "1"}), (f"/v1/Rooms/{room}/Participants/{pa}", None),
        (f"/v1/Rooms/{room}/Recordings", None), (f"/v1/Rooms/{room}/Recordings/{rec}", None),
        ("/v1/Recordings", {"GroupingSid": room, "PageSize": "2"}), (f"/v1/Recordings/{rec}", None),
        (f"/v1/Recordings/{rec}/Media", None), (f"/v1/Rooms/{room}/Recordings/{rec}/Media", None),
    ]  # fmt: skip
    for path, params in reads:
        r = await api.get(path, dev, params)
        assert r.status in (200, 302), (path, r.body)
    created = await api.compose(dev, [("RoomSid", room), ("AudioSources", "*"), ("VideoLayout", '{"grid": {}}')])
    assert created["status"] == "enqueued"  # the room is still in progress
    assert (await api.call("POST", f"/v1/Rooms/{room}", dev, data={"Status": "completed"})).status == 202
    assert (await api.call("GET", f"/v1/Compositions/{created['sid']}", dev)).body["status"] == "processing"
    done = await api.wait_composition(dev, created["sid"])
    assert done["status"] == "completed"
    page = await api.call("GET", "/v1/Compositions", dev, params={"PageSize": "1", "Status": "completed"})
    assert page.status == 200
    assert (await api.get(f"/v1/Compositions/{created['sid']}/Media", dev)).status == 302
    assert (await api.call("DELETE", f"/v1/Compositions/{created['sid']}", dev)).status == 204
    assert (await api.call("GET", f"/v1/Compositions/{created['sid']}", dev)).status == 200
    assert (await api.call("DELETE", f"/v1/Rooms/{room}/Recordings/{rec}", dev)).status == 204
    other = made["participants"][1]["recording_sid"]
    assert (await api.call("DELETE", f"/v1/Recordings/{other}", dev)).status == 204

    checked = video_recorder.check(video_spec)
    served = served_operations()
    in_spec = operation_ids(video_spec)
    assert served - in_spec == {"FetchRecordingMedia", "FetchRoomRecordingMedia", "FetchCompositionMedia"}
    assert served <= set(checked) | {"DeleteComposition", "DeleteRecording", "DeleteRoomRecording"}  # 204: no body
    assert checked["FetchComposition"] >= 3  # processing, completed and deleted bodies
