"""A scenario's generated media: packaged utterances placed on silence at known times and channels, encoded as WAV,
FLAC or MP3 — so an expectation knows to the sample where each sentence starts.

The utterances are the mock's packaged voices (16 kHz mono, each file's first sample the start of speech); this
package does not import the mock, so the caller passes a `Voices` function that returns one (`cintel` reads them
from the mock's package data). Rendering is numpy and libsndfile work: call it in a thread, not on an event loop.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import TYPE_CHECKING

from harness.scenarios._model import MediaSpec

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Samples = npt.NDArray[np.float64]

__all__ = ["VOICE_RATE", "Voices", "render_media"]

VOICE_RATE = 16_000
Voices = Callable[[str], "Samples"]  # an utterance's name → its samples, 16 kHz mono float in [-1, 1]
_SUBTYPES = {"wav": "PCM_16", "flac": "PCM_16", "mp3": None}


def _resampled(samples: Samples, rate: int) -> Samples:
    """Linear interpolation to `rate`: enough to keep speech recognisable, and its first sample stays first."""
    import numpy as np

    if rate == VOICE_RATE:
        return samples
    positions = np.arange(int(len(samples) * rate / VOICE_RATE)) * (VOICE_RATE / rate)
    resampled: Samples = np.interp(positions, np.arange(len(samples)), samples)
    return resampled


def render_media(spec: MediaSpec, voices: Voices | None) -> bytes:
    """The encoded file a generated `MediaSpec` describes (`spec.seconds` long, `spec.channels` channels)."""
    import numpy as np
    import soundfile as sf

    assert spec.seconds is not None, "only generated media is rendered"
    frames = round(spec.seconds * spec.rate)
    audio = np.zeros((frames, spec.channels))
    for segment in spec.segments:
        assert voices is not None, "speech needs the packaged voices"
        voice = _resampled(np.asarray(voices(segment.utterance), dtype=np.float64), spec.rate) * segment.gain
        first = round(segment.at_s * spec.rate)
        end = min(frames, first + len(voice))
        audio[first:end, segment.channel - 1] += voice[: end - first]
    np.clip(audio, -1.0, 1.0, out=audio)
    buffer = io.BytesIO()
    sf.write(buffer, audio, spec.rate, format=spec.format.upper(), subtype=_SUBTYPES[spec.format])
    return buffer.getvalue()
