"""Compositions through real HTTP: create (AudioSources matching, every refusal), fetch, list, delete, Media.

Bodies are validated against Twilio's Video spec when each test ends (`video_recorder`).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.mock_server.support import Creds
from tests.mock_server.video.video_support import VideoApi


def speech_room(account_sid: str, **extra: Any) -> dict[str, Any]:
    """Three short tracks: student (1-3 s), studentTeam (2-4 s), teacher (5-7 s), each saying one thing."""
    return {
        "account_sid": account_sid,
        "participants": [
            {"identity": "s1", "joined_s": 1.0, "left_s": 3.0, "track_name": "student",
             "segments": [{"at_s": 1.2, "utterance": "yes"}]},
            {"identity": "s2", "joined_s": 2.0, "left_s": 4.0, "track_name": "studentTeam",
             "segments": [{"at_s": 2.5, "utterance": "repeat"}]},
            {"identity": "t", "joined_s": 5.0, "left_s": 7.0, "track_name": "teacher",
             "segments": [{"at_s": 5.2, "utterance": "yes"}]},
        ],
        **extra,
    }  # fmt: skip


async def room_and_tracks(api: VideoApi, creds: Creds, **extra: Any) -> tuple[str, dict[str, dict[str, Any]]]:
    made = await api.room(speech_room(creds.sid, **extra))
    return made["room_sid"], {p["track_name"]: p for p in made["participants"]}


@pytest.mark.parametrize(
    ("included", "excluded", "chosen"),
    [
        (["*"], [], ["student", "studentTeam", "teacher"]),
        (["student*"], [], ["student", "studentTeam"]),
        (["student"], [], ["student"]),
        (["*"], ["student*"], ["teacher"]),
        (["*Team", "teach*"], [], ["studentTeam", "teacher"]),
        (["RT:teacher", "PA:student"], [], ["student", "teacher"]),
        (["*"], ["RT:studentTeam"], ["student", "teacher"]),
    ],
)
async def test_audio_sources_take_track_names_with_wildcards_and_rt_or_pa_sids(
    video_api: VideoApi, included: list[str], excluded: list[str], chosen: list[str]
) -> None:
    dev = video_api.dev
    room_sid, tracks = await room_and_tracks(video_api, dev)

    def resolve(value: str) -> str:
        kind, _, name = value.partition(":")
        if kind == "RT":
            return str(tracks[name]["recording_sid"])
        return str(tracks[name]["participant_sid"]) if kind == "PA" else value

    form = [("RoomSid", room_sid), ("Trim", "false")]
    form += [("AudioSources", resolve(v)) for v in included] + [("AudioSourcesExcluded", resolve(v)) for v in excluded]
    created = await video_api.compose(dev, form)
    assert created["audio_sources"] == [resolve(v) for v in included]
    assert created["audio_sources_excluded"] == [resolve(v) for v in excluded]
    assert (created["format"], created["trim"], created["resolution"], created["video_layout"]) == (
        "webm", False, "640x480", {},
    )  # fmt: skip
    done = await video_api.wait_composition(dev, created["sid"])
    starts = sorted(tracks[name]["joined_s"] for name in chosen)
    ends = sorted(tracks[name]["left_s"] for name in chosen)
    assert done["status"] == "completed"
    assert done["duration"] == round(ends[-1] - starts[0])  # Trim=false: first selected join to last leave


@pytest.mark.parametrize(
    ("form", "status", "code", "named"),
    [
        ([], 400, 20001, "RoomSid"),
        ([("RoomSid", "RM123")], 400, 20001, "RoomSid"),
        ([("RoomSid", "RM" + "0" * 32), ("AudioSources", "*")], 404, 20404, "RM" + "0" * 32),
        ([("RoomSid", "{room}")], 400, 20001, "VideoLayout or AudioSources"),
        ([("RoomSid", "{room}"), ("AudioSources", "nobody*")], 400, 20001, "AudioSources"),
        ([("RoomSid", "{room}"), ("AudioSources", "*"), ("AudioSourcesExcluded", "*")], 400, 20001, "AudioSources"),
        ([("RoomSid", "{room}"), ("AudioSources", "")], 400, 20001, "AudioSources"),
        ([("RoomSid", "{room}"), ("AudioSources", "x" * 129)], 400, 20001, "AudioSources"),
        ([("RoomSid", "{room}"), ("AudioSources", "*"), ("AudioSourcesExcluded", " ")], 400, 20001,
         "AudioSourcesExcluded"),
        ([("RoomSid", "{room}"), ("AudioSources", "*"), ("Format", "avi")], 400, 20001, "Format"),
        ([("RoomSid", "{room}"), ("AudioSources", "*"), ("Trim", "maybe")], 400, 20001, "Trim"),
        ([("RoomSid", "{room}"), ("AudioSources", "*"), ("Resolution", "8x8")], 400, 20001, "Resolution"),
        ([("RoomSid", "{room}"), ("AudioSources", "*"), ("Resolution", "1280x1280")], 400, 20001, "Resolution"),
        ([("RoomSid", "{room}"), ("AudioSources", "*"), ("VideoLayout", "{grid")], 400, 20001, "VideoLayout"),
        ([("RoomSid", "{room}"), ("AudioSources", "*"), ("VideoLayout", "[1]")], 400, 20001, "VideoLayout"),
        ([("RoomSid", "{room}"), ("AudioSources", "*"), ("StatusCallback", "ftp://h/x")], 400, 20001,
         "StatusCallback"),
        ([("RoomSid", "{room}"), ("AudioSources", "*"), ("StatusCallback", "http://h/a b")], 400, 20001,
         "StatusCallback"),
        ([("RoomSid", "{room}"), ("AudioSources", "*"), ("StatusCallbackMethod", "PUT")], 400, 20001,
         "StatusCallbackMethod"),
    ],
)  # fmt: skip
async def test_bad_creates_are_refused_in_twilios_shape_naming_the_parameter(
    video_api: VideoApi, form: list[tuple[str, str]], status: int, code: int, named: str
) -> None:
    dev = video_api.dev
    room_sid, _ = await room_and_tracks(video_api, dev)
    r = await video_api.call(
        "POST", "/v1/Compositions", dev, data=[(k, v.replace("{room}", room_sid)) for k, v in form]
    )
    assert (r.status, r.body["code"]) == (status, code), r.body
    assert named in r.body["message"]
    assert (await video_api.call("GET", "/v1/Compositions", dev)).body["compositions"] == []


async def test_a_video_layout_is_accepted_and_echoed(video_api: VideoApi) -> None:
    dev = video_api.dev
    room_sid, _ = await room_and_tracks(video_api, dev)
    layout = '{"grid": {"video_sources": ["*"]}}'
    form = [("RoomSid", room_sid), ("AudioSources", "teacher"), ("VideoLayout", layout), ("Resolution", "1280x720")]
    created = await video_api.compose(dev, form)
    assert created["video_layout"] == {"grid": {"video_sources": ["*"]}}
    assert created["resolution"] == "1280x720"


async def test_fetch_list_filters_paging_and_delete(video_api: VideoApi) -> None:
    dev = video_api.dev
    room_a, _ = await room_and_tracks(video_api, dev)
    room_b, _ = await room_and_tracks(video_api, dev)
    first = await video_api.compose(dev, [("RoomSid", room_a), ("AudioSources", "*"), ("Format", "mp4")])
    second = await video_api.compose(dev, [("RoomSid", room_b), ("AudioSources", "teacher")])
    for c in (first, second):
        await video_api.wait_composition(dev, c["sid"])

    async def sids(**params: str) -> list[str]:
        r = await video_api.call("GET", "/v1/Compositions", dev, params=params)
        assert r.status == 200, r.body
        return [c["sid"] for c in r.body["compositions"]]

    assert await sids() == [second["sid"], first["sid"]]  # newest first
    assert await sids(RoomSid=room_a) == [first["sid"]]
    assert await sids(Status="completed", RoomSid=room_b) == [second["sid"]]
    assert await sids(Status="enqueued") == []
    assert await sids(DateCreatedBefore="2000-01-01T00:00:00Z") == []
    page = (await video_api.call("GET", "/v1/Compositions", dev, params={"PageSize": "1"})).body
    assert page["meta"]["key"] == "compositions"
    assert page["meta"]["next_page_url"].startswith("https://video.twilio.com/v1/Compositions?PageSize=1&Page=1")
    for params in ({"PageSize": "101"}, {"Status": "done"}, {"RoomSid": "RM1"}, {"DateCreatedAfter": "yesterday"}):
        r = await video_api.call("GET", "/v1/Compositions", dev, params=params)
        assert (r.status, r.body["code"]) == (400, 20001), params
        assert next(iter(params)) in r.body["message"]

    assert (await video_api.call("DELETE", f"/v1/Compositions/{first['sid']}", dev)).status == 204
    gone = (await video_api.call("GET", f"/v1/Compositions/{first['sid']}", dev)).body
    assert gone["status"] == "deleted"
    assert gone["date_deleted"] is not None
    assert (await video_api.get(f"/v1/Compositions/{first['sid']}/Media", dev)).status == 404
    assert (await video_api.call("DELETE", f"/v1/Compositions/{first['sid']}", dev)).status == 404
    assert await sids(Status="deleted") == [first["sid"]]
    other = await video_api.account()
    r = await video_api.call("GET", f"/v1/Compositions/{second['sid']}", other)
    assert (r.status, r.body["code"]) == (404, 20404)
    stats = (await video_api.control("GET", f"/__mock__/accounts/{dev.sid}/stats")).body
    assert (stats["compositions_created"], stats["compositions_completed"], stats["compositions_deleted"]) == (2, 2, 1)


async def test_media_redirects_to_the_composed_file_in_the_format_asked(video_api: VideoApi) -> None:
    dev = video_api.dev
    room_sid, _ = await room_and_tracks(video_api, dev)
    for media_format, content_type, magic in (("mp4", "audio/mp4", b"ftyp"), ("webm", "audio/webm", b"\x1aE\xdf\xa3")):
        created = await video_api.compose(dev, [("RoomSid", room_sid), ("AudioSources", "*"), ("Format", media_format)])
        done = await video_api.wait_composition(dev, created["sid"])
        r = await video_api.get(f"/v1/Compositions/{created['sid']}/Media", dev, {"Ttl": "3600"})
        assert r.status == 302
        assert r.headers["Location"] == r.body["redirect_to"]
        status, headers, data = await video_api.download(r.body["redirect_to"])
        assert status == 200
        assert headers["Content-Type"] == content_type
        assert headers["Content-Disposition"] == f'attachment; filename="{created["sid"]}.{media_format}"'
        assert magic in data[:12]
        assert done["size"] == len(data)
        assert done["bitrate"] == round(len(data) * 8 / 5.0 / 1000)  # Trim=true: 3 s + 2 s of media
        assert done["duration"] == 5
