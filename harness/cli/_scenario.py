"""`cintel scenario run|list|validate`: scenario files (scenarios/README.md) checked, run and reported.

This module is the composition root for scenarios: it gives `harness.scenarios` the three things it must not get
by importing the mock itself — the mock's own config validator (`MockConfig.from_json`, so a scenario's `[mock]`
table is checked by exactly the model the mock runs on), a way to start a fresh in-process mock on a random port,
and the mock's packaged voices for generated speech. The pytest plugin uses the same three (`mock_tools`).

Every file named is loaded and checked before any scenario runs: one invalid file exits 2 with every problem listed
and nothing sent. Then each scenario runs on its own fresh mock (or against Twilio), and its report is printed. Exit
0 when every scenario passed, 99 when any expectation failed (DESIGN.md: thresholds crossed).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import os
import sys
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness._errors import CintelError
from harness.cli._env import require_credentials
from harness.cli._exit import EXIT_OK, EXIT_THRESHOLDS, EXIT_USAGE

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from harness.scenarios import LoadedScenario, MockValidator, RunOptions

__all__ = ["add_parser", "embedded_mock", "mock_validator", "packaged_voice", "scenario_command"]

DEFAULT_FOLDER = Path("scenarios")


class ScenarioUsageError(CintelError):
    """A command line or scenario file that cannot run; nothing was sent."""


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    scenario = commands.add_parser(
        "scenario",
        help="run, list or check scenario files (scenarios/*.toml): cases with expectations",
        description="Scenario files describe a case — the mock's configuration, media, steps and expectations — "
        "and run as tests (scenarios/README.md).",
    )
    actions = scenario.add_subparsers(dest="scenario_command", metavar="ACTION")
    actions.required = True
    run = actions.add_parser(
        "run",
        help="run scenarios and report each (exit 0 all passed, 2 invalid file, 99 expectations failed)",
        description="Run each scenario on a fresh in-process mock (or against Twilio with --target twilio) and print "
        "its report: what was expected, what happened, a verdict per step and expectation.",
    )
    run.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="scenario files or folders of them")
    run.add_argument("--target", choices=("mock", "replay", "twilio"), default="mock",
                     help="mock (default): an embedded mock; twilio: the real API with the environment's "
                     "credentials (mock-only expectations are skipped); replay: recorded traffic")  # fmt: skip
    run.add_argument("--record", type=Path, metavar="DIR",
                     help="record each command's traffic into DIR/<scenario>/ (cassettes, secrets scrubbed), for "
                     "--target replay")  # fmt: skip
    run.add_argument("--cassettes", type=Path, metavar="DIR",
                     help="with --target replay: the folder a --record DIR run wrote")  # fmt: skip
    run.add_argument("--keep", type=Path, metavar="DIR", help="keep each scenario's files in DIR/<name>")
    report = "each submit step's load report (cintel load's files) in DIR/<name>/<step>-submit"
    run.add_argument("--report", type=Path, metavar="DIR", help=report)
    run.add_argument("--json", action="store_true", help="one JSON report per line instead of text")
    hosting = run.add_argument_group("media against Twilio (--target twilio)")
    hosting.add_argument("--upload", metavar="s3://BUCKET/PREFIX", help="upload media to S3 (pre-signed URLs)")
    hosting.add_argument("--media-base-url", metavar="URL", help="the public URL at which you serve --media-dir")
    hosting.add_argument("--media-dir", type=Path, metavar="DIR", help="where media is written for that URL")
    listing = actions.add_parser("list", help="list scenarios: name, steps, description")
    listing.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="files or folders (default scenarios/)")
    check = actions.add_parser("validate", help="check scenario files without running them (exit 2 if invalid)")
    check.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="scenario files or folders of them")


# --- what the scenarios package needs from the mock -------------------------------------------------------------


def mock_validator() -> MockValidator:
    """The mock's own configuration model as a validator of `[mock]` tables."""
    from mock_server import MockConfig

    def validate(config: Mapping[str, Any], where: str) -> None:
        MockConfig.from_json(config, where)

    return validate


@contextlib.asynccontextmanager
async def embedded_mock(seed: int) -> AsyncIterator[str]:
    """A fresh mock in this process on a random loopback port (its default config; a scenario's `[mock]` table
    is its account's own), for as long as the block runs."""
    from mock_server import MockConfig, serve

    async with serve(MockConfig(), port=0, seed=seed) as mock:
        yield mock.base_url


@functools.cache
def packaged_voice(name: str) -> npt.NDArray[np.float64]:
    """One of the mock's packaged utterances (16 kHz mono), read from its package data."""
    from importlib import resources

    import numpy as np
    import soundfile as sf

    with (resources.files("mock_server._media") / "voices" / f"{name}.flac").open("rb") as handle:
        data, _ = sf.read(handle, dtype="float64")
    samples: npt.NDArray[np.float64] = np.asarray(data, dtype=np.float64)
    samples.setflags(write=False)
    return samples


def mock_tools() -> tuple[MockValidator, Any, Any]:
    """(validator, mock starter, voices): what the pytest plugin passes too."""
    return mock_validator(), embedded_mock, packaged_voice


