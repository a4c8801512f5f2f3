"""VideoClient through respx: credentials, paging by meta.next_page_url (Twilio's host re-pointed), compositions'
form fields, `…/Media` redirects, streamed and bounded downloads that keep credentials off other hosts, and Twilio's
errors as the harness's."""

from __future__ import annotations

import base64
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from harness import ConfigurationError, NotFound, RateLimited, ServerError, Unauthorized
from harness._retry import RetryPolicy
from harness.media import MediaDownloadError, VideoClient

BASE = "http://video.test"
ACCOUNT = "AC" + "a" * 32
TOKEN = "t" * 32
ROOM = "RM" + "1" * 32
S3 = "https://bucket.s3.example.com/media/RT1.mka"


def client(**kwargs: object) -> VideoClient:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    video = VideoClient(ACCOUNT, TOKEN, base_url=BASE, retry=RetryPolicy.no_wait(4), sleep=sleep, environ={},
                        **kwargs)  # type: ignore[arg-type]  # fmt: skip
    video.waits = waits  # type: ignore[attr-defined]  # the sleeps it asked for, for the tests
    return video


def basic(request: httpx.Request) -> str:
    kind, _, token = request.headers.get("Authorization", "").partition(" ")
    return base64.b64decode(token).decode() if kind == "Basic" else ""


def page(key: str, items: list[dict[str, object]], next_url: str | None) -> dict[str, object]:
    return {key: items, "meta": {"key": key, "page_size": len(items), "next_page_url": next_url}}


@respx.mock
async def test_fetch_room_sends_basic_auth_and_parses_times() -> None:
    route = respx.get(f"{BASE}/v1/Rooms/{ROOM}").respond(
        json={"sid": ROOM, "status": "completed", "date_created": "2026-01-02T03:04:05Z", "extra": 1}
    )
    async with client() as video:
        room = await video.fetch_room(ROOM)

    assert basic(route.calls.last.request) == f"{ACCOUNT}:{TOKEN}"
    assert room.status == "completed"
    assert room.time("date_created") is not None
    assert room.time("date_created").isoformat() == "2026-01-02T03:04:05+00:00"  # type: ignore[union-attr]
    assert room.model_extra == {"extra": 1}


@respx.mock
async def test_lists_follow_next_page_url_with_twilios_host_repointed() -> None:
    canonical_next = f"https://video.twilio.com/v1/Rooms/{ROOM}/Participants?PageSize=1&Page=1&PageToken=PT1"
    first = respx.get(f"{BASE}/v1/Rooms/{ROOM}/Participants", params={"PageSize": "100"}).respond(
        json=page("participants", [{"sid": "PA1", "identity": "alice"}], canonical_next)
    )
    second = respx.get(f"{BASE}/v1/Rooms/{ROOM}/Participants", params={"PageToken": "PT1"}).respond(
        json=page("participants", [{"sid": "PA2", "identity": "bob"}], None)
    )
    async with client() as video:
        participants = await video.list_participants(ROOM)

    assert [p.identity for p in participants] == ["alice", "bob"]
    assert first.call_count == 1
    assert second.call_count == 1
    assert str(second.calls.last.request.url) == canonical_next.replace("https://video.twilio.com", BASE)


@respx.mock
async def test_list_recordings_reads_grouping_sids() -> None:
    recording = {"sid": "RT1", "type": "audio", "status": "completed", "container_format": "mka", "offset": 123,
                 "grouping_sids": {"room_sid": ROOM, "participant_sid": "PA1"}}  # fmt: skip
    respx.get(f"{BASE}/v1/Rooms/{ROOM}/Recordings").respond(json=page("recordings", [recording], None))
    async with client() as video:
        (got,) = await video.list_recordings(ROOM)

    assert (got.participant_sid, got.offset, got.container_format) == ("PA1", 123, "mka")


