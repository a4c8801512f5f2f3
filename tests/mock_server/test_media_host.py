"""The media host inside the mock (`PUT /__mock__/media/{name}`: a pre-signed-style URL that expires like S3's),
and the recordings store that `source_sid` transcripts are made from.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from mock_server._clock import ManualClock
from tests.mock_server.media_support import fake_analyse, settle, wav_bytes
from tests.mock_server.support import Api, threaded_mock

FETCH = {"media": {"fetch": True}, "lifecycle": {"mode": "immediate"}}
RECORDING = "RE" + "ab" * 16


async def _put(api: Api, name: str, data: bytes, query: str = "") -> tuple[int, Any]:
    async with api.client.put(f"/__mock__/media/{name}{query}", data=data) as r:
        return r.status, await r.json(content_type=None)


async def _get(api: Api, url: str) -> tuple[int, str, bytes]:
    parts = urlsplit(url)
    async with api.client.get(f"{parts.path}?{parts.query}" if parts.query else parts.path) as r:
        return r.status, r.content_type, await r.read()


async def test_put_answers_a_signed_url_that_serves_the_bytes_with_a_sniffed_type(make_api: Any) -> None:
    api: Api = await make_api()
    wav = wav_bytes(1.0)
    status, body = await _put(api, "call-1.wav", wav, "?ttl_s=60")
    assert status == 201
    assert (body["name"], body["size"], body["content_type"]) == ("call-1.wav", len(wav), "audio/wav")
    parts = urlsplit(body["url"])
    assert parts.path == "/__mock__/media/call-1.wav"
    assert set(parse_qs(parts.query)) == {"Expires", "Signature"}
    assert str(api.client.port) in parts.netloc  # a URL on the mock itself, as clients reach it
    assert await _get(api, body["url"]) == (200, "audio/wav", wav)
    for data, kind in ((b"fLaC" + b"\0" * 40, "audio/flac"), (b"ID3\3" + b"\0" * 40, "audio/mpeg"),
                       (b"<html>hi</html>", "text/html"), (b"\x00\x01", "application/octet-stream")):  # fmt: skip
        _, put = await _put(api, "x", data)
        assert await _get(api, put["url"]) == (200, kind, data)


async def test_after_its_ttl_the_url_is_refused_like_an_expired_s3_url(make_api: Any) -> None:
    clock = ManualClock()
    api: Api = await make_api(clock=clock)
    _, body = await _put(api, "a.wav", wav_bytes(0.5), "?ttl_s=30")
    clock.advance(30)
    assert (await _get(api, body["url"]))[0] == 200
    clock.advance(1)
    status, kind, xml = await _get(api, body["url"])
    assert (status, kind) == (403, "application/xml")
    assert b"<Code>AccessDenied</Code><Message>Request has expired</Message>" in xml


async def test_a_wrong_or_missing_signature_is_403_and_an_unknown_name_404(make_api: Any) -> None:
    api: Api = await make_api()
    _, body = await _put(api, "a.wav", b"RIFF")
    tampered = body["url"][:-1] + ("0" if body["url"][-1] != "0" else "1")
    status, _, xml = await _get(api, tampered)
    assert status == 403
    assert b"<Code>SignatureDoesNotMatch</Code>" in xml
    other_name = body["url"].replace("/a.wav?", "/b.wav?")  # a signature is for one name only
    assert (await _get(api, other_name))[0] == 403
    status, _, xml = await _get(api, body["url"].split("?")[0])
    assert status == 403
    assert b"<Code>AccessDenied</Code>" in xml
    _, gone = await _put(api, "gone.wav", b"x")
    api.state.hosted_media.clear()
    status, _, xml = await _get(api, gone["url"])
    assert status == 404
    assert b"<Code>NoSuchKey</Code>" in xml


@pytest.mark.parametrize("query", ["?ttl_s=0", "?ttl_s=604801", "?ttl_s=1.5", "?ttl_s=-1", "?ttl_s=%D9%A3", "?ttl_s="])
async def test_a_ttl_outside_its_range_is_refused(make_api: Any, query: str) -> None:
    api: Api = await make_api()
    status, body = await _put(api, "a.wav", b"x", query)
    assert status == 400
    assert body["code"] == 20001
    assert "ttl_s" in body["message"]


@pytest.mark.parametrize("name", [".hidden", "a%20b", "a..%2F..%2Fetc", "x" * 201, "-a"])
async def test_a_name_outside_the_safe_alphabet_is_refused(make_api: Any, name: str) -> None:
    api: Api = await make_api()
    status, body = await _put(api, name, b"x")
    assert status in (400, 404)
    assert "code" in body


async def test_uploads_larger_than_the_api_body_limit_are_accepted_up_to_media_max_bytes(make_api: Any) -> None:
    api: Api = await make_api({"media": {"fetch": False, "max_bytes": 3 * 1024 * 1024}})
    big = b"\0" * (2 * 1024 * 1024)  # aiohttp's own limit for a request body is 1 MiB
    status, body = await _put(api, "big", big)
    assert (status, body["size"]) == (201, len(big))
    status, body = await _put(api, "too-big", big + big)
    assert (status, body["code"]) == (413, 20001)


def test_put_needs_the_control_token_but_get_needs_only_the_signature() -> None:
    token = "media-host-control-token-0123"
    with threaded_mock(control_token=token) as mock, httpx.Client(base_url=mock.base_url, timeout=10) as client:
        assert client.put("/__mock__/media/a.wav", content=b"RIFF").status_code == 401
        r = client.put("/__mock__/media/a.wav", content=b"RIFF", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 201
        url = r.json()["url"]
        assert url.startswith(mock.base_url)
        assert client.get(url).content == b"RIFF"  # no token: the signature is the credential
        assert client.get(url.split("?")[0]).status_code == 403


async def test_a_transcript_from_an_expired_host_url_fails_with_17553_and_an_alert(make_api: Any) -> None:
    clock = ManualClock()
    api: Api = await make_api(FETCH, analyse=fake_analyse, clock=clock)
    _, fresh = await _put(api, "fresh.wav", wav_bytes(2.0), "?ttl_s=600")
    _, stale = await _put(api, "stale.wav", wav_bytes(2.0), "?ttl_s=5")
    clock.advance(10)
    account = api.state.dev_account
    sids = []
    for url in (fresh["url"], stale["url"]):
        form = {
            "ServiceSid": api.state.dev_service_sid,
            "Channel": json.dumps({"media_properties": {"media_url": url}}),
        }
        sids.append((await api.call("POST", "/v2/Transcripts", api.dev, data=form)).body["sid"])
    await settle(lambda: all(not account.transcripts[s].media_pending for s in sids))
    assert [account.transcripts[s].status for s in sids] == ["completed", "failed"]
    assert account.transcripts[sids[0]].duration == 2
    [alert] = (await api.control("GET", f"/__mock__/accounts/{api.dev.sid}/alerts")).body
    assert (alert["code"], alert["transcript_sid"]) == (17553, sids[1])
    assert "HTTP 403" in alert["message"]
    assert alert["media_url"] == stale["url"].split("?")[0]


# --- the recordings store -----------------------------------------------------------------------------------


async def _put_recording(api: Api, account_sid: str, sid: str, data: bytes) -> int:
    async with api.client.put(f"/__mock__/accounts/{account_sid}/recordings/{sid}", data=data) as r:
        return r.status


async def _create_from_recording(api: Api, sid: str, customer_key: str = "rec") -> str:
    form = {
        "ServiceSid": api.state.dev_service_sid,
        "Channel": json.dumps({"media_properties": {"source_sid": sid}}),
        "CustomerKey": customer_key,
    }
    r = await api.call("POST", "/v2/Transcripts", api.dev, data=form)
    assert r.status == 202, r.body
    return str(r.body["sid"])


async def test_a_source_sid_transcript_is_made_from_the_stored_recording(make_api: Any) -> None:
    api: Api = await make_api(FETCH, analyse=fake_analyse)
    wav = wav_bytes(4.0, rate=8000, channels=1)
    assert await _put_recording(api, api.dev.sid, RECORDING, wav) == 201
    assert await _put_recording(api, api.dev.sid, RECORDING, wav) == 204  # replaced
    sid = await _create_from_recording(api, RECORDING)
    account = api.state.dev_account
    await settle(lambda: account.transcripts[sid].status == "completed")
    record = account.transcripts[sid]
    assert (record.duration, record.analysis.channels if record.analysis else None) == (4, 1)
    stats = (await api.control("GET", f"/__mock__/accounts/{api.dev.sid}/stats")).body
    assert (stats["media_fetched"], stats["recordings_stored"]) == (1, 1)


async def test_an_unknown_recording_fails_the_transcript_with_an_alert(make_api: Any) -> None:
    api: Api = await make_api(FETCH, analyse=fake_analyse)
    other = await api.account()
    assert await _put_recording(api, other.sid, RECORDING, wav_bytes(1.0)) == 201  # another account's is not ours
    sid = await _create_from_recording(api, RECORDING)
    account = api.state.dev_account
    await settle(lambda: account.transcripts[sid].status == "failed")
    [alert] = (await api.control("GET", f"/__mock__/accounts/{api.dev.sid}/alerts")).body
    assert (alert["code"], alert["source_sid"], alert["media_url"], alert["customer_key"]) == (
        20404,
        RECORDING,
        None,
        "rec",
    )
    assert RECORDING in alert["message"]


async def test_recording_uploads_are_checked(make_api: Any) -> None:
    api: Api = await make_api({"media": {"fetch": True, "max_bytes": 1000}})
    assert await _put_recording(api, api.dev.sid, "RE123", b"x") == 400
    assert await _put_recording(api, api.dev.sid, "GT" + "0" * 32, b"x") == 400
    assert await _put_recording(api, "AC" + "0" * 32, RECORDING, b"x") == 404
    assert await _put_recording(api, api.dev.sid, RECORDING, b"x" * 1001) == 413
    async with api.client.post(f"/__mock__/accounts/{api.dev.sid}/recordings/{RECORDING}", data=b"x") as r:
        assert r.status == 405
