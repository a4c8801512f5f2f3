"""Make the committed test utterances (run once by hand; tests never run it and never need espeak-ng).

    apt-get install espeak-ng
    python tests/audio/make_utterances.py

Each phrase is spoken by espeak-ng (voice en, default speed) into a 22,050 Hz WAV on stdout, resampled to 16 kHz
by FFT (numpy only), trimmed so that its first and last samples are where the speech starts and ends (the first
and last 5 ms window above 1 % of the peak), peak-normalised to -3 dBFS and written as 8-bit mono FLAC (a few KB
each; 8 bits are plenty for a VAD).
"""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf

HERE = Path(__file__).resolve().parent
RATE = 16_000
PHRASES = {
    "hello": "Hello, thank you for calling.",
    "account": "My account number is four two seven.",
    "yes": "Yes, please.",
    "repeat": "Could you repeat that?",
    "goodbye": "Goodbye, have a nice day.",
}


def speak(text: str) -> tuple[np.ndarray, int]:
    wav = subprocess.run(["espeak-ng", "-v", "en", "--stdout", text], check=True, capture_output=True).stdout  # noqa: S607
    data, rate = sf.read(io.BytesIO(wav), dtype="float64")
    return data, rate


def resample(x: np.ndarray, rate: int, target: int) -> np.ndarray:
    n = round(len(x) * target / rate)
    spectrum = np.fft.rfft(x)
    keep = n // 2 + 1
    out = np.fft.irfft(spectrum[:keep], n)
    return out * (n / len(x))


def trim(x: np.ndarray) -> np.ndarray:
    win = RATE // 200  # 5 ms
    frames = len(x) // win
    peak = np.abs(x[: frames * win]).reshape(frames, win).max(axis=1)
    loud = np.flatnonzero(peak > 0.01 * peak.max())
    start = loud[0] * win
    # within the first loud window, start at its first sample above the threshold
    start += int(np.argmax(np.abs(x[start : start + win]) > 0.01 * peak.max()))
    end = (loud[-1] + 1) * win
    return x[start:end]


def main() -> None:
    for name, text in PHRASES.items():
        data, rate = speak(text)
        speech = trim(resample(data, rate, RATE))
        speech *= 10 ** (-3 / 20) / np.abs(speech).max()
        sf.write(HERE / f"{name}.flac", speech, RATE, subtype="PCM_S8", format="FLAC")
        print(f"{name}.flac: {len(speech) / RATE:.2f} s, {(HERE / f'{name}.flac').stat().st_size} bytes — {text!r}")


if __name__ == "__main__":
    main()
