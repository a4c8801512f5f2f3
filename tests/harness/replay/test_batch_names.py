"""A merged file's hosted name holds the journal's batch id, drawn at random by every new journal: a replay with a
fresh journal sends the same requests under another batch id, and they must match the recorded ones — while any
other 32-hex value (a customer key, a SID's digits) is still compared exactly."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness._hosting import merged_name
from harness.replay import ReplayMiss, parse_cassette, respx_router
from harness.replay._cassette import Body, RecordedRequest
from harness.replay._match import request_key

RECORDED_BATCH = uuid.UUID(int=1).hex
MEDIA_BASE = "https://media.example.com/calls"


def _directory_url(batch: str, key: str) -> str:
    return f"{MEDIA_BASE}/{batch}/{merged_name(key)}"


def _mock_put(batch: str, key: str) -> str:
    return f"http://127.0.0.1:9/__mock__/media/{batch}-{merged_name(key)}?ttl_s=3600"


def _create_form(batch: str, key: str) -> list[tuple[str, str]]:
    channel = json.dumps({"media_properties": {"media_url": _directory_url(batch, key)}})
    return [("ServiceSid", "GA" + "1" * 32), ("Channel", channel), ("CustomerKey", key)]


def _cassette(key: str) -> str:
    exchanges = [
        {"id": 1, "at_ms": 0, "request": {"method": "PUT", "url": _mock_put(RECORDED_BATCH, key),
                                          "body": {"base64": "ZkxhQwD/", "size": 6}},
         "response": {"status": 201, "body": {"json": {"url": "http://x/signed"}}}},
        {"id": 2, "at_ms": 1, "request": {"method": "GET", "url": _directory_url(RECORDED_BATCH, key)},
         "response": {"status": 206, "body": {"base64": "ZkxhQwD/", "size": 6}}},
        {"id": 3, "at_ms": 2, "request": {"method": "POST", "url": "http://127.0.0.1:9/v2/Transcripts",
                                          "body": {"form": _create_form(RECORDED_BATCH, key)}},
         "response": {"status": 201, "body": {"json": {"sid": "GT" + "2" * 32}}}},
    ]  # fmt: skip
    return json.dumps({"version": 1, "exchanges": exchanges})


async def _replay(batch: str, key: str, *, form_key: str | None = None) -> list[int]:
    router = respx_router(parse_cassette(_cassette(key), source="test.json"))
    async with httpx.AsyncClient(transport=router.transport()) as http:
        statuses = [(await http.put(_mock_put(batch, key), content=b"fLaC\x00\xff")).status_code]
        statuses.append((await http.get(_directory_url(batch, key), headers={"Range": "bytes=0-4095"})).status_code)
        form = dict(_create_form(batch, form_key or key))
        statuses.append((await http.post("http://127.0.0.1:9/v2/Transcripts", data=form)).status_code)
    router.assert_all_used()
    return statuses


async def test_a_fresh_journals_batch_id_matches_the_recorded_one_in_uploads_checks_and_creates() -> None:
    assert await _replay(uuid.uuid4().hex, "plain") == [201, 206, 201]


async def test_the_name_after_the_batch_id_is_still_compared() -> None:
    with pytest.raises(ReplayMiss, match="the cassette has no answer for POST /v2/Transcripts"):
        await _replay(uuid.uuid4().hex, "plain", form_key="other")


@given(st.text(alphabet="0123456789abcdef", min_size=32, max_size=32))
def test_a_32_hex_value_outside_a_merged_files_name_is_compared_exactly(value: str) -> None:
    other = "f" * 32 if value != "f" * 32 else "e" * 32
    for path in (f"/v2/Transcripts/GT{value}", f"/files/{value}.flac", f"/files/{value}/readme.txt"):
        recorded = request_key(RecordedRequest(method="GET", url=f"http://h{path}"))
        changed = request_key(RecordedRequest(method="GET", url=f"http://h{path.replace(value, other)}"))
        assert recorded != changed
    as_key = RecordedRequest(method="POST", url="http://h/v2/Transcripts", body=Body(form=[("CustomerKey", value)]))
    assert request_key(as_key).body == (("CustomerKey", value),)


@given(st.text(min_size=1, max_size=40))
def test_any_customer_keys_merged_name_matches_under_any_batch_id(key: str) -> None:
    first, second = uuid.uuid4().hex, uuid.uuid4().hex
    for url in (_directory_url(first, key), _mock_put(first, key)):
        again = url.replace(first, second)
        assert request_key(RecordedRequest(method="PUT", url=url)) == request_key(
            RecordedRequest(method="PUT", url=again)
        )


def test_merging_files_with_record_is_refused_and_writes_no_cassette(tmp_path: Path) -> None:
    from harness.cli import main

    cassette = tmp_path / "c.json"
    argv = ["merge", str(tmp_path / "a.wav"), str(tmp_path / "b.wav"), "-o", str(tmp_path / "o.flac")]
    assert main([*argv, "--record", str(cassette)]) == 2
    assert not cassette.exists()
