"""What a Recording's `.mka` holds: the participant's own audio from its join, Opus at 48 kHz, and the container start
time of the track in the room (decoded with PyAV, as a client would)."""

from __future__ import annotations

import io

import numpy as np
import soundfile as sf

from mock_server._video._speech import RATE
from tests.mock_server.video.video_support import VideoApi, decode, energy, locate, utterance_48k

MS = RATE // 1000


def click_track(seconds: float, rate: int, at_s: float) -> bytes:
    """A mono WAV at `rate`: silence, one 50 ms 1 kHz burst at `at_s`."""
    audio = np.zeros(round(seconds * rate), dtype=np.float32)
    start = round(at_s * rate)
    t = np.arange(round(0.05 * rate)) / rate
    audio[start : start + len(t)] = 0.5 * np.sin(2 * np.pi * 1000 * t)
    out = io.BytesIO()
    sf.write(out, audio, rate, format="WAV", subtype="PCM_16")
    return out.getvalue()


async def test_generated_speech_lands_where_it_was_placed_counted_from_the_join(video_api: VideoApi) -> None:
    dev = video_api.dev
    made = await video_api.room({
        "account_sid": dev.sid,
        "participants": [{"identity": "bob", "joined_s": 4.0, "left_s": 8.5,
                          "segments": [{"at_s": 5.25, "utterance": "hello", "gain": 0.6}]}],
    })  # fmt: skip
    rec = made["participants"][0]["recording_sid"]
    start, samples = decode(await video_api.media(dev, f"/v1/Recordings/{rec}/Media"))
    assert abs(start - 4.0) <= 0.0015  # Matroska's milliseconds and Opus's 6.5 ms pre-skip: within a millisecond
    assert len(samples) == round(4.5 * RATE)  # exactly the stay, 4.5 s
    found = locate(samples, utterance_48k("hello"))
    assert abs(found - round(1.25 * RATE)) <= 2 * MS  # 5.25 s in the room is 1.25 s after the join
    assert energy(samples, 0.0, 1.2) < 1e-3
    assert energy(samples, 3.0, 4.5) < 1e-3


async def test_hosted_media_starts_at_the_join_and_is_cut_when_the_participant_leaves(video_api: VideoApi) -> None:
    dev = video_api.dev
    # 44.1 kHz, a burst 0.5 s in and one 2.5 s in; the participant stays 2 s, so only the first is heard.
    audio = np.zeros(round(3.0 * 44_100), dtype=np.float32)
    for at in (0.5, 2.5):
        t = np.arange(round(0.05 * 44_100)) / 44_100
        audio[round(at * 44_100) : round(at * 44_100) + len(t)] = 0.5 * np.sin(2 * np.pi * 1000 * t)
    out = io.BytesIO()
    sf.write(out, audio, 44_100, format="FLAC")
    await video_api.host("carol.flac", out.getvalue())
    made = await video_api.room({
        "account_sid": dev.sid,
        "participants": [{"identity": "carol", "joined_s": 2.5, "left_s": 4.5, "media": "carol.flac"}],
    })  # fmt: skip
    rec = made["participants"][0]["recording_sid"]
    start, samples = decode(await video_api.media(dev, f"/v1/Rooms/{made['room_sid']}/Recordings/{rec}/Media"))
    assert abs(start - 2.5) <= 0.0015
    assert len(samples) == 2 * RATE
    loud = np.flatnonzero(np.abs(samples) > 0.1)
    assert abs(int(loud[0]) - round(0.5 * RATE)) <= 2 * MS
    assert loud[-1] < round(0.6 * RATE)


async def test_media_shorter_than_the_stay_is_followed_by_silence(video_api: VideoApi) -> None:
    dev = video_api.dev
    await video_api.host("short.wav", click_track(1.0, 8_000, 0.2))
    made = await video_api.room({
        "account_sid": dev.sid,
        "participants": [{"identity": "erin", "joined_s": 0.0, "left_s": 3.0, "media": "short.wav"}],
    })  # fmt: skip
    rec = made["participants"][0]["recording_sid"]
    start, samples = decode(await video_api.media(dev, f"/v1/Recordings/{rec}/Media"))
    assert start == 0.0
    assert len(samples) == 3 * RATE
    assert energy(samples, 0.2, 0.25) > 0.1
    assert energy(samples, 1.1, 3.0) < 1e-3


async def test_hosted_media_that_is_not_audio_is_400_naming_the_participant(video_api: VideoApi) -> None:
    dev = video_api.dev
    await video_api.host("notes.txt", b"these are meeting notes, not audio")
    await video_api.host("ok.wav", click_track(1.0, 16_000, 0.2))
    body = {
        "account_sid": dev.sid,
        "participants": [
            {"identity": "ok", "joined_s": 0.0, "left_s": 1.0, "media": "ok.wav"},
            {"identity": "notes", "joined_s": 0.0, "left_s": 1.0, "media": "notes.txt"},
        ],
    }
    r = await video_api.control("POST", "/__mock__/rooms", body)
    assert (r.status, r.body["code"]) == (400, 20001)
    assert r.body["message"].startswith("'participants[1].media' the media is not an audio file")
    assert "notes.txt" in r.body["message"]
    assert (await video_api.call("GET", "/v1/Rooms", dev)).body["rooms"] == []  # nothing half-made
