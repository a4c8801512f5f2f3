"""The request path's shortcuts (written for the throughput benchmark) answer exactly what the general code does.

Each shortcut is compared with the code it stands in for, over inputs chosen to sit on both sides of its boundary:
the simple-Channel regex with the full Channel parser, the transcript JSON written directly with the encoder's
output for `render_transcript`, the one-second `iso` cache with the formula, the C percent-decoder with
`unquote_plus`. The invented media length is pinned: a change to it changes what every seed's transcripts say.
"""

from __future__ import annotations

import json
import math
import random
import statistics
import time
from typing import Any
from urllib.parse import quote_from_bytes, quote_plus, unquote_plus

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mock_server._errors import ApiError
from mock_server._handlers import _dumps, _unquote_plus
from mock_server._model._channel import ParsedChannel, _parse_channel, parse_channel
from mock_server._model._content import media_seconds
from mock_server._model._render import iso
from tests.mock_server.domain_support import P, world

# --- Channel --------------------------------------------------------------------------------------------------


def _outcome(parse: Any, raw: str | None) -> ParsedChannel | tuple[int, int, str]:
    try:
        parsed: ParsedChannel = parse(raw)
    except ApiError as error:
        return error.status, error.code, error.message
    return parsed


# Each part is valid for the shortcut about half the time, so both sides of its boundary are well visited.
WHITESPACE = st.text(alphabet=" \t\n\r", max_size=2)  # JSON's; one place may get another kind (below)
SCHEMES = st.one_of(st.sampled_from(["http", "https", "HTTPS", "hTTp"]), st.sampled_from(["ftp", "", "http:", "h"]))
HOSTS = st.one_of(
    st.text(alphabet="abcXYZ019.-", min_size=1, max_size=6),
    st.sampled_from(["", "h:8080", "h:99999", "h:", "u@h", "[::1]", "[bad", "é.example", "h h", "h\x00"]),
)
TAILS = st.one_of(
    st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=12).map(lambda t: "/" + t),
    st.text(alphabet=st.characters(min_codepoint=0x00, max_codepoint=0x7F), max_size=12),
    st.text(max_size=6),
    st.sampled_from(["", "/a.wav", "/a.wav?X-Amz-Signature=abc&b=1", "#frag", "?q", "/x y", '/"', "/\\", "/\x7f"]),
)


@st.composite
def channels(draw: st.DrawFn) -> str:
    """Channel texts near the simple shape: its whitespace, key names, URL parts and extras varied."""
    url = draw(SCHEMES) + "://" + draw(HOSTS) + draw(TAILS)
    if draw(st.booleans()):
        ws = [draw(WHITESPACE) for _ in range(10)]
        if draw(st.integers(0, 3)) == 0:
            ws[draw(st.integers(0, 9))] = draw(st.sampled_from(["\x0b", "\x0c", "\u00a0", "\u2028", "x"]))
        key = draw(st.sampled_from(["media_url", "media_url", "media_url", "source_sid", "Media_url"]))
        return (
            f'{ws[0]}{{{ws[1]}"media_properties"{ws[2]}:{ws[3]}{{{ws[4]}"{key}"{ws[5]}:{ws[6]}'
            f"{json.dumps(url, ensure_ascii=draw(st.booleans()))}{ws[7]}}}{ws[8]}}}{ws[9]}"
        )
    props: dict[str, Any] = {"media_url": url}
    if draw(st.booleans()):
        props["source_sid"] = "RE" + "0" * 32
    channel: dict[str, Any] = {"media_properties": props}
    if draw(st.booleans()):
        channel["participants"] = [{"channel_participant": 1, "role": "Customer"}]
    return json.dumps(channel, separators=draw(st.sampled_from([(",", ":"), (", ", ": ")])))


@given(raw=channels())
@settings(max_examples=400)
def test_a_channel_parses_the_same_with_or_without_the_shortcut(raw: str) -> None:
    assert _outcome(parse_channel, raw) == _outcome(_parse_channel, raw)


@pytest.mark.parametrize(
    "raw",
    [
        '{"media_properties":{"media_url":"https://media.example.com/a.wav"}}',
        ' {\n"media_properties" :\t{ "media_url" : "HTTP://h/p?a=1&b=%20#f" } }\r\n',
        '{"media_properties":{"media_url":"http://."}}',
        '{"media_properties":{"media_url":"https://h:8080/a"}}',  # a port: the full path
        '{"media_properties":{"media_url":"https://h/a\\u0020b"}}',  # an escape: the full path
        '{"media_properties":{"media_url":""}}',
        "",
        None,
    ],
)
def test_examples_on_both_sides_of_the_shortcut_parse_the_same(raw: str | None) -> None:
    assert _outcome(parse_channel, raw) == _outcome(_parse_channel, raw)


# --- transcript JSON --------------------------------------------------------------------------------------------

TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=20)


