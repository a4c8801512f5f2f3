"""Fuzzed requests never reach the last-resort 500: the answer is a success or Twilio's JSON error, always.

The mock runs in a background thread; hypothesis drives it over real HTTP with a sync client. Every response is
recorded and validated (spec schema for 2xx, Twilio's error shape otherwise) when the module finishes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote_from_bytes

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mock_server import MockConfig
from tests.mock_server.support import Recorder, Threaded, threaded_mock

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
Target = tuple[Threaded, httpx.Client, str]


@pytest.fixture(scope="module")
def fuzz_target(intelligence_spec: dict[str, Any]) -> Iterator[Target]:
    recorder = Recorder()
    config = MockConfig.from_json({"lifecycle": {"mode": "immediate"}})
    with threaded_mock(config, seed=3, recorder=recorder) as mock:
        auth = (mock.dev.sid, mock.dev.token)
        with httpx.Client(base_url=mock.base_url, auth=auth, timeout=10) as client:
            r = client.post("/v2/Services", data={"UniqueName": "fuzz"})
            assert r.status_code == 201
            yield mock, client, r.json()["sid"]
    assert recorder.check(intelligence_spec) > 0


def _assert_twilio_answer(r: httpx.Response, mock: Threaded) -> None:
    assert r.status_code < 500, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    body = r.json()
    if r.status_code >= 400:
        assert set(body) == {"code", "message", "more_info", "status"}
        assert body["status"] == r.status_code
    assert mock.state.unexpected_errors == 0


raw_pairs = st.lists(st.tuples(st.binary(max_size=20), st.binary(max_size=40)), max_size=6)
names = st.sampled_from(["ServiceSid", "Channel", "CustomerKey", "MediaStartTime", "PageSize", "Page", "PageToken",
                         "Status", "Redacted", "x"])  # fmt: skip
garbage_channel = st.one_of(
    st.text(max_size=60),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=3),
        max_leaves=8,
    ).map(json.dumps),
    st.fixed_dictionaries(
        {"media_properties": st.dictionaries(st.sampled_from(["media_url", "source_sid", "x"]), st.text(max_size=30))},
        optional={"participants": st.lists(st.dictionaries(st.text(max_size=8), st.integers() | st.text(max_size=8)))},
    ).map(json.dumps),
)


def _encode(pairs: list[tuple[bytes, bytes]]) -> bytes:
    return b"&".join(quote_from_bytes(k).encode() + b"=" + quote_from_bytes(v).encode() for k, v in pairs)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pairs=raw_pairs, raw=st.booleans())
def test_create_with_arbitrary_form_bytes(fuzz_target: Target, pairs: Any, raw: bool) -> None:
    mock, client, _ = fuzz_target
    # Either percent-encoded (possibly not UTF-8 once decoded) or the raw bytes as they are.
    body = b"&".join(k + b"=" + v for k, v in pairs) if raw else _encode(pairs)
    _assert_twilio_answer(client.post("/v2/Transcripts", content=body, headers=FORM), mock)


@settings(max_examples=80, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(channel=garbage_channel, extra=st.dictionaries(names, st.text(max_size=30), max_size=4))
def test_create_with_garbage_channel(fuzz_target: Target, channel: str, extra: dict[str, str]) -> None:
    mock, client, service_sid = fuzz_target
    form = {"ServiceSid": service_sid, **extra, "Channel": channel}
    _assert_twilio_answer(client.post("/v2/Transcripts", data=form), mock)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pairs=st.lists(st.tuples(names | st.text(max_size=10), st.text(max_size=30)), max_size=6), raw=raw_pairs)
def test_list_with_arbitrary_query(fuzz_target: Target, pairs: list[tuple[str, str]], raw: Any) -> None:
    mock, client, _ = fuzz_target
    _assert_twilio_answer(client.get("/v2/Transcripts", params=tuple(pairs)), mock)
    query = _encode(raw).decode("ascii")
    _assert_twilio_answer(client.get(f"/v2/Transcripts?{query}"), mock)
    _assert_twilio_answer(client.get(f"/v2/Services?{query}"), mock)


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(segment=st.text(min_size=1, max_size=40), method=st.sampled_from(["GET", "POST", "DELETE", "PUT", "PATCH"]))
def test_arbitrary_paths_and_methods(fuzz_target: Target, segment: str, method: str) -> None:
    mock, client, _ = fuzz_target
    for path in (f"/v2/Transcripts/{segment}", f"/v2/Operators/{segment}/x", f"/v2/{segment}"):
        url = httpx.URL(mock.base_url).copy_with(raw_path=quote_from_bytes(path.encode(), safe="/").encode())
        _assert_twilio_answer(client.request(method, url), mock)
