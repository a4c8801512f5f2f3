"""A composition's media: the selected recordings mixed, trimmed as Twilio trims, encoded as `Format` asks (PyAV).

`mp4` is AAC in MP4, `webm` is Opus in WebM (48 kHz mono: the rooms are audio only, so there is no video stream).
The recordings are decoded from their `.mka` files and mixed half a second at a time (`_tracks.TrackReader`): an
hour-long composition never sits in memory, and the sum is clipped to ±1 as any mixer without a limiter would.

Blocking: run `compose` in a worker thread; it returns the file's size and length.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mock_server._video._timeline import kept_spans, total_length
from mock_server._video._tracks import BLOCK, OPUS_BIT_RATE, OPUS_OPTIONS, RATE, TrackReader, frame_at

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["CODECS", "ComposedMedia", "SourceTrack", "compose"]

# libav's own AAC encoder with its fast coder (about 1.7x faster than the default "twoloop" on 48 kHz speech; the
# mock's compositions are for checking timing and content, not for listening tests).
CODECS = {
    "mp4": ("mp4", "aac", 64_000, {"aac_coder": "fast"}),
    "webm": ("webm", "libopus", OPUS_BIT_RATE, OPUS_OPTIONS),
}


@dataclass(frozen=True, slots=True)
class SourceTrack:
    """A selected recording: its file and where it lies in the room (samples at 48 kHz)."""

    path: str
    start: int
    length: int


@dataclass(frozen=True, slots=True)
class ComposedMedia:
    path: str
    size: int
    seconds: float


def compose(tracks: Sequence[SourceTrack], trim: bool, media_format: str, path: str) -> ComposedMedia:
    """Mix `tracks` over the kept stretches of the room into `path` (`media_format` mp4 or webm)."""
    import av
    import numpy as np

    container_format, codec, bit_rate, options = CODECS[media_format]
    spans = kept_spans(((t.start, t.start + t.length) for t in tracks), trim)
    readers: list[TrackReader] = []
    try:
        readers = [TrackReader(t.path, t.start, t.length) for t in tracks]
        with av.open(path, mode="w", format=container_format) as output:
            stream = output.add_stream(codec, rate=RATE, layout="mono", options=dict(options))
            assert isinstance(stream, av.AudioStream)  # (the codec is a variable: PyAV's stubs cannot tell)
            stream.codec_context.bit_rate = bit_rate
            written = 0
            for begin, end in spans:
                for block_begin in range(begin, end, BLOCK):
                    block_end = min(block_begin + BLOCK, end)
                    mix: npt.NDArray[np.float32] = np.zeros(block_end - block_begin, dtype=np.float32)
                    for reader in readers:
                        part = reader.read(block_begin, block_end)
                        if part is not None:
                            mix += part
                    np.clip(mix, -1.0, 1.0, out=mix)
                    output.mux(stream.encode(frame_at(mix, written)))
                    written += len(mix)
            output.mux(stream.encode(None))
    finally:
        for reader in readers:
            with contextlib.suppress(Exception):
                reader.close()
    return ComposedMedia(path, os.path.getsize(path), total_length(spans) / RATE)
