"""Decode a track in blocks, folded to mono float32 at its own rate: soundfile for what it opens, PyAV for the rest.

Which decoder, and why (measured here on a 1-hour 16 kHz mono track, see BENCHMARKS): soundfile reads WAV about 4×
faster than PyAV (0.13 s vs 0.55 s: libsndfile fills our buffer in one call, PyAV hands over one small frame at a
time) and FLAC as fast (0.51 s vs 0.52 s), so WAV, FLAC, MP3 and anything else libsndfile opens stay with soundfile.
Video's containers (mka/mkv, webm, mp4/m4a/mov: Opus, AAC, PCM…) go to PyAV, whose wheels bundle FFmpeg.

Timestamps: a container track's samples sit where their timestamps say. `start_s` is the time of its first decoded
sample (Twilio's track recordings: seconds from room start; twilio-wire.md §6), negative pre-roll (codec priming)
dropped; the reader fills a timestamp gap with silence and drops an overlap (beyond `JITTER_S`, against the
absolute position, so errors never accumulate). Files soundfile reads have no start time (`start_s` None).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Protocol

import av
import numpy as np
import numpy.typing as npt
import soundfile as sf

from harness._errors import CintelError

Array = npt.NDArray[np.float32]
PYAV_SUFFIXES = frozenset({".mka", ".mkv", ".webm", ".mp4", ".m4a", ".mov", ".opus", ".ogg", ".aac"})
JITTER_S = 0.002  # timestamp differences below this are rounding (Matroska counts milliseconds), not gaps
_INT_SCALE = {np.dtype(np.int16): 1 / 32768, np.dtype(np.int32): 1 / 2**31}


class MergeError(CintelError):
    """A track or option that cannot be merged (exit 2, the file or option named)."""


@dataclass(frozen=True)
class SourceInfo:
    """What a track holds, read before decoding it."""

    rate: int
    channels: int
    frames: int  # from its first decoded sample to its end, at `rate`
    start_s: float | None  # the container's time of the first sample; None when the format has none
    decoder: str  # "soundfile" or "pyav"
    codec: str


class BlockReader(Protocol):
    def read(self) -> tuple[Array, bool]:
        """The next mono block at the track's rate, and whether the track has ended."""

    def close(self) -> None: ...


def inspect(path: Path) -> SourceInfo:
    """Rate, channels, length and start time; refuses (naming the file) what neither decoder can read."""
    if not path.is_file():
        raise MergeError(f"{path}: no such file")
    info = _soundfile_info(path)
    if info is None:
        return _inspect_pyav(path)
    if info.frames <= 0:
        raise MergeError(f"{path}: no audio frames")
    return SourceInfo(int(info.samplerate), int(info.channels), int(info.frames), None, "soundfile", str(info.subtype))


def _soundfile_info(path: Path) -> Any:
    """soundfile's `info` for a file it reads (its own formats, not Video's containers), else None."""
    if path.suffix.lower() in PYAV_SUFFIXES:
        return None
    try:
        return sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError):
        return None  # not something libsndfile knows: FFmpeg may


def _inspect_pyav(path: Path) -> SourceInfo:
    try:
        container = av.open(str(path))
    except av.error.FFmpegError as error:
        raise MergeError(f"{path}: not an audio file soundfile or PyAV can decode ({error})") from None
    with container:
        if not container.streams.audio:
            raise MergeError(f"{path}: no audio stream in this {container.format.name} file")
        stream = container.streams.audio[0]
        first = None
        end_ticks = 0  # in the stream's time base: one Fraction at the end, not one per packet
        for packet in _packets(container, stream, path):
            if packet.pts is None:
                continue  # the demuxer's closing empty packet
            if first is None:
                first = next(iter(_safe_decode(packet)), None)
            end_ticks = max(end_ticks, packet.pts + (packet.duration or 0))
        if first is None or stream.time_base is None:
            raise MergeError(f"{path}: no decodable audio in its {stream.codec_context.name} stream")
        start = max(Fraction(0), _frame_time(first) or Fraction(0))
        rate = int(first.sample_rate)
        frames = round((end_ticks * stream.time_base - start) * rate)
        if frames <= 0:
            raise MergeError(f"{path}: no audio frames")
        return SourceInfo(rate, first.layout.nb_channels, frames, float(start), "pyav", stream.codec_context.name)


def container_start(path: Path) -> float | None:
    """The time of a container's first decoded audio sample (e.g. a track recording's offset from room start);
    None when the file has no timestamps (what soundfile reads: WAV, FLAC, MP3) or no audio. Reads only the start
    (works on a file's head)."""
    if _soundfile_info(path) is not None:
        return None
    try:
        container = av.open(str(path))
    except av.error.FFmpegError:
        return None
    with container:
        if not container.streams.audio:
            return None
        stream = container.streams.audio[0]
        try:
            for packet in container.demux(stream):
                frame = next(iter(_safe_decode(packet)), None)
                if frame is not None:
                    time = _frame_time(frame)
                    return None if time is None else float(max(Fraction(0), time))
        except av.error.FFmpegError:
            return None  # a head cut short before its first frame
    return None


