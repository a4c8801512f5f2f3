"""Scenario files as pytest tests: `pytest scenarios/` collects each `scenarios/*.toml` as one test item.

A file is loaded and checked when it is collected (an invalid one is a collection error listing every problem, and
nothing runs for it); its item runs the scenario on a fresh in-process mock on a random port with a fresh account,
and fails with the scenario's report. Nothing is shared between items — no fixed port, no global state — so
`pytest -n 2 scenarios/` (pytest-xdist) runs them side by side. Which folders hold scenarios is the ini option
`cintel_scenario_dirs` (default `scenarios`).

This is the scenario half of the plugin `harness.pytest_plugin` (entry point `pytest11`); it gets the mock's
validator, starter and voices from `harness.cli._scenario`, the one composition root that imports the mock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from harness.scenarios import LoadedScenario

__all__ = ["ScenarioFailed", "ScenarioFile", "ScenarioItem", "pytest_addoption", "pytest_collect_file"]

DIRS_OPTION = "cintel_scenario_dirs"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(DIRS_OPTION, "names of folders whose *.toml files are cintel scenarios", type="args",
                  default=["scenarios"])  # fmt: skip


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix == ".toml" and file_path.parent.name in parent.config.getini(DIRS_OPTION):
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


class ScenarioFailed(Exception):
    """A scenario whose steps or expectations failed; the message is its report."""


class ScenarioFile(pytest.File):
    def collect(self) -> Iterator[ScenarioItem]:
        from harness.cli._scenario import mock_validator
        from harness.scenarios import load_scenario

        loaded = load_scenario(self.path, validate_mock=mock_validator())
        yield ScenarioItem.from_parent(self, name=self.path.stem, loaded=loaded)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        from harness.scenarios import ScenarioError

        if isinstance(excinfo.value, ScenarioError):
            return "invalid scenario file:\n" + str(excinfo.value)
        return super().repr_failure(excinfo)


class ScenarioItem(pytest.Item):
    def __init__(self, *, loaded: LoadedScenario, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.loaded = loaded

    def runtest(self) -> None:
        from harness.cli._scenario import embedded_mock, packaged_voice
        from harness.scenarios import RunOptions, render, run_scenario

        options = RunOptions(start_mock=embedded_mock, voices=packaged_voice)
        result = asyncio.run(run_scenario(self.loaded, options))
        report = render(result)
        if not result.passed:
            raise ScenarioFailed(report)  # the failure's text is the report
        if result.skipped:
            pytest.skip(f"nothing could be checked on target {result.target}:\n{report}")
        self.add_report_section("call", "scenario report", report)  # shown for a passing one with -rP

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, ScenarioFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"scenario {self.name}: {self.loaded.scenario.description[:80]}"
