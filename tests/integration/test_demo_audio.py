"""`cintel demo` on real (generated) audio: the embedded mock fetches each call from its own media host, hears the
speech where `mock_server.demo_call` placed it on channels 1 and 2, and the scripted phone number and e-mail address
come back redacted; and `demo_call` itself (deterministic per seed, one utterance per turn, alternating channels)."""

from __future__ import annotations

import hashlib
import io
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import soundfile as sf

from harness.cli._demo import CALL_SECONDS, CALLERS, recording_seed
from mock_server import demo_call
from mock_server._media import analyse
from mock_server._media._voices import call_plan
from tests.integration.cli_support import CINTEL

ONSET_S = 0.050
ITEMS = 12


def test_demo_call_is_a_stereo_wav_deterministic_per_seed() -> None:
    first, again, other = demo_call(7, seconds=12.5), demo_call(7, seconds=12.5), demo_call(8, seconds=12.5)
    assert first == again
    assert hashlib.sha256(first).digest() != hashlib.sha256(other).digest()
    info = sf.info(io.BytesIO(first))
    assert (info.format, info.subtype, info.samplerate, info.channels) == ("WAV", "PCM_16", 16_000, 2)
    assert info.frames == 12.5 * 16_000
    plan = call_plan(7, 12.5)
    assert [t.channel for t in plan.turns] == [1, 2, 1, 2, 1]  # int(12.5 // 2.5) turns, channel 1 first
    assert (plan.turns[0].voice, plan.turns[-1].voice) == ("hello", "goodbye")
    assert all(a.end_s < b.start_s for a, b in zip(plan.turns, plan.turns[1:], strict=False))
    assert demo_call(-(2**70), seconds=5) == demo_call(-(2**70), seconds=5)  # any int is a seed


def test_the_mock_hears_one_segment_per_turn_where_demo_call_placed_it() -> None:
    plan = call_plan(3, 30.0)
    heard = analyse(demo_call(3, seconds=30.0))
    assert heard.channels == 2
    assert len(heard.segments) == len(plan.turns) == 12
    for turn, segment in zip(plan.turns, sorted(heard.segments, key=lambda s: s.start_s), strict=True):
        assert segment.channel == turn.channel
        assert abs(segment.start_s - turn.start_s) <= ONSET_S
        assert abs(segment.end_s - turn.end_s) <= 0.35  # the VAD's hangover


@pytest.mark.parametrize("seconds", [4.99, 600.5, float("nan"), True])
def test_demo_call_refuses_lengths_it_cannot_make(seconds: Any) -> None:
    with pytest.raises(ValueError, match="seconds"):
        demo_call(1, seconds=seconds)


def test_the_demo_transcribes_real_speech_with_the_scripted_pii_redacted(tmp_path: Path) -> None:
    out = tmp_path / "results"
    demo = subprocess.run(
        [*CINTEL, "demo", "--items", str(ITEMS), "--out", str(out)], capture_output=True, text=True, timeout=180
    )
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "exactly once" in demo.stdout
    assert f"media: {ITEMS} fetched and analysed by the mock, 0 failed" in demo.stdout
    files = sorted((out / "items").glob("*.json"))
    assert [f.stem for f in files] == [f"demo-call-{i:05d}" for i in range(ITEMS)]
    recordings = set()
    for file in files:
        item = json.loads(file.read_text())
        assert item["status"] == "completed", item
        name = re.fullmatch(r"demo-call-(\d+)\.wav", item["metadata"]["recording"])
        assert name is not None, item["metadata"]
        index = int(name[1])
        recordings.add(index)
        plan = call_plan(recording_seed(index), CALL_SECONDS)
        sentences = sorted(item["sentences"], key=lambda s: float(s["start_time"]))
        assert item["duration"] == round(CALL_SECONDS)
        assert [s["media_channel"] for s in sentences] == [t.channel for t in plan.turns]
        assert {1, 2} <= {s["media_channel"] for s in sentences}
        for turn, sentence in zip(plan.turns, sentences, strict=True):
            assert abs(float(sentence["start_time"]) - turn.start_s) <= ONSET_S, (file.name, turn, sentence)
        _, phone, email = CALLERS[index % len(CALLERS)]
        said = " ".join(s["transcript"] for s in sentences)
        digits = re.sub(r"\D", "", phone)
        assert digits not in re.sub(r"\D", "", said), said  # the scripted phone number is hidden...
        assert email not in said
        caller_lines = [s["transcript"] for s in sentences if s["media_channel"] == 2]
        assert caller_lines[1] == "You can reach me on [PhoneNumber]."  # ...where the script said it
        assert caller_lines[2] == "Yes, it is [EmailAddress]."
        (pii,) = item["operator_results"]
        assert pii["operator_type"] == "pii-extract"
        assert {u["label"] for u in pii["utterance_results"]} == {"PhoneNumber", "EmailAddress"}
    assert len(recordings) == 6  # distinct calls, rows cycling through them
    assert "555-01" not in (out / "results.jsonl").read_text()
