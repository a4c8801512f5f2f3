"""Redacted media: silence where PII was spoken, then PCM16 WAV.

Twilio's Transcript Media docs say of the redacted file: "Silence is inserted into the media file where Voice
Intelligence detected PII." So the intervals found in the sentences are set to zero on the channel that spoke them,
and nothing else changes: samples outside an interval and its fades are passed through untouched (multiplied by
nothing), so a PCM16 file decoded to float and encoded again comes back bit-identical there.

Block-wise throughout: the audio arrives as an iterator of (frames × channels) float arrays, as the decoder streams
it, and leaves the same way, so an hour of stereo never sits in memory as one array. Pure numpy, no I/O except the
file object `write_wav` is given.
"""

from __future__ import annotations

import bisect
import io
import itertools
import math
import wave
from collections.abc import Iterable, Iterator
from typing import IO

import numpy as np
import numpy.typing as npt

from mock_server._media._pii import Interval
from mock_server._media._pii_results import merge_intervals

FADE_S = 0.01  # a short ramp outside each interval, so the cut makes no click
Block = npt.NDArray[np.floating]


def _frame_ranges(
    intervals: Iterable[tuple[int, float, float]], sample_rate: int, channels: int
) -> dict[int, list[tuple[int, int]]]:
    """Per 0-based column, sorted disjoint [first, end) frame ranges that must be zero.

    A range covers every frame that overlaps the interval (floor of the start, ceiling of the end), so no sample of
    the finding survives rounding.
    """
    checked = [Interval(*iv) for iv in intervals]
    for iv in checked:
        if not 1 <= iv.channel <= channels:
            raise ValueError(f"interval on channel {iv.channel}, but the media has {channels} channel(s)")
        if not (math.isfinite(iv.start_s) and math.isfinite(iv.end_s)) or iv.end_s < iv.start_s:
            raise ValueError(f"interval {iv.start_s!r}–{iv.end_s!r} s on channel {iv.channel} is not valid")
    out: dict[int, list[tuple[int, int]]] = {}
    for iv in merge_intervals(checked):
        first = max(0, math.floor(iv.start_s * sample_rate))
        end = math.ceil(iv.end_s * sample_rate)
        if end > first:
            ranges = out.setdefault(iv.channel - 1, [])
            if ranges and first <= ranges[-1][1]:  # merged seconds can still touch once rounded to frames
                ranges[-1] = (ranges[-1][0], max(end, ranges[-1][1]))
            else:
                ranges.append((first, end))
    return out


def _gain(frames: npt.NDArray[np.int64], first: int, end: int, fade: int) -> npt.NDArray[np.float64]:
    """1 far from [first, end), 0 inside it, a linear ramp over `fade` frames on each side."""
    before = (first - frames) / (fade + 1)
    after = (frames - end + 1) / (fade + 1)
    return np.clip(np.maximum(before, after), 0.0, 1.0)


def silence_blocks(
    blocks: Iterable[Block],
    sample_rate: int,
    intervals: Iterable[tuple[int, float, float]],
    *,
    fade_s: float = FADE_S,
) -> Iterator[Block]:
    """The blocks with each (channel, start_s, end_s) interval zeroed on that channel only.

    Blocks are (frames × channels) float arrays (a 1-D block is mono); their dtype and shape are kept. A block no
    interval or fade touches is yielded as it came (the same object); others are copied, never changed in place.
    """
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, not {sample_rate}")
    pending = list(intervals)
    fade = max(0, round(fade_s * sample_rate))
    ranges: dict[int, list[tuple[int, int]]] | None = None
    offset = 0
    for block in blocks:
        if block.ndim not in (1, 2) or not np.issubdtype(block.dtype, np.floating):
            raise ValueError(f"a block must be a 1-D or 2-D float array, not {block.ndim}-D {block.dtype}")
        columns = 1 if block.ndim == 1 else block.shape[1]
        if ranges is None:  # the channel count is known from the first block
            ranges = _frame_ranges(pending, sample_rate, columns)
        n = block.shape[0]
        out = None
        for column, spans in ranges.items():
            if column >= columns:
                raise ValueError(f"a block has {columns} channel(s); an interval is on channel {column + 1}")
            # The spans whose fades reach into [offset, offset + n).
            k = bisect.bisect_right(spans, offset - fade, key=lambda r: r[1])
            for first, end in itertools.islice(spans, k, None):
                if first - fade >= offset + n:
                    break
                lo, hi = max(offset, first - fade), min(offset + n, end + fade)
                if out is None:
                    out = block.copy()
                frames = np.arange(lo, hi, dtype=np.int64)
                gain = _gain(frames, first, end, fade).astype(block.dtype)
                if out.ndim == 1:
                    out[lo - offset : hi - offset] *= gain
                else:
                    out[lo - offset : hi - offset, column] *= gain
        offset += n
        yield block if out is None else out


def to_pcm16(block: Block) -> bytes:
    """Interleaved little-endian PCM16; float full scale is ±1 (×32768, as soundfile reads PCM16), clipped."""
    scaled = np.rint(np.asarray(block, dtype=np.float64) * 32768.0)
    return np.clip(scaled, -32768, 32767).astype("<i2").tobytes()


def write_wav(file: IO[bytes], blocks: Iterable[Block], sample_rate: int, channels: int) -> int:
    """Write the blocks as a PCM16 WAV to a seekable binary file, block by block; returns the frames written."""
    frames = 0
    with wave.open(file, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        for block in blocks:
            columns = 1 if block.ndim == 1 else block.shape[1]
            if columns != channels:
                raise ValueError(f"a block has {columns} channel(s), the file {channels}")
            w.writeframesraw(to_pcm16(block))
            frames += block.shape[0]
    return frames


def encode_wav(blocks: Iterable[Block], sample_rate: int, channels: int) -> bytes:
    """The blocks as the bytes of a PCM16 WAV file (for short media; use `write_wav` to stream to a file)."""
    buffer = io.BytesIO()
    write_wav(buffer, blocks, sample_rate, channels)  # wave closes only files it opened itself
    return buffer.getvalue()
