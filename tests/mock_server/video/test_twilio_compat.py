"""twilio-python's Video client, unchanged, against the mock over real HTTP (`mock_server.twilio_client` rewrites
video.twilio.com to the mock), sync on a mock in a background thread and async on the test's own loop."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any, cast

import httpx
import pytest
from twilio.base.exceptions import TwilioException, TwilioRestException

import mock_server
from mock_server import MockConfig, create_app
from tests.mock_server.support import Threaded, threaded_mock
from tests.mock_server.video.test_compositions_api import speech_room
from tests.mock_server.video.video_support import VideoApi, VideoRecorder

# twilio's AsyncTwilioHttpClient passes `auth=BasicAuth(...)`, which aiohttp 3.14 deprecates (twilio-wire.md §7).
pytestmark = pytest.mark.filterwarnings("ignore:.*(BasicAuth|'auth' parameter) is deprecated:DeprecationWarning")


@pytest.fixture
def threaded(video_recorder: VideoRecorder) -> Iterator[Threaded]:
    config = MockConfig.from_json({"lifecycle": {"mode": "after_seconds", "seconds": 0.2}})
    # The Video recorder has the Intelligence one's `on_prepare`: every response is spec-checked at teardown.
    with threaded_mock(config, seed=21, recorder=cast(Any, video_recorder)) as mock:
        yield mock


def _room(threaded: Threaded) -> dict[str, Any]:
    r = httpx.post(f"{threaded.base_url}/__mock__/rooms", json=speech_room(threaded.dev.sid), timeout=30)
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_sync_client_reads_rooms_and_makes_a_composition(threaded: Threaded) -> None:
    made = _room(threaded)
    client = mock_server.twilio_client(threaded.base_url, threaded.dev.sid, threaded.dev.token)
    v1 = client.video.v1
    room = v1.rooms(made["room_sid"]).fetch()
    assert (room.sid, room.status, room.type) == (made["room_sid"], "completed", "group")
    participants = v1.rooms(room.sid).participants.list()
    assert [p.identity for p in participants] == ["s1", "s2", "t"]
    assert v1.rooms(room.sid).participants(participants[2].sid).fetch().status == "disconnected"
    recordings = v1.rooms(room.sid).recordings.list()
    assert [r.track_name for r in recordings] == ["student", "studentTeam", "teacher"]
    assert {r.container_format for r in recordings} == {"mka"}
    everywhere = v1.recordings.list(grouping_sid=[participants[0].sid])
    assert [r.sid for r in everywhere] == [recordings[0].sid]
    assert len(list(v1.recordings.stream(page_size=1))) == 3  # follows next_page_url across pages

    composition = v1.compositions.create(
        room_sid=room.sid, audio_sources=["student*"], audio_sources_excluded=["studentTeam"], format="mp4",
        trim=False, video_layout={"grid": {"video_sources": []}},
    )  # fmt: skip
    assert composition.status == "enqueued"
    assert composition.audio_sources == ["student*"]
    assert composition.audio_sources_excluded == ["studentTeam"]
    deadline = time.monotonic() + 20
    while composition.status != "completed":
        assert time.monotonic() < deadline, composition.status
        time.sleep(0.05)
        composition = v1.compositions(composition.sid).fetch()
    assert composition.duration == 2
    assert [c.sid for c in v1.compositions.list(status="completed", room_sid=room.sid)] == [composition.sid]

    # Media is not in twilio-python: the documented recipe is a plain request, and reading `redirect_to`.
    media_url = f"https://video.twilio.com/v1/Compositions/{composition.sid}/Media"
    response = client.request("GET", media_url, params={"Ttl": 60})
    assert response.status_code == 302
    location = json.loads(response.text)["redirect_to"]
    assert httpx.get(location, timeout=10).content[4:8] == b"ftyp"

    assert v1.compositions(composition.sid).delete() is True
    assert v1.compositions(composition.sid).fetch().status == "deleted"
    with pytest.raises(TwilioRestException) as caught:
        v1.rooms("RM" + "0" * 32).fetch()
    assert (caught.value.status, caught.value.code) == (404, 20404)
    with pytest.raises(TwilioRestException) as caught:
        v1.compositions.create(room_sid=room.sid, audio_sources=["nobody"])
    assert (caught.value.status, caught.value.code) == (400, 20001)
    with pytest.raises(TwilioException):
        v1.compositions.list(status="nonsense")


async def test_async_client_end_to_end(video_recorder: VideoRecorder) -> None:
    from tests.mock_server.video.video_support import start_video_api

    app = create_app(MockConfig.from_json({"lifecycle": {"mode": "immediate"}}), seed=22)
    api: VideoApi = await start_video_api(video_recorder, app)
    try:
        dev = api.dev
        made = await api.room(speech_room(dev.sid))
        base_url = str(api.client.make_url("")).rstrip("/")
        client = mock_server.twilio_client(base_url, dev.sid, dev.token, async_=True)
        try:
            v1 = client.video.v1
            room = await v1.rooms(made["room_sid"]).fetch_async()
            assert room.status == "completed"
            assert len(await v1.rooms(room.sid).participants.list_async()) == 3
            assert len(await v1.rooms(room.sid).recordings.list_async()) == 3
            created = await v1.compositions.create_async(room_sid=room.sid, audio_sources=["*"], format="webm")
            done = await api.wait_composition(dev, created.sid)
            fetched = await v1.compositions(created.sid).fetch_async()
            assert (fetched.status, fetched.size) == ("completed", done["size"])
            assert [c.sid for c in await v1.compositions.list_async(room_sid=room.sid)] == [created.sid]
            assert await v1.compositions(created.sid).delete_async() is True
        finally:
            await client.http_client.close()
    finally:
        await api.client.close()
