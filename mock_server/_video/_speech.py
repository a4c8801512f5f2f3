"""Generated speech for a participant's track: the packaged utterances (`mock_server/_media/voices/`) at 48 kHz.

A segment is one utterance, or `duration_s` seconds of the five utterances in a fixed order with 0.2 s pauses
(repeated as long as needed, cut at exactly `duration_s` with a 5 ms fade). Its first sample is speech, so a test
knows to the sample where speech starts. `speech_blocks` renders a participant's whole stay block by block: a
four-hour track never exists as one array, and a long segment is read from one cached cycle of the utterances.

Blocking and numpy-heavy: call it from a worker thread, never from the event loop.
"""

from __future__ import annotations

import bisect
import functools
from collections.abc import Iterator, Sequence
from importlib import resources
from typing import TYPE_CHECKING

from mock_server._media._voices import VOICES

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from mock_server._video._room_body import SpeechSegment

    Samples = npt.NDArray[np.float32]

__all__ = ["RATE", "VOICES", "speech_blocks", "voice_seconds"]

RATE = 48_000  # Twilio records and composes audio at 48 kHz (Opus)
CYCLE = ("hello", "account", "repeat", "yes", "goodbye")
PAUSE_S = 0.2
FADE_S = 0.005


@functools.cache
def voice_seconds(voice: str) -> float:
    """How long a packaged utterance lasts (from its FLAC header: no decoding)."""
    import soundfile as sf

    if voice not in VOICES:
        raise ValueError(f"voice: one of {', '.join(VOICES)}, got {voice!r}")
    with (resources.files("mock_server._media") / "voices" / f"{voice}.flac").open("rb") as handle:
        info = sf.info(handle)
    return float(info.frames / info.samplerate)


@functools.cache
def _voice(voice: str) -> Samples:
    """A packaged utterance at 48 kHz mono float32 (resampled by libswresample, which keeps its timing)."""
    import av
    import numpy as np

    from mock_server._media._voices import RATE as VOICE_RATE
    from mock_server._media._voices import utterance

    samples = utterance(voice)
    frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1).copy(), format="flt", layout="mono")
    frame.sample_rate = VOICE_RATE
    resampler = av.AudioResampler(format="flt", layout="mono", rate=RATE)
    parts = [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
    parts += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    out: Samples = np.concatenate(parts).astype(np.float32)
    out.setflags(write=False)
    return out


@functools.cache
def _cycle() -> Samples:
    """The utterances of `CYCLE`, each followed by a pause: one period of `duration_s` speech (about 8 s)."""
    import numpy as np

    pause = np.zeros(round(PAUSE_S * RATE), dtype=np.float32)
    out: Samples = np.concatenate([part for voice in CYCLE for part in (_voice(voice), pause)])
    out.setflags(write=False)
    return out


class _Placed:
    """One segment in track frames: where it starts, how long it is, and how to read any part of it."""

    __slots__ = ("end", "gain", "length", "source", "start", "wraps")

    def __init__(self, segment: SpeechSegment, joined_s: float) -> None:
        self.start = round((segment.at_s - joined_s) * RATE)
        self.source = _voice(segment.voice) if segment.voice else _cycle()
        self.wraps = segment.voice is None
        self.length = len(self.source) if segment.voice else round(segment.duration_s * RATE)
        self.end = self.start + self.length
        self.gain = segment.gain

    def read(self, offset: int, count: int) -> Samples:
        """`count` samples from `offset` into the segment (the cycle repeats; the end of a long one fades out)."""
        import numpy as np

        source = self.source
        if not self.wraps:
            return source[offset : offset + count]
        size = len(source)
        first = offset % size
        if first + count <= size:
            out = source[first : first + count].copy()
        else:
            out = np.concatenate([source[first:], np.resize(source, count - (size - first))])
        fade = round(FADE_S * RATE)
        tail = self.length - fade  # the last `fade` samples ramp down, so the cut is not a click
        if offset + count > tail:
            ramp_from = max(tail - offset, 0)
            position = np.arange(offset + ramp_from, offset + count, dtype=np.float32)
            out[ramp_from:] *= np.clip((self.length - position) / fade, 0.0, 1.0)
        return out


def speech_blocks(
    segments: Sequence[SpeechSegment], joined_s: float, frames: int, block: int = RATE // 2
) -> Iterator[Samples]:
    """A participant's track: `frames` samples at 48 kHz from their join, the segments placed, silence elsewhere.

    Blocks of `block` samples (the last one shorter); overlapping segments add up (clipped to ±1).
    """
    import numpy as np

    placed = sorted((_Placed(s, joined_s) for s in segments), key=lambda p: p.start)
    starts = [p.start for p in placed]
    active: list[_Placed] = []
    taken = 0
    for begin in range(0, frames, block):
        end = min(begin + block, frames)
        upto = bisect.bisect_left(starts, end)
        active.extend(placed[taken:upto])
        taken = max(taken, upto)
        active = [p for p in active if p.end > begin]
        out = np.zeros(end - begin, dtype=np.float32)
        for p in active:
            lo, hi = max(p.start, begin), min(p.end, end)
            if lo < hi:
                out[lo - begin : hi - begin] += p.gain * p.read(lo - p.start, hi - lo)
        np.clip(out, -1.0, 1.0, out=out)
        yield out
