"""Check a merged file: two channels, the expected length (the latest track end), and each channel carrying signal
in the windows where its tracks had it — and none where none of them had any.

Files up to `max_windows` windows (5 minutes of 100 ms) are read back whole; longer ones in evenly spread 2-second
groups of windows, `max_windows` in all, so verifying an hour costs a fraction of a second."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import soundfile as sf

from harness.media._merge import MergeResult

ACTIVE_DB = -45.0  # a window with RMS above this is "signal"


@dataclass
class Verification:
    """The outcome of `verify`: what was found, and the problems (none when `ok`)."""

    channels: int
    frames: int
    expected_frames: int
    problems: list[str] = field(default_factory=list)
    active_windows: tuple[int, int] = (0, 0)  # per channel

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(
    result: MergeResult, *, window_s: float = 0.1, tolerance: float = 0.99, max_windows: int = 3000
) -> Verification:
    """Read the written file back and compare it with the plan and each track's signal (module docstring)."""
    rate = result.plan.rate
    window = max(1, round(window_s * rate))
    threshold = 10 ** (ACTIVE_DB / 20)
    with sf.SoundFile(str(result.output)) as f:
        check = Verification(f.channels, f.frames, result.plan.frames)
        if f.channels != 2:
            check.problems.append(f"{f.channels} channels, expected 2")
            return check
        if abs(f.frames - result.plan.frames) > 1:
            check.problems.append(f"{f.frames} frames ({f.frames / rate:.3f} s), expected {result.plan.frames} "
                                  f"({result.plan.duration_s:.3f} s)")  # fmt: skip
        windows = -(-f.frames // window)
        heard = np.zeros((windows, 2), dtype=bool)
        checked = np.zeros(windows, dtype=bool)
        group = 20  # windows read at a time
        starts = list(range(0, windows, group))
        if windows > max_windows:  # a long file: evenly spread groups, `max_windows` windows in all
            picks = np.linspace(0, windows - 1, max_windows // group).astype(int) // group * group
            starts = sorted(set(picks.tolist()))
        for first in starts:
            f.seek(first * window)
            data = f.read(group * window, dtype="float32", always_2d=True)
            padded = np.zeros((-(-len(data) // window) * window, 2), dtype=np.float32)
            padded[: len(data)] = data
            rms = np.sqrt(np.mean(np.square(padded.reshape(-1, window, 2)), axis=1))
            heard[first : first + len(rms)] = rms > threshold
            checked[first : first + len(rms)] = True
    for channel in (1, 2):
        mine = [i for i, p in enumerate(result.plan.placements) if p.channel == channel]
        expected = np.zeros(windows, dtype=bool)
        for i in mine:
            active = result.activity[i][:windows] > threshold
            expected[: len(active)] |= active
        expected &= checked
        got = heard[:, channel - 1] & checked
        check.active_windows = (
            (int(got.sum()), check.active_windows[1]) if channel == 1 else (check.active_windows[0], int(got.sum()))
        )
        if expected.any() and (got & expected).sum() < tolerance * expected.sum():
            check.problems.append(f"channel {channel}: signal missing in {int((expected & ~got).sum())} of "
                                  f"{int(expected.sum())} windows where its track had it")  # fmt: skip
        stray = int((got & ~expected).sum())
        if stray > (1 - tolerance) * max(1, expected.sum()) + 2:
            check.problems.append(f"channel {channel}: signal in {stray} windows where none of its tracks had any")
    return check