@respx.mock
async def test_create_composition_sends_twilios_form_fields() -> None:
    route = respx.post(f"{BASE}/v1/Compositions").respond(201, json={"sid": "CJ1", "status": "enqueued"})
    async with client() as video:
        composition = await video.create_composition(
            ROOM, audio_sources=["PA1", "PA2"], trim=False, format="webm", status_callback="https://cb.example/x"
        )

    form = parse_qs(route.calls.last.request.content.decode())
    assert composition.sid == "CJ1"
    assert not composition.is_final
    assert form == {"RoomSid": [ROOM], "Trim": ["false"], "Format": ["webm"], "AudioSources": ["PA1", "PA2"],
                    "StatusCallback": ["https://cb.example/x"]}  # fmt: skip
    assert route.calls.last.request.headers["Content-Type"] == "application/x-www-form-urlencoded"


@respx.mock
async def test_media_url_prefers_redirect_to_then_location_and_resolves_relative_urls() -> None:
    respx.get(f"{BASE}/v1/Recordings/RT1/Media").respond(302, json={"redirect_to": S3}, headers={"Location": "/x"})
    respx.get(f"{BASE}/v1/Recordings/RT2/Media").respond(302, headers={"Location": "/__mock__/media/RT2?sig=1"})
    respx.get(f"{BASE}/v1/Compositions/CJ1/Media").respond(200, json={"redirect_to": "/__mock__/media/CJ1"})
    async with client() as video:
        first = await video.recording_media_url("RT1", ttl_s=60)
        second = await video.recording_media_url("RT2")
        third = await video.composition_media_url("CJ1")

    assert first == S3
    assert respx.calls[0].request.url.params["Ttl"] == "60"
    assert second == f"{BASE}/__mock__/media/RT2?sig=1"
    assert third == f"{BASE}/__mock__/media/CJ1"


@respx.mock
async def test_download_follows_the_redirect_and_sends_credentials_only_to_the_api(tmp_path: Path) -> None:
    api = respx.get(f"{BASE}/v1/Recordings/RT1/Media").respond(302, json={"redirect_to": S3 + "?X-Amz-Signature=s"})
    host = respx.get(S3).respond(200, content=b"x" * 200_000)
    out = tmp_path / "RT1.mka"
    async with client() as video:
        written = await video.download(f"{BASE}/v1/Recordings/RT1/Media", out)

    assert written == 200_000
    assert out.read_bytes() == b"x" * 200_000
    assert not (tmp_path / "RT1.mka.part").exists()
    assert basic(api.calls.last.request) == f"{ACCOUNT}:{TOKEN}"
    assert "Authorization" not in host.calls.last.request.headers


@respx.mock
async def test_a_same_host_media_path_outside_the_api_gets_no_credentials(tmp_path: Path) -> None:
    route = respx.get(f"{BASE}/__mock__/media/RT1").respond(200, content=b"abc")
    async with client() as video:
        await video.download(f"{BASE}/__mock__/media/RT1", tmp_path / "a.mka")

    assert "Authorization" not in route.calls.last.request.headers


@respx.mock
async def test_downloads_are_bounded_and_leave_no_partial_file(tmp_path: Path) -> None:
    respx.get("https://h.example/declared").respond(200, content=b"y" * 5000)  # Content-Length: 5000
    streamed = httpx.Response(200, stream=httpx.ByteStream(b"z" * 5000))  # no Content-Length sent
    streamed.headers.pop("Content-Length", None)
    respx.get("https://h.example/streamed").mock(return_value=streamed)
    async with client(max_download_bytes=4096) as video:
        with pytest.raises(MediaDownloadError, match="5000 bytes, more than the 4096 allowed"):
            await video.download("https://h.example/declared", tmp_path / "a.mka")
        with pytest.raises(MediaDownloadError, match="more than the 4096 bytes allowed"):
            await video.download("https://h.example/streamed", tmp_path / "b.mka")

    assert list(tmp_path.iterdir()) == []


