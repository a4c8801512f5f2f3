"""`cintel merge`: two 1-hour per-participant tracks into one verified stereo FLAC (goal, issue 9: ≤ 3 s, peak RSS
≤ 150 MB), against decoding both tracks alone in the same run.

The tracks are written into a temporary directory from the committed utterances (tests/audio/*.flac) over quiet
noise: track A the whole hour from room start, track B joining at 5 min and leaving at 55 min. Rounds alternate
decode-alone and merge (plan + write + verify) in this process (best of the rounds); peak memory is measured for
each in a fresh subprocess (VmHWM, the whole process, interpreter and numpy included). Three pairs:

- 16 kHz FLAC (the goal's row): B placed by an explicit offset; decoding alone with soundfile;
- 48 kHz FLAC: the same, resampled to 16 kHz;
- Opus in Matroska (what Video's track recordings are: 48 kHz, B time-stamped from 300 s): placed by the containers'
  start times, decoded with PyAV; decoding alone is PyAV's frame loop.

A last table compares the two decoders on the same hour of 16 kHz mono audio as WAV and as FLAC: why soundfile keeps
what it reads (harness/media/_decode.py).

    python -m benchmarks.bench_merge [--quick]   # --quick: 10-minute tracks, one round
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from fractions import Fraction
from functools import partial
from pathlib import Path

import av
import numpy as np
import soundfile as sf

from benchmarks._load import best_of
from harness.media import Track, plan, verify, write

AUDIO = Path(__file__).resolve().parent.parent / "tests" / "audio"


def track(path: Path, seconds: float, rate: int, seed: int) -> None:
    """A mono FLAC of `seconds`: utterances 0.3–2 s apart over noise at -60 dBFS, written block by block."""
    rng = np.random.default_rng(seed)
    voices = []
    for name in sorted(AUDIO.glob("*.flac")):
        data, source = sf.read(name, dtype="float32")
        positions = np.arange(int(len(data) * rate / source)) * source / rate
        voices.append(np.interp(positions, np.arange(len(data)), data).astype(np.float32) * 0.5)
    total, block = int(seconds * rate), 60 * rate
    noise = (rng.standard_normal(7 * rate + 331) * 0.001).astype(np.float32)
    with sf.SoundFile(path, "w", samplerate=rate, channels=1, format="FLAC", subtype="PCM_16") as out:
        for first in range(0, total, block):
            size = min(block, total - first)
            chunk = np.resize(np.roll(noise, -(first % len(noise))), size)
            at = 0
            while True:
                at += int(rng.uniform(0.3, 2.0) * rate)
                voice = voices[int(rng.integers(len(voices)))]
                if at + len(voice) >= size:
                    break
                chunk[at : at + len(voice)] += voice
                at += len(voice)
            out.write(chunk)


def to_opus(source: Path, path: Path, start_s: float) -> None:
    """`source` (48 kHz mono) as Opus in Matroska, its first sample time-stamped `start_s`, as Twilio records."""
    with sf.SoundFile(str(source)) as f, av.open(str(path), "w", format="matroska") as out:
        stream = out.add_stream("libopus", rate=f.samplerate, layout="mono")
        first = round(start_s * f.samplerate)
        at = 0
        for block in f.blocks(blocksize=f.samplerate, dtype="float32"):
            frame = av.AudioFrame.from_ndarray(block[None, :], format="fltp", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = f.samplerate, first + at, Fraction(1, f.samplerate)
            out.mux(stream.encode(frame))
            at += len(block)
        out.mux(stream.encode(None))


def decode_alone(paths: list[Path]) -> int:
    frames = 0
    for path in paths:
        if path.suffix == ".mka":
            with av.open(str(path)) as container:
                for frame in container.decode(container.streams.audio[0]):
                    frames += frame.to_ndarray().shape[-1]
            continue
        with sf.SoundFile(str(path)) as f:
            buffer = np.empty((131_072, f.channels), dtype=np.float32)
            while got := f.buffer_read_into(buffer, dtype="float32"):
                frames += got
    return frames


def decode_pyav(path: Path) -> int:
    frames = 0
    with av.open(str(path)) as container:
        for frame in container.decode(container.streams.audio[0]):
            frames += frame.to_ndarray().astype(np.float32).shape[-1]
    return frames


def merge(a: Path, b: Path, offset_b: float | None, out: Path) -> bool:
    result = write(plan([Track(a, 0.0 if offset_b is not None else None)], [Track(b, offset_b)]), out)
    return verify(result).ok


PROBE = """
import sys
from pathlib import Path
from benchmarks.bench_merge import decode_alone, merge
if sys.argv[1] == "decode":
    decode_alone([Path(sys.argv[2]), Path(sys.argv[3])])
