"""Create-time media refusals carry Twilio's own codes: 95005 "Invalid media url", 95006 "Media url is empty".

Both were 20001 before. Neither message echoes the URL: a pre-signed URL is a credential.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from mock_server._errors import ApiError
from tests.mock_server.domain_support import P, channel, world
from tests.mock_server.support import Api

SECRET = "X-Amz-Signature=cafe0123secret"


@pytest.mark.parametrize(
    "media_url",
    [
        f"ftp://host/a.wav?{SECRET}",
        f"file:///etc/passwd?{SECRET}",
        f"https://?{SECRET}",
        f"http:///a.wav?{SECRET}",
        f"https://host:notaport/a.wav?{SECRET}",
        f"https://host:99999/a.wav?{SECRET}",
        f" https://host/a.wav?{SECRET}",
        f"https://host/a b.wav?{SECRET}",
        f"https://host/a\n.wav?{SECRET}",
        f"//host/a.wav?{SECRET}",
        f"host/a.wav?{SECRET}",
        "https://[::1/a.wav",
        42,
        ["https://host/a.wav"],
        {"url": "https://host/a.wav"},
        True,
    ],
)
def test_a_media_url_that_is_not_an_http_url_is_95005(media_url: Any) -> None:
    _, account, _, service = world()
    raw = json.dumps({"media_properties": {"media_url": media_url}})
    with pytest.raises(ApiError) as caught:
        account.create_transcript(P(ServiceSid=service, Channel=raw))
    assert (caught.value.status, caught.value.code) == (400, 95005)
    assert caught.value.message.startswith("Invalid media url")
    assert "secret" not in caught.value.message
    assert account.stats()["transcripts_created"] == 0


@pytest.mark.parametrize(
    "raw",
    [
        '{"participants": []}',
        "{}",
        channel(None),
        json.dumps({"media_properties": {"media_url": ""}}),
        json.dumps({"media_properties": {"media_url": None, "source_sid": None}}),
        json.dumps({"media_properties": {"media_url": "", "source_sid": ""}}),
    ],
)
def test_no_media_url_and_no_recording_is_95006(raw: str) -> None:
    _, account, _, service = world()
    with pytest.raises(ApiError) as caught:
        account.create_transcript(P(ServiceSid=service, Channel=raw))
    assert (caught.value.status, caught.value.code) == (400, 95006)
    assert caught.value.message.startswith("Media url is empty")


def test_what_is_not_about_the_url_stays_20001() -> None:
    _, account, _, service = world()
    for raw in ('{"media_properties": "https://host/a.wav"}', channel(None, source_sid="RE123")):
        with pytest.raises(ApiError) as caught:
            account.create_transcript(P(ServiceSid=service, Channel=raw))
        assert caught.value.code == 20001


def test_an_empty_media_url_falls_back_to_the_recording() -> None:
    _, account, _, service = world()
    raw = json.dumps({"media_properties": {"media_url": "", "source_sid": "RE" + "a" * 32}})
    body = account.create_transcript(P(ServiceSid=service, Channel=raw)).body
    assert body is not None
    assert body["status"] in ("queued", "completed")


@pytest.mark.parametrize(
    ("media_properties", "code"),
    [({"media_url": "ftp://x/y.wav"}, 95005), ({}, 95006), ({"media_url": ""}, 95006)],
)
async def test_over_http_the_refusal_is_a_400_with_twilio_error_body(
    api: Api, media_properties: dict[str, str], code: int
) -> None:
    form = {"ServiceSid": api.state.dev_service_sid, "Channel": json.dumps({"media_properties": media_properties})}
    r = await api.call("POST", "/v2/Transcripts", api.dev, data=form)
    assert r.status == 400
    assert r.body["code"] == code
    assert r.body["more_info"] == f"https://www.twilio.com/docs/errors/{code}"
    assert (await api.control("GET", "/__mock__/stats")).body["transcripts_created"] == 0