@respx.mock
async def test_a_head_download_asks_for_a_range_and_stops_there(tmp_path: Path) -> None:
    route = respx.get("https://h.example/big").respond(200, content=b"q" * 100_000)  # the host ignores Range
    async with client() as video:
        written = await video.download("https://h.example/big", tmp_path / "h.mka", head_bytes=1000)

    assert written == 1000
    assert (tmp_path / "h.mka").stat().st_size == 1000
    assert route.calls.last.request.headers["Range"] == "bytes=0-999"


@respx.mock
async def test_twilio_errors_keep_their_code_and_message() -> None:
    respx.get(f"{BASE}/v1/Rooms/{ROOM}").respond(
        404, json={"code": 20404, "message": "The requested resource was not found", "status": 404}
    )
    respx.get(f"{BASE}/v1/Rooms/RM2").respond(401, json={"code": 20003, "message": "Authenticate", "status": 401})
    async with client() as video:
        with pytest.raises(NotFound) as missing:
            await video.fetch_room(ROOM)
        with pytest.raises(Unauthorized) as refused:
            await video.fetch_room("RM2")

    assert (missing.value.code, missing.value.message) == (20404, "The requested resource was not found")
    assert refused.value.code == 20003


@respx.mock
async def test_429_and_5xx_on_a_get_are_retried_a_5xx_on_a_create_is_not() -> None:
    room = respx.get(f"{BASE}/v1/Rooms/{ROOM}")
    room.side_effect = [
        httpx.Response(429, json={"code": 20429, "message": "Too many requests"}, headers={"Retry-After": "2"}),
        httpx.Response(503, json={"code": 20500, "message": "down"}),
        httpx.Response(200, json={"sid": ROOM, "status": "completed"}),
    ]
    create = respx.post(f"{BASE}/v1/Compositions").respond(500, json={"code": 20500, "message": "oops"})
    async with client() as video:
        assert (await video.fetch_room(ROOM)).sid == ROOM
        with pytest.raises(ServerError):
            await video.create_composition(ROOM, audio_sources=["PA1"])
        waits = video.waits  # type: ignore[attr-defined]

    assert room.call_count == 3
    assert waits[0] >= 2  # Retry-After honoured
    assert create.call_count == 1


@respx.mock
async def test_rate_limits_give_up_after_the_policy_attempts() -> None:
    route = respx.get(f"{BASE}/v1/Rooms/{ROOM}").respond(429, json={"code": 20429, "message": "Too many requests"})
    async with client() as video:
        with pytest.raises(RateLimited):
            await video.fetch_room(ROOM)

    assert route.call_count == 4


@respx.mock
async def test_a_media_hosts_refusal_is_a_download_error_without_the_signature(tmp_path: Path) -> None:
    respx.get(S3).respond(403, text="<Error>Request has expired</Error>")
    async with client() as video:
        with pytest.raises(MediaDownloadError) as refused:
            await video.download(S3 + "?X-Amz-Signature=secret", tmp_path / "a.mka")

    assert "403" in str(refused.value)
    assert "secret" not in str(refused.value)
    assert "bucket.s3.example.com/media/RT1.mka" in str(refused.value)


def test_credentials_and_base_url_come_from_the_environment() -> None:
    env = {"TWILIO_ACCOUNT_SID": ACCOUNT, "TWILIO_API_KEY": "SK" + "b" * 32, "TWILIO_API_SECRET": "secret",
           "CINTEL_BASE_URL": "http://intelligence.test"}  # fmt: skip
    video = VideoClient(environ=env)
    assert video.credentials.base_url == "https://video.twilio.com"  # CINTEL_BASE_URL is Intelligence's
    assert video.credentials.username == "SK" + "b" * 32
    assert "secret" not in repr(video)
    assert VideoClient(environ={**env, "CINTEL_VIDEO_BASE_URL": BASE}).credentials.base_url == BASE
    with pytest.raises(ConfigurationError, match="no account SID"):
        VideoClient(environ={})
