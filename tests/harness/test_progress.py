"""What people watching a batch see: JSON lines for CI, plain unwrapped lines in logs, a last line that agrees with
the final summary, and a summary; never a secret."""

from __future__ import annotations

import json

import pytest

from harness._progress import ProgressView
from harness._runner import Progress, Summary

METRICS = {"limit": 7, "in_flight": 3, "rejected_429": 12, "retries": 15}
COUNTS = {"pending": 1, "submitting": 0, "submitted": 3, "unknown": 0, "completed": 4, "failed": 1}


def progress(**counts: int) -> Progress:
    clock = iter(range(100, 10_000, 5))
    p = Progress(loaded=9, rejected=2, submitted=6, counts={**COUNTS, **counts}, clock=lambda: float(next(clock)))
    p.started = 0.0
    return p


def test_json_progress_lines_carry_every_number(capsys: pytest.CaptureFixture[str]) -> None:
    view = ProgressView("json", interactive=False)
    view.update(progress(), METRICS)
    line = json.loads(capsys.readouterr().err)
    assert line["event"] == "progress"
    expected = {"completed": 4, "failed": 1, "transcribing": 3, "to_send": 1, "rejected": 2, "items": 9, "limit": 7,
                "in_flight": 3, "rejected_429": 12, "retries": 15}  # fmt: skip
    for key, value in expected.items():
        assert line[key] == value
    assert line["rate_per_s"] > 0


def test_plain_lines_at_most_once_a_second_with_rejected_and_in_flight(capsys: pytest.CaptureFixture[str]) -> None:
    view = ProgressView("text", interactive=False)
    for _ in range(5):
        view.update(progress(), METRICS)
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    for part in ("completed 4", "failed 1", "transcribing 3", "to send 1", "rejected rows 2", "in flight 3",
                 "limit 7", "429s 12"):  # fmt: skip
        assert part in lines[0]


def test_an_outage_is_on_the_line(capsys: pytest.CaptureFixture[str]) -> None:
    p = progress()
    p.outage = "API unreachable for 40 s: could not connect"
    ProgressView("text", interactive=False).update(p, METRICS)
    assert "API unreachable for 40 s: could not connect" in capsys.readouterr().err


def test_the_last_line_carries_the_final_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    with ProgressView("text", interactive=False) as view:
        view.update(progress(), METRICS)
        view.update(progress(completed=8, submitted=0, pending=0), METRICS)  # within the second: not printed yet
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2
    assert "completed 8" in lines[-1]
    assert "transcribing 0" in lines[-1]


def test_log_lines_are_never_wrapped(capsys: pytest.CaptureFixture[str]) -> None:
    p = progress()
    p.outage = "API unreachable for 400 s: " + "x" * 300
    with ProgressView("text", interactive=False) as view:
        view.update(p, METRICS)
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2  # one update line and the last line, each whole
    assert all(len(line) > 300 for line in lines)


def _summary() -> Summary:
    return Summary(
        counts={"completed": 8, "failed": 1, "pending": 0, "submitted": 0, "unknown": 0, "submitting": 0},
        rejected=2,
        failed=[
            {"row": 4, "customer_key": "k4", "transcript_sid": None, "reason": "20001: Invalid Channel " + "y" * 90}
        ],
        not_done=0,
        elapsed_s=3.2,
    )


def test_the_summary_lists_states_and_failures_in_unwrapped_lines(capsys: pytest.CaptureFixture[str]) -> None:
    ProgressView("text", interactive=False).summary(_summary(), "out")
    out = capsys.readouterr().out
    assert "completed 8" in out
    assert "rejected (rows) 2" in out
    assert "failed row 4 k4: 20001: Invalid Channel " + "y" * 90 in out


def test_json_format_prints_only_json(capsys: pytest.CaptureFixture[str]) -> None:
    with ProgressView("json", interactive=False) as view:
        view.update(progress(), METRICS)
        view.message("something to say", extra=1)
        view.summary(_summary(), "out")
    captured = capsys.readouterr()
    lines = (captured.out + captured.err).strip().splitlines()
    assert len(lines) == 4
    events = [json.loads(line)["event"] for line in lines]
    assert sorted(events) == ["message", "progress", "progress", "summary"]
