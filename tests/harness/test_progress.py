"""What people watching a batch see: JSON lines for CI, plain lines in logs, a final table; never a secret."""

from __future__ import annotations

import json

import pytest

from harness._progress import ProgressView
from harness._runner import Progress, Summary

METRICS = {"limit": 7, "in_flight": 3, "rejected_429": 12, "retries": 15}


def test_json_progress_lines_carry_every_number(capsys: pytest.CaptureFixture[str]) -> None:
    view = ProgressView("json", interactive=False)
    view.update(Progress(loaded=10, submitted=6, completed=4, failed=1, rejected=2), METRICS)
    line = json.loads(capsys.readouterr().err)
    assert line["event"] == "progress"
    for key, value in {"submitted": 6, "completed": 4, "failed": 1, "rejected": 2, "limit": 7, "rejected_429": 12,
                       "retries": 15}.items():  # fmt: skip
        assert line[key] == value
    assert "rate_per_s" in line


def test_plain_lines_in_logs_at_most_once_a_second(capsys: pytest.CaptureFixture[str]) -> None:
    view = ProgressView("text", interactive=False)
    for _ in range(5):
        view.update(Progress(loaded=10, submitted=6), METRICS)
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    assert "submitted 6/10" in lines[0]
    assert "limit 7" in lines[0]
    assert "429s 12" in lines[0]


def test_the_summary_table_lists_states_and_failures(capsys: pytest.CaptureFixture[str]) -> None:
    summary = Summary(
        counts={"completed": 8, "failed": 1, "pending": 0, "submitted": 0, "unknown": 0, "submitting": 0},
        rejected=2,
        failed=[{"row": 4, "customer_key": "k4", "transcript_sid": None, "reason": "20001: Invalid Channel"}],
        not_done=0,
        elapsed_s=3.2,
    )
    ProgressView("text", interactive=False).summary(summary, "out")
    out = capsys.readouterr().out
    assert "completed" in out
    assert "8" in out
    assert "rejected" in out
    assert "failed row 4 k4: 20001: Invalid Channel" in out
