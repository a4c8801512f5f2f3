"""Sentences come from the audio: real speech (tests/audio) placed at known times on known channels, served by the
mock's own media host, heard by the real analyser, read back through the HTTP API — where the speech is, on which
channel, what the script says, seeded words, PII redacted and found by the PII operator, words inside sentences.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import random
import re
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mock_server._clock import ManualClock
from mock_server._config import LifecycleConfig, MediaConfig
from mock_server._media._pii import find_pii
from mock_server._model import Registry
from mock_server._model._catalogue import PREBUILT
from tests.mock_server.domain_support import P, channel
from tests.mock_server.media.audio_support import Placed, encode, recording
from tests.mock_server.media_support import FakeAnalysis, FakeSegment, settle
from tests.mock_server.support import Api, Creds

FETCH = {"media": {"fetch": True}, "lifecycle": {"mode": "immediate"}}
ONSET_S = 0.050
CONVERSATION = [
    Placed("hello", 1, 0.7),
    Placed("account", 2, 3.1),
    Placed("yes", 1, 5.9),
    Placed("repeat", 2, 7.4),
    Placed("goodbye", 1, 9.2),
    Placed("hello", 2, 11.5),
]
PII_OPERATOR = next(p.sid for p in PREBUILT if p.operator_type == "pii-extract")


def flac(placed: list[Placed], *, duration_s: float = 14.0, channels: int = 2) -> bytes:
    return encode(recording(placed, channels=channels, duration_s=duration_s), 16_000, "FLAC")


async def host(api: Api, name: str, data: bytes) -> str:
    """Put `data` on the mock's media host; its signed URL."""
    async with api.client.put(f"/__mock__/media/{name}", data=data) as r:
        assert r.status == 201, await r.text()
        return str((await r.json())["url"])


async def create(
    api: Api, creds: Creds, service: str, *, url: str | None = None, source_sid: str | None = None, **extra: Any
) -> str:
    props = {"media_url": url} if url is not None else {"source_sid": source_sid}
    form = {"ServiceSid": service, "Channel": json.dumps({"media_properties": props, **extra})}
    r = await api.call("POST", "/v2/Transcripts", creds, data=form)
    assert r.status == 202, r.body
    sid = str(r.body["sid"])
    account = api.state.registry.account(creds.sid)
    assert account is not None
    await settle(lambda: account.transcripts[sid].status in ("completed", "failed"), 30)
    assert account.transcripts[sid].status == "completed"
    return sid


async def sentences(api: Api, creds: Creds, sid: str, **query: str) -> list[dict[str, Any]]:
    r = await api.call("GET", f"/v2/Transcripts/{sid}/Sentences", creds, params={"PageSize": "5000", **query})
    assert r.status == 200, r.body
    return list(r.body["sentences"])


def start(s: dict[str, Any]) -> float:
    return float(s["start_time"])


async def test_each_utterance_is_one_sentence_on_its_channel_starting_within_50_ms(make_api: Any) -> None:
    api: Api = await make_api(FETCH)
    url = await host(api, "call.flac", flac(CONVERSATION))
    sid = await create(api, api.dev, api.state.dev_service_sid, url=url)
    said = await sentences(api, api.dev, sid)
    assert len(said) == len(CONVERSATION)
    for placed, sentence in zip(CONVERSATION, said, strict=True):  # in time order, as placed
        assert sentence["media_channel"] == placed.channel
        assert abs(start(sentence) - placed.start_s) <= ONSET_S, (placed, sentence)
        assert float(sentence["end_time"]) > start(sentence)
        assert 0.8 <= float(sentence["confidence"]) <= 1.0
        assert sentence["words"] == []  # only with WordTimestamps=true
    assert [s["sentence_index"] for s in said] == list(range(len(said)))
    assert len({s["sid"] for s in said}) == len(said)
    transcript = (await api.call("GET", f"/v2/Transcripts/{sid}", api.dev)).body
    assert transcript["duration"] == 14  # the media's, not an invented one


async def test_sentences_carry_the_audio_channel_whatever_the_participants_say(make_api: Any) -> None:
    api: Api = await make_api(FETCH)
    url = await host(api, "swapped.flac", flac(CONVERSATION))
    participants = [{"channel_participant": 1, "role": "Customer"}, {"channel_participant": 2, "role": "Agent"}]
    sid = await create(api, api.dev, api.state.dev_service_sid, url=url, participants=participants)
    said = await sentences(api, api.dev, sid)
    assert [s["media_channel"] for s in said] == [p.channel for p in CONVERSATION]
    transcript = (await api.call("GET", f"/v2/Transcripts/{sid}", api.dev)).body
    echoed = {p["channel_participant"]: p["role"] for p in transcript["channel"]["participants"]}
    assert echoed == {1: "Customer", 2: "Agent"}  # the Channel is echoed as given


