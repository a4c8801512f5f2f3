"""The report says what was expected and what happened: one line per pass or skip, the expectation and the facts for
a failure, a failed command's last lines, and no secret from its output."""

from __future__ import annotations

import json
from pathlib import Path

from harness.scenarios import Outcome, ScenarioResult, StepRecord, as_json, render, summary


def result(**fields: object) -> ScenarioResult:
    base: dict[str, object] = {
        "name": "late_joiner",
        "path": Path("scenarios/late_joiner.toml"),
        "target": "mock",
        "description": "A late joiner who left early\nmore detail",
        "steps": [
            StepRecord(0, "submit main (2 rows)", "pass", "exit 0 in 3.1 s", "exit 0"),
            StepRecord(1, "merge room call", "fail", "exit 2 in 0.7 s", "exit 0", "cintel merge: error: room has 3"),
        ],
        "outcomes": [
            Outcome("status of late", "completed", "completed", "pass"),
            Outcome(
                "sentences of late (± 0.05 s)",
                "ch1@0.50, ch2@4.90",
                "ch1@0.51, ch1@4.91 — sentence 2 is on channel 1, not 2",
                "fail",
            ),
            Outcome("alert 17553 for late", "in the alert log", "skipped: only the mock can check this", "skip"),
        ],
        "elapsed_s": 7.42,
    }
    base.update(fields)
    return ScenarioResult(**base)  # type: ignore[arg-type]


def test_a_failing_scenario_reads_expectation_by_expectation() -> None:
    assert render(result()) == "\n".join([
        "FAIL late_joiner (scenarios/late_joiner.toml, target mock, 7.4 s)",
        "  A late joiner who left early",
        "  steps:",
        "    ok   1. submit main (2 rows): exit 0 in 3.1 s",
        "    FAIL 2. merge room call: exit 2 in 0.7 s (expected exit 0)",
        "         | cintel merge: error: room has 3",
        "  expectations:",
        "    ok   status of late: completed",
        "    FAIL sentences of late (± 0.05 s)",
        "         expected: ch1@0.50, ch2@4.90",
        "         got:      ch1@0.51, ch1@4.91 — sentence 2 is on channel 1, not 2",
        "    skip alert 17553 for late: skipped: only the mock can check this",
        "  1 passed, 1 failed, 1 skipped; 1 step(s) failed",
    ])  # fmt: skip


def test_a_passing_scenario_and_one_that_stopped() -> None:
    passing = result(steps=[StepRecord(0, "wait 1 s", "done")], outcomes=[Outcome("x", "1", "1", "pass")])
    assert passing.passed
    assert render(passing).splitlines()[0].startswith("PASS late_joiner")
    stopped = result(steps=[], outcomes=[], error="timed out after 5 s (the scenario's timeout_s)",
                     work_dir=Path("keep/late_joiner"))  # fmt: skip
    assert not stopped.passed
    text = render(stopped)
    assert "  stopped: timed out after 5 s (the scenario's timeout_s)" in text
    assert text.endswith("  0 passed, 0 failed, 0 skipped\n  files: keep/late_joiner")


def test_a_skipped_expectation_does_not_fail_a_scenario() -> None:
    skipped = result(steps=[], outcomes=[Outcome("alert", "code 1", "skipped: mock only", "skip")])
    assert skipped.passed


def test_summary_and_json() -> None:
    ok = result(steps=[], outcomes=[], name="ok")
    assert summary([ok, result()]) == "2 scenario(s): 1 passed, 1 failed (late_joiner)"
    data = json.loads(json.dumps(as_json(result())))
    assert data["passed"] is False
    assert [e["verdict"] for e in data["expectations"]] == ["pass", "fail", "skip"]
    assert data["steps"][1] == {"index": 1, "label": "merge room call", "verdict": "fail", "detail": "exit 2 in 0.7 s",
                                "expected": "exit 0"}  # fmt: skip
