"""Small Video-style container files made at test time with PyAV: Opus in Matroska/WebM (what Twilio's track
recordings and webm compositions hold), AAC in MP4 (mp4 compositions), with a chosen start time."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

FORMATS = {  # suffix: (muxer, codec)
    ".mka": ("matroska", "libopus"),
    ".webm": ("webm", "libopus"),
    ".mp4": ("mp4", "aac"),
    ".m4a": ("ipod", "aac"),
    ".mkv": ("matroska", "flac"),  # lossless: sample-exact checks of the PyAV path
}


def encode(path: Path, samples: np.ndarray, rate: int, *, start_s: float = 0.0, channels: int = 1) -> Path:
    """Write mono `samples` (float, at `rate`) to the container `path`'s suffix names, the first sample time-stamped
    `start_s` (a Twilio track recording's offset from room start). Opus is encoded at 48 kHz, as Twilio records."""
    muxer, codec = FORMATS[path.suffix]
    if codec == "libopus" and rate != 48_000:
        positions = np.arange(int(len(samples) * 48_000 / rate)) * rate / 48_000
        samples, rate = np.interp(positions, np.arange(len(samples)), samples), 48_000
    layout = "mono" if channels == 1 else "stereo"
    with av.open(str(path), "w", format=muxer) as out:
        stream = out.add_stream(codec, rate=rate, layout=layout)
        data = np.repeat(np.asarray(samples, np.float32)[None, :], channels, axis=0)
        first = round(start_s * rate)
        step = rate // 10
        for at in range(0, data.shape[1], step):
            chunk = data[:, at : at + step]
            if codec == "flac":  # FLAC takes interleaved 16-bit samples
                pcm = np.round(np.clip(chunk, -1, 32767 / 32768) * 32768).astype(np.int16).T.reshape(1, -1)
                frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout=layout)
            else:
                frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format="fltp", layout=layout)
            frame.sample_rate, frame.pts, frame.time_base = rate, first + at, Fraction(1, rate)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path