async def test_a_mono_file_is_one_channel(make_api: Any) -> None:
    api: Api = await make_api(FETCH)
    placed = [Placed("hello", 1, 0.5), Placed("goodbye", 1, 3.0)]
    url = await host(api, "mono.flac", flac(placed, duration_s=5.0, channels=1))
    said = await sentences(api, api.dev, await create(api, api.dev, api.state.dev_service_sid, url=url))
    assert [s["media_channel"] for s in said] == [1, 1]
    assert all(abs(start(s) - p.start_s) <= ONSET_S for s, p in zip(said, placed, strict=True))


async def test_a_script_registered_by_hash_gives_each_channel_its_lines_in_order(make_api: Any) -> None:
    api: Api = await make_api(FETCH)
    data = flac(CONVERSATION)
    lines = {"1": ["Hello, thanks for calling.", "Yes, I can do that.", "Goodbye now."],
             "2": ["It is about my account.", "Could you repeat that?", "Hello again."]}  # fmt: skip
    r = await api.control("POST", "/__mock__/scripts", {"sha256": hashlib.sha256(data).hexdigest(), "channels": lines})
    assert r.status == 201, r.body
    said = await sentences(api, api.dev, await create(api, api.dev, api.state.dev_service_sid,
                                                      url=await host(api, "scripted.flac", data)))  # fmt: skip
    for ch in ("1", "2"):
        assert [s["transcript"] for s in said if s["media_channel"] == int(ch)] == lines[ch]
    assert [s["transcript"] for s in said] == [
        "Hello, thanks for calling.", "It is about my account.", "Yes, I can do that.", "Could you repeat that?",
        "Goodbye now.", "Hello again.",
    ]  # fmt: skip


async def test_a_script_is_found_by_its_url_without_the_query_and_the_hash_wins(make_api: Any) -> None:
    api: Api = await make_api(FETCH)
    data = flac(CONVERSATION)
    url = await host(api, "by-url.flac", data)
    assert "Signature=" in url
    bare = url.split("?")[0]
    r = await api.control("POST", "/__mock__/scripts", {"media_url": bare, "channels": {"1": ["By URL."]}})
    assert r.status == 201, r.body
    said = await sentences(api, api.dev, await create(api, api.dev, api.state.dev_service_sid, url=url))
    assert said[0]["transcript"] == "By URL."  # the signed URL found the script registered for the bare one
    assert said[1]["transcript"] != "By URL."  # channel 2 had no lines: seeded words
    sha = hashlib.sha256(data).hexdigest()
    r = await api.control("POST", "/__mock__/scripts", {"sha256": sha, "channels": {"1": ["By hash."]}})
    assert r.status == 201
    said = await sentences(api, api.dev, await create(api, api.dev, api.state.dev_service_sid, url=url))
    assert said[0]["transcript"] == "By hash."


async def test_a_recording_finds_its_script_by_hash(make_api: Any) -> None:
    api: Api = await make_api(FETCH)
    data = flac(CONVERSATION)
    recording_sid = "RE" + "cd" * 16
    async with api.client.put(f"/__mock__/accounts/{api.dev.sid}/recordings/{recording_sid}", data=data) as r:
        assert r.status == 201
    body = {"sha256": hashlib.sha256(data).hexdigest(), "channels": {"2": ["From the recording."]}}
    assert (await api.control("POST", "/__mock__/scripts", body)).status == 201
    sid = await create(api, api.dev, api.state.dev_service_sid, source_sid=recording_sid)
    said = await sentences(api, api.dev, sid)
    assert next(s["transcript"] for s in said if s["media_channel"] == 2) == "From the recording."