def open_reader(path: Path, info: SourceInfo, block_frames: int) -> BlockReader:
    if info.decoder == "soundfile":
        return _SoundfileReader(path, info, block_frames)
    return _PyavReader(path, info, block_frames)


class _SoundfileReader:
    def __init__(self, path: Path, info: SourceInfo, block_frames: int) -> None:
        self.file = sf.SoundFile(str(path))
        self.buffer = np.empty((block_frames, info.channels), np.float32)  # reused: no allocation per block

    def read(self) -> tuple[Array, bool]:
        got = self.file.buffer_read_into(self.buffer, dtype="float32")
        if not got:
            return np.zeros(0, np.float32), True
        mono: Array = self.buffer[:got].mean(axis=1, dtype=np.float32)
        return mono, got < len(self.buffer)

    def close(self) -> None:
        if not self.file.closed:
            self.file.close()


class _PyavReader:
    """Frames decoded one packet at a time, placed by their timestamps (module docstring), gathered into blocks."""

    def __init__(self, path: Path, info: SourceInfo, block_frames: int) -> None:
        self.path = path
        self.info = info
        self.block = block_frames
        self.container = av.open(str(path))
        self.stream = self.container.streams.audio[0]
        self.pieces = self._pieces()

    def read(self) -> tuple[Array, bool]:
        parts: list[Array] = []
        size = 0
        while size < self.block:
            piece = next(self.pieces, None)
            if piece is None:
                return _joined(parts), True
            parts.append(piece)
            size += len(piece)
        return _joined(parts), False

    def _pieces(self) -> Iterator[Array]:
        rate = self.info.rate
        # Sample positions in floats (exact enough: an 8-hour track is 1.4e9 samples, far inside a double's 2^53);
        # Fraction arithmetic per 20 ms frame cost more than decoding it.
        per_tick = float(self.stream.time_base or 0) * rate
        anchor = (self.info.start_s or 0.0) * rate
        jitter = max(1, round(JITTER_S * rate))
        position = 0  # samples handed out, from the anchor
        for packet in _packets(self.container, self.stream, self.path):
            for frame in _safe_decode(packet):
                samples = _mono(frame)
                if frame.sample_rate != rate:
                    raise MergeError(f"{self.path}: the sample rate changes from {rate} to {frame.sample_rate} Hz")
                if frame.pts is not None and per_tick:
                    at = round(frame.pts * per_tick - anchor)
                    if at - position > jitter:  # a gap in the timestamps: silence, in blocks, never past the end
                        gap = min(at - position, max(0, self.info.frames - position))
                        while gap > 0:
                            size = min(gap, self.block)
                            yield np.zeros(size, np.float32)
                            position, gap = position + size, gap - size
                    elif position - at > jitter:  # overlapping or before the anchor (pre-roll): drop what came before
                        samples = samples[min(position - at, len(samples)) :]
                if len(samples):
                    yield samples
                    position += len(samples)

    def close(self) -> None:
        self.container.close()


def _packets(container: Any, stream: Any, path: Path) -> Iterator[av.Packet[Any]]:
    """The stream's packets; a file that cannot be read on (truncated, corrupt) is a MergeError naming it."""
    packets = container.demux(stream)
    while True:
        try:
            packet = next(packets, None)
        except av.error.FFmpegError as error:
            raise MergeError(f"{path}: cannot be read past this point ({error})") from None
        if packet is None:
            return
        yield packet


def _safe_decode(packet: av.Packet[Any]) -> list[av.AudioFrame]:
    """A packet's frames; a corrupt packet decodes to none (its time becomes a gap filled with silence)."""
    try:
        decoded = packet.decode()
    except av.error.InvalidDataError:
        return []
    frames: list[av.AudioFrame] = []
    for frame in decoded:
        if isinstance(frame, av.AudioFrame):
            frames.append(frame)
    return frames


def _frame_time(frame: av.AudioFrame) -> Fraction | None:
    if frame.pts is None or frame.time_base is None:
        return None
    return frame.pts * frame.time_base


def _mono(frame: av.AudioFrame) -> Array:
    """A frame's samples averaged over its channels, as float32 in [-1, 1)."""
    channels = frame.layout.nb_channels
    if channels == 1 and frame.format.name in ("flt", "fltp"):  # Opus and AAC decode to this: read the plane as is
        buffer: Any = frame.planes[0]  # a buffer-protocol object (numpy's stubs do not know it)
        plane: Array = np.frombuffer(buffer, np.float32, frame.samples)
        return plane
    data = frame.to_ndarray()
    if not frame.format.is_planar:  # interleaved: one row of samples × channels
        data = data.reshape(-1, channels).T
    values: Array
    if data.dtype == np.uint8:
        values = (data.astype(np.float32) - np.float32(128)) * np.float32(1 / 128)
    elif data.dtype in _INT_SCALE:
        values = data.astype(np.float32) * np.float32(_INT_SCALE[data.dtype])
    else:
        values = data.astype(np.float32, copy=False)
    mono: Array = values[0] if channels == 1 else values.mean(axis=0, dtype=np.float32)
    return mono


def _joined(parts: list[Array]) -> Array:
    if len(parts) == 1:
        return parts[0]
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)
