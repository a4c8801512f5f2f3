"""Rooms, Participants and Recordings through real HTTP: the control plane makes a room, `/v1/…` shows it.

Every body the mock answers is validated against Twilio's Video spec when each test ends (`video_recorder`).
"""

from __future__ import annotations

from typing import Any

from mock_server import ManualClock
from tests.mock_server.media_support import wav_bytes
from tests.mock_server.support import Creds
from tests.mock_server.video.video_support import VideoApi

HEX = "0123456789abcdef"


def two_person_room(account_sid: str, **extra: Any) -> dict[str, Any]:
    """alice (hosted WAV) from 1 s to 5 s; bob (generated speech, a named track) from 4 s to 8.4 s."""
    return {
        "account_sid": account_sid,
        "participants": [
            {"identity": "alice", "joined_s": 1.0, "left_s": 5.0, "media": "alice.wav"},
            {
                "identity": "bob",
                "joined_s": 4.0,
                "left_s": 8.4,
                "track_name": "bob-mic",
                "segments": [{"at_s": 5.0, "utterance": "hello"}],
            },
        ],
        **extra,
    }


async def make_room(api: VideoApi, creds: Creds, **extra: Any) -> dict[str, Any]:
    await api.host("alice.wav", wav_bytes(3.0, 16_000, 1))
    return await api.room(two_person_room(creds.sid, **extra))


async def test_a_room_is_answered_with_its_sids_and_shown_as_twilio_shows_it(video_api: VideoApi) -> None:
    dev = video_api.dev
    made = await make_room(video_api, dev, unique_name="standup")
    assert made["status"] == "completed"
    assert made["unique_name"] == "standup"
    assert made["duration_s"] == 8.4
    alice, bob = made["participants"]
    assert (alice["identity"], alice["joined_s"], alice["left_s"], alice["start_time_s"]) == ("alice", 1.0, 5.0, 1.0)
    assert alice["track_name"] == alice["source_sid"]
    assert alice["source_sid"].startswith("MT")
    assert bob["track_name"] == "bob-mic"
    assert bob["duration_s"] == 4.4
    room_sid = made["room_sid"]

    room = (await video_api.call("GET", f"/v1/Rooms/{room_sid}", dev)).body
    assert (room["sid"], room["status"], room["type"], room["duration"]) == (room_sid, "completed", "group", 8)
    assert room["date_created"] == made["date_created"]
    assert room["end_time"] == made["end_time"]

    listed = (await video_api.call("GET", f"/v1/Rooms/{room_sid}/Participants", dev)).body
    assert [p["identity"] for p in listed["participants"]] == ["alice", "bob"]
    assert listed["meta"]["key"] == "participants"
    one = (await video_api.call("GET", f"/v1/Rooms/{room_sid}/Participants/{bob['participant_sid']}", dev)).body
    assert (one["status"], one["duration"], one["identity"]) == ("disconnected", 4, "bob")

    recordings = (await video_api.call("GET", f"/v1/Rooms/{room_sid}/Recordings", dev)).body["recordings"]
    assert [r["sid"] for r in recordings] == [alice["recording_sid"], bob["recording_sid"]]
    for rec, made_p in zip(recordings, (alice, bob), strict=True):
        assert rec["grouping_sids"] == {"room_sid": room_sid, "participant_sid": made_p["participant_sid"]}
        kind = (rec["container_format"], rec["codec"], rec["type"], rec["status"])
        assert kind == ("mka", "OPUS", "audio", "completed")
        assert rec["source_sid"] == made_p["source_sid"]
        assert rec["size"] == made_p["size"] > 0
        assert rec["room_sid"] == room_sid
        assert rec["links"]["media"] == f"https://video.twilio.com/v1/Rooms/{room_sid}/Recordings/{rec['sid']}/Media"
    assert [r["duration"] for r in recordings] == [4, 4]
    assert recordings[0]["offset"] == recordings[1]["offset"]  # the room's start, common to its tracks

    fetched = (await video_api.call("GET", f"/v1/Recordings/{bob['recording_sid']}", dev)).body
    assert fetched["track_name"] == "bob-mic"
    assert "room_sid" not in fetched
    assert fetched["url"] == f"https://video.twilio.com/v1/Recordings/{bob['recording_sid']}"


