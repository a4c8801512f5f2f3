"""Where people speak, per channel: frame energies while decoding, then speech runs with an adaptive noise floor.

Two passes, the first streaming and the second over small arrays:

1. `EnergyMeter.feed(block)` turns each decoded (frames × channels) block into the energy of every 10 ms frame of
   every channel above about 200 Hz (each 2.5 ms sub-frame's mean and linear trend taken out: no DC, hum or rumble,
   whose slow swings in pink or brown noise otherwise pass for speech). An hour of stereo is 115 million samples but
   only 720,000 energies (3 MB), so the second pass sees the whole file at once without holding its audio.
2. `find_segments()` works in dB per channel. The noise floor is "minimum statistics": the 10th percentile of each
   1 s block, then the lowest of those within ±5 s, so it follows slow changes of background noise but not speech.
   Digital silence (exact zeros: a padded track, a clean synthetic file) is no evidence about the noise beside it:
   a block holding some is judged on its own — if even its quietest sound is as loud as steady noise found nearby
   (a block whose median is within 6 dB of its 10th percentile; speech swings far more) that noise is its floor,
   otherwise the source is clean there and only the absolute gate applies. A frame is speech when it is 10 dB above
   the floor and above -60 dBFS; a run of frames more than 5 dB above the floor that holds such a frame is speech
   from its first frame (hysteresis: onsets are not clipped). Runs closer than 300 ms merge (the hangover), and
   runs shorter than 120 ms are dropped (clicks).

Steady noise of any level is never speech: pure noise has no segment, so the caller refuses it as empty media.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

from mock_server._media._audio_types import Segment

FRAME_S: Final = 0.010
FLOOR_BLOCK_FRAMES: Final = 100  # 1 s blocks for the noise floor percentile
FLOOR_PERCENTILE: Final = 10.0
FLOOR_REACH_BLOCKS: Final = 5  # the floor is the lowest block level within ±5 s
STEADY_DB: Final = 6.0  # noise: a block's median within 6 dB of its 10th percentile
MIXED_MATCH_DB: Final = 6.0  # a block with silence is noisy if its quietest sound is within 6 dB of the floor
SILENCE_DB: Final = -90.0  # a frame this quiet is digital silence (exact zeros, or dither of a zero signal)
START_DB: Final = 10.0  # a speech frame is this far above the noise floor ...
GATE_DB: Final = -60.0  # ... and above this absolute level (dBFS)
CONTINUE_DB: Final = 5.0  # speech goes on while frames stay this far above the floor
MERGE_GAP_S: Final = 0.300
MIN_SEGMENT_S: Final = 0.120

Floats = npt.NDArray[np.float32]
Doubles = npt.NDArray[np.float64]
Ints = npt.NDArray[np.intp]
Bools = npt.NDArray[np.bool_]


def frame_hop(sample_rate: int) -> int:
    """Samples per analysis frame: 10 ms rounded (220 at 22.05 kHz); times use hop / sample_rate exactly."""
    return max(1, round(sample_rate * FRAME_S))


class EnergyMeter:
    """Band energy (mean square above about 200 Hz) of each 10 ms frame of each channel, fed block by block.

    All of it is two matrix products on the interleaved block, with no per-channel copy: the frame energies are the
    squared block times a 0/1 matrix that sums each channel's samples of a frame, and the energy below about 200 Hz
    is that of each sub-frame's (about 2.5 ms) projections on a constant and a ramp (orthonormal), which are
    subtracted. What is left has no DC, hum or rumble, whose slow swings would otherwise pass for speech.
    """

    def __init__(self, sample_rate: int, channels: int) -> None:
        self.sample_rate = sample_rate
        self.channels = channels
        self.hop = frame_hop(sample_rate)
        self.frames = 0  # samples per channel seen so far
        self._parts: list[Floats] = []
        self._tail: Floats | None = None  # a partial frame left over from the previous block
        self._squares: Floats = np.empty((0, channels), dtype=np.float32)
        self._select = np.kron(np.ones((self.hop, 1), dtype=np.float32), np.eye(channels, dtype=np.float32))
        subframes = next(n for n in (4, 3, 5, 6, 2, 1) if self.hop % n == 0)
        length = self.hop // subframes
        ramp = np.arange(length, dtype=np.float64) - (length - 1) / 2
        basis = np.stack((np.ones(length), ramp), axis=1)
        basis /= np.maximum(np.linalg.norm(basis, axis=0), 1e-12)
        if length < 2:
            basis = basis[:, :1]
        self._subframes = subframes
        self._project = np.kron(basis, np.eye(channels)).astype(np.float32)

    def feed(self, block: Floats) -> None:
        """Add a (frames × channels) float32 block; the block may be reused by the caller afterwards."""
        if not len(block):
            return
        self.frames += len(block)
        if self._tail is not None:
            block = np.concatenate((self._tail, block))
            self._tail = None
        whole = len(block) - len(block) % self.hop
        if whole < len(block):
            self._tail = block[whole:].copy()
        if whole:
            self._parts.append(self._energies(np.ascontiguousarray(block[:whole], dtype=np.float32)))

    def _energies(self, block: Floats) -> Floats:
        """(channels × frames) band energies of a contiguous block whose length is a multiple of the hop."""
        frames = len(block) // self.hop
        if len(self._squares) < len(block):
            self._squares = np.empty_like(block)
        squares = np.square(block, out=self._squares[: len(block)])
        sums: Floats = squares.reshape(frames, -1) @ self._select
        projections = (block.reshape(frames * self._subframes, -1) @ self._project).reshape(frames, -1, self.channels)
        sums -= np.einsum("fkc,fkc->fc", projections, projections)
        np.maximum(sums, 0.0, out=sums)
        sums *= np.float32(1.0 / self.hop)
        return sums.T

    def energies(self) -> Floats:
        """(channels × frames) band energies of every whole frame (a last partial frame, under 10 ms, is left out)."""
        if not self._parts:
            return np.zeros((self.channels, 0), dtype=np.float32)
        return np.concatenate(self._parts, axis=1)


def find_segments(energies: Floats, sample_rate: int, duration_s: float) -> tuple[Segment, ...]:
    """Speech on every channel of `energies` (channels × frames band energies), ordered by start then channel."""
    seconds_per_frame = frame_hop(sample_rate) / sample_rate
    found: list[Segment] = []
    for index, row in enumerate(energies):
        power = np.maximum(row, np.float32(1e-10))
        firsts, ends = _speech_runs(np.float32(10.0) * np.log10(power), seconds_per_frame)
        if not len(firsts):
            continue
        total = np.concatenate(([0.0], np.cumsum(power, dtype=np.float64)))
        levels = 10.0 * np.log10((total[ends] - total[firsts]) / (ends - firsts))
        starts = np.round(firsts * seconds_per_frame, 3)
        stops = np.round(np.minimum(ends * seconds_per_frame, duration_s), 3)
        found.extend(
            Segment(index + 1, start, stop, level)
            for start, stop, level in zip(starts.tolist(), stops.tolist(), np.round(levels, 1).tolist(), strict=True)
        )
    found.sort(key=lambda s: (s.start_s, s.channel))
    return tuple(found)


def noise_floor(level: Floats) -> Floats:
    """Per-frame noise floor (dB) of one channel's frame levels (dB); see the module docstring."""
    count = len(level)
    blocks = -(-count // FLOOR_BLOCK_FRAMES)
    # The last block may be partial: NaN is "no frame".
    padded = np.full(blocks * FLOOR_BLOCK_FRAMES, np.nan, dtype=level.dtype)
    padded[:count] = level
    silent = padded < SILENCE_DB
    # A frame next to digital silence may hold only part of a frame of sound: it is no evidence of the noise level.
    edge = silent.copy()
    edge[1:] |= silent[:-1]
    edge[:-1] |= silent[1:]
    usable = np.where(edge, np.nan, padded)
    table = usable.reshape(blocks, FLOOR_BLOCK_FRAMES).copy()
    if blocks > 1 and count % FLOOR_BLOCK_FRAMES:  # a short last block is judged on the last whole second
        table[-1] = usable[count - FLOOR_BLOCK_FRAMES : count]
    valid = np.count_nonzero(~np.isnan(table), axis=1)
    ordered = np.sort(table, axis=1)  # NaN sorts last
    rows = np.arange(blocks)
    tenth = ordered[rows, _rank(valid, FLOOR_PERCENTILE)]
    low = np.where(valid > 0, tenth, np.inf)
    swing = np.where(valid > 0, ordered[rows, _rank(valid, 50.0)] - tenth, np.inf)
    mixed = silent.reshape(blocks, FLOOR_BLOCK_FRAMES).any(axis=1)
    # Blocks without digital silence speak for their neighbours: the lowest 10th percentile within reach.
    floor_blocks = _lowest_within_reach(np.where(mixed, np.inf, low))
    # A block with silence in it is noisy if even its quietest sound is as loud as steady noise found nearby (a
    # padded track's first second of noise): a block whose median is within 6 dB of its 10th percentile (speech
    # swings far more). Otherwise the source is clean there, and the absolute gate decides.
    steady = _lowest_within_reach(np.where(mixed | (swing > STEADY_DB), np.inf, low))
    quietest = np.where(valid > 0, ordered[:, 0], -np.inf)
    noisy = quietest >= steady - MIXED_MATCH_DB
    floor_blocks = np.where(mixed, np.where(noisy, steady, SILENCE_DB), floor_blocks)
    # Nothing but silence within reach: the absolute gate decides.
    floor_blocks = np.where(np.isinf(floor_blocks), SILENCE_DB, floor_blocks)
    floor: Floats = np.repeat(floor_blocks.astype(np.float32), FLOOR_BLOCK_FRAMES)[:count]
    return floor


def _rank(valid: Ints, percentile: float) -> Ints:
    """Index of the `percentile` in rows sorted with their `valid` values first."""
    rank: Ints = np.maximum((valid - 1) * percentile / 100, 0).astype(np.intp)
    return np.minimum(rank, FLOOR_BLOCK_FRAMES - 1)


def _lowest_within_reach(values: Doubles) -> Doubles:
    reach = np.pad(values, FLOOR_REACH_BLOCKS, constant_values=np.inf)
    lowest: Doubles = np.lib.stride_tricks.sliding_window_view(reach, 2 * FLOOR_REACH_BLOCKS + 1).min(axis=1)
    return lowest


def _runs(mask: Bools) -> tuple[Ints, Ints]:
    """[first, end) frame indices of the runs of True in `mask`."""
    edges = np.diff(mask.astype(np.int8), prepend=np.int8(0), append=np.int8(0))
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def _speech_runs(level: Floats, seconds_per_frame: float) -> tuple[Ints, Ints]:
    """[first, end) frame indices of speech in one channel's frame levels (dB)."""
    nothing = np.zeros(0, dtype=np.intp)
    if not len(level):
        return nothing, nothing
    floor = noise_floor(level)
    loud = (level > floor + START_DB) & (level > GATE_DB)
    if not loud.any():
        return nothing, nothing
    ongoing = (level > floor + CONTINUE_DB) & (level > GATE_DB - CONTINUE_DB)
    ongoing |= loud
    firsts, ends = _runs(ongoing)
    loud_before = np.concatenate(([0], np.cumsum(loud, dtype=np.intp)))
    keep = loud_before[ends] > loud_before[firsts]
    firsts, ends = firsts[keep], ends[keep]
    # Merge runs separated by less than the hangover.
    opens = np.concatenate(([True], (firsts[1:] - ends[:-1]) * seconds_per_frame >= MERGE_GAP_S))
    closes = np.concatenate((opens[1:], [True]))
    firsts, ends = firsts[opens], ends[closes]
    long_enough = (ends - firsts) * seconds_per_frame >= MIN_SEGMENT_S
    return firsts[long_enough], ends[long_enough]


__all__ = ["FRAME_S", "EnergyMeter", "find_segments", "frame_hop", "noise_floor"]
