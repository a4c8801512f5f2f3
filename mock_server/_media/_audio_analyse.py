"""`analyse()`: decode a media file once, block by block, and find the speech on each channel.

Checks run in the order Twilio's failures would show: the header (type 95104, channels 95115, sample rate 95112,
declared length 95114), then the decoded audio: longer than 8 h (95114, decoding stops there), shorter than 2 s
(95109), no speech on any channel (95109, "Media content is empty").
"""

from __future__ import annotations

from mock_server._media._audio import BLOCK_FRAMES, Source, open_audio, too_long_message
from mock_server._media._audio_types import (
    MAX_DURATION_S,
    MEDIA_EMPTY,
    MEDIA_TOO_LONG,
    MIN_DURATION_S,
    MediaAnalysis,
    MediaRejected,
)
from mock_server._media._vad import EnergyMeter, find_segments


def analyse(source: Source) -> MediaAnalysis:
    """What Twilio would hear in `source` (the media's bytes, or a path to a file holding them).

    Pure and synchronous: meant for a worker thread or process. Raises `MediaRejected(code, message)` for media
    Twilio would fail, `OSError` if a path cannot be read.
    """
    with open_audio(source) as audio:
        meter = EnergyMeter(audio.sample_rate, audio.channels)
        limit = int(MAX_DURATION_S * audio.sample_rate)
        block_frames = meter.hop * max(1, BLOCK_FRAMES // meter.hop)  # whole frames: no partial frame carried over
        for block in audio.blocks(block_frames, reuse=True):
            meter.feed(block)
            if meter.frames > limit:
                raise MediaRejected(MEDIA_TOO_LONG, too_long_message(meter.frames / audio.sample_rate))
        duration_s = meter.frames / audio.sample_rate
        if duration_s < MIN_DURATION_S:
            raise MediaRejected(
                MEDIA_EMPTY,
                f"Media content is empty: the media lasts {duration_s:.3f} s; the minimum is {MIN_DURATION_S:g} s",
            )
        segments = find_segments(meter.energies(), audio.sample_rate, duration_s)
        if not segments:
            which = "the channel" if audio.channels == 1 else "either channel"
            raise MediaRejected(MEDIA_EMPTY, f"Media content is empty: no speech was found on {which}")
        return MediaAnalysis(
            format=audio.format,
            sample_rate=audio.sample_rate,
            channels=audio.channels,
            duration_s=duration_s,
            segments=segments,
        )


__all__ = ["analyse"]
