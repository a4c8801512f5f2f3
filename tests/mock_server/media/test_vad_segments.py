"""Speech found where it was placed: each utterance one segment on its own channel, starting within 50 ms."""

from __future__ import annotations

import numpy as np
import pytest

from mock_server._media import MediaAnalysis, Segment, analyse
from mock_server._media._vad import EnergyMeter, find_segments
from tests.mock_server.media.audio_support import Placed, encode, recording

ONSET_S = 0.050
TAIL_S = 0.200  # a weak last sound (the "s" of "please" at 8 kHz) may fall under the gate or the noise
SMEAR_S = 0.100  # and a lossy codec (MP3 at 8 kHz) smears its end by up to 100 ms
CONVERSATION = [
    Placed("hello", 1, 0.7),
    Placed("account", 2, 3.1),
    Placed("yes", 1, 5.9),
    Placed("repeat", 2, 7.4),
    Placed("goodbye", 1, 9.2),
    Placed("hello", 2, 11.5),
]


def assert_heard(result: MediaAnalysis, placed: list[Placed], *, onset_s: float = ONSET_S) -> None:
    """Every placed utterance overlaps exactly one segment on its channel, which starts within `onset_s` of it and
    ends within -200 ms … +100 ms of where the speech does; no segment overlaps no utterance."""
    used: set[Segment] = set()
    for item in placed:
        mine = [s for s in result.segments if s.channel == item.channel]
        hits = [s for s in mine if s.start_s < item.end_s and s.end_s > item.start_s]
        assert len(hits) == 1, (item, hits)
        assert abs(hits[0].start_s - item.start_s) <= onset_s, (item, hits[0])
        assert item.end_s - TAIL_S <= hits[0].end_s <= item.end_s + SMEAR_S, (item, hits[0])
        used.add(hits[0])
    assert set(result.segments) == used, set(result.segments) - used


@pytest.mark.parametrize("rate", [8_000, 16_000, 44_100, 48_000])
@pytest.mark.parametrize(("fmt", "subtype"), [("WAV", "PCM_16"), ("WAV", "PCM_24"), ("WAV", "PCM_32"), ("WAV", "FLOAT"),
                                              ("WAV", "PCM_U8"), ("WAV", "ULAW"), ("FLAC", "PCM_16"),
                                              ("MP3", "MPEG_LAYER_III")])  # fmt: skip
def test_stereo_conversation_in_every_format_and_rate(rate: int, fmt: str, subtype: str) -> None:
    result = analyse(encode(recording(CONVERSATION, rate=rate, duration_s=14.0), rate, fmt, subtype))
    assert result.duration_s == pytest.approx(14.0, abs=1 / rate)
    assert_heard(result, CONVERSATION)


@pytest.mark.parametrize("rate", [8_000, 16_000, 44_100])
def test_mono_is_one_channel(rate: int) -> None:
    placed = [Placed(p.name, 1, p.start_s) for p in CONVERSATION]
    result = analyse(encode(recording(placed, rate=rate, channels=1, duration_s=14.0), rate, "FLAC"))
    assert result.channels == 1
    assert_heard(result, placed)


@pytest.mark.parametrize(
    "background",
    [("white", -60.0), ("white", -45.0), ("pink", -55.0), ("pink", -45.0), ("brown", -55.0), ("brown", -40.0)],
)
@pytest.mark.parametrize("rate", [8_000, 16_000, 48_000])
def test_speech_over_steady_noise(background: tuple[str, float], rate: int) -> None:
    audio = recording(CONVERSATION, rate=rate, duration_s=14.0, background=background)
    assert_heard(analyse(encode(audio, rate, "WAV", "FLOAT")), CONVERSATION)


@pytest.mark.parametrize("kind", ["white", "pink", "brown"])
def test_a_padded_track_with_noise_after_the_padding_has_no_false_speech(kind: str) -> None:
    """As `cintel merge` makes them: zeros until a participant's track starts, then that track's own noise."""
    placed = [Placed("account", 2, 21.0), Placed("yes", 1, 24.0), Placed("hello", 1, 27.5), Placed("goodbye", 2, 29.5)]
    audio = recording(placed, duration_s=32.0, background=(kind, -50.0))
    audio[: 20 * 16_000] = 0.0
    assert_heard(analyse(encode(audio, 16_000, "WAV", "FLOAT")), placed)


def test_noise_that_starts_and_stops_around_speech() -> None:
    placed = [Placed("hello", 1, 4.0), Placed("goodbye", 1, 9.0)]
    audio = recording(placed, channels=1, duration_s=16.0, background=("pink", -50.0))
    audio[: 3 * 16_000] = 0.0
    audio[12 * 16_000 :] = 0.0
    assert_heard(analyse(encode(audio, 16_000, "WAV", "FLOAT")), placed)


def test_segments_are_ordered_and_inside_the_media() -> None:
    result = analyse(encode(recording(CONVERSATION, duration_s=13.3), 16_000))
    starts = [(s.start_s, s.channel) for s in result.segments]
    assert starts == sorted(starts)
    assert all(0 <= s.start_s < s.end_s <= result.duration_s for s in result.segments)
    # Utterances are peak-normalised to -3 dBFS and placed at half that: speech averages -20 to -35 dBFS.
    assert all(-40 < s.level_db < -15 for s in result.segments), result.segments


def test_speech_running_to_the_last_sample_ends_with_the_media() -> None:
    placed = [Placed("account", 1, 1.0)]
    duration = 1.0 + len_of("account") - 0.3
    result = analyse(encode(recording(placed, channels=1, duration_s=duration), 16_000))
    assert result.segments[-1].end_s == pytest.approx(result.duration_s, abs=0.011)


def len_of(name: str) -> float:
    return Placed(name, 1, 0.0).end_s


def test_louder_speech_has_a_higher_level() -> None:
    quiet = analyse(encode(recording([Placed("hello", 1, 1.0)], channels=1, duration_s=3.0, gain=0.1), 16_000))
    loud = analyse(encode(recording([Placed("hello", 1, 1.0)], channels=1, duration_s=3.0, gain=0.8), 16_000))
    assert loud.segments[0].level_db - quiet.segments[0].level_db == pytest.approx(20 * np.log10(8), abs=0.5)


@pytest.mark.parametrize("sizes", [[1], [159, 1, 320], [7_777], [64_000]])
def test_energies_do_not_depend_on_how_the_audio_is_cut_into_blocks(sizes: list[int]) -> None:
    audio = recording(CONVERSATION, duration_s=14.003).astype(np.float32)
    whole = EnergyMeter(16_000, 2)
    whole.feed(audio)
    pieces = EnergyMeter(16_000, 2)
    first, turn = 0, 0
    while first < len(audio):
        size = sizes[turn % len(sizes)] if len(audio) - first > 2_000_000 // sizes[0] else len(audio)
        pieces.feed(audio[first : first + size])
        first, turn = first + size, turn + 1
    assert pieces.frames == whole.frames == len(audio)
    np.testing.assert_allclose(pieces.energies(), whole.energies(), rtol=1e-4, atol=1e-12)
    assert find_segments(pieces.energies(), 16_000, 14.003) == find_segments(whole.energies(), 16_000, 14.003)


def test_no_audio_means_no_segments() -> None:
    meter = EnergyMeter(16_000, 2)
    meter.feed(np.zeros((0, 2), dtype=np.float32))
    assert meter.energies().shape == (2, 0)
    assert find_segments(meter.energies(), 16_000, 0.0) == ()