async def test_recording_lists_filter_by_grouping_sid_source_status_and_date(video_api: VideoApi) -> None:
    dev = video_api.dev
    made = await make_room(video_api, dev)
    alice, bob = made["participants"]

    async def sids(**params: str) -> list[str]:
        r = await video_api.call("GET", "/v1/Recordings", dev, params=params)
        assert r.status == 200, r.body
        return [x["sid"] for x in r.body["recordings"]]

    assert await sids() == [bob["recording_sid"], alice["recording_sid"]]  # newest first
    assert await sids(GroupingSid=made["room_sid"]) == [bob["recording_sid"], alice["recording_sid"]]
    assert await sids(GroupingSid=alice["participant_sid"]) == [alice["recording_sid"]]
    both = [("GroupingSid", made["room_sid"]), ("GroupingSid", bob["participant_sid"])]  # every one must match
    r = await video_api.call("GET", "/v1/Recordings", dev, params=both)
    assert [x["sid"] for x in r.body["recordings"]] == [bob["recording_sid"]]
    r = await video_api.call("GET", "/v1/Recordings", dev, params={"GroupingSid": "room-1"})
    assert (r.status, r.body["code"]) == (400, 20001)
    assert "GroupingSid" in r.body["message"]
    assert await sids(SourceSid=bob["source_sid"]) == [bob["recording_sid"]]
    assert await sids(Status="deleted") == []
    assert await sids(MediaType="video") == []
    assert await sids(DateCreatedAfter="2999-01-01T00:00:00Z") == []
    r = await video_api.call("GET", "/v1/Recordings", dev, params={"Status": "gone"})
    assert (r.status, r.body["code"]) == (400, 20001)
    assert "Status" in r.body["message"]
    r = await video_api.call("GET", "/v1/Recordings", dev, params={"PageSize": "1"})
    assert r.body["meta"]["next_page_url"].startswith("https://video.twilio.com/v1/Recordings?")
    assert len(r.body["recordings"]) == 1


async def test_recording_media_redirects_to_a_signed_url_serving_the_mka(make_video_api: Any) -> None:
    clock = ManualClock()
    api: VideoApi = await make_video_api({"lifecycle": {"mode": "immediate"}}, clock=clock)
    dev = api.dev
    made = await make_room(api, dev)
    room_sid, rec_sid = made["room_sid"], made["participants"][1]["recording_sid"]
    for path in (f"/v1/Recordings/{rec_sid}/Media", f"/v1/Rooms/{room_sid}/Recordings/{rec_sid}/Media"):
        r = await api.get(path, dev, {"Ttl": "60"})
        assert r.status == 302
        assert r.headers["Location"] == r.body["redirect_to"]
        status, headers, data = await api.download(r.body["redirect_to"])
        assert status == 200
        assert headers["Content-Type"] == "audio/x-matroska"
        assert headers["Content-Disposition"] == f'attachment; filename="{rec_sid}.mka"'
        assert data[:4] == b"\x1aE\xdf\xa3"
        assert len(data) == made["participants"][1]["size"]
    inline = await api.get(f"/v1/Recordings/{rec_sid}/Media", dev, {"ContentDisposition": "inline"})
    _, headers, _ = await api.download(inline.body["redirect_to"])
    assert headers["Content-Disposition"].startswith("inline;")

    url = (await api.get(f"/v1/Recordings/{rec_sid}/Media", dev, {"Ttl": "60"})).body["redirect_to"]
    status, _, body = await api.download(url.replace("Signature=", "Signature=0"))
    assert status == 403
    clock.advance(61)
    status, _, body = await api.download(url)
    assert status == 403
    assert b"expired" in body
    for bad in ("0", "3601", "ten"):
        r = await api.get(f"/v1/Recordings/{rec_sid}/Media", dev, {"Ttl": bad})
        assert (r.status, r.body["code"]) == (400, 20001)
        assert "Ttl" in r.body["message"]
    r = await api.get(f"/v1/Recordings/{rec_sid}/Media", dev, {"ContentDisposition": "download"})
    assert r.status == 400
    assert "ContentDisposition" in r.body["message"]


async def test_unknown_and_foreign_resources_are_twilios_404_and_credentials_are_checked(video_api: VideoApi) -> None:
    dev = video_api.dev
    made = await make_room(video_api, dev)
    room_sid, alice = made["room_sid"], made["participants"][0]
    other = await video_api.account()
    unknown_room = "RM" + "0" * 32
    for creds, path in (
        (dev, f"/v1/Rooms/{unknown_room}"),
        (dev, f"/v1/Rooms/{unknown_room}/Participants"),
        (dev, f"/v1/Rooms/{room_sid}/Participants/PA{'1' * 32}"),
        (dev, f"/v1/Rooms/{room_sid}/Recordings/RT{'2' * 32}"),
        (dev, f"/v1/Recordings/RT{'3' * 32}"),
        (dev, f"/v1/Recordings/RT{'3' * 32}/Media"),
        (other, f"/v1/Rooms/{room_sid}"),  # another account's room does not exist for this one
        (other, f"/v1/Recordings/{alice['recording_sid']}"),
        (dev, "/v1/Rooms/standup"),  # no in-progress room has this name
    ):
        r = await video_api.get(path, creds)
        assert (r.status, r.body["code"]) == (404, 20404), (path, r.body)
    r = await video_api.get(f"/v1/Rooms/{room_sid}", None)
    assert (r.status, r.body["code"]) == (401, 20003)
    r = await video_api.get(f"/v1/Rooms/{room_sid}", Creds(dev.sid, "wrong"))
    assert r.status == 401
    r = await video_api.call("PUT", f"/v1/Rooms/{room_sid}", dev)
    assert (r.status, r.body["code"]) == (405, 20004)