async def test_seeded_text_is_the_same_for_the_same_media_and_differs_for_other_media(make_api: Any) -> None:
    api: Api = await make_api(FETCH)
    data = flac(CONVERSATION)
    other = flac([Placed(p.name, p.channel, p.start_s + 0.25) for p in CONVERSATION])
    first = await sentences(api, api.dev, await create(api, api.dev, api.state.dev_service_sid,
                                                       url=await host(api, "a.flac", data)))  # fmt: skip
    again = await sentences(api, api.dev, await create(api, api.dev, api.state.dev_service_sid,
                                                       url=await host(api, "b.flac", data)))  # fmt: skip
    moved = await sentences(api, api.dev, await create(api, api.dev, api.state.dev_service_sid,
                                                       url=await host(api, "c.flac", other)))  # fmt: skip
    text = [s["transcript"] for s in first]
    assert text == [s["transcript"] for s in again]  # same bytes, another URL: the same words
    assert text != [s["transcript"] for s in moved]
    assert all(re.fullmatch(r"[A-Z][a-zA-Z ]*\.", t) for t in text)
    assert not any(find_pii(t) for t in text)  # seeded words never contain PII


async def test_pii_in_a_scripted_line_is_redacted_by_default_and_found_by_the_pii_operator(make_api: Any) -> None:
    api: Api = await make_api(FETCH)
    service = await api.service(api.dev, AutoRedaction="true")
    attached = await api.call("POST", f"/v2/Services/{service}/Operators/{PII_OPERATOR}", api.dev)
    assert attached.status == 202, attached.body
    data = flac(CONVERSATION)
    secret_line = "Sure, it is +1 555 010 4477 and my card is 4111 1111 1111 1111."
    body = {"sha256": hashlib.sha256(data).hexdigest(), "channels": {"2": ["Hi.", secret_line]}}
    assert (await api.control("POST", "/__mock__/scripts", body)).status == 201
    sid = await create(api, api.dev, service, url=await host(api, "pii.flac", data))

    redacted = await sentences(api, api.dev, sid)
    assert redacted[3]["transcript"] == "Sure, it is [PhoneNumber] and my card is [CreditCardNumber]."
    plain = await sentences(api, api.dev, sid, Redacted="false")
    assert plain[3]["transcript"] == secret_line
    assert [s["transcript"] for s in redacted if s["sentence_index"] != 3] == [
        s["transcript"] for s in plain if s["sentence_index"] != 3
    ]
    words = await sentences(api, api.dev, sid, WordTimestamps="true")
    assert [w["word"] for w in words[3]["words"]] == [
        "Sure,", "it", "is", "[PhoneNumber]", "and", "my", "card", "is", "[CreditCardNumber]",
    ]  # fmt: skip

    r = await api.call("GET", f"/v2/Transcripts/{sid}/OperatorResults/{PII_OPERATOR}", api.dev)
    assert r.status == 200, r.body
    assert (r.body["operator_type"], r.body["name"], r.body["extract_match"]) == ("pii-extract", "PII Extract", True)
    assert r.body["extract_results"] == {"entities": ["[PhoneNumber]", "[CreditCardNumber]"]}
    assert [(u["utterance_index"], u["media_channel"], u["label"]) for u in r.body["utterance_results"]] == [
        (3, 2, "PhoneNumber"), (3, 2, "CreditCardNumber"),
    ]  # fmt: skip
    r = await api.call("GET", f"/v2/Transcripts/{sid}/OperatorResults", api.dev, params={"Redacted": "false"})
    [result] = r.body["operator_results"]
    assert result["extract_results"] == {"entities": ["+1 555 010 4477", "4111 1111 1111 1111"]}

    # Reading sentences still needs the permission on a restricted key, redacted or not.
    key = await api.key(api.dev, ["/twilio/voice/intelligence.transcripts/read"])
    for query in ({}, {"Redacted": "false"}):
        denied = await api.call("GET", f"/v2/Transcripts/{sid}/Sentences", key, params=query)
        assert (denied.status, denied.body["code"]) == (401, 70051)


async def test_without_auto_redaction_sentences_and_operator_show_the_values(make_api: Any) -> None:
    api: Api = await make_api(FETCH)
    service = await api.service(api.dev)
    await api.call("POST", f"/v2/Services/{service}/Operators/{PII_OPERATOR}", api.dev)
    data = flac(CONVERSATION)
    body = {"sha256": hashlib.sha256(data).hexdigest(), "channels": {"1": ["Mail pat@example.com please."]}}
    assert (await api.control("POST", "/__mock__/scripts", body)).status == 201
    sid = await create(api, api.dev, service, url=await host(api, "clear.flac", data))
    assert (await sentences(api, api.dev, sid))[0]["transcript"] == "Mail pat@example.com please."
    r = await api.call("GET", f"/v2/Transcripts/{sid}/OperatorResults/{PII_OPERATOR}", api.dev)
    assert r.body["extract_results"] == {"entities": ["pat@example.com"]}


