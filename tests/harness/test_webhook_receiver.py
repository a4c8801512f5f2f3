"""Webhook receiver and signature validation: only Twilio-signed callbacks are nudges; the rest get 403."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from urllib.parse import urlencode

import httpx
import pytest
from twilio.request_validator import RequestValidator

from harness._signature import compute_signature, validate
from harness._webhooks import WebhookReceiver

TOKEN = "f" * 32
Hook = tuple[WebhookReceiver, list[tuple[str, str | None]]]
BODY = {"account_sid": "AC" + "1" * 32, "transcript_sid": "GT" + "2" * 32, "customer_key": "call-7",
        "event_type": "voice_intelligence_transcript_available"}  # fmt: skip


def test_signatures_agree_with_twilio_python() -> None:
    validator = RequestValidator(TOKEN)
    url = "https://example.com/callbacks?x=1"
    params = {"b": ["2"], "a": ["1"], "TranscriptSid": ["GT" + "3" * 32]}
    theirs = {"b": "2", "a": "1", "TranscriptSid": "GT" + "3" * 32}
    assert compute_signature(url, params, TOKEN) == validator.compute_signature(url, theirs)
    body = json.dumps(BODY).encode()
    signed_url = f"https://example.com/callbacks?bodySHA256={hashlib.sha256(body).hexdigest()}"
    signature = validator.compute_signature(signed_url, {})
    assert validate(signed_url, signature, TOKEN, form=None, body=body)
    assert not validate(signed_url, signature, TOKEN, form=None, body=body.replace(b"call-7", b"call-8"))
    assert validate(signed_url.replace("example.com", "example.com:443"), signature, TOKEN, form=None, body=body)
    assert not validate(signed_url, None, TOKEN, form=None, body=body)


def test_a_signature_or_body_hash_that_is_not_ascii_simply_does_not_match() -> None:
    body = json.dumps(BODY).encode()
    signed_url = f"https://example.com/callbacks?bodySHA256={hashlib.sha256(body).hexdigest()}"
    assert not validate(signed_url, "sïg", TOKEN, form=None, body=body)  # compare_digest raised TypeError here
    assert not validate(signed_url, "s\udcffg", TOKEN, form=None, body=body)
    assert not validate("https://example.com/callbacks?bodySHA256=%C3%A9", "abc=", TOKEN, form=None, body=body)


@pytest.fixture
async def receiver() -> AsyncIterator[Hook]:
    seen: list[tuple[str, str | None]] = []
    hook = WebhookReceiver(TOKEN, lambda sid, key: seen.append((sid, key)))
    await hook.start()
    yield hook, seen
    await hook.close()


def _signed_json(url: str, body: bytes, token: str = TOKEN) -> tuple[str, dict[str, str]]:
    signed = f"{url}?bodySHA256={hashlib.sha256(body).hexdigest()}"
    return signed, {"X-Twilio-Signature": compute_signature(signed, None, token), "Content-Type": "application/json"}


async def test_a_signed_json_callback_is_accepted(receiver: Hook) -> None:
    hook, seen = receiver
    body = json.dumps(BODY).encode()
    url, headers = _signed_json(hook.callback_url, body)
    async with httpx.AsyncClient() as client:
        response = await client.post(url, content=body, headers=headers)
    assert response.status_code == 204
    assert seen == [(BODY["transcript_sid"], "call-7")]


async def test_a_signed_form_callback_is_accepted(receiver: Hook) -> None:
    hook, seen = receiver
    form = {"transcript_sid": BODY["transcript_sid"], "customer_key": "call-7"}
    signature = compute_signature(hook.callback_url, {k: [v] for k, v in form.items()}, TOKEN)
    async with httpx.AsyncClient() as client:
        response = await client.post(hook.callback_url, data=form, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 204
    assert seen == [(BODY["transcript_sid"], "call-7")]


async def test_a_signed_get_callback_is_accepted(receiver: Hook) -> None:
    hook, seen = receiver
    url = f"{hook.callback_url}?{urlencode({'transcript_sid': BODY['transcript_sid']})}"
    async with httpx.AsyncClient() as client:
        response = await client.get(url, headers={"X-Twilio-Signature": compute_signature(url, None, TOKEN)})
    assert response.status_code == 204
    assert seen == [(BODY["transcript_sid"], None)]


@pytest.mark.parametrize("attack", ["forged", "missing", "tampered", "wrong_url", "other_token"])
async def test_forged_missing_tampered_or_misaddressed_callbacks_get_403_and_nothing_is_recorded(
    receiver: Hook, attack: str
) -> None:
    hook, seen = receiver
    body = json.dumps(BODY).encode()
    url, headers = _signed_json(hook.callback_url, body)
    if attack == "forged":
        headers["X-Twilio-Signature"] = "bm90IGEgc2lnbmF0dXJl"
    elif attack == "missing":
        del headers["X-Twilio-Signature"]
    elif attack == "tampered":
        body = body.replace(b"call-7", b"call-9")
    elif attack == "wrong_url":
        _, headers = _signed_json("https://elsewhere.example/callbacks", body)
    else:
        _, headers = _signed_json(hook.callback_url, body, token="0" * 32)
    async with httpx.AsyncClient() as client:
        response = await client.post(url, content=body, headers=headers)
    assert response.status_code == 403
    assert seen == []
    assert hook.rejected == 1


async def test_behind_a_tunnel_the_public_url_is_what_was_signed() -> None:
    seen: list[tuple[str, str | None]] = []
    hook = WebhookReceiver(TOKEN, lambda sid, key: seen.append((sid, key)), public_url="https://abc.tunnel.example")
    await hook.start()
    try:
        assert hook.callback_url == "https://abc.tunnel.example/callbacks"
        body = json.dumps(BODY).encode()
        signed, headers = _signed_json(hook.callback_url, body)
        local = signed.replace("https://abc.tunnel.example", hook.base_url)
        async with httpx.AsyncClient() as client:
            assert (await client.post(local, content=body, headers=headers)).status_code == 204
        assert len(seen) == 1
    finally:
        await hook.close()


async def test_counters_count_accepted_and_refused_callbacks_but_not_other_paths(receiver: Hook) -> None:
    hook, seen = receiver
    body = json.dumps(BODY).encode()
    url, headers = _signed_json(hook.callback_url, body)
    async with httpx.AsyncClient() as client:
        assert (await client.post(url, content=body, headers=headers)).status_code == 204
        assert (await client.post(url, content=body + b" ", headers=headers)).status_code == 403
        assert (await client.put(url, content=body, headers=headers)).status_code == 405
        assert (await client.get(f"{hook.base_url}/favicon.ico")).status_code == 404
    assert (hook.accepted, hook.rejected) == (1, 2)
    assert len(seen) == 1
