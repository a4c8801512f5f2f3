"""WebhookDispatcher against a real aiohttp receiver on 127.0.0.1: signing, retries, and the seeded faults."""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

import pytest
from aiohttp import web
from twilio.request_validator import RequestValidator

from mock_server._config import WebhookFaultsConfig
from mock_server._model import CallbackEvent
from mock_server._webhooks import WebhookDispatcher

TOKEN = "f" * 32
AC = "AC" + "0" * 32
BODY = {
    "account_sid": AC,
    "service_sid": "GA" + "1" * 32,
    "transcript_sid": "GT" + "2" * 32,
    "customer_key": "item-7",
    "event_type": "voice_intelligence_transcript_available",
}
FAST = WebhookFaultsConfig(max_attempts=3, retry_base_ms=1.0)


@dataclass
class Seen:
    method: str
    url: str
    headers: dict[str, str]
    body: str


@dataclass
class Receiver:
    """Records every request; answers each path with the statuses queued for it, then 200."""

    base: str = ""
    seen: list[Seen] = field(default_factory=list)
    statuses: dict[str, list[int]] = field(default_factory=dict)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.text()
        url = self.base + request.raw_path  # the URL exactly as requested, as a validating receiver sees it
        self.seen.append(Seen(request.method, url, dict(request.headers), body))
        queue = self.statuses.get(request.path, [])
        return web.Response(status=queue.pop(0) if queue else 200)

    def url(self, path: str = "/hook") -> str:
        return self.base + path


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    recv = Receiver()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", recv.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    recv.base = f"http://127.0.0.1:{port}"
    yield recv
    await runner.cleanup()