# --- the commands -----------------------------------------------------------------------------------------------


def scenario_command(args: argparse.Namespace) -> int:
    from harness.scenarios import find_scenarios

    paths = list(args.paths) or [DEFAULT_FOLDER]
    files = find_scenarios(paths)
    missing = [p for p in paths if not p.exists()]
    if missing:
        raise ScenarioUsageError(f"{missing[0]}: no such file or folder")
    if not files:
        raise ScenarioUsageError(f"no scenario files (*.toml) in {', '.join(map(str, paths))}")
    loaded = _load_all(files)
    if loaded is None:
        return EXIT_USAGE
    if args.scenario_command == "validate":
        print(f"{len(loaded)} scenario(s) valid: {', '.join(s.name for s in loaded)}")
        return EXIT_OK
    if args.scenario_command == "list":
        width = max(len(s.name) for s in loaded)
        rows = [(s.name, " → ".join(step.do for step in s.scenario.steps),
                 s.scenario.description.strip().splitlines()[0] if s.scenario.description.strip() else "")
                for s in loaded]  # fmt: skip
        steps_width = max(len(r[1]) for r in rows)
        for name, steps, first in rows:
            print(f"{name:<{width}}  {steps:<{steps_width}}  {first}".rstrip())
        return EXIT_OK
    return _run(args, loaded)


def _load_all(files: list[Path]) -> list[LoadedScenario] | None:
    """Every file checked before anything runs; None (after printing every problem) if any is invalid."""
    from harness.scenarios import ScenarioError, load_scenario

    validate = mock_validator()
    loaded, problems = [], []
    for path in files:
        try:
            loaded.append(load_scenario(path, validate_mock=validate))
        except ScenarioError as error:
            problems += error.problems
    names = [s.name for s in loaded]
    twice = sorted({n for n in names if names.count(n) > 1})
    problems += [f"{n}: two scenario files share this name (a name is the file's stem)" for n in twice]
    for problem in problems:
        print(f"cintel scenario: error: {problem}", file=sys.stderr)
    return None if problems else loaded


def _options(args: argparse.Namespace) -> RunOptions:
    from harness.scenarios import Hosting, RunOptions

    if args.target == "replay" and args.cassettes is None:
        raise ScenarioUsageError("--target replay needs --cassettes DIR: the folder a `--record DIR` run wrote")
    if args.cassettes is not None and args.target != "replay":
        raise ScenarioUsageError("--cassettes is for --target replay (recording is --record DIR)")
    if args.target == "replay" and args.record is not None:
        raise ScenarioUsageError("--record with --target replay: a replay sends nothing, so records nothing")
    if args.upload and args.record is not None:
        raise ScenarioUsageError("--upload with --record: boto3's uploads are not recorded; host media with "
                                 "--media-base-url and --media-dir to record against Twilio")  # fmt: skip
    for folder in (args.record, args.cassettes):
        if folder is not None and folder.exists() and not folder.is_dir():
            raise ScenarioUsageError(f"{folder}: a file, not a folder")
    if (args.media_base_url is None) != (args.media_dir is None):
        raise ScenarioUsageError("--media-base-url and --media-dir go together: the URL serves that folder")
    if args.media_dir is not None and not args.media_dir.is_dir():
        raise ScenarioUsageError(f"--media-dir {args.media_dir}: no such folder")
    if args.target != "twilio" and (args.upload or args.media_base_url):
        raise ScenarioUsageError("--upload and --media-base-url are for --target twilio (the mock hosts media)")
    if args.target == "twilio":  # exit 2 naming the variables, before any scenario starts (as cintel submit)
        require_credentials(os.environ, "--target twilio runs the scenarios with your Twilio credentials")
    hosting = Hosting(args.upload, args.media_base_url, args.media_dir)
    _, start, voices = mock_tools()
    credentials = {k: v for k, v in os.environ.items() if k.startswith(("TWILIO_", "CINTEL_"))}
    return RunOptions(target=args.target, start_mock=start, voices=voices, credentials=credentials,
                      hosting=hosting, work_dir=args.keep, record_dir=args.record,
                      replay_dir=args.cassettes, report_dir=args.report)  # fmt: skip


def _run(args: argparse.Namespace, loaded: list[LoadedScenario]) -> int:
    from harness.scenarios import as_json, render, run_scenario, summary

    options = _options(args)
    if options.replay_dir is not None:
        from harness.scenarios._tape import RUN_FILE

        missing = [s.name for s in loaded if not (options.replay_dir / s.name / RUN_FILE).is_file()]
        if missing:
            raise ScenarioUsageError(f"--cassettes {options.replay_dir}: no recording of {', '.join(missing)} (a "
                                     f"`--record DIR` run writes DIR/<scenario>/{RUN_FILE})")  # fmt: skip

    async def run_all() -> list[Any]:
        results = []
        for scenario in loaded:
            result = await run_scenario(scenario, options)
            print(json.dumps(as_json(result)) if args.json else render(result) + "\n", flush=True)
            results.append(result)
        return results

    results = asyncio.run(run_all())
    if not args.json:
        print(summary(results))
    return EXIT_OK if all(r.passed for r in results) else EXIT_THRESHOLDS
