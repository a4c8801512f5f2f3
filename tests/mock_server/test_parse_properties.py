"""Request input parsed as Twilio parses it, not as Python's lenient built-ins do.

`int()` takes `٣`, `１０`, `5_0` and `" 5 "`; `1.0 == 1` and `True == 1` in Python; `datetime.fromisoformat` takes
week dates and offsets that push an instant out of years 1-9999 (it came back as year 0); `json.loads` takes NaN,
lone surrogates and stack-exhausting nesting. Each of these is refused here with Twilio's 400 (or 403 for a media
signature), and what is accepted renders back correctly.
"""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mock_server._errors import ApiError
from mock_server._model import Params
from mock_server._model._params import parse_iso8601
from mock_server._model._render import decode_token, encode_token, iso
from tests.mock_server.domain_support import P, channel, create, world

ASCII_INT = re.compile(r"-?[0-9]+")


def _list(account: Any, **params: str) -> Any:
    return account.list_transcripts(P(**params))


# --- integers: PageSize, Page -------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["٣", "１０", "5_0", " 5", "5 ", "+5", "5\n", "0x10", "1e1", "5.0", "", "٥٠"])
def test_page_size_takes_only_ascii_digits(value: str) -> None:
    _, account, _, _ = world()
    with pytest.raises(ApiError) as info:
        _list(account, PageSize=value)
    assert (info.value.status, info.value.code) == (400, 20001)
    assert "PageSize" in info.value.message


@given(value=st.text(max_size=12))
def test_any_page_size_text_is_taken_iff_it_is_ascii_digits_in_range(value: str) -> None:
    _, account, _, _ = world()
    expected_ok = ASCII_INT.fullmatch(value) is not None and 1 <= int(value) <= 1000
    try:
        result = _list(account, PageSize=value)
    except ApiError as error:
        assert not expected_ok, value
        assert error.status == 400
        assert "PageSize" in error.message
    else:
        assert expected_ok, value
        assert result.body["meta"]["page_size"] == int(value)


@given(number=st.integers(10**9 + 1, 10**40) | st.integers(-(10**40), -1), repeat=st.integers(1, 300))
def test_huge_integers_are_out_of_range_not_a_different_error(number: int, repeat: int) -> None:
    text = str(number) if repeat == 1 else str(number) + "0" * repeat * 20  # up to 6,000 digits: int() refuses
    with pytest.raises(ApiError, match=r"must be between 0 and 1000000000"):
        Params.from_pairs([("Page", text)]).int("Page", 0, low=0, high=10**9)


def test_page_token_must_be_exactly_what_the_service_issued() -> None:
    assert decode_token(encode_token(7)) == 7
    for text in ("p٧", "p 7", "p+7", "p0_7", "p07", "p-0"):
        token = "PT" + base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")
        with pytest.raises(ApiError, match="PageToken"):
            decode_token(token)


# --- channel_participant -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("number", [1.0, 2.0, True, "1", 1.5, 0, 3, None, [1]])
def test_channel_participant_is_the_integer_1_or_2_only(number: Any) -> None:
    _, account, _, service = world(mode="immediate")
    with pytest.raises(ApiError, match="channel_participant must be 1 or 2"):
        create(account, service, Channel=channel(participants=[{"channel_participant": number, "role": "Agent"}]))


def test_channel_participant_as_json_1_point_0_is_refused_but_1_is_taken() -> None:
    _, account, _, service = world(mode="immediate")
    raw = '{"media_properties": {"media_url": "https://m.example.com/a.wav"}, "participants": [%s]}'
    with pytest.raises(ApiError):
        create(account, service, Channel=raw % '{"channel_participant": 1.0}')
    body = create(account, service, Channel=raw % '{"channel_participant": 1}')
    assert body["channel"]["participants"] == [{"channel_participant": 1}]


# --- strict JSON in Channel and Config ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "channel_text",
    [
        '{"media_properties": {"media_url": "https://m.example.com/a.wav"}, "x": NaN}',
        '{"media_properties": {"media_url": "https://m.example.com/a.wav"}, "x": Infinity}',
        '{"media_properties": {"media_url": "https://m.example.com/a.wav"}, "x": 1e999}',
        '{"media_properties": {"media_url": "https://m.example.com/a.wav"}, "x": "\\ud800"}',
        '{"media_properties": {"media_url": "https://m.example.com/a.wav"}, "\\udfff": 1}',
        '{"media_properties": {"media_url": "https://m.example.com/a.wav"}, "x": ' + "[" * 40 + "]" * 40 + "}",
        '{"media_properties": {"media_url": "https://m.example.com/a.wav"}, "x": ' + "[" * 5000 + "]" * 5000 + "}",
    ],
)
def test_channel_json_that_could_not_be_answered_as_json_is_a_400(channel_text: str) -> None:
    _, account, _, service = world(mode="immediate")
    with pytest.raises(ApiError) as info:
        create(account, service, Channel=channel_text)
    assert (info.value.status, info.value.code) == (400, 20001)
    assert "Channel" in info.value.message


def test_custom_operator_config_is_strict_json_too() -> None:
    _, account, _, _ = world()
    for config in ('{"x": NaN}', '{"x": "\\udc00"}', "[" * 3000 + "]" * 3000):
        with pytest.raises(ApiError, match="Config"):
            account.create_custom_operator(P(FriendlyName="op", OperatorType="text-generation", Config=config))


