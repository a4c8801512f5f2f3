"""harness.replay's Python API: record a client against the mock, replay it offline through respx, strictly."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import httpx
import pytest

from harness import AiohttpTransport, IntelligenceClient, OutcomeUnknown
from harness.replay import Recorder, ReplayMiss, ReplayUnused, load_cassette, respx_router
from mock_server import RunningMock
from tests.harness.replay.support import SIGNATURE, a_batch, new_account, record_a_batch

CLOSED = "http://127.0.0.1:9"  # the discard port: nothing listens there, and replay must not try


async def test_a_recorded_batch_replays_offline_with_the_same_results_and_every_exchange_used(
    mock: RunningMock, tmp_path: Path
) -> None:
    account = await new_account(mock, lifecycle={"mode": "after_polls", "polls": 2})
    recorder = Recorder()
    recorded = await a_batch(account.client(recorder.wrap(AiohttpTransport())), polls=2)
    recorder.save(tmp_path / "batch.json")
    assert recorded["states"] == ["in-progress", "completed"]  # one request, two answers: a sequence

    router = respx_router(load_cassette(tmp_path / "batch.json"))
    client = IntelligenceClient("AC" + "0" * 32, "another-token", base_url=CLOSED, transport=router.transport())
    replayed = await a_batch(client, polls=2)

    # The one thing a replay cannot give back is a secret: the echoed media URL lost its signature.
    recorded_url = recorded["created"]["channel"]["media_properties"].pop("media_url")
    replayed_url = replayed["created"]["channel"]["media_properties"].pop("media_url")
    assert replayed_url == recorded_url.replace(SIGNATURE, "<redacted>").replace("AKIAEXAMPLE%2F20250101", "<redacted>")
    assert replayed == recorded
    router.assert_all_used()
    assert router.misses == []


async def test_the_cassette_is_versioned_json_with_relative_times_and_parsed_bodies(
    mock: RunningMock, tmp_path: Path
) -> None:
    account = await new_account(mock)
    recorder, _ = await record_a_batch(account)
    recorder.save(tmp_path / "c.json")
    document = json.loads((tmp_path / "c.json").read_text())

    assert document["version"] == 1
    exchanges = document["exchanges"]
    assert [e["id"] for e in exchanges] == list(range(1, len(exchanges) + 1))
    assert exchanges[0]["at_ms"] < 60_000
    assert all(e["ms"] >= 0 for e in exchanges)
    create = next(e for e in exchanges if e["request"]["url"].endswith("/v2/Transcripts"))
    form = dict(create["request"]["body"]["form"])
    assert form["CustomerKey"] == "k1"
    assert create["response"]["status"] == 202
    assert create["response"]["body"]["json"]["customer_key"] == "k1"
    assert (tmp_path / "c.json").stat().st_mode & 0o777 == 0o600


async def test_no_secret_reaches_the_cassette(mock: RunningMock, tmp_path: Path) -> None:
    account = await new_account(mock)
    recorder, _ = await record_a_batch(account)
    recorder.save(tmp_path / "c.json")
    raw = (tmp_path / "c.json").read_bytes()
    basic = base64.b64encode(f"{account.sid}:{account.token}".encode())

    assert account.token.encode() not in raw
    assert basic not in raw
    assert SIGNATURE.encode() not in raw
    assert b"AKIAEXAMPLE" not in raw  # X-Amz-Credential names the AWS key
    assert b"X-Amz-Signature=<redacted>" in raw  # the parameter is still there, to be seen and matched
    assert b'["authorization", "<redacted>"]' in raw  # the header is there, its credentials are not


async def test_pseudonymised_account_sids_are_replaced_consistently_everywhere(
    mock: RunningMock, tmp_path: Path
) -> None:
    account = await new_account(mock)
    recorder, _ = await record_a_batch(account, pseudonymise=True)
    recorder.save(tmp_path / "c.json")
    text = (tmp_path / "c.json").read_text()
    cassette = load_cassette(tmp_path / "c.json")

    assert account.sid not in text
    assert cassette.pseudonymised
    pseudonym = "AC" + "0" * 31 + "1"
    bodies = [e.response.body.json_value for e in cassette.exchanges if e.response and e.response.body]
    account_fields = {b["account_sid"] for b in bodies if isinstance(b, dict) and "account_sid" in b}
    assert account_fields == {pseudonym}
    assert text.count(pseudonym) >= len(account_fields)


async def test_a_pseudonymised_cassette_replays_under_any_account(mock: RunningMock, tmp_path: Path) -> None:
    account = await new_account(mock)
    recorder, recorded = await record_a_batch(account, pseudonymise=True)
    recorder.save(tmp_path / "c.json")

    router = respx_router(load_cassette(tmp_path / "c.json"))
    client = IntelligenceClient("AC" + "f" * 32, "x" * 32, base_url=CLOSED, transport=router.transport())
    replayed = await a_batch(client)

    assert replayed["sentences"] == recorded["sentences"]
    router.assert_all_used()


async def test_a_request_not_in_the_cassette_fails_with_a_diff_against_the_closest_one(
    mock: RunningMock, tmp_path: Path
) -> None:
    account = await new_account(mock)
    recorder, recorded = await record_a_batch(account)
    recorder.save(tmp_path / "c.json")
    router = respx_router(load_cassette(tmp_path / "c.json"))
    service = recorded["service"]["sid"]

    async with IntelligenceClient(account.sid, account.token, base_url=CLOSED, transport=router.transport()) as c:
        await c.create_service("replayed")
        with pytest.raises(ReplayMiss) as miss:
            await c.create_transcript(service, {"media_properties": {"media_url": "https://b.example/other.wav"}},
                                      customer_key="k2")  # fmt: skip

    message = str(miss.value)
    assert "the cassette has no answer for POST /v2/Transcripts" in message
    assert "closest recorded request: #2 POST /v2/Transcripts (unused)" in message
    assert "form CustomerKey: recorded 'k1', sent 'k2'" in message
    assert 'form Channel: recorded \'{"media_properties"' in message
    assert "form ServiceSid" not in message  # equal: not listed
    assert router.misses
    assert router.misses[0] is miss.value


async def test_asking_more_often_than_recorded_is_a_miss_when_strict_and_the_last_answer_otherwise(
    mock: RunningMock, tmp_path: Path
) -> None:
    account = await new_account(mock)
    recorder, recorded = await record_a_batch(account)
    recorder.save(tmp_path / "c.json")
    cassette = load_cassette(tmp_path / "c.json")
    sid = recorded["created"]["sid"]

    strict = respx_router(cassette)
    async with IntelligenceClient(account.sid, account.token, base_url=CLOSED, transport=strict.transport()) as c:
        await c.fetch_transcript(sid)
        with pytest.raises(ReplayMiss, match=r"was sent more often than it was recorded: its recorded answers \(#3\)"):
            await c.fetch_transcript(sid)

    lenient = respx_router(cassette, strict=False)
    async with IntelligenceClient(account.sid, account.token, base_url=CLOSED, transport=lenient.transport()) as c:
        first, again = await c.fetch_transcript(sid), await c.fetch_transcript(sid)
    assert first == again


async def test_unused_exchanges_are_listed(mock: RunningMock, tmp_path: Path) -> None:
    account = await new_account(mock)
    recorder, _ = await record_a_batch(account)
    recorder.save(tmp_path / "c.json")
    router = respx_router(load_cassette(tmp_path / "c.json"))

    async with IntelligenceClient(account.sid, account.token, base_url=CLOSED, transport=router.transport()) as c:
        await c.create_service("replayed")
    with pytest.raises(ReplayUnused) as unused:
        router.assert_all_used()

    total = len(recorder.exchanges)
    assert f"{total - 1} of {total} recorded exchanges were not used" in str(unused.value)
    assert "#2 POST /v2/Transcripts" in str(unused.value)
    assert "#1 POST /v2/Services" not in str(unused.value)


async def test_a_lost_answer_is_recorded_and_raised_again_on_replay(tmp_path: Path) -> None:
    def lose_it(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadError("connection reset by peer", request=request)

    recorder = Recorder()
    sid, token = "AC" + "1" * 32, "t" * 32
    async with IntelligenceClient(sid, token, base_url=CLOSED,
                                  transport=recorder.wrap(httpx.MockTransport(lose_it))) as client:  # fmt: skip
        with pytest.raises(OutcomeUnknown):
            await client.create_transcript("GA" + "2" * 32, "{}", customer_key="lost")
    recorder.save(tmp_path / "c.json")
    cassette = load_cassette(tmp_path / "c.json")
    assert cassette.exchanges[0].error is not None
    assert cassette.exchanges[0].error.type == "ReadError"

    router = respx_router(cassette)
    async with IntelligenceClient(sid, token, base_url=CLOSED, transport=router.transport()) as client:
        with pytest.raises(OutcomeUnknown, match="connection lost"):
            await client.create_transcript("GA" + "2" * 32, "{}", customer_key="lost")
    router.assert_all_used()