async def test_word_timestamps_lie_within_their_sentence_in_order(make_api: Any) -> None:
    api: Api = await make_api(FETCH)
    sid = await create(api, api.dev, api.state.dev_service_sid, url=await host(api, "w.flac", flac(CONVERSATION)))
    said = await sentences(api, api.dev, sid, WordTimestamps="true")
    for s in said:
        words = s["words"]
        assert [w["word"] for w in words] == s["transcript"].split()
        begin, end = start(s), float(s["end_time"])
        for w in words:
            assert begin <= w["start_time"] <= w["end_time"] <= end, (s, w)
        assert all(a["end_time"] <= b["start_time"] for a, b in itertools.pairwise(words))


async def test_sentences_are_built_once_at_completion_and_kept(make_api: Any) -> None:
    api: Api = await make_api(FETCH)
    data = flac(CONVERSATION)
    sid = await create(api, api.dev, api.state.dev_service_sid, url=await host(api, "once.flac", data))
    record = api.state.dev_account.transcripts[sid]
    assert record.media_sha256 == hashlib.sha256(data).hexdigest()
    assert record.sentences is not None
    kept = record.sentences.plain
    before = await sentences(api, api.dev, sid)
    body = {"sha256": record.media_sha256, "channels": {"1": ["Too late."]}}
    assert (await api.control("POST", "/__mock__/scripts", body)).status == 201
    assert await sentences(api, api.dev, sid) == before  # a script registered after completion changes nothing
    assert record.sentences.plain is kept


# --- the domain model, with analyses made up (cheap enough for a property test) --------------------------------------

segments = st.lists(
    st.tuples(st.sampled_from([1, 2]), st.floats(0, 600, allow_nan=False), st.floats(0.05, 30, allow_nan=False)),
    max_size=25,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spans=segments, redaction=st.booleans(), digest=st.binary(min_size=32, max_size=32))
def test_any_segments_become_one_sentence_each_with_words_inside(
    spans: list[tuple[int, float, float]], redaction: bool, digest: bytes
) -> None:
    clock = ManualClock()
    registry = Registry(random.Random(5), clock)
    account = registry.create_account(lifecycle=LifecycleConfig(mode="immediate"), media=MediaConfig())
    service = account.create_service(P(UniqueName="s", AutoRedaction="true" if redaction else "false")).body
    assert service is not None
    created = account.create_transcript(P(ServiceSid=service["sid"], Channel=channel())).body
    assert created is not None
    sid = created["sid"]
    found = tuple(FakeSegment(ch, start, start + length, -20.0) for ch, start, length in spans)
    analysis = FakeAnalysis("wav", 16_000, 2, 700.0, found)
    assert account.media_ready(sid, analysis, None, clock.now(), sha256=digest.hex())
    body = account.list_sentences(sid, P(PageSize="5000", WordTimestamps="true")).body
    assert body is not None
    said = body["sentences"]
    expected = sorted((round(s.start_s, 2), s.channel) for s in found)
    assert sorted((round(float(s["start_time"]), 2), s["media_channel"]) for s in said) == expected
    for s in said:
        begin, end = float(s["start_time"]), float(s["end_time"])
        assert begin <= end
        assert all(begin <= w["start_time"] <= w["end_time"] <= end for w in s["words"])
        assert not find_pii(s["transcript"]) or not redaction
    again = account.list_sentences(sid, P(PageSize="5000", WordTimestamps="true")).body
    assert again == body


def test_a_transcript_nobody_listened_to_keeps_the_invented_conversation() -> None:
    clock = ManualClock()
    registry = Registry(random.Random(5), clock)
    account = registry.create_account(lifecycle=LifecycleConfig(mode="immediate"), media=MediaConfig(fetch=False))
    service = account.create_service(P(UniqueName="s")).body
    assert service is not None
    sid = account.create_transcript(P(ServiceSid=service["sid"], Channel=channel())).body["sid"]  # type: ignore[index]
    record = account.transcripts[sid]
    assert record.analysis is None
    assert record.sentences is None  # computed when read: a million stored transcripts stay small
    said = account.list_sentences(sid, P()).body["sentences"]  # type: ignore[index]
    assert said
    assert said[0]["media_channel"] == 1  # the agent opens, on channel 1 by default
