"""harness.media: tracks placed at their offsets (≤ 1 output sample), the guide's duration rule only on request,
mixing several tracks per channel, and the streaming resampler."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.media import MergeError, Resampler, Track, ffmpeg_command, plan, verify, write

AUDIO = Path(__file__).resolve().parents[2] / "audio"


def speech(name: str, rate: int) -> np.ndarray:
    data, source = sf.read(AUDIO / f"{name}.flac", dtype="float64")
    if rate == source:
        return data
    positions = np.arange(int(len(data) * rate / source)) * source / rate
    return np.interp(positions, np.arange(len(data)), data)


def track_file(path: Path, seconds: float, rate: int, *, events: list[tuple[float, str]], channels: int = 1,
               fmt: str = "WAV") -> Path:  # fmt: skip
    """A track of `seconds` with utterances (or "click") starting at the given times (seconds into the track)."""
    data = np.zeros(round(seconds * rate))
    for at, name in events:
        start = round(at * rate)
        clip = np.array([0.9]) if name == "click" else speech(name, rate) * 0.8
        data[start : start + len(clip)] = clip[: len(data) - start]
    sf.write(path, np.repeat(data[:, None], channels, axis=1), rate, format=fmt)
    return path


def merged(output: Path) -> np.ndarray:
    data, _ = sf.read(output, dtype="float64", always_2d=True)
    return data


def onset(channel: np.ndarray, threshold: float = 0.02) -> int:
    return int(np.argmax(np.abs(channel) > threshold))


def lead(name: str) -> int:
    """Samples from an utterance's first sample to where `onset` finds it (16 kHz, as placed by `track_file`)."""
    return onset(speech(name, 16_000) * 0.8)


def test_the_guides_case_offsets_and_align_ends_agree(tmp_path: Path) -> None:
    """The guide's 67 s and 63 s tracks, the shorter one joined 4 s late and stayed to the end: its offset and the
    duration rule give the same file."""
    a = track_file(tmp_path / "a.wav", 67.0, 16_000, events=[(10.0, "hello")])
    b = track_file(tmp_path / "b.wav", 63.0, 16_000, events=[(5.0, "goodbye")])
    by_offset = write(plan([Track(a, 0.0)], [Track(b, 4.0)]), tmp_path / "offset.flac")
    aligned_plan = plan([Track(a)], [Track(b)], align_ends=True)
    by_rule = write(aligned_plan, tmp_path / "rule.flac")

    assert aligned_plan.warnings
    assert "difference in durations (4.000 s)" in aligned_plan.warnings[0]
    assert verify(by_offset).ok
    assert verify(by_rule).ok
    left, right = merged(by_offset.output), merged(by_rule.output)
    assert left.shape == right.shape == (67 * 16_000, 2)
    assert np.array_equal(left, right)
    assert abs(onset(left[:, 0]) - 10 * 16_000 - lead("hello")) <= 1
    assert abs(onset(left[:, 1]) - 9 * 16_000 - lead("goodbye")) <= 1


def test_a_late_joiner_who_left_early_needs_offsets_not_the_duration_rule(tmp_path: Path) -> None:
    """The room is 10 s; B joined at 2 s and left at 6 s (a 4 s track). The duration rule puts B at 6 s — wrong."""
    a = track_file(tmp_path / "a.wav", 10.0, 16_000, events=[(0.5, "hello")])
    b = track_file(tmp_path / "b.wav", 4.0, 16_000, events=[(1.0, "yes")])  # speaks at 3 s into the room
    right = write(plan([Track(a, 0.0)], [Track(b, 2.0)]), tmp_path / "right.flac")
    wrong = write(plan([Track(a)], [Track(b)], align_ends=True), tmp_path / "wrong.flac")

    assert verify(right).ok
    assert merged(right.output).shape[0] == 10 * 16_000
    assert abs(onset(merged(right.output)[:, 1]) - 3 * 16_000 - lead("yes")) <= 1
    assert abs(onset(merged(wrong.output)[:, 1]) - 7 * 16_000 - lead("yes")) <= 1  # 4 s late: the rule's error


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rates=st.tuples(st.sampled_from([8000, 16000, 44100, 48000]), st.sampled_from([8000, 16000, 44100, 48000])),
    out_rate=st.sampled_from([8000, 16000, 44100, 48000]),
    offsets=st.tuples(st.floats(0, 3), st.floats(0, 3)),
    lengths=st.tuples(st.floats(0.5, 3), st.floats(0.5, 3)),
    clicks=st.tuples(st.floats(0.05, 0.95), st.floats(0.05, 0.95)),
    stereo=st.booleans(),
)
def test_a_click_lands_within_one_output_sample_of_where_it_was_placed(
    tmp_path: Path,
    rates: tuple[int, int],
    out_rate: int,
    offsets: tuple[float, float],
    lengths: tuple[float, float],
    clicks: tuple[float, float],
    stereo: bool,
) -> None:
    tracks = []
    for i in range(2):
        at = clicks[i] * lengths[i]
        path = track_file(tmp_path / f"t{i}.wav", lengths[i], rates[i], events=[(at, "click")],
                          channels=2 if stereo else 1)  # fmt: skip
        tracks.append(Track(path, offsets[i]))
    result = write(plan([tracks[0]], [tracks[1]], rate=out_rate), tmp_path / "out.flac")
    data = merged(result.output)

    latest_end = max(offsets[i] + round(lengths[i] * rates[i]) / rates[i] for i in range(2))
    assert abs(len(data) - latest_end * out_rate) <= 1
    for i in range(2):
        placed = round(clicks[i] * lengths[i] * rates[i]) / rates[i]  # the click's sample, in seconds
        expected = (offsets[i] + placed) * out_rate
        assert abs(int(np.argmax(np.abs(data[:, i]))) - expected) <= 1


