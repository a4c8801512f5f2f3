"""A participant's audio as Twilio records it: 48 kHz mono Opus in a Matroska audio file (`.mka`), with PyAV.

`write_track` takes the participant's audio — a hosted media file (any format libav decodes, resampled and folded to
mono by libswresample) or generated speech — cuts or pads it to the participant's stay, and encodes it block by
block. Every frame's timestamp counts from the *room's* start, so the file's container start time
(`av.open(path).start_time`, ffprobe's `format=start_time`) says when the track began in the room, as Twilio's raw
track recordings do (twilio-wire.md §6). Matroska stores milliseconds and Opus starts 6.5 ms early (its pre-skip),
so the start time read back is within 1 ms of the join; the samples themselves are placed exactly.

`TrackReader` reads such a file back as room-time sample ranges, for mixing compositions.

Blocking: run these in a worker thread. Memory stays at a few blocks whatever the length.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING

from mock_server._video._speech import RATE, speech_blocks

if TYPE_CHECKING:
    import av
    import numpy as np
    import numpy.typing as npt

    from mock_server._video._room_body import ParticipantPlan

    Samples = npt.NDArray[np.float32]

__all__ = [
    "BLOCK",
    "OPUS_BIT_RATE",
    "OPUS_OPTIONS",
    "RATE",
    "TrackError",
    "TrackReader",
    "TrackResult",
    "decoded_blocks",
    "frame_at",
    "mono",
    "write_track",
]

BLOCK = RATE // 2  # half a second: 96 KB of float32 per block
TIME_BASE = Fraction(1, RATE)
OPUS_OPTIONS = {"compression_level": "0"}  # the fastest Opus encoder setting: speech still sounds like speech
OPUS_BIT_RATE = 32_000


class TrackError(ValueError):
    """A hosted media file libav cannot decode (the message says why, without echoing the bytes)."""


@dataclass(frozen=True, slots=True)
class TrackResult:
    path: str
    size: int


def decoded_blocks(data: bytes) -> Iterator[Samples]:
    """The audio of a media file (any container and codec libav reads) as 48 kHz mono float32 blocks."""
    import av

    try:
        container = av.open(io.BytesIO(data), mode="r")
    except (av.FFmpegError, ValueError) as exc:
        raise TrackError(f"the media is not an audio file libav can read ({type(exc).__name__})") from None
    with container:
        if not container.streams.audio:
            raise TrackError("the media has no audio stream")
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=RATE)
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    yield mono(out)
            for out in resampler.resample(None):
                yield mono(out)
        except av.FFmpegError as exc:
            raise TrackError(f"the media's audio could not be decoded ({type(exc).__name__}: {exc})") from None


def _fit(blocks: Iterator[Samples], frames: int) -> Iterator[Samples]:
    """Exactly `frames` samples in `BLOCK`-sized pieces: the source cut at the end, or padded with silence."""
    import numpy as np

    pending: list[Samples] = []
    held = 0
    sent = 0
    for block in blocks:
        if sent + held >= frames:
            break  # the participant has left: the rest of the media was never heard in the room
        pending.append(block)
        held += len(block)
        while held >= BLOCK and sent < frames:
            joined = np.concatenate(pending)
            take = min(BLOCK, frames - sent)
            yield joined[:take]
            sent += take
            rest = joined[take:]
            pending, held = ([rest] if len(rest) else []), len(rest)
    tail = np.concatenate(pending) if pending else np.zeros(0, dtype=np.float32)
    while sent < frames:
        take = min(BLOCK, frames - sent)
        out = np.zeros(take, dtype=np.float32)
        usable = min(len(tail), take)
        out[:usable] = tail[:usable]
        tail = tail[usable:]
        yield out
        sent += take


def write_track(plan: ParticipantPlan, media: bytes | None, path: str) -> TrackResult:
    """Record `plan`'s audio for its whole stay into `path` (Opus in Matroska, timestamps from the room's start)."""
    import av

    frames = round(plan.stay_s * RATE)
    source = decoded_blocks(media) if media is not None else speech_blocks(plan.segments, plan.joined_s, frames)
    first_pts = round(plan.joined_s * RATE)
    with av.open(path, mode="w", format="matroska") as output:
        stream = output.add_stream("libopus", rate=RATE, layout="mono", options=OPUS_OPTIONS)
        stream.codec_context.bit_rate = OPUS_BIT_RATE
        written = 0
        for block in _fit(source, frames):
            output.mux(stream.encode(frame_at(block, first_pts + written)))
            written += len(block)
        output.mux(stream.encode(None))
    return TrackResult(path, os.path.getsize(path))


def mono(frame: av.AudioFrame) -> Samples:
    """A decoded mono frame's samples as float32 (the decoders and the resampler here all give float32)."""
    import numpy as np

    return np.asarray(frame.to_ndarray(), dtype=np.float32).reshape(-1)


def frame_at(block: Samples, pts: int) -> av.AudioFrame:
    """A mono float32 frame whose first sample is at `pts` (in 1/48000 s)."""
    import av
    import numpy as np

    frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(block, dtype=np.float32).reshape(1, -1), format="flt",
                                       layout="mono")  # fmt: skip
    frame.sample_rate = RATE
    frame.pts = pts
    frame.time_base = TIME_BASE
    return frame


class TrackReader:
    """A recorded track read forward as room-time ranges: silence outside [start, start + length)."""

    def __init__(self, path: str, start: int, length: int) -> None:
        import av

        self._container = av.open(path, mode="r")
        self._frames = self._container.decode(audio=0)
        self.start = start  # room sample where the track's first sample is
        self.length = length
        self._buffer: list[Samples] = []
        self._buffered = 0
        self._position = start  # room sample of the buffer's first sample
        self._done = False

    def close(self) -> None:
        self._container.close()

    def _fill(self, upto: int) -> None:
        while not self._done and self._position + self._buffered < upto:
            frame = next(self._frames, None)
            if frame is None:
                self._done = True
                return
            samples = mono(frame)
            self._buffer.append(samples)
            self._buffered += len(samples)

    def _take(self, count: int) -> Samples:
        """The next `count` buffered samples (fewer at the end of the file); the buffer moves on."""
        import numpy as np

        joined = np.concatenate(self._buffer) if self._buffer else np.zeros(0, dtype=np.float32)
        out, rest = joined[:count], joined[count:]
        self._buffer, self._buffered = ([rest] if len(rest) else []), len(rest)
        self._position += len(out)
        return out

    def read(self, begin: int, end: int) -> Samples | None:
        """The track's samples for room samples [begin, end) (calls must move forward); None where it is silent."""
        import numpy as np

        lo, hi = max(begin, self.start), min(end, self.start + self.length)
        if lo >= hi:
            return None
        if lo > self._position:  # a trimmed gap or a range never asked for: decode past it
            while self._position < lo:
                self._fill(min(lo, self._position + BLOCK))
                if not self._buffered:
                    break
                self._take(min(lo - self._position, self._buffered))
        self._fill(hi)
        out = np.zeros(end - begin, dtype=np.float32)
        got = self._take(hi - self._position) if self._position < hi else np.zeros(0, dtype=np.float32)
        out[lo - begin : lo - begin + len(got)] = got
        return out
