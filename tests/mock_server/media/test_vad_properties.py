"""Property tests of segment boundaries: utterances at random places on random channels, random gaps ≥ 0.5 s."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mock_server._media import analyse
from mock_server._media._vad import EnergyMeter, find_segments
from tests.mock_server.media.audio_support import NAMES, Placed, encode, length_s, recording
from tests.mock_server.media.test_vad_segments import assert_heard

RATES = st.sampled_from([8_000, 16_000, 22_050, 44_100, 48_000])
BACKGROUNDS = st.sampled_from([None, ("pink", -55.0), ("white", -50.0), ("brown", -45.0)])


@st.composite
def conversations(draw: st.DrawFn) -> tuple[list[Placed], int, float]:
    """(placed, channels, duration): on each channel a run of utterances, each ≥ 0.5 s after the one before it
    on that channel (channels may overlap each other); a channel may stay silent."""
    channels = draw(st.sampled_from([1, 2]))
    placed: list[Placed] = []
    for channel in range(1, channels + 1):
        t = draw(st.floats(0.0, 2.0))
        for _ in range(draw(st.integers(0 if channels == 2 else 1, 4))):
            name = draw(st.sampled_from(NAMES))
            placed.append(Placed(name, channel, round(t, 4)))
            t += length_s(name) + draw(st.floats(0.5, 2.5))
    if not placed:
        placed.append(Placed(draw(st.sampled_from(NAMES)), draw(st.integers(1, channels)), draw(st.floats(0.0, 1.0))))
    end = max(p.end_s for p in placed)
    return placed, channels, max(2.0, end + draw(st.floats(0.0, 1.5)))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(conversations(), RATES, BACKGROUNDS, st.integers(0, 2**16))
def test_every_utterance_is_one_segment_on_its_channel(
    conversation: tuple[list[Placed], int, float], rate: int, background: tuple[str, float] | None, seed: int
) -> None:
    placed, channels, duration = conversation
    audio = recording(placed, rate=rate, channels=channels, duration_s=duration, background=background, seed=seed)
    result = analyse(encode(audio, rate, "WAV", "FLOAT"))
    assert result.channels == channels
    assert result.duration_s == round(duration * rate) / rate
    assert_heard(result, placed)  # one segment each, onsets within 50 ms, and no segment without speech
    speaking = {p.channel for p in placed}
    assert {s.channel for s in result.segments} == speaking  # a silent channel has no segment


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 20_000), min_size=1, max_size=30), st.sampled_from([8_000, 16_000, 44_100]))
def test_block_boundaries_never_change_the_segments(cuts: list[int], rate: int) -> None:
    placed = [Placed("hello", 1, 0.4), Placed("yes", 2, 1.1), Placed("goodbye", 2, 2.6)]
    audio = recording(placed, rate=rate, duration_s=4.5, background=("pink", -55.0)).astype(np.float32)
    whole, pieces = EnergyMeter(rate, 2), EnergyMeter(rate, 2)
    whole.feed(audio)
    first = 0
    for size in cuts:
        pieces.feed(audio[first : first + size])
        first += size
    pieces.feed(audio[first:])
    np.testing.assert_allclose(pieces.energies(), whole.energies(), rtol=1e-4, atol=1e-12)
    assert find_segments(pieces.energies(), rate, 4.5) == find_segments(whole.energies(), rate, 4.5)
