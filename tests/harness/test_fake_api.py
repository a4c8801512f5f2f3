"""FakeIntelligence under the real IntelligenceClient, on the virtual-time loop: shapes, lifecycle, paging, refusals."""

from __future__ import annotations

import asyncio
import base64
import json
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import urlencode

import httpx
import pytest

from harness import (
    BadRequest,
    Conflict,
    IntelligenceClient,
    NotFound,
    OutcomeUnknown,
    RetryPolicy,
    ServerError,
    Transcript,
    TransportError,
    Unauthorized,
)
from tests.harness.fake_api import FakeIntelligence
from tests.harness.sim import ACCOUNT_SID, AUTH_TOKEN, SERVICE_SID, run_virtual
from tests.spec_schema import validate_response

T = TypeVar("T")
TWILIO = "https://intelligence.twilio.com"
EPOCH = 1_700_000_000.0  # Unix time of virtual time 0: dates are reproducible
CHANNEL = {"media_properties": {"media_url": "https://media.example.com/call.wav"}}


def fake(**kwargs: Any) -> FakeIntelligence:
    return FakeIntelligence(ACCOUNT_SID, AUTH_TOKEN, service_sids=[SERVICE_SID], epoch=EPOCH, **kwargs)


def run(
    api: FakeIntelligence,
    body: Callable[[IntelligenceClient], Awaitable[T]],
    *,
    base_url: str = TWILIO,
    auth_token: str = AUTH_TOKEN,
    retry: RetryPolicy | None = None,
) -> T:
    """`body(client)` on a fresh virtual-time loop, the real client talking to `api`."""

    async def main() -> T:
        async with IntelligenceClient(
            ACCOUNT_SID, auth_token, base_url=base_url, transport=api,
            retry=retry or RetryPolicy(max_attempts=3), rng=random.Random(7),
        ) as client:  # fmt: skip
            return await body(client)

    return run_virtual(main)


def now() -> float:
    return asyncio.get_running_loop().time()


# --- lifecycle -------------------------------------------------------------------------------------------------


def test_lifecycle_completes_on_the_loops_clock_without_real_sleeping() -> None:
    api = fake(complete_after_s=60.0)

    async def body(client: IntelligenceClient) -> tuple[list[str], float, Transcript]:
        created = await client.create_transcript(SERVICE_SID, CHANNEL, customer_key="k1")
        seen = [created.status]
        t = created
        while not t.is_final:
            await asyncio.sleep(5.0)
            t = await client.fetch_transcript(created.sid)
            seen.append(t.status)
        return seen, now(), t

    started = time.perf_counter()
    seen, finished_at, t = run(api, body)
    assert time.perf_counter() - started < 1.0  # 60 virtual seconds, no real waiting
    assert finished_at >= 60.0
    assert (seen[0], seen[-1]) == ("queued", "completed")
    assert "in-progress" in seen
    assert seen == sorted(seen, key=["queued", "in-progress", "completed"].index)  # never goes back
    assert (t.customer_key, t.channel, t.service_sid) == ("k1", CHANNEL, SERVICE_SID)
    assert t.date_created == "2023-11-14T22:13:20Z"  # EPOCH + 0 virtual seconds
    assert t.duration
    assert api.creates == 1
    assert api.transcripts_by_customer_key == {"k1": 1}
    assert api.requests[("POST", "/v2/Transcripts")] == 1
    assert api.requests[("GET", "/v2/Transcripts/{Sid}")] == len(seen) - 1


def test_failure_predicate_ends_chosen_transcripts_failed_without_results() -> None:
    api = fake(complete_after_s=1.0, fail=lambda key: key == "bad")

    async def body(client: IntelligenceClient) -> tuple[str, str, int]:
        good = await client.create_transcript(SERVICE_SID, CHANNEL, customer_key="good")
        bad = await client.create_transcript(SERVICE_SID, CHANNEL, customer_key="bad")
        await asyncio.sleep(1.0)
        sentences = [s async for s in client.list_sentences(bad.sid)]
        return (
            (await client.fetch_transcript(good.sid)).status,
            (await client.fetch_transcript(bad.sid)).status,
            len(sentences),
        )

    assert run(api, body) == ("completed", "failed", 0)


