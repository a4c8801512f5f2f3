"""Video's containers (Opus in mka/webm, AAC in mp4/m4a) decoded with PyAV in blocks: speech lands where it was put,
a container's start time places the track, timestamp gaps become silence, and only blocks are ever held."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.media import MergeError, Track, container_start, ffmpeg_command, inspect, plan, verify, write
from harness.media._decode import open_reader

from .containers import encode
from .test_merge import merged, onset, speech

RATE = 16_000
# Lossy codecs smear an onset by a few samples and Matroska counts milliseconds: 2 ms is the budget.
TOLERANCE = round(0.002 * RATE)


def utterance_track(seconds: float, at: float, name: str = "hello", rate: int = RATE) -> np.ndarray:
    data = np.zeros(round(seconds * rate))
    clip = speech(name, rate) * 0.8
    start = round(at * rate)
    data[start : start + len(clip)] = clip[: len(data) - start]
    return data


def expected_onset(name: str, at_s: float) -> int:
    """Where `onset` finds utterance `name` placed at `at_s` in a 16 kHz file (its first sample + its lead-in)."""
    return round(at_s * RATE) + onset(speech(name, RATE) * 0.8)


@pytest.mark.parametrize("suffix", [".mka", ".webm", ".mp4", ".m4a"])
def test_speech_in_a_container_lands_where_it_was_placed(tmp_path: Path, suffix: str) -> None:
    a = encode(tmp_path / f"a{suffix}", utterance_track(3.0, 0.5, "hello", 48_000), 48_000)
    b = encode(tmp_path / f"b{suffix}", utterance_track(2.0, 0.3, "yes", 48_000), 48_000)
    result = write(plan([Track(a, 0.0)], [Track(b, 1.25)]), tmp_path / "out.flac")
    data = merged(result.output)

    assert verify(result).ok
    assert abs(len(data) - 3.25 * RATE) <= round(0.03 * RATE)  # AAC pads its last frame
    assert abs(onset(data[:, 0]) - expected_onset("hello", 0.5)) <= TOLERANCE
    assert abs(onset(data[:, 1]) - expected_onset("yes", 1.55)) <= TOLERANCE


def test_track_recordings_are_placed_by_their_start_times_relative_to_the_earliest(tmp_path: Path) -> None:
    """The tutorial's alice.mka (1.564 s) and bob.mka (20.789 s), scaled: bob is placed 2.225 s after alice."""
    alice = encode(tmp_path / "alice.mka", utterance_track(3.0, 0.2, "hello"), RATE, start_s=1.564)
    bob = encode(tmp_path / "bob.mka", utterance_track(2.0, 0.4, "yes"), RATE, start_s=3.789)
    merge_plan = plan([Track(alice)], [Track(bob)])
    data = merged(write(merge_plan, tmp_path / "out.flac").output)

    assert inspect(alice).start_s == pytest.approx(1.564, abs=0.001)
    assert [p.offset_s for p in merge_plan.placements] == pytest.approx([0.0, 2.225], abs=0.001)
    assert all("s subtracted (the earliest track's)" in note for note in merge_plan.notes)
    assert abs(onset(data[:, 0]) - expected_onset("hello", 0.2)) <= TOLERANCE
    assert abs(onset(data[:, 1]) - expected_onset("yes", 2.625)) <= TOLERANCE


def test_with_an_explicit_offset_a_start_time_counts_from_room_start(tmp_path: Path) -> None:
    agent = track_wav(tmp_path / "agent.wav", utterance_track(6.0, 1.0, "hello"))
    customer = encode(tmp_path / "customer.mka", utterance_track(2.0, 0.5, "yes"), RATE, start_s=2.5)
    merge_plan = plan([Track(agent, 0.0)], [Track(customer)])
    data = merged(write(merge_plan, tmp_path / "out.flac").output)

    assert merge_plan.placements[1].offset_s == pytest.approx(2.5, abs=0.001)
    assert abs(onset(data[:, 1]) - expected_onset("yes", 3.0)) <= TOLERANCE


def test_an_explicit_offset_wins_over_the_container_start_time(tmp_path: Path) -> None:
    agent = encode(tmp_path / "agent.webm", utterance_track(4.0, 0.5, "hello"), RATE, start_s=7.0)
    customer = encode(tmp_path / "customer.mka", utterance_track(2.0, 0.5, "yes"), RATE, start_s=9.0)
    merge_plan = plan([Track(agent, 0.0)], [Track(customer, 1.0)])
    data = merged(write(merge_plan, tmp_path / "out.flac").output)

    assert [p.offset_s for p in merge_plan.placements] == [0.0, 1.0]
    assert not merge_plan.notes
    assert abs(onset(data[:, 0]) - expected_onset("hello", 0.5)) <= TOLERANCE
    assert abs(onset(data[:, 1]) - expected_onset("yes", 1.5)) <= TOLERANCE


