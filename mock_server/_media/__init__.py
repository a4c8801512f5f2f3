"""The mock's ears: decode a transcript's media and find where each channel speaks (see README, "What the mock checks").

`analyse(source)` is pure and synchronous (it runs in a worker thread or process, never on the event loop) and returns
a `MediaAnalysis`, or raises `MediaRejected(code, message)` with Twilio's error code for media Twilio would fail.
`open_audio(source)` is the decoder on its own: a context manager whose `blocks()` stream float32 arrays.

Importing this package is cheap: numpy and soundfile load on the first call that needs them.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from mock_server._media._audio_types import (
    INVALID_MEDIA_TYPE,
    INVALID_SAMPLE_RATE,
    MEDIA_EMPTY,
    MEDIA_TOO_LONG,
    TOO_MANY_CHANNELS,
    MediaAnalysis,
    MediaRejected,
    Segment,
)

if TYPE_CHECKING:
    from mock_server._media._audio import AudioStream


def analyse(source: bytes | str | os.PathLike[str]) -> MediaAnalysis:
    """Decode `source` (the media's bytes or a path to them) and find the speech on each channel.

    Raises `MediaRejected` with Twilio's code: 95104 not WAV (PCM)/MP3/FLAC audio, 95115 more than two channels,
    95112 below 8 kHz, 95114 longer than 8 h, 95109 shorter than 2 s or no speech on any channel.
    """
    from mock_server._media._audio_analyse import analyse as _analyse

    return _analyse(source)


def open_audio(source: bytes | str | os.PathLike[str]) -> AudioStream:
    """Open `source` for block-wise decoding after checking its header (same refusals as `analyse`)."""
    from mock_server._media._audio import open_audio as _open_audio

    return _open_audio(source)


__all__ = [
    "INVALID_MEDIA_TYPE",
    "INVALID_SAMPLE_RATE",
    "MEDIA_EMPTY",
    "MEDIA_TOO_LONG",
    "TOO_MANY_CHANNELS",
    "MediaAnalysis",
    "MediaRejected",
    "Segment",
    "analyse",
    "open_audio",
]