# --- lists -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("base_url", [TWILIO, "http://fake.test:8080"])
def test_list_transcripts_follows_next_page_url_across_pages(base_url: str) -> None:
    api = fake()

    async def body(client: IntelligenceClient) -> list[str]:
        for i in range(7):
            await client.create_transcript(SERVICE_SID, CHANNEL, customer_key=f"k{i}")
        return [t.customer_key or "" async for t in client.list_transcripts(service_sid=SERVICE_SID, page_size=3)]

    assert run(api, body, base_url=base_url) == [f"k{i}" for i in reversed(range(7))]  # newest first
    assert api.requests[("GET", "/v2/Transcripts")] == 3  # 3 + 3 + 1


def test_paging_neither_repeats_nor_skips_while_transcripts_are_created() -> None:
    api = fake()

    async def body(client: IntelligenceClient) -> list[str]:
        for i in range(6):
            await client.create_transcript(SERVICE_SID, CHANNEL, customer_key=f"old{i}")
        keys = []
        async for t in client.list_transcripts(page_size=2):
            keys.append(t.customer_key or "")
            await client.create_transcript(SERVICE_SID, CHANNEL, customer_key=f"new{len(keys)}")
        return keys

    assert run(api, body) == [f"old{i}" for i in reversed(range(6))]


def test_after_date_created_filters_by_creation_time() -> None:
    api = fake()

    async def body(client: IntelligenceClient) -> list[str]:
        await client.create_transcript(SERVICE_SID, CHANNEL, customer_key="early")
        await asyncio.sleep(10.0)
        await client.create_transcript(SERVICE_SID, CHANNEL, customer_key="late")
        after = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(EPOCH + 5))
        listed = client.list_transcripts(service_sid=SERVICE_SID, after_date_created=after, page_size=1000)
        return [t.customer_key or "" async for t in listed]

    assert run(api, body) == ["late"]


def test_sentences_operator_results_and_media_of_a_completed_transcript() -> None:
    api = fake(complete_after_s=2.0, sentences_per_transcript=5)

    async def body(client: IntelligenceClient) -> tuple[list[Any], list[Any], Any, list[Any]]:
        t = await client.create_transcript(SERVICE_SID, CHANNEL, customer_key="k")
        early = [s async for s in client.list_sentences(t.sid)]
        await asyncio.sleep(2.0)
        sentences = [s async for s in client.list_sentences(t.sid, page_size=2, word_timestamps=True)]
        results = [r async for r in client.list_operator_results(t.sid)]
        return early, sentences, await client.fetch_media(t.sid), results

    early, sentences, media, results = run(api, body)
    assert early == []  # nothing before completion
    assert [s.sentence_index for s in sentences] == [0, 1, 2, 3, 4]
    assert {s.media_channel for s in sentences} == {1, 2}
    assert all(s.words for s in sentences)
    assert api.requests[("GET", "/v2/Transcripts/{Sid}/Sentences")] == 1 + 3  # 2 + 2 + 1 with page_size=2
    assert [r.operator_type for r in results] == ["text-generation"]
    assert (media.media_url or "").startswith("https://")


# --- services --------------------------------------------------------------------------------------------------


def test_service_create_fetch_and_webhook_update() -> None:
    api = fake()

    async def body(client: IntelligenceClient) -> None:
        created = await client.create_service("batch")
        assert (created.unique_name, created.version) == ("batch", 1)
        updated = await client.update_service(
            SERVICE_SID, webhook_url="https://hooks.example.com/t", webhook_http_method="POST"
        )
        assert updated.version == 2
        fetched = await client.fetch_service(SERVICE_SID)
        assert (fetched.webhook_url, fetched.webhook_http_method) == ("https://hooks.example.com/t", "POST")
        with pytest.raises(BadRequest):
            await client.update_service(SERVICE_SID, webhook_http_method="PUT")
        with pytest.raises(Conflict):
            await client.update_service(SERVICE_SID, if_match='"1"', webhook_url="")
        with pytest.raises(NotFound) as missing:
            await client.fetch_service("GA" + "0" * 32)
        assert missing.value.code == 20404

    run(api, body)