def test_a_gap_in_the_timestamps_becomes_silence(tmp_path: Path) -> None:
    """A muted stretch: packets stop at 1 s and resume at 4 s; what follows keeps its time."""
    first = encode(tmp_path / "first.mka", utterance_track(1.0, 0.1, "yes"), RATE)
    second = encode(tmp_path / "second.mka", utterance_track(2.0, 0.5, "hello"), RATE, start_s=4.0)
    joined = splice(tmp_path / "gap.mka", first, second)
    other = track_wav(tmp_path / "other.wav", np.zeros(6 * RATE))
    data = merged(write(plan([Track(joined, 0.0)], [Track(other, 0.0)]), tmp_path / "out.flac").output)

    assert abs(onset(data[:, 0]) - expected_onset("yes", 0.1)) <= TOLERANCE
    assert np.abs(data[round(1.1 * RATE) : round(4.4 * RATE), 0]).max() < 0.01
    assert abs(onset(data[round(2 * RATE) :, 0]) + 2 * RATE - expected_onset("hello", 4.5)) <= TOLERANCE


def test_a_container_is_read_in_blocks_even_across_a_long_gap(tmp_path: Path) -> None:
    first = encode(tmp_path / "first.mka", utterance_track(1.0, 0.1), RATE)
    second = encode(tmp_path / "second.mka", utterance_track(1.0, 0.1), RATE, start_s=600.0)
    joined = splice(tmp_path / "gap.mka", first, second)
    info = inspect(joined)
    reader = open_reader(joined, info, 4096)
    sizes = []
    try:
        while True:
            block, done = reader.read()
            sizes.append(len(block))
            if done:
                break
    finally:
        reader.close()

    assert info.decoder == "pyav"
    assert info.frames == pytest.approx(601 * 48_000, abs=48)
    assert max(sizes) <= 4096 + 960  # a block, plus at most one Opus frame (20 ms at 48 kHz)
    assert sum(sizes) == pytest.approx(601 * 48_000, abs=48)


def test_a_stereo_container_is_averaged_to_mono(tmp_path: Path) -> None:
    stereo = encode(tmp_path / "s.mka", utterance_track(2.0, 0.5), RATE, channels=2)
    other = track_wav(tmp_path / "o.wav", np.zeros(2 * RATE))
    data = merged(write(plan([Track(stereo, 0.0)], [Track(other, 0.0)]), tmp_path / "out.flac").output)

    assert inspect(stereo).channels == 2
    assert abs(onset(data[:, 0]) - expected_onset("hello", 0.5)) <= TOLERANCE
    assert 0.5 < np.abs(data[:, 0]).max() / 0.8 <= 1.05  # averaged, not summed


def test_container_start_reads_the_head_of_a_file_and_is_none_without_timestamps(tmp_path: Path) -> None:
    recording = encode(tmp_path / "RT.mka", utterance_track(30.0, 1.0), RATE, start_s=12.345)
    head = tmp_path / "head.mka"
    head.write_bytes(recording.read_bytes()[:16_384])
    wav = track_wav(tmp_path / "x.wav", np.zeros(RATE))

    assert container_start(recording) == pytest.approx(12.345, abs=0.001)
    assert container_start(head) == pytest.approx(12.345, abs=0.001)
    assert container_start(wav) is None
    assert inspect(wav).decoder == "soundfile"
    assert inspect(wav).start_s is None


