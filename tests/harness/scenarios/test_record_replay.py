"""`--record DIR` keeps each command's cassette and what a replay needs, with no secret in any file; `--target
replay --cassettes DIR` runs the same scenario again from them with no mock and no network, judging what the
recorded commands show and skipping what they cannot."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness.cli import main
from tests.harness.scenarios.test_cli_scenario import PASSING, scenario

KILLED = """
description = "killed and resumed"
[mock]
lifecycle = { mode = "immediate" }
media = { fetch = false }
[[steps]]
do = "submit"
kill = { after_created = 2 }
items = [{ key = "k", media_url = "https://media.example.com/k.wav", repeat = 20 }]
[[steps]]
do = "submit"
[expect]
statuses = { "*" = "completed" }
exactly_once = true
"""


def test_a_recorded_run_replays_without_the_mock_and_holds_no_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = scenario(tmp_path / "cases", "call", PASSING)
    tapes = tmp_path / "tapes"
    assert main(["scenario", "run", "--record", str(tapes), str(path)]) == 0
    capsys.readouterr()
    folder = tapes / "call"
    assert sorted(p.name for p in folder.iterdir()) == [
        "main.manifest.jsonl",
        "run.json",
        "step-01-submit.cassette.json",
    ]
    for file in folder.iterdir():
        text = file.read_text(encoding="utf-8")
        assert not re.search(r"Signature=(?!<redacted>)", text), file  # the media URL's signature is scrubbed

    assert main(["scenario", "run", "--target", "replay", "--cassettes", str(tapes), str(path)]) == 0
    report = capsys.readouterr().out
    assert report.startswith(f"PASS call ({path}, target replay, ")
    assert "ok   1. submit main (1 rows): exit 0" in report
    assert "ok   sentences of call (± 0.05 s): ch1@0.30, ch2@2.00" in report
    assert (
        "skip exactly once (the mock's transcripts per CustomerKey): skipped: only the mock can check this "
        "(target replay)" in report
    )


def test_a_killed_batch_cannot_be_replayed_and_its_scenario_is_skipped_not_passed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = scenario(tmp_path / "cases", "killed", KILLED)
    tapes = tmp_path / "tapes"
    assert main(["scenario", "run", "--record", str(tapes), str(path)]) == 0
    capsys.readouterr()
    assert main(["scenario", "run", "--target", "replay", "--cassettes", str(tapes), str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("SKIP killed (")
    assert "skip 1. submit: batch 'main' had its runner killed" in out
    assert out.rstrip().endswith("1 scenario(s): 0 passed, 0 failed, 1 skipped (nothing could be checked on this "
                                 "target)")  # fmt: skip


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--target", "replay"], "--target replay needs --cassettes DIR"),
        (["--cassettes", "x"], "--cassettes is for --target replay"),
        (["--target", "replay", "--cassettes", "x", "--record", "y"], "a replay sends nothing, so records nothing"),
        (["--target", "replay", "--cassettes", "."], "no recording of call"),
    ],
)
def test_record_and_replay_options_that_cannot_work_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], options: list[str], message: str
) -> None:
    path = scenario(tmp_path, "call", PASSING)
    assert main(["scenario", "run", *options, str(path)]) == 2
    assert message in capsys.readouterr().err
