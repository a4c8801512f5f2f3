"""`cintel merge --room` as a real process against the mock's Video v1 over loopback, then the merged file hosted on
the mock's media host and transcribed by the mock (which hears it): every sentence is on its participant's channel
and starts within 50 ms of where that participant's speech was placed in the room — from the track recordings' own
start times and from per-participant `Trim=false` compositions (which trim the initial gap, re-aligned), with a late
joiner who left early, and with the participants swapped (the agent on channel 2)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import soundfile as sf

from mock_server import MockConfig, RunningMock, serve
from tests.integration.cli_support import Account, cintel, new_account

ONSET_S = 0.050
# Room time (seconds from the room's start) of each utterance. Alice (the agent) is there from 1 s to the end;
# bob joins at 4 s and leaves at 9 s, long before the end: the guide's duration rule would put him 4 s late.
ALICE = {"identity": "alice", "joined_s": 1.0, "left_s": 14.0,
         "segments": [{"at_s": 2.0, "utterance": "hello"}, {"at_s": 11.5, "utterance": "account"}]}  # fmt: skip
BOB = {"identity": "bob", "joined_s": 4.0, "left_s": 9.0,
       "segments": [{"at_s": 5.0, "utterance": "yes"}, {"at_s": 7.0, "utterance": "goodbye"}]}  # fmt: skip


@pytest.fixture
async def mock() -> AsyncIterator[RunningMock]:
    config = {"lifecycle": {"mode": "immediate"}, "media": {"fetch": True}}
    async with serve(MockConfig.from_json(config), port=0, seed=9) as running:
        yield running


async def make_room(account: Account, participants: list[dict[str, Any]]) -> str:
    async with httpx.AsyncClient(base_url=account.base_url, timeout=60) as control:
        answer = await control.post("/__mock__/rooms", json={"account_sid": account.sid, "participants": participants})
    assert answer.status_code == 201, answer.text
    room: str = answer.json()["room_sid"]
    return room


async def transcribe(account: Account, merged: Path) -> list[dict[str, Any]]:
    """Host `merged` on the mock's media host, transcribe it, and return its sentences in time order."""
    async with httpx.AsyncClient(base_url=account.base_url, auth=(account.sid, account.token), timeout=60) as api:
        hosted = await api.put(f"/__mock__/media/{merged.name}", content=merged.read_bytes(), auth=None)
        assert hosted.status_code in (200, 201), hosted.text
        channel = {"media_properties": {"media_url": hosted.json()["url"]}}
        created = await api.post(
            "/v2/Transcripts", data={"ServiceSid": account.service, "Channel": json.dumps(channel)}
        )
        assert created.status_code in (201, 202), created.text
        sid = created.json()["sid"]
        for _ in range(600):  # bounded: 60 s
            transcript = (await api.get(f"/v2/Transcripts/{sid}")).json()
            if transcript["status"] in ("completed", "failed"):
                break
            await asyncio.sleep(0.1)
        assert transcript["status"] == "completed", transcript
        sentences: list[dict[str, Any]] = (await api.get(f"/v2/Transcripts/{sid}/Sentences")).json()["sentences"]
    return sorted(sentences, key=lambda s: float(s["start_time"]))


def placed(channel_of: dict[str, int]) -> list[tuple[int, float]]:
    """(channel, room time) of every utterance, in time order."""
    said = [(channel_of[p["identity"]], s["at_s"]) for p in (ALICE, BOB) for s in p["segments"]]
    return sorted(said, key=lambda item: item[1])


def check(sentences: list[dict[str, Any]], expected: list[tuple[int, float]]) -> None:
    assert [s["media_channel"] for s in sentences] == [channel for channel, _ in expected], sentences
    for (_, at), sentence in zip(expected, sentences, strict=True):
        assert abs(float(sentence["start_time"]) - at) <= ONSET_S, (at, sentence)


@pytest.mark.parametrize("via", ["recordings", "compositions"])
async def test_each_sentence_is_on_its_participants_channel_where_it_was_said(
    mock: RunningMock, tmp_path: Path, via: str
) -> None:
    account = await new_account(mock, {})
    room = await make_room(account, [BOB, ALICE])  # listed out of join order: channels follow join time
    merged = tmp_path / "room.flac"
    done = await cintel("merge", "--room", room, "--base-url", mock.base_url, "--via", via, "-o", str(merged),
                        env=account.env(), limit_s=180)  # fmt: skip

    assert done.code == 0, done.err[-3000:]
    assert "channel 1: alice\nchannel 2: bob\n" in done.out
    assert "verified: 2 channels" in done.out
    assert account.token not in done.out + done.err
    info = sf.info(str(merged))
    assert (info.channels, info.samplerate, info.subtype) == (2, 16_000, "PCM_16")
    assert abs(info.duration - 14.0) <= 0.05  # the latest track end: alice leaves at 14 s
    check(await transcribe(account, merged), placed({"alice": 1, "bob": 2}))


async def test_swapped_participants_put_the_agent_on_channel_2(mock: RunningMock, tmp_path: Path) -> None:
    account = await new_account(mock, {})
    room = await make_room(account, [ALICE, BOB])
    merged = tmp_path / "swapped.flac"
    done = await cintel("merge", "--room", room, "--base-url", mock.base_url, "--channel1", "bob", "--channel2",
                        "alice", "-o", str(merged), env=account.env(), limit_s=180)  # fmt: skip

    assert done.code == 0, done.err[-3000:]
    assert "channel 1: bob\nchannel 2: alice\n" in done.out
    check(await transcribe(account, merged), placed({"alice": 2, "bob": 1}))


async def test_three_participants_need_a_mapping_and_wrong_credentials_exit_4(
    mock: RunningMock, tmp_path: Path
) -> None:
    account = await new_account(mock, {})
    carol = {"identity": "carol", "joined_s": 2.0, "left_s": 6.0, "segments": [{"at_s": 3.0, "utterance": "yes"}]}
    room = await make_room(account, [ALICE, BOB, carol])
    merged = tmp_path / "three.flac"
    refused = await cintel("merge", "--room", room, "--base-url", mock.base_url, "-o", str(merged), env=account.env())
    assert refused.code == 2
    assert "Intelligence transcribes at most two channels" in refused.err
    assert "(alice, carol, bob)" in refused.err
    assert not merged.exists()

    blocked = await cintel("merge", "--room", room, "--base-url", mock.base_url, "-o", str(merged),
                           env=account.env(TWILIO_AUTH_TOKEN="0" * 32))  # fmt: skip
    assert blocked.code == 4
    assert "20003" in blocked.err
    assert "0" * 32 not in blocked.err

    mixed = await cintel("merge", "--room", room, "--base-url", mock.base_url, "--channel1", "alice,carol",
                         "--channel2", "bob", "-o", str(merged), env=account.env(), limit_s=180)  # fmt: skip
    assert mixed.code == 0, mixed.err[-3000:]
    assert "channel 1: alice, carol\nchannel 2: bob\n" in mixed.out
