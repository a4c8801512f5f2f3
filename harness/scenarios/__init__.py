"""Scenario files: one TOML file per case (scenarios/README.md) — loaded and checked before anything is sent, run
against the mock or Twilio, judged expectation by expectation, and reported.

    loaded = load_scenario(Path("scenarios/late_joiner.toml"), validate_mock=...)
    result = await run_scenario(loaded, RunOptions(start_mock=..., voices=...))
    print(render(result))

`cintel scenario run|list|validate` and the pytest plugin (which collects `scenarios/*.toml` as tests) are built
on these names; they pass the mock's own config validator, a way to start a mock, and its packaged voices.
"""

from harness.scenarios._audio import Voices, render_media
from harness.scenarios._context import Hosting
from harness.scenarios._expect import ItemResult, Observations, Outcome, evaluate
from harness.scenarios._load import (
    LoadedScenario,
    MockValidator,
    ScenarioError,
    find_scenarios,
    load_scenario,
    schema_mock_validator,
)
from harness.scenarios._model import Scenario
from harness.scenarios._report import as_json, render, summary
from harness.scenarios._run import TARGETS, RunOptions, ScenarioResult, run_scenario
from harness.scenarios._steps import StepRecord

__all__ = [
    "TARGETS",
    "Hosting",
    "ItemResult",
    "LoadedScenario",
    "MockValidator",
    "Observations",
    "Outcome",
    "RunOptions",
    "Scenario",
    "ScenarioError",
    "ScenarioResult",
    "StepRecord",
    "Voices",
    "as_json",
    "evaluate",
    "find_scenarios",
    "load_scenario",
    "render",
    "render_media",
    "run_scenario",
    "schema_mock_validator",
    "summary",
]
