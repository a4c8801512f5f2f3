"""Merge per-participant audio tracks into one stereo 16-bit FLAC, each track placed at its offset from room start.

Streamed: each track is decoded in blocks (`_decode`: soundfile, or PyAV for Video's containers), folded to mono by
averaging its channels, resampled (`_resample.Resampler`) and placed; the output is written block by block, so two
1-hour tracks never sit in memory as whole arrays. Channel 1 is the sum of the tracks assigned to it, channel 2
likewise; a sum beyond full scale is clipped (and counted) rather than wrapped.

Where a track goes (`plan`): its `@OFFSET_S` when given; else its container's start time (Twilio's track recordings
carry their offset from room start) — relative to the earliest such track when no track has an explicit offset, as
given (seconds from room start, like the explicit ones) when some do; else 0 s, with a note. The guide's
duration-difference rule only with `align_ends`, and a warning.
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

from harness.media._decode import BlockReader, MergeError, SourceInfo, inspect, open_reader
from harness.media._resample import Resampler

Array = npt.NDArray[np.float32]
BLOCK = 131_072  # output frames per write
COMPRESSION = 0.0  # FLAC level 0: encodes ~1.8× faster than the default; speech files grow by a few %


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
    """What a track holds (before decoding it): rate, channels, length, and its container's start time if any."""

    track: Track
    rate: int
    channels: int
    frames: int
    start_s: float | None = None  # the container's time of the first sample (None: WAV/FLAC/MP3 have none)
    source: SourceInfo | None = None

    @property
    def duration_s(self) -> float:
        return self.frames / self.rate


def probe(track: Track) -> TrackInfo:
    """Read a track's rate, channels, length and start time; what cannot be decoded is refused by name."""
    source = inspect(track.path)
    return TrackInfo(track, source.rate, source.channels, source.frames, source.start_s, source)


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
    """Probe every track and place it (module docstring): its own offset, else its container's start time, else 0
    (noted); with `align_ends` the guide's duration-difference rule instead (warned: compositions trim the initial
    gap, so a late joiner who left early is misplaced)."""
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
            "a participant who left early is misplaced. Prefer offsets from room start: a track recording's own "
            "start time (an .mka's, used when no offset is given), TRACK@OFFSET_S, or `cintel merge --room`."
        )
        if any(info.start_s for info, _ in infos):
            warnings.append("--align-ends ignores the start times the tracks' containers carry")
    else:
        offsets = _offsets([info for info, _ in infos], notes)
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


def _offsets(infos: list[TrackInfo], notes: list[str]) -> list[float]:
    """Each track's offset from room start: explicit, else its container's start time, else 0 (module docstring)."""
    explicit = any(info.track.offset_s is not None for info in infos)
    starts = [info.start_s for info in infos if info.track.offset_s is None and info.start_s is not None]
    origin = 0.0 if explicit or not starts else min(starts)
    offsets = []
    for info in infos:
        name = info.track.path
        if info.track.offset_s is not None:
            offsets.append(info.track.offset_s)
        elif info.start_s is not None:
            offsets.append(info.start_s - origin)
            relative = f", {origin:.3f} s subtracted (the earliest track's)" if origin else ""
            notes.append(f"{name}: placed by its container's start time {info.start_s:.3f} s{relative}")
        else:
            offsets.append(0.0)
            notes.append(f"{name}: no @OFFSET_S given and no start time in the file, placed at 0 s from room start")
    return offsets


class _PlacedStream:
    """One track as output-rate mono samples: zeros before its start, the resampled audio, zeros after.

    Decoding and resampling run one block ahead in a worker thread (libsndfile and numpy release the GIL), so they
    overlap the FLAC encoding of the output; at most two blocks of a track are held at a time."""

    def __init__(self, placement: Placement, rate: int) -> None:
        self.placement = placement
        info = placement.info
        source = info.source or inspect(info.track.path)
        self.reader: BlockReader = open_reader(info.track.path, source, max(4096, BLOCK * info.rate // rate))
        self.resampler = Resampler(info.rate, rate)
        self.pending: Array = np.zeros(0, dtype=np.float32)
        self.position = 0  # output frames emitted
        self.done = False
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="cintel-merge")
        self.ahead: Future[tuple[Array, bool]] = self.pool.submit(self._decode_next)

    def _decode_next(self) -> tuple[Array, bool]:
        mono, finished = self.reader.read()
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
        self.reader.close()


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
    pcm = np.empty((block, 2), dtype=np.int16)  # reused for every block
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
                clipped += _to_pcm16(frame, pcm[:size])
                out.write(pcm[:size])
                written += size
    finally:
        for stream in streams:
            stream.close()
    return MergeResult(merge_plan, output, written, clipped, activity)


def _to_pcm16(frame: Array, pcm: npt.NDArray[np.int16]) -> int:
    """`frame` as 16-bit samples in `pcm` (× 32768, rounded: the inverse of how soundfile reads PCM_16, so a track
    at the output rate passes through bit-exact); a sum beyond full scale is clipped. Returns how many were clipped.

    Why here: handing libsndfile int16 instead of float32 makes the FLAC write about 1.4× faster (its float
    conversion clips and rounds sample by sample)."""
    np.multiply(frame, np.float32(32768), out=frame)
    np.rint(frame, out=frame)
    over = int(np.count_nonzero((frame > 32767) | (frame < -32768)))
    if over:
        np.clip(frame, -32768, 32767, out=frame)
    pcm[...] = frame  # the values are whole and in range: the cast is exact
    return over


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
        # A container's timestamps may have gaps (a muted track): async=1 fills them with silence, as `write` does.
        gaps = ":async=1" if p.info.source is not None and p.info.source.decoder == "pyav" else ""
        filters.append(
            f"[{i}:a]aresample={rate}{gaps},{to_mono},"
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
