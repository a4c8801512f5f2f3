"""The pytest plugin (installed with the package, entry point `pytest11`) collects `scenarios/*.toml` as test items
in a project that has only scenario files: one item per file, the report as a failure's text, an invalid file a
collection error naming its problems, and nothing shared between items (pytest-xdist runs them side by side)."""

from __future__ import annotations

import pytest

from tests.harness.scenarios.test_cli_scenario import PASSING

pytest_plugins = ["pytester"]


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    folder = pytester.mkdir("scenarios")
    (folder / "good.toml").write_text(PASSING)
    (folder / "late.toml").write_text(PASSING.replace("at_s = 2.0 }]\n", "at_s = 2.5 }]\n"))
    (folder / "README.md").write_text("# not a scenario\n")
    other = pytester.mkdir("config")
    (other / "settings.toml").write_text("not = 'a scenario'\n")
    return pytester


def test_each_scenario_file_is_one_item_and_other_toml_files_are_left_alone(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess("--collect-only", "-q", "-p", "no:cacheprovider", ".")
    result.assert_outcomes()
    assert [line for line in result.outlines if "::" in line] == [
        "scenarios/good.toml::good",
        "scenarios/late.toml::late",
    ]


def test_a_failing_scenario_fails_with_its_report(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess("-p", "no:cacheprovider", "scenarios")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        "*_ scenario late: Two utterances, one per channel _*",
        "FAIL late (*late.toml, target mock, *)",
        "    FAIL sentences of call (± 0.05 s)",
        "         expected: ch1@0.30, ch2@2.50",
        "         got:      ch1@0.30, ch2@2.00 — sentence 2 starts at 2.000 s, 0.500 s from 2.5",
        "FAILED scenarios/late.toml::late*",
    ])  # fmt: skip
    assert "Captured scenario report" not in result.stdout.str()  # the report once: as the failure


def test_an_invalid_file_is_a_collection_error_naming_every_problem(pytester: pytest.Pytester) -> None:
    folder = pytester.mkdir("scenarios")
    (folder / "bad.toml").write_text(PASSING.replace("[mock]\n", "[mock]\nconcurrency_limit = 0\n") + "\nextra = 1\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "scenarios")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([
        "*ERROR collecting scenarios/bad.toml*",
        "invalid scenario file:",
        "*bad.toml: expect.extra: unknown key (allowed: *)",
    ])  # fmt: skip
    assert "Traceback" not in result.stdout.str()


def test_scenarios_run_side_by_side_under_xdist(pytester: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    folder = pytester.mkdir("scenarios")
    for name in ("one", "two", "three"):
        (folder / f"{name}.toml").write_text(PASSING)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2", "scenarios")
    result.assert_outcomes(passed=3)


def test_the_folders_that_hold_scenarios_are_an_ini_option(pytester: pytest.Pytester) -> None:
    folder = pytester.mkdir("cases")
    (folder / "good.toml").write_text(PASSING)
    pytester.makeini("[pytest]\ncintel_scenario_dirs = cases\n")
    result = pytester.runpytest_subprocess("--collect-only", "-q", "-p", "no:cacheprovider", "cases")
    assert [line for line in result.outlines if "::" in line] == ["cases/good.toml::good"]
