"""Running one scenario: a fresh account (on a fresh mock, or the caller's Twilio credentials), its media and rooms,
the steps in order within `timeout_s` (a `configure` step with `at_s` fires at its time alongside them), then what
happened is read back and judged (`ScenarioResult`).

The mock is started by the caller (`RunOptions.start_mock`, a seed → base URL context manager), so this package
never imports it; `cintel scenario run` and the pytest plugin start one in-process on a random port per scenario.
Everything a run writes lives in one working folder: a temporary one (removed), or `work_dir/<name>` when asked to
keep it.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from harness._credentials import TWILIO_BASE_URL
from harness._errors import CintelError
from harness._journal import JournalReader
from harness._outputs import item_filename
from harness._redact import scrub_text
from harness.scenarios._audio import Voices
from harness.scenarios._context import Api, Hosting, RunContext, StepFailed
from harness.scenarios._expect import ItemResult, Observations, Outcome, evaluate
from harness.scenarios._load import LoadedScenario
from harness.scenarios._model import ConfigureStep
from harness.scenarios._steps import Batch, StepRecord, StepRunner
from harness.scenarios._tape import Tape, TapeError

__all__ = ["TARGETS", "RunOptions", "ScenarioResult", "run_scenario"]

TARGETS = ("mock", "replay", "twilio")
OBSERVE_TIMEOUT_S = 60.0
MockStarter = Callable[[int], AbstractAsyncContextManager[str]]  # seed → the base URL of a fresh, listening mock


@dataclass
class RunOptions:
    target: str = "mock"
    start_mock: MockStarter | None = None
    voices: Voices | None = None  # the packaged utterances, for generated media
    credentials: Mapping[str, str] = field(default_factory=dict, repr=False)  # twilio: TWILIO_*, CINTEL_*_BASE_URL
    hosting: Hosting = field(default_factory=Hosting)  # twilio: where the user hosts media
    work_dir: Path | None = None  # keep each scenario's files in work_dir/<name> (default: a temporary folder)
    record_dir: Path | None = None  # record each command's traffic into record_dir/<name>/ (`--record DIR`)
    replay_dir: Path | None = None  # target replay: the folder a recorded run wrote (`--cassettes DIR`)
    report_dir: Path | None = None  # each submit step's load report in report_dir/<name>/<step>-submit (`--report`)


@dataclass
class ScenarioResult:
    name: str
    path: Path
    target: str
    description: str
    steps: list[StepRecord]
    outcomes: list[Outcome]
    elapsed_s: float
    error: str | None = None  # why the run stopped early (time up, a refused room, a target that cannot run it)
    work_dir: Path | None = None  # where its files were kept, if they were

    @property
    def skipped(self) -> bool:
        """Nothing failed and nothing could be checked on this target: every expectation was skipped."""
        verdicts = {o.verdict for o in self.outcomes}
        return self.passed and verdicts == {"skip"}

    @property
    def passed(self) -> bool:
        return (
            self.error is None
            and not any(s.verdict == "fail" for s in self.steps)
            and not any(o.failed for o in self.outcomes)
        )


async def run_scenario(loaded: LoadedScenario, options: RunOptions) -> ScenarioResult:
    """Run `loaded` against `options.target` and judge it; never raises for the scenario's own failures."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    with tempfile.TemporaryDirectory(prefix=f"cintel-scenario-{loaded.name}-") as temporary:
        work = options.work_dir / loaded.name if options.work_dir is not None else Path(temporary)
        work.mkdir(parents=True, exist_ok=True)
        try:
            if options.target == "mock":
                if options.start_mock is None:
                    raise StepFailed("target mock: no way to start a mock was given")
                async with options.start_mock(loaded.scenario.seed) as base_url:
                    api = await _mock_account(base_url, loaded.scenario.mock)
                    steps, outcomes, error = await _run(loaded, api, work, options)
            elif options.target == "twilio":
                steps, outcomes, error = await _run(loaded, _twilio_api(options.credentials), work, options)
            elif options.target == "replay" and options.replay_dir is not None:
                steps, outcomes, error = await _run(loaded, Api("replay", {}, ""), work, options)
            else:
                raise StepFailed(f"target {options.target}: not supported here")
        except (StepFailed, CintelError, httpx.HTTPError, TapeError) as failure:
            steps, outcomes, error = [], [], scrub_text(str(failure) or type(failure).__name__)
        kept = work if options.work_dir is not None else None
        return ScenarioResult(loaded.name, loaded.path, options.target, loaded.scenario.description, steps, outcomes,
                              loop.time() - started, error, kept)  # fmt: skip


