"""The official twilio-python client, unchanged, against the mock over real HTTP (sync and async).

`mock_server.twilio_client()` rewrites *.twilio.com to the mock inside twilio's own http client, so paging follows
the canonical `meta.next_page_url` as it would against Twilio. Every response is validated against the spec.
"""

from __future__ import annotations

import asyncio
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
import twilio  # noqa: F401 - a test dependency (group "tests"): if missing, fail loudly, never skip

import mock_server
from mock_server import MockConfig
from tests.mock_server.support import Recorder, Threaded, recorded_app, threaded_mock

CHANNEL = {
    "media_properties": {"media_url": "https://media.example.com/call.wav"},
    "participants": [{"channel_participant": 1, "role": "Customer"}, {"channel_participant": 2, "role": "Agent"}],
}
# Transcripts complete a moment after creation, so the clients really wait for `completed`.
CONFIG = {"lifecycle": {"mode": "after_seconds", "seconds": 0.2}, "media": {"fetch": False}}


@pytest.fixture
def recorder(intelligence_spec: dict[str, Any]) -> Iterator[Recorder]:
    rec = Recorder()
    yield rec
    assert rec.check(intelligence_spec) > 0


@pytest.fixture
def threaded(recorder: Recorder) -> Iterator[Threaded]:
    with threaded_mock(MockConfig.from_json(CONFIG), seed=11, recorder=recorder) as mock:
        yield mock


def test_sync_client_end_to_end(threaded: Threaded) -> None:
    client = mock_server.twilio_client(threaded.base_url, threaded.dev.sid, threaded.dev.token)
    v2 = client.intelligence.v2
    service = v2.services.create(unique_name="sync-e2e", friendly_name="Sync")
    assert service.sid.startswith("GA")
    operator = v2.operators.list(limit=1)[0]
    v2.operator_attachment(service.sid, operator.sid).create()

    transcript = v2.transcripts.create(service_sid=service.sid, channel=CHANNEL, customer_key="sync-1")
    assert transcript.status == "queued"
    deadline = time.monotonic() + 10
    while transcript.status != "completed":
        assert time.monotonic() < deadline, transcript.status
        time.sleep(0.05)
        transcript = v2.transcripts(transcript.sid).fetch()

    sentences = v2.transcripts(transcript.sid).sentences.list()
    assert sentences
    assert {s.media_channel for s in sentences} <= {1, 2}
    results = v2.transcripts(transcript.sid).operator_results.list()
    assert [r.operator_sid for r in results] == [operator.sid]
    media = v2.transcripts(transcript.sid).media().fetch()
    with urllib.request.urlopen(media.media_url, timeout=10) as r:  # noqa: S310 - our own loopback mock
        assert r.headers["Content-Type"] == "audio/wav"
        assert r.read(4) == b"RIFF"
    assert v2.transcripts(transcript.sid).delete() is True

    from twilio.base.exceptions import TwilioRestException

    with pytest.raises(TwilioRestException) as caught:
        v2.transcripts(transcript.sid).fetch()
    assert (caught.value.status, caught.value.code) == (404, 20404)


def test_sync_list_and_stream_across_pages(threaded: Threaded) -> None:
    client = mock_server.twilio_client(threaded.base_url, threaded.dev.sid, threaded.dev.token)
    v2 = client.intelligence.v2
    service = v2.services.create(unique_name="pages")
    sids = {v2.transcripts.create(service_sid=service.sid, channel=CHANNEL, customer_key=f"p{i}").sid for i in range(5)}
    assert {t.sid for t in v2.transcripts.stream(page_size=2)} == sids
    assert len(v2.transcripts.list(page_size=2, limit=3)) == 3
    page = v2.transcripts.page(page_size=2)
    assert page.next_page_url is not None


def test_sync_client_with_an_api_key(threaded: Threaded) -> None:
    key = threaded.state.registry.create_key(threaded.dev.sid, None)
    client = mock_server.twilio_client(threaded.base_url, threaded.dev.sid, key.secret, api_key_sid=key.sid)
    assert client.intelligence.v2.services.create(unique_name="by-key").account_sid == threaded.dev.sid


async def test_async_client_end_to_end(recorder: Recorder) -> None:
    app = recorded_app(recorder, MockConfig.from_json(CONFIG), seed=12)
    async with mock_server.serve(app=app) as mock:
        client = mock_server.twilio_client(mock.base_url, mock.account_sid, mock.auth_token, async_=True)
        try:
            v2 = client.intelligence.v2
            service = await v2.services.create_async(unique_name="async-e2e")
            operators = await v2.operators.list_async(limit=1)
            await v2.operator_attachment(service.sid, operators[0].sid).create_async()
            created = [
                await v2.transcripts.create_async(service_sid=service.sid, channel=CHANNEL, customer_key=f"a{i}")
                for i in range(3)
            ]
            transcript = created[0]
            deadline = time.monotonic() + 10
            while transcript.status != "completed":
                assert time.monotonic() < deadline
                await asyncio.sleep(0.05)
                transcript = await v2.transcripts(transcript.sid).fetch_async()
            sentences = [s async for s in await v2.transcripts(transcript.sid).sentences.stream_async(page_size=2)]
            assert len(sentences) > 2  # more than one page was followed
            results = await v2.transcripts(transcript.sid).operator_results.list_async()
            assert len(results) == 1
            media = await v2.transcripts(transcript.sid).media().fetch_async()
            assert media.media_url.startswith(mock.base_url + "/__mock__/media/")
            streamed = [t.sid async for t in await v2.transcripts.stream_async(page_size=1)]
            assert sorted(streamed) == sorted(t.sid for t in created)
            assert await v2.transcripts(transcript.sid).delete_async() is True
            assert mock.state.unexpected_errors == 0
        finally:
            await client.http_client.close()
