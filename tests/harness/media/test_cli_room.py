"""`cintel merge --room` through `harness.cli.main` against the respx room: the default mapping by join time, chosen
and swapped channels, the two-channel rule before any download, credentials (refused: exit 4; not set: exit 2 naming
the environment variables), a room not ready (exit 3), and the temporary directory removed."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import numpy as np
import pytest
import respx
import soundfile as sf

from harness.cli import main

from .containers import encode
from .room_support import BASE, MEDIA, ROOM, list_page, recording
from .test_containers import TOLERANCE, expected_onset, utterance_track
from .test_merge import onset

TOKEN = "f" * 32


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Credentials in the environment, and a temporary root of our own to see that nothing is left in it."""
    for name in ("TWILIO_API_KEY", "TWILIO_API_SECRET", "CINTEL_VIDEO_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC" + "a" * 32)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", TOKEN)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    return scratch


def merge_room(tmp_path: Path, *extra: str) -> tuple[int, Path]:
    out = tmp_path / "room.flac"
    return main(["merge", "--room", ROOM, "--base-url", BASE, "-o", str(out), *extra]), out


def test_the_first_two_participants_by_join_time_go_on_channels_1_and_2(
    room: dict[str, bytes], tmp_path: Path, environment: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = merge_room(tmp_path)
    printed = capsys.readouterr()
    data, rate = sf.read(out, always_2d=True)

    assert code == 0, printed.err
    assert "channel 1: alice\nchannel 2: bob\n" in printed.out
    assert "verified: 2 channels" in printed.out
    assert rate == 16_000
    assert abs(len(data) - (3.2 + 3.0) * rate) <= round(0.01 * rate)  # bob's track ends last
    assert abs(onset(data[:, 0]) - expected_onset("hello", 0.8 + 0.5)) <= TOLERANCE
    assert abs(onset(data[:, 1]) - expected_onset("yes", 3.2 + 0.5)) <= TOLERANCE
    assert list(environment.iterdir()) == []  # the downloads' temporary directory is gone


def test_swapped_participants_put_the_agent_on_channel_2(
    room: dict[str, bytes], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = merge_room(tmp_path, "--channel1", "bob", "--channel2", "PAa")
    printed = capsys.readouterr()
    data, _ = sf.read(out, always_2d=True)

    assert code == 0, printed.err
    assert "channel 1: bob\nchannel 2: alice\n" in printed.out
    assert abs(onset(data[:, 0]) - expected_onset("yes", 3.7)) <= TOLERANCE
    assert abs(onset(data[:, 1]) - expected_onset("hello", 1.3)) <= TOLERANCE


def test_three_participants_without_a_mapping_are_refused_before_any_download(
    api: respx.MockRouter, room: dict[str, bytes], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    api.get(f"{BASE}/v1/Rooms/{ROOM}/Recordings").respond(
        json=list_page("recordings", [recording("RTa", "PAa"), recording("RTb", "PAb"), recording("RTc", "PAc")])
    )
    code, out = merge_room(tmp_path)
    err = capsys.readouterr().err

    assert code == 2
    assert "has 3 participant(s) with audio (alice, carol, bob)" in err
    assert "Intelligence transcribes at most two channels" in err
    assert "--channel1 IDENTITY[,IDENTITY] --channel2 IDENTITY" in err
    assert not out.exists()
    assert not [c for c in api.calls if c.request.url.host == "media.example"]


def test_three_participants_can_be_mixed_onto_two_channels(
    api: respx.MockRouter, room: dict[str, bytes], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    carol = encode(tmp_path / "carol.mka", utterance_track(2.0, 0.2, "goodbye"), 16_000, start_s=1.0)
    api.get(f"{BASE}/v1/Rooms/{ROOM}/Recordings").respond(
        json=list_page("recordings", [recording("RTa", "PAa"), recording("RTb", "PAb"), recording("RTc", "PAc")])
    )
    api.get(f"{BASE}/v1/Recordings/RTc/Media").respond(302, json={"redirect_to": f"{MEDIA}/RTc"})
    api.get(f"{MEDIA}/RTc").respond(200, content=carol.read_bytes())
    code, out = merge_room(tmp_path, "--channel1", "alice,carol", "--channel2", "bob")
    printed = capsys.readouterr()
    data, _ = sf.read(out, always_2d=True)

    assert code == 0, printed.err
    assert "channel 1: alice, carol\nchannel 2: bob\n" in printed.out
    assert np.abs(data[round(1.2 * 16_000) : round(1.25 * 16_000), 0]).max() > 0.01  # carol speaks at 1.2 s


def test_print_ffmpeg_names_the_downloaded_files_not_the_temporary_directory(
    room: dict[str, bytes], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = merge_room(tmp_path, "--print-ffmpeg")
    printed = capsys.readouterr().out

    assert code == 0
    assert "ffmpeg -i PAa_RTa.mka -i PAb_RTb.mka " in printed
    delays = [float(ms) for ms in re.findall(r"adelay=delays=([0-9.]+):all=1", printed)]
    assert delays == pytest.approx([800, 3200], abs=1)  # the recordings' start times, in ms
    assert printed.count("aresample=16000:async=1") == 2  # timestamp gaps filled, as the merge does
    assert "cintel-room-" not in printed


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--channel1", "alice", "--channel2", "dave"], "--channel2 dave: no participant with audio in room"),
        (["--channel1", "alice", "--channel2", "alice"], "a participant can be on one channel only"),
        (["--align-ends"], "--align-ends does not apply to --room"),
        (["extra.wav"], "give no TRACK arguments with it"),
    ],
)
def test_room_usage_errors_exit_2(
    room: dict[str, bytes], tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, out = merge_room(tmp_path, *argv)
    err = capsys.readouterr().err

    assert code == 2
    assert message in err
    assert "Traceback" not in err
    assert not out.exists()


def test_a_malformed_room_sid_and_video_options_without_room_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["merge", "--room", "standup", "-o", str(tmp_path / "x.flac")]) == 2
    assert "is not a Room SID" in capsys.readouterr().err
    assert main(["merge", "a.wav", "b.wav", "--via", "compositions", "-o", str(tmp_path / "x.flac")]) == 2
    assert "--base-url and --via go with --room" in capsys.readouterr().err


def test_refused_credentials_exit_4_without_showing_the_token(
    api: respx.MockRouter, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    api.get(f"{BASE}/v1/Rooms/{ROOM}").respond(401, json={"code": 20003, "message": "Authenticate", "status": 401})
    code, _ = merge_room(tmp_path)
    err = capsys.readouterr().err

    assert code == 4
    assert "20003" in err
    assert "TWILIO_AUTH_TOKEN" in err
    assert TOKEN not in err


@pytest.mark.parametrize(
    ("unset", "added", "missing"),
    [
        (["TWILIO_ACCOUNT_SID"], {}, "TWILIO_ACCOUNT_SID is not set"),
        (["TWILIO_AUTH_TOKEN"], {}, "TWILIO_AUTH_TOKEN is not set"),
        (["TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"], {}, "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are not set"),
        (["TWILIO_AUTH_TOKEN"], {"TWILIO_API_KEY": "SK" + "b" * 32}, "TWILIO_API_SECRET is not set"),
    ],
)
def test_missing_credentials_exit_2_naming_the_environment_variables_to_set(
    api: respx.MockRouter,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    unset: list[str],
    added: dict[str, str],
    missing: str,
) -> None:
    for name in unset:
        monkeypatch.delenv(name)
    for name, value in added.items():
        monkeypatch.setenv(name, value)
    code, out = merge_room(tmp_path)
    err = capsys.readouterr().err

    assert code == 2
    why = "cintel merge: error: --room reads the room from the Video API with your Twilio credentials, and "
    what = "set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN (or, with an API key, TWILIO_ACCOUNT_SID, TWILIO_API_KEY and "
    assert f"{why}{missing}: {what}TWILIO_API_SECRET) in the environment\n" in err
    assert "account_sid=" not in err  # the library's wording (its arguments), not a command's
    assert "pass " not in err
    assert not api.calls  # nothing was asked
    assert not out.exists()


def test_a_room_still_in_progress_exits_3(
    api: respx.MockRouter, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    api.get(f"{BASE}/v1/Rooms/{ROOM}").respond(json={"sid": ROOM, "status": "in-progress"})
    code, _ = merge_room(tmp_path)
    err = capsys.readouterr().err

    assert code == 3
    assert "is in-progress" in err
    assert "run the same command again" in err


def test_an_unknown_room_exits_2_with_twilios_code(
    api: respx.MockRouter, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    api.get(f"{BASE}/v1/Rooms/{ROOM}").respond(
        404, json={"code": 20404, "message": f"The requested resource /Rooms/{ROOM} was not found", "status": 404}
    )
    code, _ = merge_room(tmp_path)

    assert code == 2
    assert "20404" in capsys.readouterr().err


def test_merge_help_names_the_environment_merge_reads_not_submits(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["merge", "--help"]) == 0
    footer = capsys.readouterr().out.split("environment (read with --room only; merging files reads none):\n")[1]

    assert footer.startswith(
        "  TWILIO_ACCOUNT_SID + TWILIO_AUTH_TOKEN, or TWILIO_ACCOUNT_SID + TWILIO_API_KEY + TWILIO_API_SECRET\n"
        "  CINTEL_VIDEO_BASE_URL  the Video API"
    )
    assert "CINTEL_BASE_URL" not in footer  # submit's: the Intelligence API
    assert "CINTEL_SERVICE_SID" not in footer
