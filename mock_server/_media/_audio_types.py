"""What the mock heard in a media file, and why it may refuse one: plain values, no audio libraries.

Twilio's error dictionary (twilio.com/docs/api/errors/NNNNN) documents a Voice Intelligence code for each way a media
file can be unusable; the mock raises `MediaRejected` with the same code and a message that says what it found:

- 95104 "Invalid media type": not audio, or not WAV (PCM), MP3 or FLAC (the reference, twilio-wire.md §5.1).
- 95109 "Media content is empty": "Media duration is less than 2 seconds" — and audio with no speech on any channel
  (Twilio's later page for the same condition, 17554, names "contains no audio content" as a cause).
- 95112 "Invalid sample rate found on media": "The media file sample rate is less than 8KHz".
- 95114 "Media duration is too long": longer than 8 hours.
- 95115 "Media has too many channels": more than two channels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

INVALID_MEDIA_TYPE: Final = 95104
MEDIA_EMPTY: Final = 95109
INVALID_SAMPLE_RATE: Final = 95112
MEDIA_TOO_LONG: Final = 95114
TOO_MANY_CHANNELS: Final = 95115

MIN_SAMPLE_RATE: Final = 8_000  # Twilio: "≥ 8 kHz (16 kHz best)"
MIN_DURATION_S: Final = 2.0  # Twilio: recordings shorter than 2 s are not transcribed (95109)
MAX_DURATION_S: Final = 8 * 3600.0  # Twilio: audio ≤ 8 h (95114)
MAX_CHANNELS: Final = 2  # mono, or dual-channel (channel 1 = left, 2 = right)


@dataclass(frozen=True, slots=True)
class Segment:
    """A stretch of speech on one channel: `channel` is 1-based (Twilio's media_channel), times in seconds from the
    start of the media, `level_db` its mean level in dB relative to full scale."""

    channel: int
    start_s: float
    end_s: float
    level_db: float

    def __reduce__(self) -> tuple[type[Segment], tuple[int, float, float, float]]:
        # Rebuilt by the constructor: a slots dataclass's default __setstate__ loops over fields() in Python, ~4x
        # slower, and the mock unpickles a worker's 1,400 segments on a thread that holds the GIL meanwhile.
        return (Segment, (self.channel, self.start_s, self.end_s, self.level_db))


@dataclass(frozen=True, slots=True)
class MediaAnalysis:
    """A media file that Twilio would transcribe: its container (`wav`, `mp3` or `flac`), sample rate, channel count,
    exact decoded duration, and the speech found on each channel, ordered by start time then channel."""

    format: str
    sample_rate: int
    channels: int
    duration_s: float
    segments: tuple[Segment, ...]


class MediaRejected(Exception):
    """Twilio would fail this media: `code` is Twilio's error code, `message` says what was wrong with it."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


__all__ = [
    "INVALID_MEDIA_TYPE",
    "INVALID_SAMPLE_RATE",
    "MAX_CHANNELS",
    "MAX_DURATION_S",
    "MEDIA_EMPTY",
    "MEDIA_TOO_LONG",
    "MIN_DURATION_S",
    "MIN_SAMPLE_RATE",
    "TOO_MANY_CHANNELS",
    "MediaAnalysis",
    "MediaRejected",
    "Segment",
]
