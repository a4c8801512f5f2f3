"""Merge per-participant audio tracks into one stereo 16-bit FLAC, each track placed at its offset from room start.

Streamed: each track is decoded in blocks (soundfile), folded to mono by averaging its channels, resampled
(`_resample.Resampler`) and placed; the output is written block by block, so two 1-hour tracks never sit in memory
as whole arrays. Channel 1 is the sum of the tracks assigned to it, channel 2 likewise; a sum beyond full scale is
clipped (and counted) rather than wrapped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soundfile as sf

from harness._errors import CintelError
from harness.media._resample import Resampler

Array = npt.NDArray[np.float32]
BLOCK = 131_072  # output frames per write
NEEDS_PYAV = frozenset({".mka", ".mkv", ".webm", ".mp4", ".m4a", ".mov"})
FULL_SCALE = 32767 / 32768
COMPRESSION = 0.0  # FLAC level 0: encodes ~1.8× faster than the default; speech files grow by a few %


class MergeError(CintelError):
    """A track or option that cannot be merged (exit 2, the file or option named)."""


@dataclass(frozen=True)
class Track:
    """A track argument: a file, and its offset from room start when given."""

    path: Path
    offset_s: float | None = None  # None: not given (placed at 0, or by --align-ends)

    @classmethod
    def parse(cls, text: str) -> Track:
        """`path` or `path@OFFSET_S` (seconds from room start, ≥ 0)."""
        path, sep, tail = text.rpartition("@")
        if sep:
            try:
                offset = float(tail.removesuffix("s"))
            except ValueError:
                return cls(Path(text))
            if not offset >= 0 or offset == float("inf"):
                raise MergeError(f"{text}: the offset must be a number of seconds ≥ 0, got {tail!r}")
            return cls(Path(path), offset)
        return cls(Path(text))


@dataclass(frozen=True)
class TrackInfo:
    """What soundfile reports about a track (before decoding it)."""

    track: Track
    rate: int
    channels: int
    frames: int

    @property
    def duration_s(self) -> float:
        return self.frames / self.rate


def probe(track: Track) -> TrackInfo:
    """Read a track's rate, channels and length; containers soundfile cannot open are refused by name."""
    suffix = track.path.suffix.lower()
    if suffix in NEEDS_PYAV:
        raise MergeError(f"{track.path}: container {suffix.lstrip('.')} is not supported yet (needs PyAV)")
    if not track.path.is_file():
        raise MergeError(f"{track.path}: no such file")
    try:
        info = sf.info(str(track.path))
    except (sf.LibsndfileError, RuntimeError) as error:
        raise MergeError(f"{track.path}: not an audio file soundfile can decode ({error})") from None
    if info.frames <= 0:
        raise MergeError(f"{track.path}: no audio frames")
    return TrackInfo(track, int(info.samplerate), int(info.channels), int(info.frames))


@dataclass
class Placement:
    """Where one track goes: its channel and first output frame."""

    info: TrackInfo
    channel: int  # 1 or 2
    offset_s: float
    start: int  # output frame of the track's first sample
    length: int  # output frames


@dataclass
class MergePlan:
    """Every track placed, the output rate and length, and the notes and warnings to print."""

    placements: list[Placement]
    rate: int
    frames: int  # the latest track end, in output frames
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def duration_s(self) -> float:
        return self.frames / self.rate


