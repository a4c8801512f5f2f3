"""A streaming resampler in numpy: a linear-phase windowed-sinc filter evaluated in polyphase form.

Output sample n sits at input time t = n * rate_in / rate_out; it is the sum of the input samples within
`zero_crossings` periods of the lower rate's Nyquist frequency, weighted by a Kaiser-windowed sinc centred on t (no
delay: the filter is symmetric about the output instant). The ratio is reduced to up/down, so there are at most `up`
distinct fractional phases; their coefficient rows are computed once, and the outputs of one phase are a
matrix-vector product over a strided view of the input. Input arrives in blocks of any size; only a
short tail of it is kept between calls.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

Array = npt.NDArray[np.float32]


class Resampler:
    """Feed input blocks with `process`, then `process(empty, final=True)` once; every output sample comes out once."""

    def __init__(self, rate_in: int, rate_out: int, *, zero_crossings: int = 8, beta: float = 8.6) -> None:
        g = math.gcd(rate_in, rate_out)
        self.up, self.down = rate_out // g, rate_in // g
        self.identity = self.up == self.down
        cutoff = min(1.0, self.up / self.down) * (0.94 if self.up != self.down else 1.0)
        half_width = zero_crossings / cutoff  # in input samples
        self.k = math.ceil(half_width)
        offsets = np.arange(-self.k + 1, self.k + 1, dtype=np.float64)  # input index minus floor(t)
        phases = np.arange(self.up, dtype=np.float64)[:, None] / self.up  # t - floor(t)
        x = offsets[None, :] - phases
        window = np.kaiser(1001, beta)
        position = np.clip((x / half_width + 1) / 2 * 1000, 0, 1000)
        taps = cutoff * np.sinc(cutoff * x) * np.interp(position, np.arange(1001), window)
        taps[np.abs(x) > half_width] = 0
        taps /= taps.sum(axis=1, keepdims=True)  # unity gain at DC for every phase
        self.table = taps.astype(np.float32)
        self.offsets = np.arange(-self.k + 1, self.k + 1, dtype=np.int64)
        self.buffer: Array = np.zeros(self.k, dtype=np.float32)  # k zeros before the first input sample
        self.buffer_start = -self.k  # input index of buffer[0]
        self.consumed = 0  # input samples received
        self.next_out = 0

    def output_length(self, frames_in: int) -> int:
        return -(-frames_in * self.up // self.down)

    def process(self, block: Array, *, final: bool = False) -> Array:
        if self.identity:
            return block
        self.consumed += len(block)
        parts = [self.buffer, block]
        if final:
            parts.append(np.zeros(self.k + 1, dtype=np.float32))
        buffer = np.concatenate(parts)
        available_end = self.buffer_start + len(buffer)  # one past the last index held
        if final:
            last = self.output_length(self.consumed)
        else:  # the last n whose window ends inside the buffer: floor(n*down/up) + k < available_end
            last = ((available_end - self.k) * self.up - 1) // self.down + 1
            last = max(last, self.next_out)
        out = np.empty(last - self.next_out, dtype=np.float32)
        # Outputs n ≡ j (mod up) share one phase, and their windows start `down` input samples apart: each residue
        # class is one matrix-vector product over a strided view of the buffer (no gather, no copy).
        windows = sliding_window_view(buffer, 2 * self.k)
        first = self.next_out
        for j in range(min(self.up, last - first)):
            n0 = first + j
            count = (last - 1 - n0) // self.up + 1
            base, phase = divmod(n0 * self.down, self.up)
            start = base - self.buffer_start - self.k + 1
            out[j :: self.up] = windows[start : start + (count - 1) * self.down + 1 : self.down] @ self.table[phase]
        self.next_out = last
        keep_from = (self.next_out * self.down) // self.up - self.k + 1  # the next output's first input
        drop = max(0, keep_from - self.buffer_start)
        self.buffer = buffer[drop:].copy() if not final else np.zeros(0, dtype=np.float32)
        self.buffer_start += drop
        return out
