"""Any body, any method, any credentials to any control endpoint: the answer is JSON, never a 500.

Nested JSON used to reach a text/plain 500 (a RecursionError escaped the control plane's error handling). The mocks
run in background threads and hypothesis drives them over real HTTP; every response is recorded and checked
(Twilio's error shape for every error) when the module finishes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mock_server._control import ENDPOINTS
from tests.mock_server.support import Recorder, Threaded, threaded_mock

TOKEN = "fuzz-control-token-0123456789"
Target = tuple[Threaded, httpx.Client]


@pytest.fixture(scope="module")
def open_mock(intelligence_spec: dict[str, Any]) -> Iterator[Target]:
    recorder = Recorder()
    with threaded_mock(seed=5, recorder=recorder) as mock, httpx.Client(base_url=mock.base_url, timeout=10) as client:
        yield mock, client
    recorder.check(intelligence_spec)


@pytest.fixture(scope="module")
def guarded_mock(intelligence_spec: dict[str, Any]) -> Iterator[Target]:
    recorder = Recorder()
    with (
        threaded_mock(seed=6, recorder=recorder, control_token=TOKEN) as mock,
        httpx.Client(base_url=mock.base_url, timeout=10) as client,
    ):
        yield mock, client
    recorder.check(intelligence_spec)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
config_keys = st.sampled_from(
    ["concurrency_limit", "latency_ms", "lifecycle", "faults", "webhook_faults", "rate_limits", "capacity_schedule",
     "media_url_ttl_s", "retry_after", "seed", "permissions", "auth_token", "x"]
)  # fmt: skip
bodies = st.one_of(
    st.binary(max_size=64),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.dictionaries(config_keys, json_values, max_size=3).map(lambda v: json.dumps(v).encode()),
    st.integers(1, 50_000).map(lambda n: b"[" * n + b"]" * n),
    st.integers(1, 20_000).map(lambda n: b'{"a":' * n + b"0" + b"}" * n),
    st.sampled_from([b"NaN", b'{"latency_ms": Infinity}', b'{"seed": 1e999}', b'"\\udc80"', b"\xef\xbb\xbf{}"]),
)
methods = st.sampled_from(["GET", "POST", "PATCH", "PUT", "DELETE"])


def _path(endpoint: str, mock: Threaded, sid: str) -> str:
    return endpoint.replace("{AccountSid}", sid or mock.dev.sid).replace("{TranscriptSid}", "GT" + "1" * 32)


def _assert_json_answer(r: httpx.Response, mock: Threaded) -> None:
    assert r.status_code < 500, r.text
    assert r.headers["Content-Type"].startswith("application/json"), r.text
    body = r.json()
    if r.status_code >= 400:
        assert set(body) == {"code", "message", "more_info", "status"}
        assert body["status"] == r.status_code
        assert body["message"]
    assert mock.state.unexpected_errors == 0


@settings(max_examples=120, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    endpoint=st.sampled_from([e.path for e in ENDPOINTS]),
    method=methods,
    body=bodies,
    sid=st.sampled_from(["", "AC" + "0" * 32, "nope"]),
)
def test_any_body_to_any_control_endpoint_is_answered_in_json(
    open_mock: Target, endpoint: str, method: str, body: bytes, sid: str
) -> None:
    mock, client = open_mock
    r = client.request(method, _path(endpoint, mock, sid), content=body, headers={"Content-Type": "application/json"})
    _assert_json_answer(r, mock)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    endpoint=st.sampled_from([e.path for e in ENDPOINTS if "/media/" not in e.path]),
    method=methods,
    credential=st.one_of(
        st.none(),
        st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=40),
        st.just(TOKEN[:-1]),
        st.just(TOKEN + "x"),
    ),
    scheme=st.sampled_from(["Bearer ", "bearer ", "Basic ", "", "header"]),
)
def test_a_guarded_control_plane_lets_in_only_its_token(
    guarded_mock: Target, endpoint: str, method: str, credential: str | None, scheme: str
) -> None:
    mock, client = guarded_mock
    headers: dict[str, str] = {}
    if credential:  # (an empty or blank header value is not sendable: the same as none)
        headers = {"X-Mock-Control-Token": credential} if scheme == "header" else {"Authorization": scheme + credential}
    r = client.request(method, _path(endpoint, mock, ""), headers=headers)
    _assert_json_answer(r, mock)
    assert r.status_code == 401
    good = {"X-Mock-Control-Token": TOKEN} if scheme == "header" else {"Authorization": f"Bearer {TOKEN}"}
    r = client.request(method, _path(endpoint, mock, ""), headers=good)
    _assert_json_answer(r, mock)
    assert r.status_code != 401