else:
    offset = None if sys.argv[4] == "-" else float(sys.argv[4])
    assert merge(Path(sys.argv[2]), Path(sys.argv[3]), offset, Path(sys.argv[5]))
for line in Path("/proc/self/status").read_text().splitlines():
    if line.startswith("VmHWM:"):
        print(int(line.split()[1]) * 1024)
"""


def peak_rss(*args: str) -> int:
    done = subprocess.run([sys.executable, "-c", PROBE, *args], check=True, capture_output=True, text=True)
    return int(done.stdout)


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    minutes = 10 if quick else 60
    rounds = 1 if quick else 3
    seconds = minutes * 60.0
    offset = seconds / 12
    print(f"Two {minutes}-minute mono tracks (B joins at {minutes / 12:g} min, leaves {minutes / 12:g} min before "
          f"the end) → stereo 16 kHz FLAC, verified; best of {rounds}\n")  # fmt: skip
    print("| tracks | decode both alone | merge + verify | ratio | peak RSS: decode alone | merge + verify |")
    print("|---|---|---|---|---|---|")
    failed = False
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder, "out.flac")
        pairs: list[tuple[str, Path, Path, float | None]] = []
        for rate in (16_000, 48_000):
            a, b = Path(folder, f"a{rate}.flac"), Path(folder, f"b{rate}.flac")
            track(a, seconds, rate, seed=1)
            track(b, seconds * 10 / 12, rate, seed=2)
            pairs.append((f"{rate / 1000:g} kHz FLAC", a, b, offset))
        a_opus, b_opus = Path(folder, "a.mka"), Path(folder, "b.mka")
        to_opus(pairs[1][1], a_opus, 0.0)
        to_opus(pairs[1][2], b_opus, offset)
        pairs.append(("Opus mka (48 kHz), start times", a_opus, b_opus, None))
        for label, a, b, b_offset in pairs:
            decoding, merging = partial(decode_alone, [a, b]), partial(merge, a, b, b_offset, out)
            best_decode, best_merge = best_of(rounds, decoding, merging)
            assert merge(a, b, b_offset, out)
            rss_decode = peak_rss("decode", str(a), str(b))
            rss_merge = peak_rss("merge", str(a), str(b), "-" if b_offset is None else str(b_offset), str(out))
            print(f"| {label} | {best_decode:.2f} s | {best_merge:.2f} s | {best_merge / best_decode:.1f}× "
                  f"| {rss_decode / 2**20:.0f} MiB | {rss_merge / 2**20:.0f} MiB |", flush=True)  # fmt: skip
            if label.startswith("16 kHz") and not quick:
                failed = best_merge > 3.0 or rss_merge > 150 * 2**20
        print(f"\nDecoders on the same {minutes} minutes of 16 kHz mono (float32 out, best of {rounds}):\n")
        print("| file | soundfile | PyAV | PyAV / soundfile |")
        print("|---|---|---|---|")
        wav = Path(folder, "a16000.wav")
        sf.write(wav, sf.read(pairs[0][1], dtype="int16")[0], 16_000, subtype="PCM_16")
        for path in (wav, pairs[0][1]):
            soundfile_s, pyav_s = best_of(rounds, partial(decode_alone, [path]), partial(decode_pyav, path))
            print(f"| {path.suffix.lstrip('.').upper()} | {soundfile_s:.2f} s | {pyav_s:.2f} s "
                  f"| {pyav_s / soundfile_s:.1f}× |", flush=True)  # fmt: skip
    print("\ngoal (16 kHz, 1 hour): merge + verify ≤ 3 s, peak RSS ≤ 150 MB")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
