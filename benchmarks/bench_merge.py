"""`cintel merge`: two 1-hour per-participant tracks into one verified stereo FLAC (goal, issue 9: ≤ 3 s, peak RSS
≤ 150 MB), against decoding both tracks alone in the same run.

The tracks are written into a temporary directory from the committed utterances (tests/audio/*.flac) over quiet
noise: track A the whole hour from room start, track B joining at 5 min and leaving at 55 min. Rounds alternate
decode-alone and merge (plan + write + verify) in this process (best of the rounds); peak memory is measured for
each in a fresh subprocess (VmHWM, the whole process, interpreter and numpy included). A second pair at 48 kHz
(what Video recordings carry) shows the resampler's cost.

    python -m benchmarks.bench_merge [--quick]   # --quick: 10-minute tracks, one round
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

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


def decode_alone(paths: list[Path]) -> int:
    frames = 0
    for path in paths:
        with sf.SoundFile(str(path)) as f:
            buffer = np.empty((131_072, f.channels), dtype=np.float32)
            while got := f.buffer_read_into(buffer, dtype="float32"):
                frames += got
    return frames


def merge(a: Path, b: Path, offset_b: float, out: Path) -> bool:
    result = write(plan([Track(a, 0.0)], [Track(b, offset_b)]), out)
    return verify(result).ok


PROBE = """
import sys
from pathlib import Path
from benchmarks.bench_merge import decode_alone, merge
if sys.argv[1] == "decode":
    decode_alone([Path(sys.argv[2]), Path(sys.argv[3])])
else:
    assert merge(Path(sys.argv[2]), Path(sys.argv[3]), float(sys.argv[4]), Path(sys.argv[5]))
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
    print(f"Two {minutes}-minute mono FLAC tracks (B joins at {minutes / 12:g} min, leaves {minutes / 12:g} min "
          f"before the end) → stereo 16 kHz FLAC, verified; best of {rounds}\n")  # fmt: skip
    print("| tracks | decode both alone | merge + verify | ratio | peak RSS: decode alone | merge + verify |")
    print("|---|---|---|---|---|---|")
    failed = False
    with tempfile.TemporaryDirectory() as folder:
        for rate in (16_000, 48_000):
            a, b, out = Path(folder, f"a{rate}.flac"), Path(folder, f"b{rate}.flac"), Path(folder, "out.flac")
            seconds = minutes * 60.0
            track(a, seconds, rate, seed=1)
            track(b, seconds * 10 / 12, rate, seed=2)
            offset = seconds / 12
            best_decode = best_merge = float("inf")
            for _ in range(rounds):
                start = time.perf_counter()
                decode_alone([a, b])
                best_decode = min(best_decode, time.perf_counter() - start)
                start = time.perf_counter()
                assert merge(a, b, offset, out)
                best_merge = min(best_merge, time.perf_counter() - start)
            rss_decode = peak_rss("decode", str(a), str(b))
            rss_merge = peak_rss("merge", str(a), str(b), str(offset), str(out))
            print(f"| {rate / 1000:g} kHz | {best_decode:.2f} s | {best_merge:.2f} s | {best_merge / best_decode:.1f}× "
                  f"| {rss_decode / 2**20:.0f} MiB | {rss_merge / 2**20:.0f} MiB |", flush=True)  # fmt: skip
            if rate == 16_000 and not quick:
                failed = best_merge > 3.0 or rss_merge > 150 * 2**20
    print("\ngoal (16 kHz, 1 hour): merge + verify ≤ 3 s, peak RSS ≤ 150 MB")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
