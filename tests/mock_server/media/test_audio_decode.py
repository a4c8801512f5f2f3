"""Decoding: every WAV (PCM) encoding, FLAC and MP3, mono and stereo, 8–48 kHz, from bytes or a path, in blocks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mock_server._media import MediaAnalysis, analyse, open_audio
from tests.mock_server.media.audio_support import Placed, encode, recording

RATES = [8_000, 16_000, 44_100, 48_000]
WAV_SUBTYPES = ["PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE", "ULAW", "ALAW"]
SPEECH = [Placed("hello", 1, 0.5), Placed("account", 2, 1.2)]


def _stereo(rate: int) -> np.ndarray:
    return recording(SPEECH, rate=rate, duration_s=3.5)


@pytest.mark.parametrize("subtype", WAV_SUBTYPES)
@pytest.mark.parametrize("channels", [1, 2])
def test_every_pcm_wav_encoding_decodes(subtype: str, channels: int) -> None:
    audio = _stereo(16_000)[:, :channels]
    result = analyse(encode(audio, 16_000, "WAV", subtype))
    assert (result.format, result.sample_rate, result.channels) == ("wav", 16_000, channels)
    assert result.duration_s == pytest.approx(3.5, abs=1e-9)
    assert {s.channel for s in result.segments} == set(range(1, channels + 1))


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize(
    ("fmt", "subtype", "name"),
    [
        ("FLAC", "PCM_16", "flac"),
        ("FLAC", "PCM_24", "flac"),
        ("MP3", "MPEG_LAYER_III", "mp3"),
        ("WAV", "PCM_16", "wav"),
    ],
)
def test_flac_mp3_and_wav_at_every_rate(rate: int, fmt: str, subtype: str, name: str) -> None:
    result = analyse(encode(_stereo(rate), rate, fmt, subtype))
    assert isinstance(result, MediaAnalysis)
    assert (result.format, result.sample_rate, result.channels) == (name, rate, 2)
    # MP3 decoding is gapless (the encoder's delay and padding are removed): the length is exact too.
    assert result.duration_s == pytest.approx(3.5, abs=1 / rate)


def test_wave_extensible_and_rf64_are_wav() -> None:
    audio = _stereo(16_000)
    for fmt in ("WAVEX", "RF64"):
        assert analyse(encode(audio, 16_000, fmt, "PCM_16")).format == "wav"


def test_bytes_path_and_pathlike_give_the_same_analysis(tmp_path: Path) -> None:
    data = encode(_stereo(16_000), 16_000, "FLAC")
    path = tmp_path / "call.flac"
    path.write_bytes(data)
    assert analyse(data) == analyse(str(path)) == analyse(path)
    assert analyse(bytearray(data)) == analyse(data)


def test_a_missing_path_is_an_os_error_not_a_rejection(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        analyse(tmp_path / "nowhere.wav")


def test_blocks_stream_the_whole_file_in_bounded_pieces() -> None:
    audio = _stereo(16_000)
    data = encode(audio, 16_000, "WAV", "FLOAT")
    with open_audio(data) as stream:
        header = (stream.format, stream.sample_rate, stream.channels, stream.frames_hint)
        assert header == ("wav", 16_000, 2, len(audio))
        blocks = list(stream.blocks(4_000))
    assert all(b.dtype == np.float32 and b.shape[1] == 2 and len(b) <= 4_000 for b in blocks)
    assert np.array_equal(np.concatenate(blocks), audio.astype(np.float32))


def test_reused_blocks_are_views_of_one_buffer() -> None:
    data = encode(_stereo(16_000), 16_000, "WAV", "PCM_16")
    with open_audio(data) as stream:
        bases = {id(block.base) for block in stream.blocks(10_000, reuse=True)}
    assert len(bases) == 1


def test_block_size_must_be_positive() -> None:
    with open_audio(encode(_stereo(16_000), 16_000)) as stream, pytest.raises(ValueError, match="positive"):
        next(stream.blocks(0))
