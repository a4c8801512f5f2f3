"""Completion callbacks: recorded as the receiver accepted them (no signature), delivered again on replay, signed
with the replaying receiver's own token, in recorded order and never before the answers that preceded them."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path
from urllib.parse import urlencode

import httpx

from harness import IntelligenceClient, WebhookReceiver
from harness._signature import compute_signature
from harness._webhooks import callback_tap
from harness.replay import Recorder, load_cassette, respx_router
from harness.replay._recorder import RECEIVER_PLACEHOLDER

ACCOUNT = "AC" + "1" * 32
SIDS = ["GT" + str(i) * 32 for i in range(1, 4)]


def _transcript(request: httpx.Request) -> httpx.Response:
    sid = request.url.path.rsplit("/", 1)[-1]
    return httpx.Response(200, json={"sid": sid, "status": "completed"}, request=request)


async def _send_callbacks(receiver: WebhookReceiver, token: str) -> None:
    """Twilio's two variants: a signed form, and JSON with bodySHA256 in the URL."""
    async with httpx.AsyncClient() as http:
        for sid in SIDS[:2]:
            form = {"transcript_sid": sid, "customer_key": f"k-{sid[2]}", "account_sid": ACCOUNT}
            signature = compute_signature(receiver.callback_url, {k: [v] for k, v in form.items()}, token)
            answer = await http.post(receiver.callback_url, data=form, headers={"X-Twilio-Signature": signature})
            assert answer.status_code == 204
        body = json.dumps({"transcript_sid": SIDS[2], "customer_key": "k-3", "account_sid": ACCOUNT}).encode()
        url = f"{receiver.callback_url}?{urlencode({'bodySHA256': hashlib.sha256(body).hexdigest()})}"
        headers = {"X-Twilio-Signature": compute_signature(url, None, token), "Content-Type": "application/json"}
        assert (await http.post(url, content=body, headers=headers)).status_code == 204


async def _record(tmp_path: Path, token: str) -> Path:
    recorder = Recorder(pseudonymise=True)
    reset = callback_tap.set(recorder)
    try:
        receiver = WebhookReceiver(token, lambda sid, key: None)
    finally:
        callback_tap.reset(reset)
    await receiver.start()
    transport = recorder.wrap(httpx.MockTransport(_transcript))
    async with IntelligenceClient(ACCOUNT, token, base_url="http://127.0.0.1:9", transport=transport) as client:
        await client.update_service("GA" + "9" * 32, webhook_url=receiver.callback_url)
        await client.fetch_transcript(SIDS[0])
        await _send_callbacks(receiver, token)
        await client.fetch_transcript(SIDS[1])
    await receiver.close()
    recorder.save(tmp_path / "c.json")
    return tmp_path / "c.json"


async def test_accepted_callbacks_are_recorded_without_signature_token_or_the_receivers_port(tmp_path: Path) -> None:
    token = "0123456789abcdef" * 2
    path = await _record(tmp_path, token)
    cassette = load_cassette(path)
    raw = path.read_text()

    assert [c.after_exchanges for c in cassette.callbacks] == [2, 2, 2]
    assert [c.method for c in cassette.callbacks] == ["POST", "POST", "POST"]
    assert "transcript_sid=" + SIDS[0] in cassette.callbacks[0].body
    assert cassette.callbacks[2].target.startswith("/callbacks?bodySHA256=")
    assert ("x-twilio-signature", "<redacted>") in cassette.callbacks[0].headers
    assert token not in raw
    assert ACCOUNT not in raw  # pseudonymised in callback bodies too
    update = cassette.exchanges[0].request.body
    assert update is not None
    assert update.form == [("WebhookUrl", f"{RECEIVER_PLACEHOLDER}/callbacks")]  # not 127.0.0.1:<random port>


async def test_replay_delivers_them_in_order_after_their_exchanges_signed_with_the_replays_token(
    tmp_path: Path,
) -> None:
    path = await _record(tmp_path, "0123456789abcdef" * 2)
    router = respx_router(load_cassette(path))
    heard: list[tuple[str, str | None, int]] = []
    reset = callback_tap.set(router)
    try:
        receiver = WebhookReceiver("another-token-entirely", lambda sid, key: heard.append((sid, key, router.served)))
    finally:
        callback_tap.reset(reset)
    await receiver.start()
    try:
        async with IntelligenceClient(ACCOUNT, "another-token-entirely", base_url="http://127.0.0.1:9",
                                      transport=router.transport()) as client:  # fmt: skip
            await client.update_service("GA" + "9" * 32, webhook_url=receiver.callback_url)  # matched: placeholder
            assert heard == []
            await client.fetch_transcript(SIDS[0])
            for _ in range(100):
                if len(heard) == 3:
                    break
                await asyncio.sleep(0.02)
            await client.fetch_transcript(SIDS[1])
    finally:
        await router.aclose()
        await receiver.close()

    assert [(sid, key) for sid, key, _ in heard] == [(SIDS[0], "k-1"), (SIDS[1], "k-2"), (SIDS[2], "k-3")]
    assert all(served >= 2 for _, _, served in heard)
    assert receiver.rejected == 0
    assert router.delivered == [1, 2, 3]
    assert router.undelivered() == []
    router.assert_all_used()


async def test_without_a_receiver_recorded_callbacks_are_reported_undelivered(tmp_path: Path) -> None:
    router = respx_router(load_cassette(await _record(tmp_path, "0123456789abcdef" * 2)))
    async with IntelligenceClient(ACCOUNT, "t" * 32, base_url="http://127.0.0.1:9",
                                  transport=router.transport()) as client:  # fmt: skip
        await client.update_service("GA" + "9" * 32, webhook_url=f"{RECEIVER_PLACEHOLDER}/callbacks")
        await client.fetch_transcript(SIDS[0])
        await client.fetch_transcript(SIDS[1])

    assert [c.id for c in router.undelivered()] == [1, 2, 3]
    router.assert_all_used()
