"""Test recordings made from the committed utterances (tests/audio/*.flac): speech placed at known times on known
channels, over silence or noise, encoded in memory as WAV, FLAC or MP3 at any sample rate."""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soundfile as sf

AUDIO = Path(__file__).resolve().parents[2] / "audio"
NAMES = ("account", "goodbye", "hello", "repeat", "yes")
Array = npt.NDArray[np.float64]


@functools.cache
def utterance(name: str, rate: int = 16_000) -> Array:
    """A committed utterance (16 kHz, its first sample the start of speech), linearly resampled to `rate`."""
    data, source_rate = sf.read(AUDIO / f"{name}.flac", dtype="float64")
    if rate == source_rate:
        return data
    positions = np.arange(int(len(data) * rate / source_rate)) * source_rate / rate
    return np.interp(positions, np.arange(len(data)), data)


def length_s(name: str) -> float:
    return len(utterance(name)) / 16_000


@dataclass(frozen=True)
class Placed:
    name: str
    channel: int  # 1-based
    start_s: float

    @property
    def end_s(self) -> float:
        return self.start_s + length_s(self.name)


def noise(kind: str, frames: int, level_db: float, seed: int = 0) -> Array:
    """White, pink or brown noise (above 10 Hz at 16 kHz) with an RMS of `level_db` dBFS."""
    spectrum = np.fft.rfft(np.random.default_rng(seed).standard_normal(frames))
    bins = np.maximum(np.arange(len(spectrum)), max(1, frames // 1600))
    spectrum /= {"white": np.ones(len(bins)), "pink": np.sqrt(bins), "brown": bins}[kind]
    spectrum[0] = 0
    signal = np.fft.irfft(spectrum, frames)
    scaled: Array = signal * (10 ** (level_db / 20) / np.sqrt(np.mean(signal**2)))
    return scaled


def recording(
    placed: list[Placed],
    *,
    rate: int = 16_000,
    channels: int = 2,
    duration_s: float,
    background: tuple[str, float] | None = None,
    gain: float = 0.5,
    seed: int = 0,
) -> Array:
    """(frames × channels) audio: `background` noise (kind, dBFS) on every channel, utterances added at their places."""
    frames = round(duration_s * rate)
    audio = np.zeros((frames, channels))
    if background is not None:
        for column in range(channels):
            audio[:, column] = noise(background[0], frames, background[1], seed + column)
    for item in placed:
        voice = utterance(item.name, rate) * gain
        first = round(item.start_s * rate)
        audio[first : first + len(voice), item.channel - 1] += voice[: frames - first]
    return audio


def encode(audio: Array, rate: int, fmt: str = "WAV", subtype: str | None = None) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, audio, rate, format=fmt, subtype=subtype)
    return buffer.getvalue()
