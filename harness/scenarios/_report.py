"""The report a person reads after a scenario: what it did and expected, what happened, and a verdict per step and
per expectation (`render`); `summary` for several scenarios; `as_json` for tools.

Plain text, no colour or terminal tricks, so the same report reads the same in a terminal, a CI log and pytest's
failure output. Lines that passed are one line each; a failure shows what was expected and what happened instead
(and, for a command, its last lines of output), so the report alone says what to look at.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from harness.scenarios._run import ScenarioResult

__all__ = ["as_json", "render", "summary"]

MARK = {"pass": "ok  ", "fail": "FAIL", "skip": "skip", "done": "done"}


def render(result: ScenarioResult) -> str:
    """The whole report of one scenario."""
    verdict = "SKIP" if result.skipped else "PASS" if result.passed else "FAIL"
    lines = [f"{verdict} {result.name} ({result.path}, target {result.target}, {result.elapsed_s:.1f} s)"]
    if result.description:
        lines.append(f"  {result.description.strip().splitlines()[0]}")
    if result.error:
        lines.append(f"  stopped: {result.error}")
    if result.steps:
        lines.append("  steps:")
    for step in result.steps:
        number = f"{step.index + 1}." if step.index >= 0 else "-."  # -1: the file's setup, before the steps
        line = f"    {MARK[step.verdict]} {number} {step.label}"
        line += f": {step.detail}" if step.detail else ""
        if step.verdict == "fail" and step.expected:
            line += f" (expected {step.expected})"
        lines.append(line)
        lines.extend(f"         | {text}" for text in step.output.splitlines())
    if result.outcomes:
        lines.append("  expectations:")
    for outcome in result.outcomes:
        if outcome.verdict == "fail":
            lines.append(f"    {MARK['fail']} {outcome.label}")
            lines.append(f"         expected: {outcome.expected}")
            lines.append(f"         got:      {outcome.actual}")
        elif outcome.verdict == "skip":
            lines.append(f"    {MARK['skip']} {outcome.label}: {outcome.actual}")
        else:
            lines.append(f"    {MARK['pass']} {outcome.label}: {outcome.actual}")
    counts = {v: sum(1 for o in result.outcomes if o.verdict == v) for v in ("pass", "fail", "skip")}
    failed_steps = sum(1 for s in result.steps if s.verdict == "fail")
    tally = f"  {counts['pass']} passed, {counts['fail']} failed, {counts['skip']} skipped"
    if failed_steps:
        tally += f"; {failed_steps} step(s) failed"
    lines.append(tally)
    if result.work_dir is not None:
        lines.append(f"  files: {result.work_dir}")
    return "\n".join(lines)


def summary(results: Sequence[ScenarioResult]) -> str:
    failed = [r.name for r in results if not r.passed]
    skipped = sum(1 for r in results if r.skipped)
    text = f"{len(results)} scenario(s): {len(results) - len(failed) - skipped} passed, {len(failed)} failed"
    text += f", {skipped} skipped (nothing could be checked on this target)" if skipped else ""
    return text + (f" ({', '.join(failed)})" if failed else "")


def as_json(result: ScenarioResult) -> dict[str, Any]:
    """The report as one JSON object (`cintel scenario run --json`)."""
    return {
        "name": result.name,
        "path": str(result.path),
        "target": result.target,
        "passed": result.passed,
        "skipped": result.skipped,
        "elapsed_s": round(result.elapsed_s, 3),
        "error": result.error,
        "steps": [
            {"index": s.index, "label": s.label, "verdict": s.verdict, "detail": s.detail, "expected": s.expected}
            for s in result.steps
        ],
        "expectations": [
            {"label": o.label, "expected": o.expected, "actual": o.actual, "verdict": o.verdict}
            for o in result.outcomes
        ],
    }