# --- refusals and faults ---------------------------------------------------------------------------------------


def test_bad_credentials_and_auth_switch_answer_20003() -> None:
    api = fake()

    async def body(client: IntelligenceClient) -> None:
        with pytest.raises(Unauthorized) as refused:
            await client.fetch_service(SERVICE_SID)
        assert (refused.value.status, refused.value.code, refused.value.message) == (401, 20003, "Authenticate")

    run(api, body, auth_token="wrong")
    run(api, lambda client: client.fetch_service(SERVICE_SID))  # right token: fine
    api.auth_ok = False
    run(api, body)
    assert api.responses_by_status[401] == 2


def test_missing_create_permission_is_70051_and_comes_before_validation() -> None:
    api = fake(permissions={"/twilio/voice/intelligence.transcripts/read", "/twilio/voice/intelligence.services/*"})

    async def body(client: IntelligenceClient) -> None:
        await client.fetch_service(SERVICE_SID)  # the wildcard covers services/read
        with pytest.raises(Unauthorized) as refused:
            await client.create_transcript(SERVICE_SID, "")  # no Channel: still 401, not 400
        assert refused.value.code == 70051
        assert "required permission /twilio/voice/intelligence.transcripts/create is missing" in refused.value.message
        api.permissions = None  # switched at run time
        with pytest.raises(BadRequest) as invalid:
            await client.create_transcript(SERVICE_SID, "")
        assert (invalid.value.status, invalid.value.code) == (400, 20001)
        with pytest.raises(BadRequest, match="95006"):
            await client.create_transcript(SERVICE_SID, {"media_properties": {}})

    run(api, body)
    assert api.creates == 0


def test_unknown_service_and_transcript_are_404() -> None:
    api = fake()

    async def body(client: IntelligenceClient) -> None:
        with pytest.raises(NotFound) as unknown:
            await client.create_transcript("GA" + "f" * 32, CHANNEL, customer_key="k")
        assert unknown.value.code == 20404
        with pytest.raises(NotFound):
            await client.fetch_transcript("GT" + "f" * 32)

    run(api, body)
    assert api.creates == 0


def test_unreachable_api_is_a_transport_error_after_retries_then_recovers() -> None:
    api = fake(unreachable=True)

    async def body(client: IntelligenceClient) -> str:
        with pytest.raises(TransportError):
            await client.fetch_service(SERVICE_SID)
        api.unreachable = False
        return (await client.fetch_service(SERVICE_SID)).sid

    assert run(api, body, retry=RetryPolicy(max_attempts=3)) == SERVICE_SID
    assert api.refused_connections == 3


def test_lost_answer_after_commit_is_outcome_unknown_and_reconcilable() -> None:
    api = fake()
    api.lose_answer_after_commit(lambda key: key == "lost")

    async def body(client: IntelligenceClient) -> list[str]:
        await client.create_transcript(SERVICE_SID, CHANNEL, customer_key="kept")
        with pytest.raises(OutcomeUnknown) as unknown:
            await client.create_transcript(SERVICE_SID, CHANNEL, customer_key="lost")
        assert unknown.value.customer_key == "lost"
        return [t.customer_key or "" async for t in client.list_transcripts(service_sid=SERVICE_SID)]

    assert run(api, body) == ["lost", "kept"]  # it exists: adopt it, don't send again
    assert api.transcripts_by_customer_key == {"kept": 1, "lost": 1}
    assert api.lost_answers == 1