async def _mock_account(base_url: str, config: Mapping[str, Any]) -> Api:
    """A fresh account on the mock with the scenario's `[mock]` table as its own configuration."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30.0) as control:
        answer = await control.post("/__mock__/accounts", json=dict(config))
    if answer.status_code != 201:
        raise StepFailed(f"the mock refused the scenario's [mock] table: HTTP {answer.status_code} {answer.text[:300]}")
    account = answer.json()
    env = {
        "TWILIO_ACCOUNT_SID": account["account_sid"],
        "TWILIO_AUTH_TOKEN": account["auth_token"],
        "CINTEL_BASE_URL": base_url,
        "CINTEL_VIDEO_BASE_URL": base_url,
    }
    return Api("mock", env, account["account_sid"], control_url=f"{base_url}/__mock__")


def _twilio_api(credentials: Mapping[str, str]) -> Api:
    keys = ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_API_KEY", "TWILIO_API_SECRET", "CINTEL_BASE_URL",
            "CINTEL_VIDEO_BASE_URL", "CINTEL_SERVICE_SID")  # fmt: skip
    env = {k: credentials[k] for k in keys if credentials.get(k)}
    if "TWILIO_ACCOUNT_SID" not in env or not ("TWILIO_AUTH_TOKEN" in env or "TWILIO_API_SECRET" in env):
        raise StepFailed("target twilio needs TWILIO_ACCOUNT_SID with TWILIO_AUTH_TOKEN (or TWILIO_API_KEY and "
                         "TWILIO_API_SECRET) in the environment")  # fmt: skip
    if env.get("CINTEL_BASE_URL") == TWILIO_BASE_URL:
        del env["CINTEL_BASE_URL"]
    return Api("twilio", env, env["TWILIO_ACCOUNT_SID"])


async def _run(
    loaded: LoadedScenario, api: Api, work: Path, options: RunOptions
) -> tuple[list[StepRecord], list[Outcome], str | None]:
    scenario = loaded.scenario
    ctx = RunContext(loaded, api, work, options.voices, options.hosting)
    if options.target == "replay" and options.replay_dir is not None:
        ctx.tape = Tape(options.replay_dir / loaded.name, replay=True)
    elif options.record_dir is not None:
        ctx.tape = Tape(options.record_dir / loaded.name, replay=False)
    if options.report_dir is not None:
        ctx.report_dir = options.report_dir / loaded.name
    runner = StepRunner(ctx)
    records: list[StepRecord] = []
    if scenario.mock and not api.on_mock:
        records.append(StepRecord(-1, "[mock]", "skip", "the mock's configuration: only the mock can do this"))
    scheduled: list[asyncio.Task[StepRecord]] = []
    error: str | None = None
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(scenario.timeout_s):
            await ctx.prepare()
            ctx.started = loop.time()
            for index, step in enumerate(scenario.steps):
                if isinstance(step, ConfigureStep) and step.at_s is not None:
                    scheduled.append(asyncio.create_task(_at(runner, index, step, ctx.started + step.at_s)))
            for index, step in enumerate(scenario.steps):
                if not (isinstance(step, ConfigureStep) and step.at_s is not None):
                    records.append(await runner.run(index, step))
    except TimeoutError:
        error = f"timed out after {scenario.timeout_s:g} s (the scenario's timeout_s)"
    except (StepFailed, CintelError, httpx.HTTPError, TapeError) as failure:
        error = scrub_text(str(failure) or type(failure).__name__)
    try:
        records += await _scheduled(scenario.steps, scheduled)
        records.sort(key=lambda r: r.index)
        seen = await _observe(ctx, runner)
        return records, evaluate(scenario.expect, seen), error
    finally:
        if ctx.tape is not None:
            ctx.tape.save()
        await ctx.aclose()


async def _scheduled(steps: list[Any], tasks: list[asyncio.Task[StepRecord]]) -> list[StepRecord]:
    """The records of the timed `configure` steps: done, failed, or never reached (the steps ended first)."""
    for task in tasks:
        task.cancel()  # no effect on a finished one
    results = await asyncio.gather(*tasks, return_exceptions=True)
    timed = [(i, s) for i, s in enumerate(steps) if isinstance(s, ConfigureStep) and s.at_s is not None]
    records = []
    for (index, step), result in zip(timed, results, strict=True):
        if isinstance(result, StepRecord):
            records.append(result)
        elif isinstance(result, asyncio.CancelledError):
            records.append(StepRecord(index, f"configure at {step.at_s:g} s", "fail",
                                      "the other steps ended before its time came"))  # fmt: skip
        else:
            records.append(StepRecord(index, f"configure at {step.at_s:g} s", "fail", scrub_text(str(result))))
    return records


async def _at(runner: StepRunner, index: int, step: ConfigureStep, when: float) -> StepRecord:
    await asyncio.sleep(max(0.0, when - asyncio.get_running_loop().time()))
    return await runner.configure(index, step)


# --- what happened ------------------------------------------------------------------------------------------------


async def _observe(ctx: RunContext, runner: StepRunner) -> Observations:
    seen = Observations(ctx.api.target, skipped_items=dict(runner.skipped_items))
    for batch in runner.batches.values():
        seen.items.update(await asyncio.to_thread(read_batch, batch))
        seen.submit_s += batch.seconds
    async with asyncio.timeout(OBSERVE_TIMEOUT_S):
        if ctx.control is not None:
            account = f"/accounts/{ctx.api.account_sid}"
            seen.stats = (await ctx.control.get(f"{account}/stats")).json()
            seen.alerts = (await ctx.control.get(f"{account}/alerts")).json()
        wanted = {p.item for p in ctx.scenario.expect.participants}
        sids = {k: i.transcript_sid for k, i in seen.items.items() if k in wanted and i.transcript_sid}
        if ctx.replaying:
            seen.unavailable["participants"] = "a transcript's participants are read by the runner itself, not by a " \
                "recorded command"  # fmt: skip
            seen.unavailable["goodput"] = "a replay's time is not the API's"
        elif sids:
            async with ctx.api.client() as client:
                for key, sid in sids.items():
                    channel = (await client.fetch_transcript(sid)).channel or {}
                    seen.participants[key] = list(channel.get("participants") or [])
    return seen


def read_batch(batch: Batch) -> dict[str, ItemResult]:
    """Every row of a batch as it ended: the journal's state (completed, failed, else not done), the item's results
    file (sentences, metadata), and rejected rows by their manifest line."""
    items = {key: ItemResult(key, "not_done", error="never loaded (the submit stopped first)")
             for key in batch.rows.values()}  # fmt: skip
    if batch.journal.exists():
        with JournalReader(batch.journal) as journal:
            for entry in journal.items():
                status = entry.state if entry.state in ("completed", "failed") else "not_done"
                items[entry.customer_key] = ItemResult(entry.customer_key, status, entry.transcript_sid,
                                                       entry.last_error, None, dict(entry.metadata))  # fmt: skip
    for key, item in items.items():
        record_path = batch.out / "items" / item_filename(key)
        if record_path.is_file():
            record = json.loads(record_path.read_text(encoding="utf-8"))
            item.sentences = record.get("sentences")
    rejects = batch.out / "rejects.jsonl"
    if rejects.is_file():
        for line in rejects.read_text(encoding="utf-8").splitlines():
            reject = json.loads(line)
            key = batch.rows.get(int(reject["row"]), f"row {reject['row']}")
            items[key] = ItemResult(key, "rejected", error=str(reject.get("reason")))
    return items