RATES = [8000, 16000, 44100, 48000]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rates=st.tuples(st.sampled_from(RATES), st.sampled_from(RATES)),
    out_rate=st.sampled_from(RATES),
    offsets=st.tuples(st.floats(0, 3), st.floats(0, 3)),
    starts=st.tuples(st.floats(0, 100), st.floats(0, 100)),
    lengths=st.tuples(st.floats(0.5, 3), st.floats(0.5, 3)),
    clicks=st.tuples(st.floats(0.05, 0.95), st.floats(0.05, 0.95)),
)
def test_through_pyav_a_click_lands_within_one_output_sample_of_its_offset(
    tmp_path: Path,
    rates: tuple[int, int],
    out_rate: int,
    offsets: tuple[float, float],
    starts: tuple[float, float],
    lengths: tuple[float, float],
    clicks: tuple[float, float],
) -> None:
    """Lossless FLAC in Matroska, any container start time, an explicit offset: the PyAV path (timestamps, blocks,
    resampling) is as exact as soundfile's."""
    tracks = []
    for i in range(2):
        samples = np.zeros(round(lengths[i] * rates[i]))
        samples[round(clicks[i] * lengths[i] * rates[i])] = 0.9
        path = encode(tmp_path / f"t{i}.mkv", samples, rates[i], start_s=starts[i])
        tracks.append(Track(path, offsets[i]))
    data = merged(write(plan([tracks[0]], [tracks[1]], rate=out_rate), tmp_path / "out.flac").output)

    for i in range(2):
        placed = round(clicks[i] * lengths[i] * rates[i]) / rates[i]
        expected = (offsets[i] + placed) * out_rate
        assert abs(int(np.argmax(np.abs(data[:, i]))) - expected) <= 1


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs the ffmpeg command (apt-get install ffmpeg)")
def test_the_printed_ffmpeg_command_makes_the_same_file(tmp_path: Path) -> None:
    """Opus with a timestamp gap and a start time, AAC, and a stereo WAV mixed onto channel 1: ffmpeg running the
    printed command puts every utterance on the same sample as `write`."""
    first = encode(tmp_path / "f1.mka", utterance_track(1.0, 0.1, "yes"), RATE, start_s=2.0)
    second = encode(tmp_path / "f2.mka", utterance_track(2.0, 0.5, "hello"), RATE, start_s=6.0)
    gap = splice(tmp_path / "gap.mka", first, second)
    aac = encode(tmp_path / "b.mp4", utterance_track(3.0, 0.5, "goodbye", 48_000), 48_000)
    wav = tmp_path / "c.wav"
    sf.write(wav, np.repeat(utterance_track(2.0, 0.3, "account", 44_100)[:, None], 2, axis=1), 44_100)
    merge_plan = plan([Track(gap), Track(wav, 6.5)], [Track(aac, 1.0)])
    ours = merged(write(merge_plan, tmp_path / "ours.flac").output)
    command = ffmpeg_command(merge_plan, tmp_path / "ffmpeg.flac")
    ffmpeg = shutil.which("ffmpeg")
    assert ffmpeg is not None
    subprocess.run([ffmpeg, "-y", "-loglevel", "error", *shlex.split(command)[1:]], check=True, timeout=60)
    theirs = merged(tmp_path / "ffmpeg.flac")

    assert theirs.shape == ours.shape
    for channel in (0, 1):
        for start in (0, 3 * RATE, 6 * RATE):  # each utterance's onset, from a point before it
            assert onset(theirs[start:, channel]) == onset(ours[start:, channel])
    assert np.sqrt(np.mean((theirs - ours) ** 2)) < 0.001  # ffmpeg's resampler differs only in the last bits


def test_a_cut_or_damaged_container_is_merged_as_far_as_it_goes_or_refused_by_name(tmp_path: Path) -> None:
    whole = encode(tmp_path / "whole.mka", utterance_track(10.0, 0.5), RATE, start_s=2.0).read_bytes()
    (tmp_path / "cut.mka").write_bytes(whole[: len(whole) // 2])
    damaged = bytearray(whole)
    damaged[len(whole) // 3 : len(whole) // 3 + 2000] = bytes(range(250)) * 8
    (tmp_path / "damaged.mka").write_bytes(bytes(damaged))
    aac = encode(tmp_path / "x.mp4", utterance_track(10.0, 0.5), RATE).read_bytes()
    (tmp_path / "cut.mp4").write_bytes(aac[:5000])  # the moov atom is at the end: nothing to read
    other = track_wav(tmp_path / "o.wav", np.zeros(12 * RATE))

    for name in ("cut.mka", "damaged.mka"):
        result = write(plan([Track(tmp_path / name, 0.0)], [Track(other, 0.0)]), tmp_path / "out.flac")
        data = merged(result.output)
        assert verify(result).ok, name
        assert abs(onset(data[:, 0]) - expected_onset("hello", 0.5)) <= TOLERANCE, name
    with pytest.raises(MergeError, match=r"cut\.mp4: not an audio file soundfile or PyAV can decode"):
        plan([Track(tmp_path / "cut.mp4", 0.0)], [Track(other, 0.0)])


def track_wav(path: Path, samples: np.ndarray) -> Path:
    sf.write(path, samples, RATE, subtype="PCM_16")
    return path


def splice(path: Path, first: Path, second: Path) -> Path:
    """One Matroska file holding the packets of `first` then those of `second`, timestamps kept (a gap between)."""
    import av

    with av.open(str(first)) as a, av.open(str(second)) as b, av.open(str(path), "w", format="matroska") as out:
        stream = out.add_stream_from_template(a.streams.audio[0])
        for source in (a, b):
            for packet in source.demux(source.streams.audio[0]):
                if packet.dts is None:
                    continue
                packet.stream = stream
                out.mux(packet)
    return path
