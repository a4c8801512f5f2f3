"""`cintel merge` end to end through `harness.cli.main`: the file, the summary, warnings, usage errors (exit 2)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from harness.cli import main

from .test_merge import track_file


@pytest.fixture
def tracks(tmp_path: Path) -> tuple[Path, Path]:
    a = track_file(tmp_path / "agent.wav", 6.7, 16_000, events=[(1.0, "hello")])
    b = track_file(tmp_path / "customer.mp3", 6.3, 44_100, events=[(0.5, "yes")], channels=2, fmt="MP3")
    return a, b


def test_merge_writes_a_verified_stereo_flac_and_prints_ffmpeg(
    tracks: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "room.flac"
    code = main(["merge", f"{tracks[0]}@0", f"{tracks[1]}@0.4", "-o", str(out), "--print-ffmpeg"])
    printed = capsys.readouterr()

    assert code == 0, printed.err
    info = sf.info(str(out))
    assert (info.channels, info.samplerate, info.subtype, info.format) == (2, 16_000, "PCM_16", "FLAC")
    assert abs(info.frames - 6.7 * 16_000) <= 1
    assert "verified: 2 channels" in printed.out
    assert printed.out.startswith("ffmpeg -i ")
    assert "adelay=delays=400:all=1" in printed.out
    assert printed.err == ""


def test_missing_offsets_are_noted_and_align_ends_warns(
    tracks: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["merge", str(tracks[0]), str(tracks[1]), "-o", str(tmp_path / "a.flac")]) == 0
    assert "no @OFFSET_S given and no start time in the file, placed at 0 s" in capsys.readouterr().err
    assert main(["merge", str(tracks[0]), str(tracks[1]), "-o", str(tmp_path / "b.flac"), "--align-ends"]) == 0
    err = capsys.readouterr().err
    assert "cintel merge: warning: --align-ends" in err
    assert "left early" in err


def test_more_than_two_tracks_is_a_usage_error_naming_the_rule(
    tracks: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["merge", str(tracks[0]), str(tracks[1]), str(tracks[0]), "-o", str(tmp_path / "x.flac")])
    err = capsys.readouterr().err

    assert code == 2
    assert "Intelligence transcribes at most two channels" in err
    assert "--channel1" in err
    assert "Traceback" not in err
    assert not (tmp_path / "x.flac").exists()


def test_channel_options_mix_three_participants_onto_two_channels(
    tracks: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    third = track_file(tmp_path / "third.flac", 2.0, 48_000, events=[(0.2, "goodbye")], fmt="FLAC")
    out = tmp_path / "mix.flac"
    code = main(["merge", "--channel1", f"{tracks[0]}@0,{third}@7", "--channel2", f"{tracks[1]}@1", "-o", str(out)])
    printed = capsys.readouterr()

    assert code == 0, printed.err
    data, rate = sf.read(out, always_2d=True)
    assert abs(len(data) - 9 * rate) <= 1
    assert np.abs(data[7 * rate :, 0]).max() > 0.1
    assert np.abs(data[int(7.4 * rate) :, 1]).max() == 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["room.mka@0", "{b}"], "room.mka: no such file"),
        (["{notes}", "{b}"], "not an audio file soundfile or PyAV can decode"),
        (["{a}", "missing.wav"], "missing.wav: no such file"),
        (["{a}@-2", "{b}"], "offset must be"),
        (["{a}@1", "{b}", "--align-ends"], "exclude each other"),
        (["--channel1", "{a}"], "--channel1 and --channel2 go together"),
        (["{a}", "{b}", "--rate", "4000"], "--rate must be between"),
    ],
)
def test_usage_errors_exit_2_and_name_the_problem(
    tracks: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not audio\n")
    args = [a.format(a=tracks[0], b=tracks[1], notes=notes) for a in argv]
    code = main(["merge", *args, "-o", str(tmp_path / "out.flac")])
    err = capsys.readouterr().err

    assert code == 2
    assert err.startswith("cintel merge: error: ")
    assert message in err
    assert "Traceback" not in err