class FakeSleep:
    """Records the waits the dispatcher asks for and yields to the loop instead of sleeping."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        await asyncio.sleep(0)


@pytest.fixture
async def sleep() -> FakeSleep:
    return FakeSleep()


@pytest.fixture
async def dispatcher(sleep: FakeSleep) -> AsyncIterator[WebhookDispatcher]:
    d = WebhookDispatcher(random.Random(0), sleep=sleep)
    await d.start()
    yield d
    await d.close()


def event(url: str, method: str = "POST", **body: object) -> CallbackEvent:
    return CallbackEvent(AC, url, method, TOKEN, {**BODY, **body})


async def test_post_is_signed_json_that_request_validator_accepts(
    receiver: Receiver, dispatcher: WebhookDispatcher
) -> None:
    dispatcher.submit(event(receiver.url("/hook?tenant=a")), FAST)
    assert await dispatcher.drain(5)
    [seen] = receiver.seen
    assert seen.method == "POST"
    assert seen.headers["Content-Type"] == "application/json"
    assert seen.headers["User-Agent"].startswith("TwilioProxy/")
    assert json.loads(seen.body) == BODY
    query = dict(parse_qsl(urlsplit(seen.url).query))
    assert query["tenant"] == "a"
    assert "bodySHA256" in query
    validator = RequestValidator(TOKEN)
    assert validator.validate(seen.url, seen.body, seen.headers["X-Twilio-Signature"])
    assert not validator.validate(seen.url, seen.body.replace("item-7", "item-8"), seen.headers["X-Twilio-Signature"])
    assert dispatcher.stats_for(AC) == {"webhooks_sent": 1, "webhooks_failed": 0, "webhooks_dropped": 0}


async def test_get_carries_fields_in_the_query_signed_over_the_full_url(
    receiver: Receiver, dispatcher: WebhookDispatcher
) -> None:
    dispatcher.submit(event(receiver.url(), "GET", attempt=2, flag=True), FAST)
    assert await dispatcher.drain(5)
    [seen] = receiver.seen
    assert seen.method == "GET"
    assert seen.body == ""
    query = dict(parse_qsl(urlsplit(seen.url).query))
    assert query == {**BODY, "attempt": "2", "flag": "true"}
    assert RequestValidator(TOKEN).validate(seen.url, {}, seen.headers["X-Twilio-Signature"])


async def test_the_model_callback_event_is_accepted(receiver: Receiver, dispatcher: WebhookDispatcher) -> None:
    dispatcher.submit(CallbackEvent(AC, receiver.url(), "POST", TOKEN, dict(BODY)), FAST)
    assert await dispatcher.drain(5)
    assert len(receiver.seen) == 1


async def test_retries_after_500s_with_exponential_backoff_then_succeeds(
    receiver: Receiver, dispatcher: WebhookDispatcher, sleep: FakeSleep
) -> None:
    receiver.statuses["/flaky"] = [500, 503]
    dispatcher.submit(event(receiver.url("/flaky")), WebhookFaultsConfig(max_attempts=5, retry_base_ms=100))
    assert await dispatcher.drain(5)
    assert len(receiver.seen) == 3
    assert sleep.waits == [0.1, 0.2]
    # Every attempt is signed the same valid way.
    assert all(RequestValidator(TOKEN).validate(s.url, s.body, s.headers["X-Twilio-Signature"]) for s in receiver.seen)
    assert dispatcher.stats_for(AC) == {"webhooks_sent": 1, "webhooks_failed": 0, "webhooks_dropped": 0}


async def test_fails_after_max_attempts(receiver: Receiver, dispatcher: WebhookDispatcher, sleep: FakeSleep) -> None:
    receiver.statuses["/down"] = [500] * 10
    dispatcher.submit(event(receiver.url("/down")), WebhookFaultsConfig(max_attempts=4, retry_base_ms=50))
    assert await dispatcher.drain(5)
    assert len(receiver.seen) == 4
    assert sleep.waits == [0.05, 0.1, 0.2]
    assert dispatcher.stats_for(AC) == {"webhooks_sent": 0, "webhooks_failed": 1, "webhooks_dropped": 0}


async def test_connection_failures_are_retried_then_counted_failed(
    receiver: Receiver, dispatcher: WebhookDispatcher, sleep: FakeSleep
) -> None:
    # A port nobody listens on: grab one, close it, and send there.
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    dispatcher.submit(event(f"http://127.0.0.1:{port}/gone"), FAST)
    assert await dispatcher.drain(5)
    assert len(sleep.waits) == 2
    assert dispatcher.stats_for(AC)["webhooks_failed"] == 1


async def test_drop_never_sends(receiver: Receiver, dispatcher: WebhookDispatcher) -> None:
    for _ in range(3):
        dispatcher.submit(event(receiver.url()), WebhookFaultsConfig(drop=1.0))
    assert await dispatcher.drain(5)
    assert receiver.seen == []
    assert dispatcher.stats_for(AC) == {"webhooks_sent": 0, "webhooks_failed": 0, "webhooks_dropped": 3}


async def test_duplicate_delivers_twice(receiver: Receiver, dispatcher: WebhookDispatcher) -> None:
    dispatcher.submit(event(receiver.url()), WebhookFaultsConfig(duplicate=1.0))
    assert await dispatcher.drain(5)
    assert len(receiver.seen) == 2
    assert receiver.seen[0].body == receiver.seen[1].body
    assert dispatcher.stats_for(AC)["webhooks_sent"] == 2


async def test_reorder_delivers_after_the_next_event(receiver: Receiver) -> None:
    # A real sleep with a long hold: the test passes only if the next event releases the held one (the timer is
    # cancelled then, so nothing actually waits a minute).
    d = WebhookDispatcher(random.Random(0), reorder_hold_s=60)
    try:
        d.submit(event(receiver.url(), n=1), WebhookFaultsConfig(reorder=1.0))
        d.submit(event(receiver.url(), n=2), WebhookFaultsConfig(reorder=1.0))
        assert not await d.drain(0.05)
        assert receiver.seen == []  # both held, waiting for the next event of the account
        d.submit(event(receiver.url(), n=3), FAST)
        assert await d.drain(5)
        order = [json.loads(s.body)["n"] for s in receiver.seen]
        assert order[0] == 3
        assert sorted(order[1:]) == [1, 2]  # the two held ones go out concurrently, after the releasing one
        assert d.stats_for(AC)["webhooks_sent"] == 3
    finally:
        await d.close()


async def test_a_held_event_goes_out_after_a_timeout_alone(receiver: Receiver, sleep: FakeSleep) -> None:
    d = WebhookDispatcher(random.Random(0), sleep=sleep, reorder_hold_s=0.3)
    try:
        d.submit(event(receiver.url()), WebhookFaultsConfig(reorder=1.0))
        assert await d.drain(5)
        assert len(receiver.seen) == 1
        assert sleep.waits == [0.3]
    finally:
        await d.close()


async def test_reorder_is_per_account(receiver: Receiver, dispatcher: WebhookDispatcher, sleep: FakeSleep) -> None:
    other = CallbackEvent("AC" + "9" * 32, receiver.url(), "POST", TOKEN, {"n": 0})
    dispatcher.submit(event(receiver.url(), n=1), WebhookFaultsConfig(reorder=1.0))
    dispatcher.submit(other, FAST)  # another account's event does not release this one
    assert await dispatcher.drain(5)
    assert [json.loads(s.body)["n"] for s in receiver.seen] == [0, 1]
    assert sleep.waits == [dispatcher._reorder_hold_s]  # released by the timeout


async def test_delay_waits_before_the_first_attempt(
    receiver: Receiver, dispatcher: WebhookDispatcher, sleep: FakeSleep
) -> None:
    dispatcher.submit(event(receiver.url()), WebhookFaultsConfig(delay_ms=250))
    assert await dispatcher.drain(5)
    assert sleep.waits == [0.25]
    assert len(receiver.seen) == 1


async def test_faults_are_deterministic_for_a_seed(receiver: Receiver, sleep: FakeSleep) -> None:
    faults = WebhookFaultsConfig(drop=0.4, duplicate=0.3)

    async def run(seed: int) -> list[int]:
        receiver.seen.clear()
        d = WebhookDispatcher(random.Random(seed), sleep=sleep)
        try:
            for n in range(30):
                d.submit(event(receiver.url(), n=n), faults)
            assert await d.drain(5)
            delivered = sorted(json.loads(s.body)["n"] for s in receiver.seen)
            stats = d.stats_for(AC)
            assert stats["webhooks_sent"] == len(delivered)  # every copy of a duplicate counts as sent
            assert stats["webhooks_dropped"] == 30 - len(set(delivered))
            return delivered
        finally:
            await d.close()

    first = await run(5)
    assert first == await run(5)
    assert first != await run(6)
    assert 0 < len(set(first)) < 30  # some dropped, some sent
    assert len(first) > len(set(first))  # some duplicated


async def test_close_cancels_pending_deliveries_cleanly(receiver: Receiver) -> None:
    d = WebhookDispatcher(random.Random(0))  # the real sleep: close must cancel it
    await d.start()
    d.submit(event(receiver.url()), WebhookFaultsConfig(delay_ms=60_000))
    d.submit(event(receiver.url()), WebhookFaultsConfig(reorder=1.0))
    assert not await d.drain(0.05)
    await d.close()
    assert receiver.seen == []
    assert await d.drain(0)
    d.submit(event(receiver.url()), FAST)  # after close nothing starts, and nothing is lost silently
    assert d.stats_for(AC)["webhooks_failed"] == 1


def test_repr_hides_the_auth_token() -> None:
    e = event("https://example.com/hook")
    assert TOKEN not in repr(e)
    assert TOKEN not in str(e)
    assert "https://example.com/hook" in repr(e)


def test_stats_for_an_unknown_account_are_zero() -> None:
    d = WebhookDispatcher(random.Random(0))
    assert d.stats_for("AC" + "5" * 32) == {"webhooks_sent": 0, "webhooks_failed": 0, "webhooks_dropped": 0}


async def test_failure_logs_never_show_url_credentials(
    receiver: Receiver, dispatcher: WebhookDispatcher, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.statuses["/down"] = [500] * 5
    url = receiver.url("/down").replace("http://", "http://user:hunter2@")
    with caplog.at_level(logging.DEBUG, logger="mock_server"):
        dispatcher.submit(event(url), WebhookFaultsConfig(max_attempts=2, retry_base_ms=1))
        assert await dispatcher.drain(5)
    assert len(receiver.seen) == 2
    assert "failed after 2 attempts" in caplog.text
    assert "hunter2" not in caplog.text
    assert TOKEN not in caplog.text
