"""`POST /__mock__/rooms` bodies: a malformed one is 400 naming the key path and the value, never a 500.

The properties run twice: on `parse_room_body` itself (many examples, no I/O) and over real HTTP against a mock on
a random loopback port (fewer examples; every answer must be Twilio's JSON error with the key path in its message).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mock_server import MockConfig
from mock_server._video import RoomBodyError, parse_room_body
from tests.mock_server.media_support import wav_bytes
from tests.mock_server.support import Threaded, threaded_mock

ACCOUNT = "AC" + "a" * 32
HOSTED = "alice.wav"


def valid_body(account_sid: str = ACCOUNT) -> dict[str, Any]:
    return {
        "account_sid": account_sid,
        "unique_name": "standup",
        "participants": [
            {"identity": "alice", "joined_s": 1.0, "left_s": 5.0, "media": HOSTED},
            {
                "identity": "bob",
                "joined_s": 4.0,
                "left_s": 12.0,
                "track_name": "bob-mic",
                "segments": [{"at_s": 5.0, "utterance": "hello"}, {"at_s": 8.0, "duration_s": 3.0, "gain": 0.4}],
            },
        ],
    }


def parse(body: Any, account_sid: str = ACCOUNT) -> Any:
    return parse_room_body(body, account_exists=lambda sid: sid == account_sid, media_exists=lambda n: n == HOSTED)


# One mutation: (key path the error must name, how to apply it). Every mutation makes the body invalid, and every
# value is finite so the body stays JSON (NaN and infinities are refused before the room is read: see below).
Mutation = tuple[str, Any]


def _set(path: list[Any], value: Any) -> Any:
    def apply(body: dict[str, Any]) -> None:
        node: Any = body
        for step in path[:-1]:
            node = node[step]
        node[path[-1]] = value

    return apply


def _drop(path: list[Any]) -> Any:
    def apply(body: dict[str, Any]) -> None:
        node: Any = body
        for step in path[:-1]:
            node = node[step]
        del node[path[-1]]

    return apply


not_a_number = st.one_of(st.text(max_size=5), st.booleans(), st.none(), st.lists(st.integers(), max_size=2))
finite = st.floats(allow_nan=False, allow_infinity=False)
not_a_string = st.one_of(st.integers(), finite, st.booleans(), st.lists(st.text(), max_size=2))
bad_time = st.one_of(
    not_a_number, st.floats(max_value=-0.001, allow_infinity=False), st.floats(min_value=14_400.01, max_value=1e9)
)

mutations: st.SearchStrategy[Mutation] = st.one_of(
    st.tuples(st.just("account_sid"), not_a_string.map(lambda v: _set(["account_sid"], v))),
    st.just(("account_sid", _set(["account_sid"], "AC" + "b" * 32))),  # no such account
    st.just(("account_sid", _set(["account_sid"], "AC123"))),
    st.just(("account_sid", _drop(["account_sid"]))),
    st.just(("unique_name", _set(["unique_name"], "RM" + "c" * 32))),
    st.tuples(st.just("unique_name"), st.one_of(not_a_string, st.just("")).map(lambda v: _set(["unique_name"], v))),
    st.tuples(st.just("status"), st.sampled_from(["done", 1, None, "ended"]).map(lambda v: _set(["status"], v))),
    st.tuples(st.just("participants"), st.one_of(st.just([]), st.integers(), st.text(max_size=3))
              .map(lambda v: _set(["participants"], v))),
    st.just(("participants", _drop(["participants"]))),
    st.tuples(st.sampled_from(["x", "Participants", "room"]), st.integers()).map(
        lambda kv: (kv[0], _set([kv[0]], kv[1]))),
    st.tuples(st.integers(0, 1), not_a_string).map(lambda iv: (f"participants[{iv[0]}]",
                                                              _set(["participants", iv[0]], iv[1]))),
    st.tuples(st.integers(0, 1), st.sampled_from(["identity", "joined_s", "left_s"])).map(
        lambda ik: (f"participants[{ik[0]}].{ik[1]}", _drop(["participants", ik[0], ik[1]]))),
    st.tuples(st.integers(0, 1), st.one_of(not_a_string, st.just(""))).map(
        lambda iv: (f"participants[{iv[0]}].identity", _set(["participants", iv[0], "identity"], iv[1]))),
    st.tuples(st.integers(0, 1), st.sampled_from(["joined_s", "left_s"]), bad_time).map(
        lambda ikv: (f"participants[{ikv[0]}].{ikv[1]}", _set(["participants", ikv[0], ikv[1]], ikv[2]))),
    st.tuples(st.integers(0, 1), st.floats(0, 0.019)).map(  # left before (or too soon after) joined
        lambda iv: (f"participants[{iv[0]}].left_s",
                    _set(["participants", iv[0], "left_s"], [1.0, 4.0][iv[0]] + iv[1]))),
    st.tuples(st.integers(0, 1), st.sampled_from(["volume", "Identity", "audio"])).map(
        lambda ik: (f"participants[{ik[0]}].{ik[1]}", _set(["participants", ik[0], ik[1]], 1))),
    st.tuples(st.sampled_from(["bob.wav", "missing", "a b", "", "../x"]).map(
        lambda v: ("participants[0].media", _set(["participants", 0, "media"], v)))).map(lambda t: t[0]),
    st.just(("participants[0]", _set(["participants", 0, "segments"], []))),  # media and segments both
    st.just(("participants[1]", _drop(["participants", 1, "segments"]))),  # neither
    st.tuples(st.one_of(st.integers(), st.text(max_size=3), st.dictionaries(st.text(max_size=2), st.integers(),
              max_size=1))).map(lambda t: ("participants[1].segments", _set(["participants", 1, "segments"], t[0]))),
    st.tuples(st.integers(0, 1), not_a_string).map(lambda iv: (f"participants[1].segments[{iv[0]}]",
                                                               _set(["participants", 1, "segments", iv[0]], iv[1]))),
    st.tuples(st.integers(0, 1), st.one_of(bad_time, st.floats(0, 3.99), st.floats(12.0, 14_000))).map(
        lambda iv: (f"participants[1].segments[{iv[0]}].at_s",
                    _set(["participants", 1, "segments", iv[0], "at_s"], iv[1]))),
    st.just(("participants[1].segments[0].at_s", _set(["participants", 1, "segments", 0, "at_s"], 11.0))),  # past left
    st.just(("participants[1].segments[1].at_s", _set(["participants", 1, "segments", 1, "at_s"], 9.5))),
    st.tuples(st.one_of(not_a_string, st.sampled_from(["Hello", "hi", ""]))).map(
        lambda t: ("participants[1].segments[0].utterance",
                   _set(["participants", 1, "segments", 0, "utterance"], t[0]))),
    st.tuples(st.one_of(not_a_number, st.floats(-10, 0.019), st.floats(3600.01, 1e12))).map(
        lambda t: ("participants[1].segments[1].duration_s",
                   _set(["participants", 1, "segments", 1, "duration_s"], t[0]))),
    st.tuples(st.one_of(not_a_number, st.floats(-5, -0.001), st.floats(1.001, 100))).map(
        lambda t: ("participants[1].segments[1].gain", _set(["participants", 1, "segments", 1, "gain"], t[0]))),
    st.just(("participants[1].segments[0]", _set(["participants", 1, "segments", 0, "duration_s"], 1.0))),  # both
    st.just(("participants[1].segments[1].pitch", _set(["participants", 1, "segments", 1, "pitch"], 2))),
)  # fmt: skip


def mutated(mutation: Mutation, account_sid: str = ACCOUNT) -> tuple[str, dict[str, Any]]:
    where, apply = mutation
    body = copy.deepcopy(valid_body(account_sid))
    apply(body)
    return where, body


def test_the_valid_body_parses() -> None:
    plan = parse(valid_body())
    assert plan.unique_name == "standup"
    assert not plan.in_progress
    assert plan.end_s == 12.0
    alice, bob = plan.participants
    assert (alice.media, alice.segments, alice.stay_s) == (HOSTED, (), 4.0)
    assert [s.voice for s in bob.segments] == ["hello", None]
    assert bob.segments[1].gain == 0.4
    assert bob.segments[0].duration_s == pytest.approx(1.668, abs=0.001)


@settings(max_examples=400)
@given(mutation=mutations)
def test_every_malformed_body_is_refused_naming_the_key_path(mutation: Mutation) -> None:
    where, body = mutated(mutation)
    with pytest.raises(RoomBodyError) as caught:
        parse(body)
    assert f"'{where}" in str(caught.value), (where, str(caught.value))


@settings(max_examples=200)
@given(value=st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["account_sid", "participants", "identity", "joined_s", "left_s", "media", "segments",
                         "at_s", "utterance", "x"]), inner, max_size=4),
    max_leaves=16,
))  # fmt: skip
def test_any_json_value_is_a_plan_or_a_room_body_error_saying_where(value: Any) -> None:
    message = None
    try:
        parse(value)  # any other exception (TypeError, KeyError, …) fails the test: it would be a 500
    except RoomBodyError as exc:
        message = str(exc)
    assert message is None or message.startswith(("'", "unknown key '")), message


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Threaded, httpx.Client]]:
    config = MockConfig.from_json({"media": {"fetch": False}})
    with threaded_mock(config, seed=9) as mock, httpx.Client(base_url=mock.base_url, timeout=30) as client:
        assert client.put(f"/__mock__/media/{HOSTED}", content=wav_bytes(1.0, 8_000, 1)).status_code == 201
        yield mock, client
    assert mock.state.unexpected_errors == 0


@settings(max_examples=80, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mutation=mutations)
def test_over_http_a_malformed_room_is_twilios_400_naming_the_key(
    served: tuple[Threaded, httpx.Client], mutation: Mutation
) -> None:
    mock, client = served
    where, body = mutated(mutation, mock.dev.sid)
    r = client.post("/__mock__/rooms", content=json.dumps(body), headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    error = r.json()
    assert set(error) == {"code", "message", "more_info", "status"}
    assert error["code"] == 20001
    assert f"'{where}" in error["message"], (where, error["message"])
    assert mock.state.unexpected_errors == 0


def test_over_http_bodies_that_are_not_json_objects_are_400(served: tuple[Threaded, httpx.Client]) -> None:
    mock, client = served
    for raw in (b"[", b"[]", b'"room"', b"NaN", b'{"a": 1e999}', b"\xff"):
        r = client.post("/__mock__/rooms", content=raw)
        assert (r.status_code, r.json()["code"]) == (400, 20001), (raw, r.text)
    assert client.post("/__mock__/rooms", content=b"").json()["message"] == "'account_sid' is required"
    r = client.get("/__mock__/rooms")
    assert r.status_code == 405
    ok = client.post("/__mock__/rooms", json=valid_body(mock.dev.sid))
    assert ok.status_code == 201, ok.text
