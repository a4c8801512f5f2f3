"""Silencing PII in the media (mock_server/_media/_redact_audio.py): the intervals are zero on their channel, every
other sample is bit-identical after a PCM16 round trip, whatever the block sizes."""

from __future__ import annotations

import io
import math
import wave
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import soundfile as sf
from hypothesis import given
from hypothesis import strategies as st

from mock_server._media._pii import Interval
from mock_server._media._redact_audio import FADE_S, encode_wav, silence_blocks, to_pcm16, write_wav

RATE = 8000
FADE = round(FADE_S * RATE)
F32 = npt.NDArray[np.float32]


def pcm16_audio(frames: int, channels: int, seed: int = 0) -> F32:
    """Random samples that are exact PCM16 values (k / 32768), as a decoder returns a PCM16 file."""
    ints = np.random.default_rng(seed).integers(-32768, 32768, size=(frames, channels))
    return (ints / 32768.0).astype(np.float32)


def blocks_of(audio: F32, sizes: list[int]) -> Iterator[F32]:
    pos, k = 0, 0
    while pos < len(audio):
        size = sizes[k % len(sizes)] if sizes else len(audio)
        yield audio[pos : pos + size]
        pos += size
        k += 1


def silenced(audio: F32, sizes: list[int], intervals: Sequence[tuple[int, float, float]]) -> F32:
    out = list(silence_blocks(blocks_of(audio, sizes), RATE, intervals))
    return np.concatenate(out) if out else audio[:0]


def zero_range(iv: Interval) -> tuple[int, int]:
    return math.floor(iv.start_s * RATE), math.ceil(iv.end_s * RATE)


def test_an_interval_is_zero_on_its_channel_and_nothing_else_changes() -> None:
    audio = pcm16_audio(RATE * 3, 2)
    iv = Interval(2, 1.0, 1.5)
    out = silenced(audio, [1000], [iv])
    first, end = zero_range(iv)
    assert not out[first:end, 1].any()
    assert np.array_equal(out[:, 0], audio[:, 0])  # the other channel: untouched
    assert np.array_equal(out[: first - FADE, 1], audio[: first - FADE, 1])
    assert np.array_equal(out[end + FADE :, 1], audio[end + FADE :, 1])
    # The fades only ever lower the level, and more the nearer they are to the interval.
    ramp_in = np.abs(out[first - FADE : first, 1]) / np.maximum(np.abs(audio[first - FADE : first, 1]), 1e-9)
    assert np.all(ramp_in <= 1.0) and np.all(np.diff(ramp_in[audio[first - FADE : first, 1] != 0]) <= 1e-6)  # noqa: PT018


def test_untouched_blocks_pass_through_as_they_came_and_input_is_never_changed() -> None:
    audio = pcm16_audio(4000, 2)
    copy = audio.copy()
    blocks = list(blocks_of(audio, [1000]))
    out = list(silence_blocks(blocks, RATE, [Interval(1, 0.2, 0.21)]))  # frames 1600–1680: the second block only
    assert out[0] is blocks[0] and out[2] is blocks[2] and out[3] is blocks[3]  # noqa: PT018
    assert out[1] is not blocks[1]
    assert np.array_equal(audio, copy)


@st.composite
def _case(draw: st.DrawFn) -> tuple[int, list[int], list[Interval]]:
    channels = draw(st.integers(1, 2))
    frames = draw(st.integers(0, 3 * RATE))
    sizes = draw(st.lists(st.integers(1, 5000), max_size=5))
    duration = frames / RATE
    intervals = []
    for _ in range(draw(st.integers(0, 5))):
        start = draw(st.floats(0, duration + 0.5))
        length = draw(st.floats(0, 1.0))
        intervals.append(Interval(draw(st.integers(1, channels)), start, start + length))
    return channels, sizes, intervals


@given(_case())
def test_silence_whatever_the_blocks_and_intervals(case: tuple[int, list[int], list[Interval]]) -> None:
    channels, sizes, intervals = case
    audio = pcm16_audio(3 * RATE, channels)
    out = silenced(audio, sizes, intervals)
    assert out.shape == audio.shape and out.dtype == np.float32  # noqa: PT018
    assert np.array_equal(out, silenced(audio, [], intervals))  # block boundaries change nothing
    for c in range(channels):
        touched = np.zeros(len(audio), dtype=bool)
        for iv in intervals:
            if iv.channel == c + 1:
                first, end = zero_range(iv)
                assert not out[first:end, c].any()
                touched[max(0, first - FADE) : end + FADE] = True
        assert np.array_equal(out[~touched, c], audio[~touched, c])
        assert np.all(np.abs(out[:, c]) <= np.abs(audio[:, c]))