def plan(channel1: Sequence[Track], channel2: Sequence[Track], *, rate: int = 16_000,
         align_ends: bool = False) -> MergePlan:  # fmt: skip
    """Probe every track and place it: its own offset, else 0 (noted), else with `align_ends` the guide's
    duration-difference rule (warned: compositions trim the initial gap, so a late joiner who left early is wrong)."""
    if not channel1 or not channel2:
        raise MergeError("need at least one track for each of the two channels")
    if not 8000 <= rate <= 192_000:
        raise MergeError(f"--rate must be between 8000 and 192000 Hz, got {rate}")
    infos = [(probe(t), 1) for t in channel1] + [(probe(t), 2) for t in channel2]
    notes: list[str] = []
    warnings: list[str] = []
    offsets: list[float] = []
    if align_ends:
        if len(infos) != 2:
            raise MergeError("--align-ends works on exactly two tracks (one per channel)")
        if any(info.track.offset_s is not None for info, _ in infos):
            raise MergeError("--align-ends and explicit @OFFSET_S offsets exclude each other: drop one")
        longest = max(info.duration_s for info, _ in infos)
        offsets = [longest - info.duration_s for info, _ in infos]
        warnings.append(
            "--align-ends: the shorter track is delayed by the difference in durations "
            f"({max(offsets):.3f} s). That is only right when both participants stayed to the end of the room; "
            "a participant who left early is misplaced. Prefer offsets from room start (TRACK@OFFSET_S, e.g. the "
            "Recording's `offset` or the participant's join time)."
        )
    else:
        for info, _ in infos:
            if info.track.offset_s is None:
                notes.append(f"{info.track.path}: no @OFFSET_S given, placed at 0 s from room start")
            offsets.append(info.track.offset_s or 0.0)
    # The file ends at the latest track end (output samples whose time is before it); a track whose start was
    # rounded up may lose its one last sample to that.
    ends = [offset + info.duration_s for (info, _), offset in zip(infos, offsets, strict=True)]
    frames = max(math.ceil(end * rate - 1e-6) for end in ends)
    placements = []
    for (info, channel), offset in zip(infos, offsets, strict=True):
        start = round(offset * rate)
        length = min(Resampler(info.rate, rate).output_length(info.frames), frames - start)
        placements.append(Placement(info, channel, offset, start, length))
    return MergePlan(placements, rate, frames, notes, warnings)