def test_injected_5xx_are_retried_for_reads_unknown_for_creates_and_seeded() -> None:
    api = fake(error_5xx_rate=1.0)

    async def body(client: IntelligenceClient) -> None:
        with pytest.raises(ServerError):
            await client.fetch_service(SERVICE_SID)
        with pytest.raises(OutcomeUnknown):  # a 5xx to a create says nothing about the outcome, for the client
            await client.create_transcript(SERVICE_SID, CHANNEL, customer_key="k")

    run(api, body, retry=RetryPolicy(max_attempts=3))
    assert api.responses_by_status == {500: 4}
    assert api.creates == 0  # refused before being processed

    def flaky(seed: int) -> dict[int, int]:
        api = fake(error_5xx_rate=0.5, seed=seed)

        async def body(client: IntelligenceClient) -> None:
            for _ in range(10):
                await client.fetch_service(SERVICE_SID)  # every read gets through in the end

        run(api, body, retry=RetryPolicy(max_attempts=20))
        return dict(api.responses_by_status)

    first = flaky(3)
    assert first[200] == 10
    assert first[500] > 0
    assert flaky(3) == first  # the same seed, the same faults


def test_latency_is_virtual() -> None:
    api = fake(latency_s=0.75)

    async def body(client: IntelligenceClient) -> float:
        start = now()
        await client.fetch_service(SERVICE_SID)
        return now() - start

    started = time.perf_counter()
    assert run(api, body) == pytest.approx(0.75)
    assert time.perf_counter() - started < 1.0


# --- shapes ----------------------------------------------------------------------------------------------------


def _auth() -> str:
    return "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()


async def _send(api: FakeIntelligence, method: str, path: str, data: dict[str, str] | None = None) -> httpx.Response:
    headers = {"Authorization": _auth()}
    if data is None:
        return await api.handle_async_request(httpx.Request(method, TWILIO + path, headers=headers))
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    return await api.handle_async_request(
        httpx.Request(method, TWILIO + path, headers=headers, content=urlencode(data))
    )


def test_every_answer_has_the_shape_twilios_openapi_file_gives(intelligence_spec: dict[str, Any]) -> None:
    api = fake(complete_after_s=0.0)

    async def main() -> list[tuple[str, int, Any]]:
        create = {"ServiceSid": SERVICE_SID, "Channel": json.dumps(CHANNEL), "CustomerKey": "k"}
        created = await _send(api, "POST", "/v2/Transcripts", create)
        sid = created.json()["sid"]
        answers = [
            ("CreateTranscript", created),
            ("FetchTranscript", await _send(api, "GET", f"/v2/Transcripts/{sid}")),
            ("ListTranscript", await _send(api, "GET", "/v2/Transcripts?PageSize=1")),
            ("ListSentence", await _send(api, "GET", f"/v2/Transcripts/{sid}/Sentences?WordTimestamps=true")),
            ("ListOperatorResult", await _send(api, "GET", f"/v2/Transcripts/{sid}/OperatorResults")),
            ("FetchMedia", await _send(api, "GET", f"/v2/Transcripts/{sid}/Media")),
            ("CreateService", await _send(api, "POST", "/v2/Services", {"UniqueName": "u"})),
            ("FetchService", await _send(api, "GET", f"/v2/Services/{SERVICE_SID}")),
            ("UpdateService", await _send(api, "POST", f"/v2/Services/{SERVICE_SID}", {"WebhookUrl": "https://h"})),
        ]
        return [(op, r.status_code, r.json()) for op, r in answers]

    for operation, status, body in run_virtual(main):
        validate_response(intelligence_spec, operation, status, body)


def test_error_bodies_are_twilios() -> None:
    api = fake()

    async def main() -> list[dict[str, Any]]:
        bad = await _send(api, "POST", "/v2/Transcripts", {"ServiceSid": SERVICE_SID})
        missing = await _send(api, "GET", "/v2/Transcripts/GT" + "0" * 32)
        paging = await _send(api, "GET", "/v2/Transcripts?PageToken=nonsense")
        return [bad.json(), missing.json(), paging.json()]

    bodies = run_virtual(main)
    assert [(b["status"], b["code"]) for b in bodies] == [(400, 20001), (404, 20404), (400, 20001)]
    for b in bodies:
        assert set(b) == {"code", "message", "more_info", "status"}
        assert b["more_info"] == f"https://www.twilio.com/docs/errors/{b['code']}"
