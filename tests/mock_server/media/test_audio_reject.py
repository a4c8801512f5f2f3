"""Media Twilio would fail: each refusal has Twilio's Voice Intelligence code and says what was found."""

from __future__ import annotations

import numpy as np
import pytest

from mock_server._media import (
    INVALID_MEDIA_TYPE,
    INVALID_SAMPLE_RATE,
    MEDIA_EMPTY,
    MEDIA_TOO_LONG,
    TOO_MANY_CHANNELS,
    MediaRejected,
    _audio,
    _audio_analyse,
    analyse,
)
from tests.mock_server.media.audio_support import Placed, encode, noise, recording

SPEECH = [Placed("hello", 1, 0.5), Placed("account", 2, 1.2)]


def _rejected(source: bytes) -> MediaRejected:
    with pytest.raises(MediaRejected) as caught:
        analyse(source)
    return caught.value


def test_codes_are_twilios() -> None:
    assert (INVALID_MEDIA_TYPE, MEDIA_EMPTY, INVALID_SAMPLE_RATE, MEDIA_TOO_LONG, TOO_MANY_CHANNELS) == (
        95104, 95109, 95112, 95114, 95115,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (b"<!DOCTYPE html><html><head><title>Sign in</title></head><body>Log in</body></html>", "HTML page"),
        (b'<?xml version="1.0"?><Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>',
         "XML document"),
        (b'{"code": 20404, "message": "Not Found"}', "JSON"),
        (b"", "empty"),
        (np.random.default_rng(1).bytes(50_000), "not a recognised audio file"),
        (b"ID3\x03\x00\x00\x00\x00\x00\x0a" + bytes(10) + np.random.default_rng(2).bytes(5_000),
         "not a recognised audio file"),
    ],
)  # fmt: skip
def test_what_is_not_audio_is_an_invalid_media_type(body: bytes, said: str) -> None:
    rejected = _rejected(body)
    assert rejected.code == INVALID_MEDIA_TYPE
    assert said in rejected.message
    assert "Twilio supports WAV (PCM), MP3 and FLAC" in rejected.message


@pytest.mark.parametrize(
    ("fmt", "subtype", "said"),
    [("OGG", "VORBIS", "OGG"), ("OGG", "OPUS", "OGG"), ("AIFF", "PCM_16", "AIFF"), ("AU", "PCM_16", "AU"),
     ("CAF", "PCM_16", "CAF"), ("WAV", "IMA_ADPCM", "IMA ADPCM"), ("WAV", "MS_ADPCM", "ADPCM")],
)  # fmt: skip
def test_other_containers_and_compressed_wav_are_refused(fmt: str, subtype: str, said: str) -> None:
    rejected = _rejected(encode(recording(SPEECH, duration_s=3.0), 16_000, fmt, subtype))
    assert rejected.code == INVALID_MEDIA_TYPE
    assert said in rejected.message


def test_three_channels_are_too_many() -> None:
    audio = np.concatenate([recording(SPEECH, duration_s=3.0)] * 2, axis=1)[:, :3]
    rejected = _rejected(encode(audio, 16_000))
    assert (rejected.code, rejected.message) == (
        TOO_MANY_CHANNELS, "Media has too many channels: 3; Twilio transcribes mono or stereo",
    )  # fmt: skip


@pytest.mark.parametrize("rate", [4_000, 6_000, 7_999])
def test_below_8_khz_is_an_invalid_sample_rate(rate: int) -> None:
    rejected = _rejected(encode(recording(SPEECH, rate=rate, duration_s=3.0), rate))
    assert rejected.code == INVALID_SAMPLE_RATE
    assert f"{rate} Hz; the minimum is 8000 Hz" in rejected.message


def test_8_khz_is_enough() -> None:
    assert analyse(encode(recording(SPEECH, rate=8_000, duration_s=3.0), 8_000)).sample_rate == 8_000


