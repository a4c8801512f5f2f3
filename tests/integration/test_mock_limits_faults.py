"""Load-test behaviour over real HTTP: the concurrency limit, seeded faults, latency, and completion webhooks.

All bounded: a handful of requests, latencies of a few hundred milliseconds, every wait with a deadline.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import twilio  # noqa: F401 - a test dependency (group "tests"): if missing, fail loudly, never skip
from aiohttp import web
from aiohttp.test_utils import TestServer

import mock_server
from mock_server import MockConfig
from tests.mock_server.support import Creds, basic, channel_json


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as s:
        yield s


async def _account(session: aiohttp.ClientSession, base: str, **config: Any) -> Creds:
    async with session.post(f"{base}/__mock__/accounts", json=config) as r:
        assert r.status == 201
        body = await r.json()
    return Creds(body["account_sid"], body["auth_token"])


async def _service(session: aiohttp.ClientSession, base: str, creds: Creds, **fields: str) -> str:
    async with session.post(f"{base}/v2/Services", data={"UniqueName": "s", **fields}, headers=creds.headers) as r:
        assert r.status == 201, await r.text()
        return str((await r.json())["sid"])


async def _create(session: aiohttp.ClientSession, base: str, creds: Creds, svc: str, key: str) -> tuple[int, Any]:
    form = {"ServiceSid": svc, "Channel": channel_json(), "CustomerKey": key}
    async with session.post(f"{base}/v2/Transcripts", data=form, headers=creds.headers) as r:
        return r.status, await r.json()


async def _stats(session: aiohttp.ClientSession, base: str, creds: Creds) -> dict[str, Any]:
    async with session.get(f"{base}/__mock__/accounts/{creds.sid}/stats") as r:
        result: dict[str, Any] = await r.json()
        return result


async def test_concurrency_limit_refuses_exactly_the_excess(session: aiohttp.ClientSession) -> None:
    limit, excess = 3, 4
    async with mock_server.serve(MockConfig.from_json({"latency_ms": 300}), seed=1) as mock:
        creds = await _account(session, mock.base_url, concurrency_limit=limit)
        svc = await _service(session, mock.base_url, creds)
        results = await asyncio.gather(
            *(_create(session, mock.base_url, creds, svc, f"k{i}") for i in range(limit + excess))
        )
        refused = [body for status, body in results if status == 429]
        accepted = [body for status, body in results if status == 202]
        assert (len(accepted), len(refused)) == (limit, excess)
        assert all(body["code"] == 20429 for body in refused)
        stats = await _stats(session, mock.base_url, creds)
        assert stats["transcripts_created"] == limit  # the refused ones were not processed
        assert sorted(stats["transcripts_by_customer_key"]) == sorted(b["customer_key"] for b in accepted)
        assert stats["rejected_429"] == excess
        assert stats["peak_in_flight"] == limit
        assert stats["in_flight"] == 0
        assert stats["responses_by_status"]["429"] == excess


async def test_reset_after_commit_drops_the_answer_but_the_transcript_exists(session: aiohttp.ClientSession) -> None:
    async with mock_server.serve(seed=2) as mock:
        creds = await _account(session, mock.base_url)
        svc = await _service(session, mock.base_url, creds)
        patch = {"faults": {"reset_after_commit": 1.0}}
        async with session.patch(f"{mock.base_url}/__mock__/accounts/{creds.sid}/config", json=patch) as r:
            assert r.status == 200
        with pytest.raises(aiohttp.ClientError):
            await _create(session, mock.base_url, creds, svc, "lost-answer")
        stats = await _stats(session, mock.base_url, creds)
        assert stats["transcripts_by_customer_key"] == {"lost-answer": 1}
        assert stats["connections_dropped"] == 1
        async with session.get(f"{mock.base_url}/v2/Transcripts", headers=creds.headers) as r:
            listed = (await r.json())["transcripts"]  # reads are not affected: reset_after_commit is for writes
        assert [t["customer_key"] for t in listed] == ["lost-answer"]


async def test_reset_before_drops_the_connection_and_creates_nothing(session: aiohttp.ClientSession) -> None:
    async with mock_server.serve(seed=3) as mock:
        creds = await _account(session, mock.base_url)
        svc = await _service(session, mock.base_url, creds)
        patch = {"faults": {"reset_before": 1.0}}
        async with session.patch(f"{mock.base_url}/__mock__/accounts/{creds.sid}/config", json=patch) as r:
            assert r.status == 200
        for i in range(3):
            with pytest.raises(aiohttp.ClientError):
                await _create(session, mock.base_url, creds, svc, f"never-{i}")
        stats = await _stats(session, mock.base_url, creds)
        assert stats["transcripts_created"] == 0
        assert stats["in_flight"] == 0  # dropped requests released their slot
        assert mock.state.unexpected_errors == 0


async def test_error_5xx_is_twilio_json_and_processes_nothing(session: aiohttp.ClientSession) -> None:
    async with mock_server.serve(MockConfig.from_json({"faults": {"error_5xx": 1.0}}), seed=4) as mock:
        creds = await _account(session, mock.base_url)
        async with session.post(f"{mock.base_url}/v2/Services", data={"UniqueName": "x"}, headers=creds.headers) as r:
            assert r.status == 500
            body = await r.json()
        assert (body["code"], body["status"]) == (20500, 500)
        assert (await _stats(session, mock.base_url, creds))["services"] == 0


async def test_faults_are_deterministic_by_seed(session: aiohttp.ClientSession) -> None:
    config = MockConfig.from_json({"faults": {"error_5xx": 0.5}})

    async def run() -> list[int]:
        async with mock_server.serve(config, seed=9) as mock:
            creds = await _account(session, mock.base_url)
            statuses = []
            for _ in range(12):
                async with session.get(f"{mock.base_url}/v2/Services", headers=creds.headers) as r:
                    statuses.append(r.status)
            return statuses

    first, second = await run(), await run()
    assert first == second
    assert set(first) == {200, 500}


# --- webhooks -------------------------------------------------------------------------------------------------------


async def test_completion_webhook_is_signed_and_carries_the_documented_fields(session: aiohttp.ClientSession) -> None:
    from twilio.request_validator import RequestValidator

    received: list[tuple[str, dict[str, str], str]] = []
    arrived = asyncio.Event()

    async def hook(request: web.Request) -> web.Response:
        received.append((str(request.url), dict(request.headers), await request.text()))
        arrived.set()
        return web.Response(status=204)

    receiver = web.Application()
    receiver.router.add_post("/hook", hook)
    async with TestServer(receiver, host="127.0.0.1") as hook_server:
        config = MockConfig.from_json(
            {"lifecycle": {"mode": "after_seconds", "seconds": 0.1}, "media": {"fetch": False}}
        )
        async with mock_server.serve(config, seed=5) as mock:
            creds = await _account(session, mock.base_url)
            hook_url = str(hook_server.make_url("/hook"))
            svc = await _service(session, mock.base_url, creds, WebhookUrl=hook_url, WebhookHttpMethod="POST")
            status, created = await _create(session, mock.base_url, creds, svc, "hooked")
            assert status == 202
            await asyncio.wait_for(arrived.wait(), 10)
            await mock.state.webhooks.drain(5)
            stats = await _stats(session, mock.base_url, creds)

    url, headers, raw = received[0]
    assert headers["Content-Type"].startswith("application/json")
    assert "bodySHA256=" in url
    validator = RequestValidator(creds.token)
    assert validator.validate(url, raw, headers["X-Twilio-Signature"])
    assert not validator.validate(url, raw.replace("hooked", "hacked"), headers["X-Twilio-Signature"])
    body = json.loads(raw)
    assert body["account_sid"] == creds.sid
    assert body["service_sid"] == svc
    assert body["transcript_sid"] == created["sid"]
    assert body["customer_key"] == "hooked"
    assert body["event_type"] == "voice_intelligence_transcript_available"
    assert stats["webhooks_sent"] >= 1
    assert stats["webhooks_failed"] == 0
    assert stats["transcripts_completed"] == 1


async def test_restricted_key_over_real_http(session: aiohttp.ClientSession) -> None:
    async with mock_server.serve(seed=6) as mock:
        base = mock.base_url
        perms = ["/twilio/voice/intelligence.services/*"]
        async with session.post(f"{base}/__mock__/accounts/{mock.account_sid}/keys", json={"permissions": perms}) as r:
            key = await r.json()
        headers = basic(key["sid"], key["secret"])
        async with session.post(f"{base}/v2/Services", data={"UniqueName": "k"}, headers=headers) as r:
            assert r.status == 201
        async with session.get(f"{base}/v2/Transcripts/GT{'0' * 32}/Media", headers=headers) as r:
            assert r.status == 401
            assert (await r.json())["code"] == 70051
