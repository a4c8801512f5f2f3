"""IntelligenceClient through respx: request shape, error mapping, retries, OutcomeUnknown, paging, secrets."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from harness import (
    AdaptiveLimiter,
    BadRequest,
    Conflict,
    Forbidden,
    IntelligenceClient,
    NotFound,
    OutcomeUnknown,
    RateLimited,
    RetryBudget,
    RetryBudgetExhausted,
    RetryEvent,
    RetryPolicy,
    ServerError,
    Transcript,
    TransportError,
    TwilioApiError,
    Unauthorized,
)
from tests.harness.sim import ACCOUNT_SID, AUTH_TOKEN, SERVICE_SID

BASE = "http://mock.test"
TWILIO = "https://intelligence.twilio.com"
GT = "GT" + "c" * 32


@dataclass
class Harness:
    router: respx.Router
    client: IntelligenceClient
    waits: list[float] = field(default_factory=list)
    events: list[RetryEvent] = field(default_factory=list)


@pytest.fixture
def h() -> Harness:
    router = respx.Router(base_url=BASE, assert_all_mocked=True)
    waits: list[float] = []
    events: list[RetryEvent] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    client = IntelligenceClient(
        ACCOUNT_SID, AUTH_TOKEN, base_url=BASE, transport=httpx.MockTransport(router.async_handler),
        limiter=AdaptiveLimiter(sleep=sleep), retry=RetryPolicy(max_attempts=4, on_retry=events.append),
        sleep=sleep,
    )  # fmt: skip
    return Harness(router, client, waits, events)


def _transcript(sid: str = GT, **extra: object) -> dict[str, object]:
    return {
        "sid": sid,
        "service_sid": SERVICE_SID,
        "status": "queued",
        "url": f"{TWILIO}/v2/Transcripts/{sid}",
        **extra,
    }


def _error(status: int, code: int, message: str = "nope") -> httpx.Response:
    more = f"https://www.twilio.com/docs/errors/{code}"
    return httpx.Response(status, json={"code": code, "message": message, "more_info": more, "status": status})


async def test_create_transcript_sends_twilios_form_and_returns_a_model(h: Harness) -> None:
    """POST /v2/Transcripts, form-encoded, Channel as JSON, Basic auth; unknown response fields are kept."""
    route = h.router.post("/v2/Transcripts").respond(202, json=_transcript(customer_key="k1", brand_new_field=7))
    channel = {"media_properties": {"media_url": "https://media.example/a.wav"}}
    t = await h.client.create_transcript(
        SERVICE_SID, channel, customer_key="k1", media_start_time="2024-01-01T00:00:00Z"
    )

    request = route.calls.last.request
    form = parse_qs(request.content.decode())
    assert form == {
        "ServiceSid": [SERVICE_SID], "Channel": [json.dumps(channel)], "CustomerKey": ["k1"],
        "MediaStartTime": ["2024-01-01T00:00:00Z"],
    }  # fmt: skip
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.headers["Authorization"] == httpx.BasicAuth(ACCOUNT_SID, AUTH_TOKEN)._auth_header
    assert isinstance(t, Transcript)
    assert (t.sid, t.customer_key, t.model_extra) == (GT, "k1", {"brand_new_field": 7})


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (400, 20001, BadRequest),
        (401, 20003, Unauthorized),
        (401, 70051, Unauthorized),
        (403, 20403, Forbidden),
        (404, 20404, NotFound),
        (409, 20409, Conflict),
        (412, 20412, Conflict),
    ],
)
async def test_json_error_bodies_map_to_the_tree(h: Harness, status: int, code: int, cls: type[TwilioApiError]) -> None:
    """A Twilio error body becomes the exception for its status, carrying status, code, message and more_info."""
    route = h.router.get(f"/v2/Transcripts/{GT}").mock(return_value=_error(status, code, "it failed"))
    with pytest.raises(cls) as caught:
        await h.client.fetch_transcript(GT)

    error = caught.value
    assert (error.status, error.code, error.message) == (status, code, "it failed")
    assert error.more_info == f"https://www.twilio.com/docs/errors/{code}"
    assert route.call_count == 1  # client errors are not retried


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(b"<html><body>502 Bad Gateway</body></html>", "non-JSON error body: <html>", id="html"),
        pytest.param(b"", "empty error body", id="empty"),
        pytest.param(b'["not", "an", "object"]', "non-JSON error body", id="json-array"),
    ],
)
async def test_non_json_error_bodies_still_give_a_clear_error(h: Harness, body: bytes, expected: str) -> None:
    """A proxy's HTML page or an empty body still becomes the error for its status, with the body's start."""
    h.router.get(f"/v2/Transcripts/{GT}").respond(502, content=body, headers={"Content-Type": "text/html"})
    with pytest.raises(ServerError) as caught:
        await h.client.fetch_transcript(GT)

    assert caught.value.status == 502
    assert caught.value.code is None
    assert expected in caught.value.message
    assert len(h.events) == 3  # an idempotent GET: retried up to the attempt budget


async def test_429_is_retried_and_retry_after_honoured(h: Harness) -> None:
    """A 429 (not processed) is retried even for a create; a Retry-After sets the minimum wait."""
    route = h.router.post("/v2/Transcripts")
    route.side_effect = [
        httpx.Response(429, json={"code": 20429, "message": "Too many requests"}, headers={"Retry-After": "3"}),
        httpx.Response(202, json=_transcript()),
    ]
    t = await h.client.create_transcript(SERVICE_SID, "{}")

    assert t.sid == GT
    assert route.call_count == 2
    assert h.waits[0] >= 3.0  # the retry waits at least Retry-After (the limiter pause overlaps it)
    assert [(e.attempt, e.reason, e.method, e.path) for e in h.events] == [
        (1, "RateLimited", "POST", "/v2/Transcripts")
    ]
    assert h.client.metrics()["rejected_429"] == 1


async def test_429_until_the_attempts_run_out(h: Harness) -> None:
    """After max_attempts refusals the last RateLimited is raised, with its Retry-After."""
    h.router.post("/v2/Transcripts").respond(429, json={"code": 20429, "message": "busy"}, headers={"Retry-After": "1"})
    with pytest.raises(RateLimited) as caught:
        await h.client.create_transcript(SERVICE_SID, "{}")

    assert caught.value.retry_after == 1.0
    assert caught.value.code == 20429
    assert len(h.events) == 3


@pytest.mark.parametrize(
    "failure",
    [
        pytest.param(httpx.ReadTimeout("timed out"), id="timeout"),
        pytest.param(httpx.ReadError("connection reset by peer"), id="reset"),
        pytest.param(httpx.Response(500, json={"code": 20500, "message": "Internal"}), id="5xx"),
    ],
)
async def test_create_with_unknown_outcome_is_not_resent(h: Harness, failure: Exception | httpx.Response) -> None:
    """Sent, then no usable answer: OutcomeUnknown with what is needed to reconcile, and no second POST."""
    route = h.router.post("/v2/Transcripts")
    if isinstance(failure, httpx.Response):
        route.mock(return_value=failure)
    else:
        route.mock(side_effect=failure)
    channel = {"media_properties": {"media_url": "https://bucket.example/a.wav?X-Amz-Signature=abc"}}
    with pytest.raises(OutcomeUnknown) as caught:
        await h.client.create_transcript(SERVICE_SID, channel, customer_key="row-17")

    error = caught.value
    assert route.call_count == 1
    assert (error.method, error.url, error.customer_key) == ("POST", f"{BASE}/v2/Transcripts", "row-17")
    assert error.params == {"ServiceSid": SERVICE_SID, "CustomerKey": "row-17"}  # no pre-signed URL kept
    assert "CustomerKey" in str(error)


async def test_create_that_never_connected_is_retried(h: Harness) -> None:
    """Connection refused means nothing was sent: safe to retry even a create."""
    route = h.router.post("/v2/Transcripts")
    route.side_effect = [httpx.ConnectError("refused"), httpx.Response(202, json=_transcript())]

    assert (await h.client.create_transcript(SERVICE_SID, "{}")).sid == GT
    assert route.call_count == 2


async def test_idempotent_requests_retry_5xx_and_resets(h: Harness) -> None:
    """GETs are retried on 5xx and on lost connections."""
    route = h.router.get(f"/v2/Transcripts/{GT}")
    route.side_effect = [
        httpx.Response(503, json={"code": 20503, "message": "unavailable"}),
        httpx.ReadError("reset"),
        httpx.Response(200, json=_transcript(status="completed")),
    ]

    assert (await h.client.fetch_transcript(GT)).is_final
    assert route.call_count == 3
    assert [e.reason for e in h.events] == ["ServerError", "TransportError"]


async def test_lost_idempotent_request_raises_transport_error(h: Harness) -> None:
    """A GET that keeps losing its connection ends in TransportError, not OutcomeUnknown."""
    h.router.get(f"/v2/Transcripts/{GT}").mock(side_effect=httpx.ReadError("reset"))
    with pytest.raises(TransportError):
        await h.client.fetch_transcript(GT)


async def test_retry_budget_stops_hammering_a_failing_service() -> None:
    """When the budget is spent, requests fail fast with RetryBudgetExhausted carrying the last error."""
    router = respx.Router(base_url=BASE)
    route = router.get(f"/v2/Transcripts/{GT}").respond(500, json={"code": 20500, "message": "down"})
    client = IntelligenceClient(
        ACCOUNT_SID, AUTH_TOKEN, base_url=BASE, transport=httpx.MockTransport(router.async_handler),
        retry=RetryPolicy.no_wait(max_attempts=10), retry_budget=RetryBudget(capacity=10, retry_cost=5),
    )  # fmt: skip
    with pytest.raises(RetryBudgetExhausted) as caught:
        await client.fetch_transcript(GT)

    assert isinstance(caught.value.last_error, ServerError)
    assert route.call_count == 3  # two retries paid for, the third refused


def _page(key: str, records: list[dict[str, object]], next_url: str | None) -> dict[str, object]:
    return {key: records, "meta": {"key": key, "page_size": len(records), "next_page_url": next_url}}


async def test_lists_follow_next_page_url(h: Harness) -> None:
    """Pages are followed through meta.next_page_url (Twilio's canonical host re-pointed at our base URL)."""
    page2 = f"{TWILIO}/v2/Transcripts?ServiceSid={SERVICE_SID}&PageSize=2&Page=1&PageToken=PAxyz"
    route = h.router.get("/v2/Transcripts")
    route.side_effect = [
        httpx.Response(
            200, json=_page("transcripts", [_transcript("GT" + "1" * 32), _transcript("GT" + "2" * 32)], page2)
        ),
        httpx.Response(200, json=_page("transcripts", [_transcript("GT" + "3" * 32)], None)),
    ]
    sids = [t.sid async for t in h.client.list_transcripts(service_sid=SERVICE_SID, status="completed", page_size=2)]

    assert sids == ["GT" + "1" * 32, "GT" + "2" * 32, "GT" + "3" * 32]
    first, second = (call.request.url for call in route.calls)
    assert dict(first.params) == {"ServiceSid": SERVICE_SID, "Status": "completed", "PageSize": "2"}
    assert str(second) == page2.replace(TWILIO, BASE)  # verbatim, not re-filtered


async def test_sentences_send_redacted_and_word_timestamps(h: Harness) -> None:
    """Booleans go on the wire as true/false; sentence records become models."""
    route = h.router.get(f"/v2/Transcripts/{GT}/Sentences").respond(
        200, json=_page("sentences", [{"media_channel": 1, "sentence_index": 0, "transcript": "hi", "words": []}], None)
    )
    sentences = [s async for s in h.client.list_sentences(GT, redacted=False, word_timestamps=True)]

    assert dict(route.calls.last.request.url.params) == {"Redacted": "false", "WordTimestamps": "true"}
    assert [(s.media_channel, s.transcript) for s in sentences] == [(1, "hi")]


async def test_a_failing_page_raises(h: Harness) -> None:
    """An error on a later page surfaces as the mapped error (not a silent end of the list)."""
    page2 = f"{TWILIO}/v2/Operators?Page=1"
    route = h.router.get("/v2/Operators")
    route.side_effect = [
        httpx.Response(200, json=_page("operators", [{"sid": "LY" + "1" * 32}], page2)),
        _error(404, 20404),
    ]
    seen: list[str] = []

    async def consume() -> None:
        async for op in h.client.list_operators():
            seen.append(op.sid)

    with pytest.raises(NotFound):
        await consume()
    assert seen == ["LY" + "1" * 32]


async def test_services_and_media(h: Harness) -> None:
    """Service create/update use Twilio's field names; update sends If-Match; media fetch reads media_url."""
    ga = SERVICE_SID
    create = h.router.post("/v2/Services").respond(
        201, json={"sid": ga, "unique_name": "u", "webhook_url": "https://w"}
    )
    update = h.router.post(f"/v2/Services/{ga}").respond(200, json={"sid": ga, "friendly_name": "F", "version": 2})
    h.router.get(f"/v2/Transcripts/{GT}/Media").respond(200, json={"sid": GT, "media_url": "https://m/x.wav"})
    service = await h.client.create_service("u", webhook_url="https://w", auto_transcribe=False)
    updated = await h.client.update_service(ga, if_match="1", friendly_name="F")
    media = await h.client.fetch_media(GT)

    assert parse_qs(create.calls.last.request.content.decode()) == {
        "UniqueName": ["u"], "WebhookUrl": ["https://w"], "AutoTranscribe": ["false"],
    }  # fmt: skip
    assert update.calls.last.request.headers["If-Match"] == "1"
    assert (service.sid, updated.version, media.media_url) == (ga, 2, "https://m/x.wav")


async def test_no_secret_reaches_logs_or_errors(h: Harness, caplog: pytest.LogCaptureFixture) -> None:
    """Retries are logged, errors are raised — neither carries the token or the Authorization header."""
    caplog.set_level(logging.DEBUG)
    h.router.get(f"/v2/Transcripts/{GT}").respond(503, text="Service Unavailable")
    with pytest.raises(ServerError) as caught:
        await h.client.fetch_transcript(GT)

    authorization = httpx.BasicAuth(ACCOUNT_SID, AUTH_TOKEN)._auth_header
    shown = caplog.text + repr(caught.value) + str(caught.value) + repr(h.client) + str(h.client.metrics())
    assert "retry" in caplog.text
    assert AUTH_TOKEN not in shown
    assert authorization.split()[1] not in shown