@given(_case())
def test_the_wav_round_trip_is_bit_identical(case: tuple[int, list[int], list[Interval]]) -> None:
    channels, sizes, intervals = case
    audio = pcm16_audio(RATE, channels, seed=1)
    expected = silenced(audio, sizes, intervals)
    data = encode_wav(silence_blocks(blocks_of(audio, sizes), RATE, intervals), RATE, channels)
    decoded, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    assert rate == RATE
    # Outside the silenced intervals and their fades the samples were never touched, so they come back exactly;
    # inside, zero stays zero; in the fades, the nearest PCM16 value.
    assert np.array_equal(decoded, np.rint(expected.astype(np.float64) * 32768) / 32768)


def test_an_untouched_file_comes_back_byte_for_byte(tmp_path: Path) -> None:
    original = tmp_path / "in.wav"
    sf.write(original, pcm16_audio(RATE * 2, 2, seed=3), RATE, subtype="PCM_16")
    with sf.SoundFile(original) as f:
        data = encode_wav(silence_blocks(f.blocks(1024, dtype="float32", always_2d=True), RATE, []), RATE, 2)
    assert sf.read(io.BytesIO(data), dtype="int16")[0].tobytes() == sf.read(original, dtype="int16")[0].tobytes()


def test_streams_from_a_decoder_to_a_file_block_by_block(tmp_path: Path) -> None:
    original, redacted = tmp_path / "call.wav", tmp_path / "redacted.wav"
    audio = pcm16_audio(RATE * 5, 2, seed=4)
    sf.write(original, audio, RATE, subtype="PCM_16")
    intervals = [Interval(1, 1.0, 2.0), Interval(2, 3.0, 3.25)]
    with sf.SoundFile(original) as f, redacted.open("wb") as out:
        frames = write_wav(
            out, silence_blocks(f.blocks(4096, dtype="float32", always_2d=True), RATE, intervals), RATE, 2
        )
    assert frames == RATE * 5
    with wave.open(str(redacted)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()) == (2, 2, RATE, RATE * 5)
    back, _ = sf.read(redacted, dtype="float32", always_2d=True)
    assert not back[RATE : 2 * RATE, 0].any() and not back[3 * RATE : 3 * RATE + RATE // 4, 1].any()  # noqa: PT018
    assert np.array_equal(back[: RATE - FADE], audio[: RATE - FADE])
    assert np.array_equal(back[:, 1][: 3 * RATE - FADE], audio[:, 1][: 3 * RATE - FADE])


def test_intervals_may_be_plain_tuples() -> None:
    audio = pcm16_audio(RATE, 2)
    assert np.array_equal(silenced(audio, [500], [(2, 0.1, 0.2)]), silenced(audio, [500], [Interval(2, 0.1, 0.2)]))


def test_mono_blocks_may_be_one_dimensional() -> None:
    audio = pcm16_audio(RATE, 1)[:, 0]
    [out] = list(silence_blocks([audio], RATE, [Interval(1, 0.25, 0.5)]))
    assert out.shape == audio.shape
    assert not out[RATE // 4 : RATE // 2].any()
    assert np.array_equal(out[: RATE // 4 - FADE], audio[: RATE // 4 - FADE])
    with wave.open(io.BytesIO(encode_wav([out], RATE, 1))) as w:
        assert (w.getnchannels(), w.getnframes()) == (1, RATE)


def test_pcm16_conversion_scales_like_soundfile_and_clips() -> None:
    block = np.array([[0.0, -1.0], [1.0, 0.5], [-2.0, 32767 / 32768]], dtype=np.float32)
    assert np.frombuffer(to_pcm16(block), "<i2").tolist() == [0, -32768, 32767, 16384, -32768, 32767]


@pytest.mark.parametrize(
    ("blocks", "rate", "intervals", "message"),
    [
        ([np.zeros((10, 2), np.float32)], RATE, [Interval(3, 0, 1)], "channel 3"),
        ([np.zeros((10, 1), np.float32)], RATE, [Interval(2, 0, 1)], "channel 2"),
        ([np.zeros((10, 2), np.float32)], RATE, [Interval(1, 0.5, float("nan"))], "not valid"),
        ([np.zeros((10, 2), np.int16)], RATE, [], "float"),
        ([np.zeros((10, 2, 2), np.float32)], RATE, [], "float array"),
        ([np.zeros((10, 2), np.float32)], 0, [], "sample_rate"),
    ],
)
def test_bad_input_is_a_value_error(blocks: list[F32], rate: int, intervals: list[Interval], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        list(silence_blocks(blocks, rate, intervals))


def test_blocks_must_match_the_files_channels() -> None:
    with pytest.raises(ValueError, match="2 channel"):
        encode_wav([np.zeros((10, 2), np.float32)], RATE, 1)