@given(
    customer_key=st.none() | TEXT,
    start=st.none() | st.sampled_from(["2024-05-01T13:45:00Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"]),
    role=TEXT,
    url=st.sampled_from(["https://media.example.com/a.wav", 'https://h:8443/ä?x="1"', "http://h/\u2028"]),
    mode=st.sampled_from(["immediate", "after_polls", "after_seconds"]),
    redaction=st.booleans(),
    clock_at=st.floats(min_value=0, max_value=1e9),
)
def test_transcript_json_is_the_encoded_render(
    customer_key: str | None, start: str | None, role: str, url: str, mode: str, redaction: bool, clock_at: float
) -> None:
    _, account, clock, service_sid = world(mode=mode)
    account.update_service(service_sid, P(AutoRedaction=str(redaction).lower()))
    clock.advance(clock_at)
    params = {"ServiceSid": service_sid}
    channel = {"media_properties": {"media_url": url}, "participants": [{"channel_participant": 2, "role": role}]}
    params["Channel"] = json.dumps(channel)
    if customer_key is not None and len(customer_key) <= 64:
        params["CustomerKey"] = customer_key
    if start is not None:
        params["MediaStartTime"] = start
    try:
        created = account.create_transcript(P(**params))
    except ApiError:
        return  # refused input: nothing rendered
    t = account.transcripts[created.body["sid"]]
    assert created.encoded == _dumps(account.render_transcript(t))
    fetched = account.fetch_transcript(t.sid)
    assert fetched.encoded == _dumps(account.render_transcript(t))
    assert fetched.body == account.render_transcript(t)


# --- media_seconds and iso ------------------------------------------------------------------------------------------


@given(sid=st.text(max_size=40))
def test_media_seconds_is_a_length_in_range(sid: str) -> None:
    assert 30 <= media_seconds(sid) <= 600


@pytest.mark.parametrize(
    ("sid", "seconds"),
    [("GT" + "0" * 32, 325), ("GT" + "f" * 32, 251), ("GT0123456789abcdef0123456789abcdef", 107)],
)
def test_media_seconds_of_known_sids(sid: str, seconds: int) -> None:
    assert media_seconds(sid) == seconds  # SHA-256("media:" + sid), first 8 bytes, mod 571, + 30


def test_media_seconds_spread_over_the_whole_range() -> None:
    rng = random.Random(11)
    lengths = [media_seconds(f"GT{rng.getrandbits(128):032x}") for _ in range(20_000)]
    assert (min(lengths), max(lengths)) == (30, 600)
    assert 300 < statistics.fmean(lengths) < 330  # uniform over 30-600: mean 315
    tenths = [sum(30 + 57 * k <= n < 30 + 57 * (k + 1) for n in lengths) for k in range(10)]
    assert min(tenths) > 1_700  # about 2,000 in each tenth of the range


def _iso_formula(epoch: float) -> str:
    t = time.gmtime(math.floor(epoch))
    return f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}Z"


@given(epochs=st.lists(st.floats(min_value=-62135596800, max_value=253402300799.9), max_size=8), repeat=st.booleans())
def test_iso_with_its_one_second_cache_is_the_formula(epochs: list[float], repeat: bool) -> None:
    for epoch in epochs:
        for nearby in (epoch, epoch + 0.5, epoch) if repeat else (epoch,):
            if nearby <= 253402300799.9:
                assert iso(nearby) == _iso_formula(nearby)


# --- form decoding ----------------------------------------------------------------------------------------------

FORM_TEXT = st.one_of(
    st.text(alphabet="%+\\x0123456789abcdefABCDEFgz \u00e9\u2028\n", max_size=30),
    st.binary(max_size=12).map(lambda b: quote_from_bytes(b)),  # any bytes, UTF-8 or not, percent-escaped
    st.text(max_size=12).map(lambda t: quote_plus(t)),
)


def _decoded(text: str) -> str | type[Exception]:
    try:
        return _unquote_plus(text)
    except UnicodeDecodeError:
        return UnicodeDecodeError


def _decoded_by_stdlib(text: str) -> str | type[Exception]:
    try:
        return unquote_plus(text, errors="strict")
    except UnicodeDecodeError:
        return UnicodeDecodeError


@given(parts=st.lists(FORM_TEXT, max_size=4))
@settings(max_examples=400)
def test_form_text_decodes_as_unquote_plus_does(parts: list[str]) -> None:
    text = "".join(parts)
    assert _decoded(text) == _decoded_by_stdlib(text)


@pytest.mark.parametrize(
    "text", ["%7B%22a%22%3A+1%7D", "a\\x41%41", "\\%41", "%4", "%zz", "%", "%C3%A9", "%C3", "%ff", "é%41", "a+b", "\\"]
)
def test_form_text_examples_decode_as_unquote_plus_does(text: str) -> None:
    assert _decoded(text) == _decoded_by_stdlib(text)