class _PlacedStream:
    """One track as output-rate mono samples: zeros before its start, the resampled audio, zeros after.

    Decoding and resampling run one block ahead in a worker thread (libsndfile and numpy release the GIL), so they
    overlap the FLAC encoding of the output; at most two blocks of a track are held at a time."""

    def __init__(self, placement: Placement, rate: int) -> None:
        self.placement = placement
        self.file = sf.SoundFile(str(placement.info.track.path))
        self.resampler = Resampler(placement.info.rate, rate)
        self.pending: Array = np.zeros(0, dtype=np.float32)
        self.position = 0  # output frames emitted
        self.done = False
        self.decode = np.empty((max(4096, BLOCK * placement.info.rate // rate), placement.info.channels), np.float32)
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="cintel-merge")
        self.ahead: Future[tuple[Array, bool]] = self.pool.submit(self._decode_next)

    def _decode_next(self) -> tuple[Array, bool]:
        got = self.file.buffer_read_into(self.decode, dtype="float32")
        mono = self.decode[:got].mean(axis=1, dtype=np.float32) if got else np.zeros(0, np.float32)
        finished = got < len(self.decode)
        return self.resampler.process(mono, final=finished), finished

    def _pull(self) -> Array:
        if self.done:
            return np.zeros(0, dtype=np.float32)
        block, self.done = self.ahead.result()
        if not self.done:
            self.ahead = self.pool.submit(self._decode_next)
        return block

    def read(self, frames: int) -> Array:
        out = np.zeros(frames, dtype=np.float32)
        start, end = self.placement.start, self.placement.start + self.placement.length
        lo, hi = max(self.position, start), min(self.position + frames, end)
        while hi > lo and len(self.pending) < hi - lo and not self.done:
            self.pending = np.concatenate([self.pending, self._pull()])
        if hi > lo:
            take = min(hi - lo, len(self.pending))
            out[lo - self.position : lo - self.position + take] = self.pending[:take]
            self.pending = self.pending[take:]
        self.position += frames
        return out

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        if not self.file.closed:
            self.file.close()


@dataclass
class MergeResult:
    """What `write` wrote, with each track's signal per window for `verify`."""

    plan: MergePlan
    output: Path
    frames_written: int
    clipped: int  # samples clipped to full scale (only when several tracks share a channel)
    activity: list[Array]  # per placement: RMS per verify window of the placed track (for `verify`)


def write(merge_plan: MergePlan, output: Path, *, window_s: float = 0.1) -> MergeResult:
    """Write the stereo 16-bit FLAC block by block; remember each track's RMS per window for verification."""
    rate = merge_plan.rate
    window = max(1, round(window_s * rate))
    block = (BLOCK // window) * window
    streams = [_PlacedStream(p, rate) for p in merge_plan.placements]
    windows = -(-merge_plan.frames // window)
    activity = [np.zeros(windows, dtype=np.float32) for _ in streams]
    clipped = 0
    written = 0
    try:
        with sf.SoundFile(str(output), "w", samplerate=rate, channels=2, format="FLAC", subtype="PCM_16",
                          compression_level=COMPRESSION) as out:  # fmt: skip
            for first in range(0, merge_plan.frames, block):
                size = min(block, merge_plan.frames - first)
                frame = np.zeros((size, 2), dtype=np.float32)
                for i, stream in enumerate(streams):
                    samples = stream.read(size)
                    frame[:, stream.placement.channel - 1] += samples
                    activity[i][first // window : first // window + -(-size // window)] = _rms(samples, window)
                over = np.abs(frame) > FULL_SCALE
                if over.any():
                    clipped += int(over.sum())
                    np.clip(frame, -1.0, FULL_SCALE, out=frame)
                out.write(frame)
                written += size
    finally:
        for stream in streams:
            stream.close()
    return MergeResult(merge_plan, output, written, clipped, activity)


def _rms(samples: Array, window: int) -> Array:
    padded = np.zeros(-(-len(samples) // window) * window, dtype=np.float32)
    padded[: len(samples)] = samples
    result: Array = np.sqrt(np.mean(np.square(padded.reshape(-1, window)), axis=1))
    return result


def ffmpeg_command(merge_plan: MergePlan, output: Path) -> str:
    """An ffmpeg command that makes the same file: each input folded to mono, resampled, delayed by its offset
    (adelay, in ms), padded to the room's length (amerge stops at its shortest input), tracks on one channel summed
    (amix, no normalisation), the two channels merged to stereo, 16-bit FLAC at the chosen rate."""
    import shlex

    rate = merge_plan.rate
    inputs = " ".join(f"-i {shlex.quote(str(p.info.track.path))}" for p in merge_plan.placements)
    filters = []
    for i, p in enumerate(merge_plan.placements):
        delay_ms = f"{p.offset_s * 1000:.3f}".rstrip("0").rstrip(".")
        channels = p.info.channels
        if channels == 1:
            to_mono = "aformat=sample_fmts=fltp:channel_layouts=mono"
        else:  # average the channels, as the merge does (ffmpeg's own downmix weights them differently)
            weight = f"{1 / channels:.6g}"
            to_mono = "pan=mono|c0=" + "+".join(f"{weight}*c{c}" for c in range(channels))
        filters.append(
            f"[{i}:a]aresample={rate},{to_mono},"
            f"adelay=delays={delay_ms}:all=1,apad=whole_dur={merge_plan.duration_s:.6f}[t{i}]"
        )
    for channel in (1, 2):
        labels = "".join(f"[t{i}]" for i, p in enumerate(merge_plan.placements) if p.channel == channel)
        count = labels.count("[")
        if count == 1:
            filters.append(f"{labels}anull[c{channel}]")
        else:
            filters.append(f"{labels}amix=inputs={count}:duration=longest:normalize=0[c{channel}]")
    filters.append("[c1][c2]amerge=inputs=2[out]")
    graph = shlex.quote(";".join(filters))
    return (
        f"ffmpeg {inputs} -filter_complex {graph} -map '[out]' -t {merge_plan.duration_s:.6f} "
        f"-ar {rate} -ac 2 -sample_fmt s16 -c:a flac {shlex.quote(str(output))}"
    )