# --- MediaStartTime and the other date-times ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "rendered"),
    [
        ("2024-05-01T13:45:00Z", "2024-05-01T13:45:00Z"),
        ("2024-05-01T13:45:00.999Z", "2024-05-01T13:45:00Z"),
        ("2024-05-01T13:45:00+02:00", "2024-05-01T11:45:00Z"),
        ("2024-05-01T00:00:00+23:59", "2024-04-30T00:01:00Z"),
        ("2024-05-01T23:59:59-23:59", "2024-05-02T23:58:59Z"),
        ("2024-05-01", "2024-05-01T00:00:00Z"),
        ("2024-05-01T13:45", "2024-05-01T13:45:00Z"),
        ("0001-01-01T23:59:00+23:59", "0001-01-01T00:00:00Z"),
        ("9999-12-31T23:59:59.999999Z", "9999-12-31T23:59:59Z"),
    ],
)
def test_media_start_time_renders_as_the_same_instant_in_utc(value: str, rendered: str) -> None:
    _, account, _, service = world(mode="immediate")
    assert create(account, service, MediaStartTime=value)["media_start_time"] == rendered


@pytest.mark.parametrize(
    "value",
    [
        "0001-01-01T00:00:00+23:59",  # a real offset, but an instant before year 1 (was rendered as year 0)
        "9999-12-31T23:59:59-00:01",  # after year 9999 in UTC
        "2024-05-01T00:00:00+24:00",
        "2024-05-01T00:00:00+05:60",
        "2024-02-30T00:00:00Z",
        "2024-05-01T24:00:00Z",
        "2024-W18-3",
        "20240501T134500",
        "٢٠٢٤-05-01T00:00:00Z",
        "2024-05-01T13:45:00Z ",
        "yesterday",
    ],
)
def test_media_start_time_outside_what_twilio_takes_is_a_400_naming_it(value: str) -> None:
    _, account, _, service = world(mode="immediate")
    with pytest.raises(ApiError) as info:
        create(account, service, MediaStartTime=value)
    assert info.value.status == 400
    assert "MediaStartTime" in info.value.message


offsets = st.integers(-(23 * 60 + 59), 23 * 60 + 59).map(lambda m: timezone(timedelta(minutes=m)))


@given(moment=st.datetimes(timezones=offsets), style=st.sampled_from(["%H:%M", "%H%M"]))
def test_any_offset_date_time_parses_to_its_utc_instant_or_is_refused(moment: datetime, style: str) -> None:
    offset = moment.utcoffset()
    assert offset is not None
    minutes = int(offset.total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    zone = (datetime(2000, 1, 1) + timedelta(minutes=abs(minutes))).strftime(style)
    text = f"{moment.year:04d}-{moment:%m-%dT%H:%M:%S}{sign}{zone}"
    try:
        utc = moment.astimezone(UTC)
    except OverflowError:
        with pytest.raises(ApiError, match="between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z"):
            parse_iso8601("MediaStartTime", text)
        return
    rendered = iso(parse_iso8601("MediaStartTime", text))
    assert rendered == f"{utc.year:04d}-{utc:%m-%dT%H:%M:%S}Z"


@given(value=st.text(max_size=40))
def test_any_text_as_a_date_time_is_an_instant_in_range_or_a_400(value: str) -> None:
    try:
        epoch = parse_iso8601("BeforeStartTime", value)
    except ApiError as error:
        assert error.status == 400
        assert "BeforeStartTime" in error.message
    else:
        assert re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z", iso(epoch))


def test_list_filters_use_the_same_strict_date_times() -> None:
    _, account, _, service = world(mode="immediate")
    create(account, service, MediaStartTime="2024-01-01T10:00:00+01:00")
    assert len(_list(account, AfterStartTime="2024-01-01T08:59:59Z").body["transcripts"]) == 1
    assert len(_list(account, AfterStartTime="2024-01-01T09:00:00Z").body["transcripts"]) == 0
    with pytest.raises(ApiError, match="AfterStartTime"):
        _list(account, AfterStartTime="2024-W01-1")


# --- the signed media URL's Expires -------------------------------------------------------------------------------


def test_media_expires_must_be_ascii_digits() -> None:
    registry, account, _, service = world(mode="immediate")
    sid = create(account, service)["sid"]
    media_url = account.fetch_media(sid, P()).body["media_url"]
    query = media_url.partition("?")[2]
    expires = re.search(r"Expires=([0-9]+)", query).group(1)  # type: ignore[union-attr]
    signature = re.search(r"Signature=([0-9a-f]+)", query).group(1)  # type: ignore[union-attr]
    assert registry.media(account.sid, sid, expires, signature)[:4] == b"RIFF"
    arabic = expires.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    for variant in (arabic, f" {expires}", f"+{expires}", f"{expires[:2]}_{expires[2:]}"):
        with pytest.raises(ApiError) as info:
            registry.media(account.sid, sid, variant, signature)
        assert info.value.status == 403


def test_channel_json_round_trips_in_the_answer() -> None:
    _, account, _, service = world(mode="immediate")
    text = json.dumps({"media_properties": {"media_url": "https://m.example.com/é.wav"}, "participants": []})
    assert create(account, service, Channel=text)["channel"] == json.loads(text)
