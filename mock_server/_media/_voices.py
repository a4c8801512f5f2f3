"""Packaged voices: a few short real utterances, and call recordings built from them (`mock_server.demo_call`).

The utterances in `voices/` are the committed test speech (`tests/audio`, espeak-ng, CC0; see `voices/README.md`):
16 kHz mono FLAC, each file's first sample where speech starts and its last where it ends. A call places them on
two channels in turns, so where each one starts is known to the sample: `call_plan(seed, seconds)` says where (for
tests and scripts), `demo_call(seed, seconds=…)` renders the same plan as a stereo PCM16 WAV.

Layout, a public promise (`cintel demo` writes one script line per turn from it): the call is `seconds` long and
has `int(seconds // TURN_S)` turns (at least 2), alternately on channel 1 (first) and channel 2. Turn k starts
0.3–0.55 s into its own 2.5 s slot and ends inside it, so the other channel is quiet while one speaks and the same
channel pauses at least a turn between its utterances. The first turn says "hello", the last "goodbye", the others
are drawn by the seed, and so are each turn's onset and loudness: the same seed gives the same bytes, another seed
another recording.

numpy and soundfile are imported on the first call (importing `mock_server` stays cheap).
"""

from __future__ import annotations

import functools
import io
import math
import random
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["RATE", "TURN_S", "VOICES", "CallPlan", "Turn", "call_plan", "demo_call", "utterance"]

RATE = 16_000
TURN_S = 2.5
ONSET_S = (0.3, 0.55)  # where a turn starts inside its slot; the longest utterance (1.92 s) still ends inside it
MIN_SECONDS = 2 * TURN_S
MAX_SECONDS = 600.0  # a demo call, rendered in memory (10 minutes: 38 MB of float32 while it is built)
VOICES = ("account", "goodbye", "hello", "repeat", "yes")
MIDDLE = ("account", "repeat", "yes")
GAIN = (0.35, 0.6)  # of the utterances' -3 dBFS peak


@dataclass(frozen=True, slots=True)
class Turn:
    """One utterance placed on a channel (1-based, as Twilio's media_channel), from start_s to end_s."""

    voice: str
    channel: int
    start_s: float
    end_s: float
    gain: float


@dataclass(frozen=True, slots=True)
class CallPlan:
    seed: int
    seconds: float
    turns: tuple[Turn, ...]

    def on(self, channel: int) -> tuple[Turn, ...]:
        """The turns spoken on `channel`, in time order."""
        return tuple(t for t in self.turns if t.channel == channel)


@functools.cache
def utterance(voice: str) -> npt.NDArray[np.float32]:
    """A packaged utterance as 16 kHz mono float32 (its first sample the start of speech)."""
    import soundfile as sf

    if voice not in VOICES:
        raise ValueError(f"voice: one of {', '.join(VOICES)}, got {voice!r}")
    data = (resources.files("mock_server._media") / "voices" / f"{voice}.flac").read_bytes()
    samples: npt.NDArray[np.float32]
    samples, rate = sf.read(io.BytesIO(data), dtype="float32")
    if rate != RATE or samples.ndim != 1:
        raise RuntimeError(f"voices/{voice}.flac: expected 16 kHz mono, got {rate} Hz, shape {samples.shape}")
    samples.setflags(write=False)  # shared by every call through the cache
    return samples


def _check_seconds(seconds: float) -> float:
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not math.isfinite(seconds):
        raise ValueError(f"seconds: a number from {MIN_SECONDS:g} to {MAX_SECONDS:g}, got {seconds!r}")
    if not MIN_SECONDS <= seconds <= MAX_SECONDS:
        raise ValueError(f"seconds: from {MIN_SECONDS:g} to {MAX_SECONDS:g}, got {seconds:g}")
    return float(seconds)


def call_plan(seed: int, seconds: float = 20.0) -> CallPlan:
    """Where each utterance of `demo_call(seed, seconds=seconds)` is (see the module docstring for the layout)."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed: an integer, got {seed!r}")
    seconds = _check_seconds(seconds)
    rng = random.Random(f"cintel demo call {seed}")  # a string seed: any int, negative or huge, is one stream
    count = max(2, int(seconds // TURN_S))
    turns = []
    for k in range(count):
        voice = "hello" if k == 0 else "goodbye" if k == count - 1 else rng.choice(MIDDLE)
        start = round((k * TURN_S + rng.uniform(*ONSET_S)) * RATE) / RATE  # on a sample: the plan is exact
        end = start + len(utterance(voice)) / RATE
        turns.append(Turn(voice, 1 + k % 2, start, end, round(rng.uniform(*GAIN), 3)))
    return CallPlan(seed, seconds, tuple(turns))


def render(plan: CallPlan) -> bytes:
    """The plan as a stereo 16 kHz PCM16 WAV: digital silence, each turn's utterance on its channel."""
    import numpy as np
    import soundfile as sf

    frames = round(plan.seconds * RATE)
    audio = np.zeros((frames, 2), dtype=np.float32)
    for turn in plan.turns:
        voice = utterance(turn.voice)
        first = round(turn.start_s * RATE)
        audio[first : first + len(voice), turn.channel - 1] += voice * np.float32(turn.gain)
    buffer = io.BytesIO()
    sf.write(buffer, audio, RATE, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def demo_call(seed: int, *, seconds: float = 20.0) -> bytes:
    """A stereo 16 kHz PCM16 WAV of a call `seconds` long (5 to 600), deterministic per `seed`.

    Real speech (packaged espeak-ng utterances, CC0) in `int(seconds // 2.5)` turns, alternately on channel 1
    (first) and channel 2, one per 2.5 s slot starting 0.3–0.55 s into it, with silence between: what the mock's
    media analysis hears as one sentence per turn. Host it (`PUT /__mock__/media/{name}`) and give a script one line
    per turn of each channel (`POST /__mock__/scripts`) to decide what the sentences say.
    """
    return render(call_plan(seed, seconds))