async def test_api_keys_work_and_restricted_keys_need_the_video_permission(video_api: VideoApi) -> None:
    dev = video_api.dev
    made = await make_room(video_api, dev)
    full = await video_api.key(dev, None)
    assert (await video_api.get(f"/v1/Rooms/{made['room_sid']}", full)).status == 200
    rooms_only = await video_api.key(dev, ["/twilio/video/rooms/*"])
    assert (await video_api.get(f"/v1/Rooms/{made['room_sid']}", rooms_only)).status == 200
    r = await video_api.get("/v1/Recordings", rooms_only)
    assert (r.status, r.body["code"]) == (401, 70051)
    assert "/twilio/video/recordings/list" in r.body["message"]


async def test_deleting_a_recording_keeps_it_as_deleted_without_media(video_api: VideoApi) -> None:
    dev = video_api.dev
    made = await make_room(video_api, dev)
    rec_sid = made["participants"][0]["recording_sid"]
    r = await video_api.call("DELETE", f"/v1/Rooms/{made['room_sid']}/Recordings/{rec_sid}", dev)
    assert r.status == 204
    assert (await video_api.call("GET", f"/v1/Recordings/{rec_sid}", dev)).body["status"] == "deleted"
    r = await video_api.get(f"/v1/Recordings/{rec_sid}/Media", dev)
    assert (r.status, r.body["code"]) == (404, 20404)
    assert (await video_api.call("DELETE", f"/v1/Recordings/{rec_sid}", dev)).status == 404


async def test_an_in_progress_room_is_found_by_name_until_completed(video_api: VideoApi) -> None:
    dev = video_api.dev
    made = await make_room(video_api, dev, unique_name="standup", status="in-progress")
    room = (await video_api.call("GET", "/v1/Rooms/standup", dev)).body
    assert (room["sid"], room["status"], room["end_time"], room["duration"]) == (made["room_sid"], "in-progress", None,
                                                                                  None)  # fmt: skip
    again = await video_api.control("POST", "/__mock__/rooms", two_person_room(dev.sid, unique_name="standup"))
    assert again.status == 400
    assert "unique_name" in again.body["message"]
    listed = (await video_api.call("GET", "/v1/Rooms/standup/Participants", dev)).body["participants"]
    assert len(listed) == 2
    r = await video_api.call("POST", "/v1/Rooms/standup", dev, data={"Status": "in-progress"})
    assert (r.status, r.body["code"]) == (400, 20001)
    r = await video_api.call("POST", "/v1/Rooms/standup", dev, data={"Status": "completed"})
    assert r.status == 202
    assert r.body["status"] == "completed"
    assert r.body["end_time"] is not None
    assert (await video_api.get("/v1/Rooms/standup", dev)).status == 404  # the name only works while in progress
    r = await video_api.call("POST", f"/v1/Rooms/{made['room_sid']}", dev, data={"Status": "completed"})
    assert (r.status, r.body["code"]) == (400, 53118)
    rooms = (await video_api.call("GET", "/v1/Rooms", dev, params={"Status": "completed"})).body["rooms"]
    assert [x["sid"] for x in rooms] == [made["room_sid"]]
    named = (await video_api.call("GET", "/v1/Rooms", dev, params={"UniqueName": "standup"})).body["rooms"]
    assert len(named) == 1


async def test_reset_forgets_rooms_and_stats_count_them(video_api: VideoApi) -> None:
    dev = video_api.dev
    made = await make_room(video_api, dev)
    stats = (await video_api.control("GET", f"/__mock__/accounts/{dev.sid}/stats")).body
    assert stats["rooms"] == 1
    assert stats["compositions_created"] == 0
    assert (await video_api.control("GET", "/__mock__/stats")).body["rooms"] == 1
    assert (await video_api.control("POST", "/__mock__/reset")).status == 200
    dev = video_api.dev  # the same dev account (seeded), with no rooms
    assert (await video_api.get(f"/v1/Rooms/{made['room_sid']}", dev)).status == 404
    assert (await video_api.control("GET", f"/__mock__/accounts/{dev.sid}/stats")).body["rooms"] == 0


async def test_the_control_plane_index_lists_the_room_endpoint(video_api: VideoApi) -> None:
    index = (await video_api.control("GET", "/__mock__/")).body
    listed = {(e["method"], e["path"]) for e in index["endpoints"]}
    assert ("POST", "/__mock__/rooms") in listed
    assert ("GET", "/__mock__/media/video/{AccountSid}/{Sid}") in listed
