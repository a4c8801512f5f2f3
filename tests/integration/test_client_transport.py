"""The lean aiohttp transport over real loopback HTTP: what goes out, what comes back, and what a failure means.

The transport's error mapping decides whether a lost create becomes `OutcomeUnknown` (maybe sent) or a retried
`TransportError` (never sent), so each failure is produced for real by a bare aiohttp server on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
from collections.abc import AsyncIterator

import httpx
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from harness import AiohttpTransport, IntelligenceClient, OutcomeUnknown, RetryPolicy, TransportError
from tests.harness.sim import ACCOUNT_SID, AUTH_TOKEN, SERVICE_SID

TRANSCRIPT = {"sid": "GT" + "d" * 32, "service_sid": SERVICE_SID, "status": "queued"}


async def _echo(request: web.Request) -> web.Response:
    body = await request.read()
    headers = list(request.headers.items())
    return web.json_response(
        {"method": request.method, "path_qs": request.path_qs, "headers": headers, "body": body.decode()}
    )


async def _gzip(request: web.Request) -> web.Response:
    # Compressed by hand: the transport must hand httpx a body that matches the headers it hands it.
    body = gzip.compress(json.dumps(TRANSCRIPT).encode())
    return web.Response(body=body, headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})


async def _hang_up(request: web.Request) -> web.StreamResponse:
    await request.read()
    request.app["hits"].append(request.method)
    assert request.transport is not None
    request.transport.close()  # the request arrived; the answer never will
    await asyncio.sleep(1)
    return web.Response()


async def _slow(request: web.Request) -> web.Response:
    request.app["hits"].append(request.method)
    await asyncio.sleep(3)
    return web.json_response(TRANSCRIPT, status=202)


@pytest.fixture
async def server() -> AsyncIterator[TestServer]:
    app = web.Application()
    app["hits"] = []
    app.router.add_route("*", "/echo", _echo)
    app.router.add_get("/v2/Transcripts/GTgzip", _gzip)
    app.router.add_route("*", "/v2/Transcripts", _hang_up)
    app.router.add_route("*", "/v2/Transcripts/GThangup", _hang_up)
    app.router.add_route("*", "/slow/v2/Transcripts", _slow)
    running = TestServer(app, host="127.0.0.1", port=0)
    await running.start_server()
    try:
        yield running
    finally:
        await running.close()


def _base(server: TestServer) -> str:
    return str(server.make_url("")).rstrip("/")


async def test_request_goes_out_as_given(server: TestServer) -> None:
    """Method, path, query, headers and body pass through unchanged; the answer comes back as an httpx.Response."""
    transport = AiohttpTransport()
    try:
        request = httpx.Request(
            "POST", f"{_base(server)}/echo?A=1&B=x%20y", content=b"k=v&w=1",
            headers={"Authorization": "Basic abc", "Content-Type": "application/x-www-form-urlencoded", "X-Two": "2"},
        )  # fmt: skip
        response = await transport.handle_async_request(request)
        echoed = response.json()
    finally:
        await transport.aclose()

    headers = {k.lower(): v for k, v in echoed["headers"]}
    assert (response.status_code, response.request) == (200, request)
    assert (echoed["method"], echoed["path_qs"], echoed["body"]) == ("POST", "/echo?A=1&B=x%20y", "k=v&w=1")
    assert headers["authorization"] == "Basic abc"
    assert headers["x-two"] == "2"
    assert response.headers["content-type"].startswith("application/json")


async def test_compressed_answers_are_read(server: TestServer) -> None:
    """A gzip-encoded answer (what real APIs send to a client that accepts it) parses."""
    async with IntelligenceClient(ACCOUNT_SID, AUTH_TOKEN, base_url=_base(server)) as client:
        transcript = await client.fetch_transcript("GTgzip")

    assert transcript.sid == TRANSCRIPT["sid"]


async def test_create_whose_connection_drops_after_sending_is_outcome_unknown(server: TestServer) -> None:
    """The server read the create and hung up: OutcomeUnknown, and the create was not sent twice."""
    async with IntelligenceClient(
        ACCOUNT_SID, AUTH_TOKEN, base_url=_base(server), retry=RetryPolicy.no_wait(max_attempts=5)
    ) as client:
        with pytest.raises(OutcomeUnknown) as caught:
            await client.create_transcript(SERVICE_SID, "{}", customer_key="k-9")

    assert caught.value.customer_key == "k-9"
    assert server.app["hits"] == ["POST"]


async def test_get_whose_connection_drops_is_retried(server: TestServer) -> None:
    """An idempotent GET is retried after a dropped connection, up to the attempt budget."""
    async with IntelligenceClient(
        ACCOUNT_SID, AUTH_TOKEN, base_url=_base(server), retry=RetryPolicy.no_wait(max_attempts=3)
    ) as client:
        with pytest.raises(TransportError):
            await client.fetch_transcript("GThangup")

    # aiohttp itself resends an idempotent request once when a connection drops (RFC 9112 §9.3.1): 3 to 6 hits.
    assert 3 <= len(server.app["hits"]) <= 6
    assert set(server.app["hits"]) == {"GET"}


async def test_create_that_times_out_is_outcome_unknown(server: TestServer) -> None:
    """No answer within the timeout after sending: OutcomeUnknown, one POST."""
    async with IntelligenceClient(
        ACCOUNT_SID, AUTH_TOKEN, base_url=f"{_base(server)}/slow", timeout_s=0.3,
        retry=RetryPolicy.no_wait(max_attempts=5),
    ) as client:  # fmt: skip
        with pytest.raises(OutcomeUnknown):
            await client.create_transcript(SERVICE_SID, "{}", customer_key="k-1")

    assert server.app["hits"] == ["POST"]


async def test_waiting_for_a_connection_is_not_mistaken_for_a_lost_answer(server: TestServer) -> None:
    """A timeout while waiting for a pooled connection means nothing was sent: ConnectTimeout, not ReadTimeout."""
    transport = AiohttpTransport(max_connections=1, timeout_s=5.0, connect_timeout_s=0.2)
    try:
        slow = asyncio.create_task(
            transport.handle_async_request(httpx.Request("GET", f"{_base(server)}/slow/v2/Transcripts"))
        )
        await asyncio.sleep(0.1)
        with pytest.raises(httpx.ConnectTimeout):
            await transport.handle_async_request(httpx.Request("GET", f"{_base(server)}/echo"))
        slow.cancel()
        with pytest.raises(asyncio.CancelledError):
            await slow
    finally:
        await transport.aclose()


async def test_refused_connection_is_retried_and_reported_as_never_sent() -> None:
    """Nothing listening: a create is retried (it was never sent) and ends in TransportError, not OutcomeUnknown."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again when the block ends: nothing listens there
    attempts: list[int] = []
    policy = RetryPolicy(
        max_attempts=3, base_s=0.0, max_backoff_s=0.0, jitter=False, on_retry=lambda e: attempts.append(e.attempt)
    )
    async with IntelligenceClient(ACCOUNT_SID, AUTH_TOKEN, base_url=f"http://127.0.0.1:{port}", retry=policy) as client:
        with pytest.raises(TransportError):
            await client.create_transcript(SERVICE_SID, "{}", customer_key="k")

    assert attempts == [1, 2]


async def test_a_closed_transport_refuses_instead_of_leaking_a_session(server: TestServer) -> None:
    """A task still running after the client closed gets a clear error, not a fresh session nobody closes."""
    client = IntelligenceClient(ACCOUNT_SID, AUTH_TOKEN, base_url=_base(server))
    await client.aclose()
    with pytest.raises(RuntimeError, match="closed"):
        await client.fetch_transcript("GTgzip")