@pytest.mark.parametrize(("fmt", "seconds"), [("WAV", 1.999), ("FLAC", 1.5), ("MP3", 1.0), ("WAV", 0.0)])
def test_shorter_than_2_seconds_is_empty_media(fmt: str, seconds: float) -> None:
    audio = recording([Placed("yes", 1, 0.0)], channels=1, duration_s=seconds)
    rejected = _rejected(encode(audio, 16_000, fmt))
    assert rejected.code == MEDIA_EMPTY
    assert "the minimum is 2 s" in rejected.message


def test_exactly_2_seconds_is_long_enough() -> None:
    audio = recording([Placed("yes", 1, 0.5)], channels=1, duration_s=2.0)
    assert analyse(encode(audio, 16_000)).duration_s == 2.0


@pytest.mark.parametrize("channels", [1, 2])
def test_digital_silence_is_empty_media(channels: int) -> None:
    rejected = _rejected(encode(np.zeros((16_000 * 5, channels)), 16_000))
    assert rejected.code == MEDIA_EMPTY
    assert "no speech was found on " + ("the channel" if channels == 1 else "either channel") in rejected.message


@pytest.mark.parametrize("kind", ["white", "pink", "brown"])
@pytest.mark.parametrize("level_db", [-70.0, -40.0, -20.0])
def test_steady_noise_of_any_level_is_not_speech(kind: str, level_db: float) -> None:
    """The mock's choice: noise without speech is empty media (95109), as a transcriber would find no words."""
    audio = np.stack([noise(kind, 16_000 * 20, level_db, seed) for seed in (1, 2)], axis=1)
    assert _rejected(encode(audio, 16_000, "WAV", "FLOAT")).code == MEDIA_EMPTY


def test_a_steady_hum_is_not_speech() -> None:
    t = np.arange(16_000 * 10) / 16_000
    hum = 0.1 * np.sin(2 * np.pi * 50 * t) + 0.05 * np.sin(2 * np.pi * 150 * t) + 0.02 * np.sin(2 * np.pi * 1000 * t)
    assert _rejected(encode(hum, 16_000)).code == MEDIA_EMPTY


def test_speech_on_one_channel_of_two_is_enough() -> None:
    result = analyse(encode(recording([Placed("hello", 2, 1.0)], duration_s=4.0), 16_000))
    assert {s.channel for s in result.segments} == {2}


@pytest.mark.parametrize("fmt", ["FLAC", "MP3"])
def test_a_corrupt_body_of_a_supported_type_is_an_invalid_media_type(fmt: str) -> None:
    data = bytearray(encode(recording(SPEECH, duration_s=6.0), 16_000, fmt))
    data[len(data) // 3 : len(data) // 3 + 2_000] = np.random.default_rng(0).bytes(2_000)
    rejected = _rejected(bytes(data))
    assert rejected.code == INVALID_MEDIA_TYPE
    assert f"the {fmt} data is corrupt or cut short" in rejected.message


def test_a_flac_cut_short_is_an_invalid_media_type() -> None:
    data = encode(recording(SPEECH, duration_s=6.0), 16_000, "FLAC")
    assert _rejected(data[: len(data) // 2]).code == INVALID_MEDIA_TYPE


def test_longer_than_8_hours_is_too_long_whether_the_header_says_so_or_decoding_finds_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Eight real hours would take a gigabyte; the limit is lowered to 3 s so both checks can be seen.
    data = encode(recording(SPEECH, duration_s=4.0), 16_000)
    monkeypatch.setattr(_audio, "MAX_DURATION_S", 3.0)
    rejected = _rejected(data)  # the WAV header says 4 s
    assert rejected.code == MEDIA_TOO_LONG
    assert rejected.message == "Media duration is too long: 0:00:04; the maximum is 0:00:03"
    monkeypatch.setattr(_audio, "MAX_DURATION_S", 8 * 3600.0)
    monkeypatch.setattr(_audio_analyse, "MAX_DURATION_S", 3.0)
    assert _rejected(encode(recording(SPEECH, duration_s=4.0), 16_000, "MP3")).code == MEDIA_TOO_LONG


def test_rejection_carries_code_and_message() -> None:
    error = MediaRejected(95109, "Media content is empty: x")
    assert (error.code, error.message) == (95109, "Media content is empty: x")
    assert str(error) == "95109: Media content is empty: x"
