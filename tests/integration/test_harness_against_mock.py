"""IntelligenceClient against the real mock over loopback: limits, capacity steps, faults, errors, paging, secrets."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from harness import (
    AdaptiveLimiter,
    BadRequest,
    IntelligenceClient,
    LimiterParams,
    NotFound,
    OutcomeUnknown,
    RetryPolicy,
    Unauthorized,
)
from mock_server import MockConfig, RunningMock, serve

CHANNEL = {"media_properties": {"media_url": "https://media.example.com/call.wav"}}


@pytest.fixture
async def mock() -> AsyncIterator[RunningMock]:
    config = {"lifecycle": {"mode": "immediate"}, "media": {"fetch": False}}
    async with serve(MockConfig.from_json(config), port=0, seed=11) as running:
        yield running


async def _account(mock: RunningMock, **config: Any) -> tuple[str, str]:
    async with httpx.AsyncClient(base_url=mock.base_url) as control:
        body = (await control.post("/__mock__/accounts", json=config)).json()
    return body["account_sid"], body["auth_token"]


async def _stats(mock: RunningMock, sid: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=mock.base_url) as control:
        stats: dict[str, Any] = (await control.get(f"/__mock__/accounts/{sid}/stats")).json()
    return stats


def _client(mock: RunningMock, sid: str, token: str, **kwargs: Any) -> IntelligenceClient:
    kwargs.setdefault("retry", RetryPolicy(max_attempts=30, base_s=0.01, max_backoff_s=0.2))
    return IntelligenceClient(sid, token, base_url=mock.base_url, **kwargs)


async def test_many_tasks_share_one_client_under_a_concurrency_limit(mock: RunningMock) -> None:
    sid, token = await _account(mock, concurrency_limit=4, latency_ms=40, lifecycle={"mode": "immediate"})
    async with _client(mock, sid, token) as client:
        service = await client.create_service("calls")
        keys = [f"call-{i}" for i in range(60)]
        created = await asyncio.gather(*(client.create_transcript(service.sid, CHANNEL, customer_key=k) for k in keys))
        assert len({t.sid for t in created}) == 60
        assert client.limiter.limit <= 6  # it found the limit (4) rather than staying at its initial 16
    stats = await _stats(mock, sid)
    assert stats["peak_in_flight"] <= 4
    assert stats["transcripts_by_customer_key"] == dict.fromkeys(keys, 1)  # every 429 was retried, none doubled
    assert stats["rejected_429"] < 60  # adaptive, not a retry storm


async def test_the_limiter_follows_a_capacity_step_down(mock: RunningMock) -> None:
    schedule = [{"at_s": 0.6, "concurrency_limit": 2}]
    sid, token = await _account(mock, concurrency_limit=8, latency_ms=30, capacity_schedule=schedule)
    limiter = AdaptiveLimiter(LimiterParams(initial=8))
    async with _client(mock, sid, token, limiter=limiter) as client:
        service = await client.create_service("calls")
        loop = asyncio.get_running_loop()
        end = loop.time() + 1.8

        async def worker(n: int) -> int:
            done = 0
            while loop.time() < end:
                await client.create_transcript(service.sid, CHANNEL, customer_key=f"{n}-{done}")
                done += 1
            return done

        total = sum(await asyncio.gather(*(worker(n) for n in range(16))))
        assert limiter.limit <= 3
    stats = await _stats(mock, sid)
    assert stats["transcripts_created"] == total
    assert stats["current_limit"] == 2


async def test_a_create_whose_answer_is_lost_raises_outcome_unknown_and_exists(mock: RunningMock) -> None:
    sid, token = await _account(mock, lifecycle={"mode": "immediate"})
    async with _client(mock, sid, token) as client:
        service = await client.create_service("calls")
        async with httpx.AsyncClient(base_url=mock.base_url) as control:
            await control.patch(f"/__mock__/accounts/{sid}/config", json={"faults": {"reset_after_commit": 1.0}})
        with pytest.raises(OutcomeUnknown) as caught:
            await client.create_transcript(service.sid, CHANNEL, customer_key="lost-1")
        assert caught.value.customer_key == "lost-1"
        assert "Channel" not in caught.value.params  # may hold a pre-signed URL: never carried around
        async with httpx.AsyncClient(base_url=mock.base_url) as control:
            await control.patch(f"/__mock__/accounts/{sid}/config", json={"faults": None})
        found = [t async for t in client.list_transcripts(service_sid=service.sid) if t.customer_key == "lost-1"]
        assert len(found) == 1  # created exactly once, and findable for reconciliation


async def test_twilio_errors_map_to_the_exception_tree(mock: RunningMock) -> None:
    sid, token = await _account(mock)
    async with _client(mock, sid, token) as client:
        with pytest.raises(NotFound) as missing:
            await client.fetch_transcript("GT" + "0" * 32)
        assert missing.value.code == 20404
        service = await client.create_service("calls")
        with pytest.raises(BadRequest) as bad:
            await client.create_transcript(service.sid, {"media_properties": {"media_url": "ftp://x/y.wav"}})
        assert bad.value.code == 95005  # Twilio's "Invalid media url"
        assert "media url" in bad.value.message
    async with _client(mock, sid, "f" * 32) as wrong:
        with pytest.raises(Unauthorized) as denied:
            await wrong.fetch_service(service.sid)
        assert denied.value.code == 20003


async def test_a_restricted_api_key_is_refused_outside_its_permissions(mock: RunningMock) -> None:
    sid, _ = await _account(mock, lifecycle={"mode": "immediate"})
    async with httpx.AsyncClient(base_url=mock.base_url) as control:
        permissions = ["/twilio/voice/intelligence.services/*", "/twilio/voice/intelligence.transcripts/create"]
        key = (await control.post(f"/__mock__/accounts/{sid}/keys", json={"permissions": permissions})).json()
    async with IntelligenceClient(sid, api_key=key["sid"], api_secret=key["secret"], base_url=mock.base_url) as client:
        service = await client.create_service("calls")
        transcript = await client.create_transcript(service.sid, CHANNEL)
        with pytest.raises(Unauthorized) as caught:
            await client.fetch_media(transcript.sid)
        assert caught.value.code == 70051


async def test_lists_follow_next_page_url_across_pages(mock: RunningMock) -> None:
    sid, token = await _account(mock, lifecycle={"mode": "immediate"})
    async with _client(mock, sid, token) as client:
        service = await client.create_service("calls")
        made = {(await client.create_transcript(service.sid, CHANNEL, customer_key=f"k{i}")).sid for i in range(7)}
        listed = [t.sid async for t in client.list_transcripts(service_sid=service.sid, page_size=3)]
        assert sorted(listed) == sorted(made)
        sentences = [s async for s in client.list_sentences(listed[0], page_size=2, word_timestamps=True)]
        assert len(sentences) >= 4
        assert all(s.words for s in sentences)


async def test_no_secret_reaches_logs_or_reprs(mock: RunningMock, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    sid, token = await _account(mock, lifecycle={"mode": "immediate"})
    async with _client(mock, sid, token) as client:
        service = await client.create_service("calls")
        await client.create_transcript(service.sid, CHANNEL)
        with pytest.raises(NotFound) as caught:
            await client.fetch_transcript("GT" + "1" * 32)
        shown = " ".join([caplog.text, repr(client), repr(client.credentials), str(caught.value), repr(caught.value)])
    assert token not in shown
    assert "Authorization" not in caplog.text