def test_channel_options_mix_several_tracks_and_clip_safely(tmp_path: Path) -> None:
    loud = tmp_path / "loud.wav"
    sf.write(loud, np.full(16_000, 0.8), 16_000)
    a = track_file(tmp_path / "a.wav", 2.0, 16_000, events=[(0.2, "hello")])
    b = track_file(tmp_path / "b.wav", 2.0, 16_000, events=[(0.2, "yes")])
    result = write(plan([Track(a, 0.0), Track(loud, 0.5)], [Track(b, 1.0)], rate=16_000), tmp_path / "mix.flac")
    data = merged(result.output)

    assert verify(result).ok
    assert len(data) == 3 * 16_000
    assert data[:, 0].max() <= 32767 / 32768
    assert data[:, 0].min() >= -1
    assert abs(onset(data[:, 1]) - round(1.2 * 16_000) - lead("yes")) <= 1


def test_undecodable_files_and_bad_offsets_are_named(tmp_path: Path) -> None:
    a = track_file(tmp_path / "a.wav", 1.0, 16_000, events=[])
    (tmp_path / "r.mka").write_bytes(b"\x1a\x45\xdf\xa3 not really matroska")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(MergeError, match=r"r\.mka: not an audio file soundfile or PyAV can decode"):
        plan([Track(tmp_path / "r.mka")], [Track(a)])
    with pytest.raises(MergeError, match=r"notes\.txt: not an audio file"):
        plan([Track(tmp_path / "notes.txt")], [Track(a)])
    with pytest.raises(MergeError, match=r"missing\.webm: no such file"):
        plan([Track(tmp_path / "missing.webm")], [Track(a)])
    with pytest.raises(MergeError, match="offset must be"):
        Track.parse(f"{a}@-1")
    assert Track.parse(f"{a}@12.5") == Track(a, 12.5)
    assert Track.parse("odd@name.wav") == Track(Path("odd@name.wav"))
    with pytest.raises(MergeError, match="exclude each other"):
        plan([Track(a, 1.0)], [Track(a)], align_ends=True)


def test_verification_notices_a_channel_without_its_speech(tmp_path: Path) -> None:
    a = track_file(tmp_path / "a.wav", 3.0, 16_000, events=[(0.5, "hello")])
    b = track_file(tmp_path / "b.wav", 3.0, 16_000, events=[(0.5, "yes")])
    result = write(plan([Track(a, 0.0)], [Track(b, 0.0)]), tmp_path / "out.flac")
    data = merged(result.output)
    data[:, 1] = 0
    sf.write(result.output, data, 16_000, subtype="PCM_16")

    problems = verify(result).problems
    assert any("channel 2: signal missing" in p for p in problems)


def test_the_ffmpeg_command_delays_in_ms_pads_and_writes_16_bit_flac(tmp_path: Path) -> None:
    a = track_file(tmp_path / "a.wav", 2.0, 44_100, events=[], channels=2)
    b = track_file(tmp_path / "b.wav", 1.0, 16_000, events=[])
    command = ffmpeg_command(plan([Track(a, 0.25)], [Track(b, 1.5)]), tmp_path / "out.flac")

    assert "adelay=delays=250:all=1" in command
    assert "adelay=delays=1500:all=1" in command
    assert "pan=mono|c0=0.5*c0+0.5*c1" in command
    assert "amerge=inputs=2" in command
    assert "apad=whole_dur=2.500000" in command
    assert "-ar 16000 -ac 2 -sample_fmt s16 -c:a flac" in command
    assert "bits_per_raw_smaple" not in command
    assert "441000" not in command


@pytest.mark.parametrize(("rate_in", "rate_out"), [(44_100, 16_000), (8_000, 16_000), (48_000, 16_000)])
def test_the_resampler_streams_any_block_sizes_into_the_same_output(rate_in: int, rate_out: int) -> None:
    signal = np.sin(2 * np.pi * 440 * np.arange(rate_in) / rate_in).astype(np.float32)
    whole = Resampler(rate_in, rate_out).process(signal, final=True)
    streamed_resampler = Resampler(rate_in, rate_out)
    parts = [streamed_resampler.process(signal[i : i + 777]) for i in range(0, len(signal), 777)]
    streamed = np.concatenate([*parts, streamed_resampler.process(np.zeros(0, np.float32), final=True)])

    assert len(whole) == len(streamed) == rate_out
    np.testing.assert_allclose(streamed, whole, atol=1e-5)
    expected = np.sin(2 * np.pi * 440 * np.arange(rate_out) / rate_out)
    assert np.max(np.abs(whole[200:-200] - expected[200:-200])) < 1e-3


def test_a_track_at_the_output_rate_passes_through_bit_exact(tmp_path: Path) -> None:
    """16-bit samples out are the 16-bit samples in, moved by the offset: no gain, no dither, no rounding drift."""
    rng = np.random.default_rng(7)
    samples = rng.integers(-32768, 32768, 3 * 16_000, dtype=np.int16)
    a = tmp_path / "a.wav"
    sf.write(a, samples, 16_000, subtype="PCM_16")
    b = track_file(tmp_path / "b.wav", 4.0, 16_000, events=[(0.5, "yes")])
    result = write(plan([Track(a, 1.0)], [Track(b, 0.0)]), tmp_path / "out.flac")
    data, _ = sf.read(result.output, dtype="int16", always_2d=True)

    assert result.clipped == 0
    assert np.array_equal(data[16_000 : 4 * 16_000, 0], samples)
    assert not data[:16_000, 0].any()
