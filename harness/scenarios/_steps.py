"""The steps of a scenario, each done the way a user does it: `cintel submit` and `cintel merge` as real processes
(so a kill -9 is a real one and a resume is the same command again), a create through the client, a config patch
through the mock's control plane. Each step leaves a `StepRecord`: what it was to do, what happened, and whether
that is what the scenario expected of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness._errors import TwilioApiError
from harness._redact import scrub_text
from harness.scenarios._context import CINTEL, MOCK_ONLY, RunContext, Skip, StepFailed
from harness.scenarios._model import (
    ConfigureStep,
    CreateStep,
    Item,
    Kill,
    MergeStep,
    ServiceStep,
    Step,
    SubmitStep,
    WaitStep,
)

__all__ = ["Batch", "StepRecord", "StepRunner"]

POLL_S = 0.05
TAIL_LINES = 12


@dataclass
class StepRecord:
    index: int
    label: str  # what the step does: "submit main (3 items)"
    verdict: str  # "pass", "fail", "skip" or "done" (a step that expects nothing of itself)
    detail: str = ""  # what happened
    expected: str = ""  # what the scenario expected of it
    output: str = ""  # the command's last lines, when it did not do what was expected


@dataclass
class Batch:
    """One `batch` of submit steps: its manifest, journal and results, kept across a kill and the resume."""

    name: str
    manifest: Path
    journal: Path
    out: Path
    media_dir: Path
    service_sid: str
    rows: dict[int, str] = field(default_factory=dict)  # manifest row (line) → customer key
    seconds: float = 0.0  # time spent in `cintel submit` for this batch


def _crashed(stderr: str) -> bool:
    """A traceback: the command ended on an unexpected error, whatever its exit code says (1 is also "items
    failed", which a scenario may expect)."""
    return "Traceback (most recent call last)" in stderr


def _tail(text: str) -> str:
    return "\n".join(scrub_text(text).rstrip().splitlines()[-TAIL_LINES:])


class StepRunner:
    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.batches: dict[str, Batch] = {}
        self.skipped_items: dict[str, str] = {}  # customer key → why this target left it out
        self._index = 0  # the step being run

    async def run(self, index: int, step: Step) -> StepRecord:
        self._index = index
        try:
            if isinstance(step, SubmitStep):
                return await self._submit(index, step)
            if isinstance(step, MergeStep):
                return await self._merge(index, step)
            if isinstance(step, CreateStep):
                return await self._create(index, step)
            if isinstance(step, ConfigureStep):
                return await self.configure(index, step)
            if isinstance(step, ServiceStep):
                return await self._service(index, step)
            assert isinstance(step, WaitStep)
            await asyncio.sleep(step.seconds)
            return StepRecord(index, f"wait {step.seconds:g} s", "done")
        except Skip as skip:
            return StepRecord(index, f"{step.do}", "skip", str(skip))
        except StepFailed as failed:
            return StepRecord(index, f"{step.do}", "fail", str(failed))

    # --- service, configure, create -------------------------------------------------------------------------------

    async def _service(self, index: int, step: ServiceStep) -> StepRecord:
        ctx = self.ctx
        unique_name = step.unique_name or f"{ctx.loaded.name}-{step.name}"
        sid = await ctx.make_service(step.name, unique_name, auto_redaction=step.auto_redaction)
        ctx.services[step.name] = sid
        return StepRecord(index, f"service {step.name}", "done", f"{'recorded' if ctx.replaying else 'created'} {sid}")

    async def configure(self, index: int, step: ConfigureStep) -> StepRecord:
        ctx = self.ctx
        label = f"configure at {step.at_s:g} s" if step.at_s is not None else "configure"
        if ctx.control is None:
            return StepRecord(index, label, "skip", f"the mock's configuration: {MOCK_ONLY}")
        answer = await ctx.control.patch(f"/accounts/{ctx.api.account_sid}/config", json=step.mock)
        patch = json.dumps(step.mock, separators=(",", ":"))
        if answer.status_code != 200:
            return StepRecord(index, label, "fail", f"the mock refused {patch}: HTTP {answer.status_code} "
                              f"{answer.text[:300]}")  # fmt: skip
        return StepRecord(index, label, "done", f"{patch} at {ctx.now():.1f} s")

    async def _create(self, index: int, step: CreateStep) -> StepRecord:
        ctx = self.ctx
        if ctx.replaying:
            raise Skip("a create step is sent by the scenario runner itself, not by a recorded command")
        props: dict[str, Any] = {}
        if step.media is not None:
            props["media_url"] = await ctx.media_url(step.media)
        elif step.media_url is not None:
            props["media_url"] = step.media_url
        channel: dict[str, Any] = {"media_properties": props}
        if step.recording is not None:
            channel["media_properties"] = {"source_sid": await ctx.recording_sid(step.recording)}
        if step.participants is not None:
            channel["participants"] = [p.model_dump(exclude_none=True) for p in step.participants]
        service = await ctx.service_sid(step.service)
        expected = f"HTTP {step.expect_status}" + (f" / {step.expect_code}" if step.expect_code else "")
        if step.expect_message:
            expected += f" saying {step.expect_message!r}"
        async with ctx.api.client() as client:
            try:
                transcript = await client.create_transcript(service, channel, customer_key=step.customer_key)
                status, code, message = 201, None, f"created {transcript.sid}"
            except TwilioApiError as error:
                status, code, message = error.status, error.code, error.message
        got = f"HTTP {status}" + (f" / {code}" if code else "") + f": {scrub_text(message)[:300]}"
        ok = status == step.expect_status and (step.expect_code is None or code == step.expect_code)
        ok = ok and (step.expect_message is None or step.expect_message.lower() in message.lower())
        return StepRecord(index, "create a transcript", "pass" if ok else "fail", got, expected)

    # --- cintel merge -----------------------------------------------------------------------------------------------

    async def _merge(self, index: int, step: MergeStep) -> StepRecord:
        ctx = self.ctx
        output = ctx.work / "merged" / f"{step.output}.flac"
        output.parent.mkdir(parents=True, exist_ok=True)
        args = ["merge", "-o", str(output)]
        if step.room is not None:
            label = f"merge room {step.room}"
            args += ["--room", ctx.room_sid(step.room), "--via", step.via, *self._tape_args(index, "merge")]
            if step.channel1 is not None and step.channel2 is not None:
                args += ["--channel1", ",".join(step.channel1), "--channel2", ",".join(step.channel2)]
        else:
            assert step.tracks is not None
            label = f"merge {len(step.tracks)} tracks"
            specs = [(t.channel, f"{ctx.files[t.media]}" + (f"@{t.offset_s:g}" if t.offset_s is not None else ""))
                     for t in step.tracks]  # fmt: skip
            if any(channel is not None for channel, _ in specs):
                for n in (1, 2):
                    args += [f"--channel{n}", ",".join(spec for channel, spec in specs if channel == n)]
            else:
                args += [spec for _, spec in specs]
        if step.align_ends:
            args.append("--align-ends")
        code, out, err, seconds = await self._cintel(args)
        expected = f"exit {step.expect_exit}"
        problems = [] if code == step.expect_exit else [f"exit {code}"]
        if _crashed(err):
            problems.append("it crashed (a traceback: a bug in cintel)")
        if step.expect_error is not None:
            expected += f", saying {step.expect_error!r}"
            if step.expect_error.lower() not in err.lower():
                problems.append(f"stderr does not say {step.expect_error!r}")
        if step.expect_output is not None:
            expected += f", printing {step.expect_output!r}"
            if step.expect_output.lower() not in out.lower():
                problems.append(f"stdout does not say {step.expect_output!r}")
        if code == 0:
            ctx.files[step.output] = output
        detail = f"exit {code} in {seconds:.1f} s" + (f" ({'; '.join(problems)})" if problems else "")
        return StepRecord(index, label, "fail" if problems else "pass", detail, expected,
                          _tail(err + out) if problems else "")  # fmt: skip

    # --- cintel submit ----------------------------------------------------------------------------------------------

    async def _submit(self, index: int, step: SubmitStep) -> StepRecord:
        batch = self.batches.get(step.batch)
        resume = batch is not None
        if self.ctx.replaying and self._killed(step.batch):
            why = (f"batch {step.batch!r} had its runner killed: the journal that left is not in a cassette, so its "
                   "commands cannot be replayed")  # fmt: skip
            for first in (s for s in self.ctx.scenario.steps if isinstance(s, SubmitStep) and s.batch == step.batch):
                for item in first.items or []:
                    self.skipped_items.update(dict.fromkeys(item.customer_keys(), why))
                break
            raise Skip(why)
        if batch is None:
            batch = await self._new_batch(step)
            if batch is None:
                return StepRecord(index, f"submit {step.batch}", "skip", "every item needs what only the mock has")
            self.batches[step.batch] = batch
        label = f"{'resume' if resume else 'submit'} {step.batch} ({len(batch.rows)} rows)"
        code, out, err, seconds, killed, kill, note = await self._run_submit(batch, step)
        batch.seconds += seconds
        if kill is not None:
            expected, ok = "killed", killed is not None
            detail = (
                f"killed with SIGKILL {killed}"
                if killed is not None
                else (f"exit {code} in {seconds:.1f} s, before the kill was due: nothing was interrupted")
            )
        else:
            exit_code = step.expect_exit if step.expect_exit is not None else 0
            expected, ok = f"exit {exit_code}", code == exit_code and not _crashed(err)
            detail = f"exit {code} in {seconds:.1f} s" + (" — it crashed (a traceback: a bug in cintel)" if
                                                          _crashed(err) else "")  # fmt: skip
        return StepRecord(index, label, "pass" if ok else "fail", detail + note, expected,
                          "" if ok else _tail(err + out))  # fmt: skip

    async def _run_submit(
        self, batch: Batch, step: SubmitStep
    ) -> tuple[int, str, str, float, str | None, Kill | None, str]:
        ctx = self.ctx
        args = ["submit", str(batch.manifest), "--service", batch.service_sid, "--journal", str(batch.journal),
                "--out", str(batch.out)]  # fmt: skip
        if step.webhooks:
            args += ["--webhook-port", "0"]
        if not step.wait:
            args.append("--no-wait")
        if step.timeout_s is not None:
            args += ["--timeout", f"{step.timeout_s:g}"]
        if step.word_timestamps:
            args.append("--word-timestamps")
        if step.retry_failed:
            args.append("--retry-failed")
        if not ctx.api.on_mock and ctx.hosting.configured:  # merged rooms and tracks go where the user hosts media
            args += ctx.hosting.submit_args()
        else:
            args += ["--media-dir", str(batch.media_dir)]
        args += self._tape_args(self._index, "submit")
        if ctx.report_dir is not None:  # one report per submit step: a resumed run writes its own
            args += ["--report", str(ctx.report_dir / f"{self._index + 1:02d}-submit")]
        kill, note = step.kill, ""
        if kill is not None and kill.after_created is not None and not ctx.api.on_mock:
            kill, note = None, f" (not killed: counting the transcripts made is for the mock: {MOCK_ONLY})"
        code, out, err, seconds, killed = await self._cintel_killed(args, kill)
        return code, out, err, seconds, killed, kill, note

    async def _new_batch(self, step: SubmitStep) -> Batch | None:
        ctx = self.ctx
        folder = ctx.work / "batches" / step.batch
        folder.mkdir(parents=True, exist_ok=True)
        media_dir = folder / "media"
        if ctx.tape is not None and ctx.tape.replay:
            manifest, rows, service = ctx.tape.batch(step.batch)
            recorded = Batch(step.batch, manifest, folder / "journal.sqlite", folder / "results", media_dir, service)
            recorded.rows = rows
            return recorded
        fresh = await self._fresh_batch(step, folder, media_dir)
        if fresh is not None and ctx.tape is not None:
            ctx.tape.keep_batch(step.batch, fresh.manifest, fresh.rows, fresh.service_sid)
        return fresh

    async def _fresh_batch(self, step: SubmitStep, folder: Path, media_dir: Path) -> Batch | None:
        ctx = self.ctx
        service = await ctx.service_sid(step.service)
        if step.manifest is not None:
            manifest = (ctx.loaded.directory / step.manifest).resolve()
            return Batch(step.batch, manifest, folder / "journal.sqlite", folder / "results", media_dir, service)
        manifest = folder / "manifest.jsonl"
        batch = Batch(step.batch, manifest, folder / "journal.sqlite", folder / "results", media_dir, service)
        lines: list[str] = []
        for item in step.items or []:
            try:
                rows = await self._rows(item)
            except Skip as skip:
                self.skipped_items.update(dict.fromkeys(item.customer_keys(), str(skip)))
                continue
            for row in rows:
                lines.append(json.dumps(row))
                batch.rows[len(lines)] = row["customer_key"]
        if not lines:
            return None
        manifest.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        return batch

    async def _rows(self, item: Item) -> list[dict[str, Any]]:
        ctx = self.ctx
        row: dict[str, Any] = dict(item.metadata)
        if item.media is not None:
            row["media_url"] = await ctx.media_url(item.media, item.host, item.ttl_s)
        elif item.media_url is not None:
            row["media_url"] = item.media_url
        elif item.recording is not None:
            row["source_sid"] = await ctx.recording_sid(item.recording)
        elif item.room is not None:
            row["room_sid"] = ctx.room_sid(item.room)
        else:
            row["tracks"] = [
                {"path": str(ctx.files[t.media]), **t.model_dump(exclude_none=True, exclude={"media"})}
                for t in item.tracks or []
            ]
        if item.participants is not None:
            row["participants"] = [p.model_dump(exclude_none=True) for p in item.participants]
        return [{**row, "customer_key": key} for key in item.customer_keys()]

    # --- running cintel -------------------------------------------------------------------------------------------

    def _tape_args(self, index: int, kind: str) -> list[str]:
        """`--record FILE` or `--replay FILE` for step `index`'s command, when this run records or replays."""
        tape = self.ctx.tape
        if tape is None:
            return []
        return ["--replay" if tape.replay else "--record", str(tape.cassette(index, kind))]

    def _killed(self, batch: str) -> bool:
        return any(isinstance(s, SubmitStep) and s.batch == batch and s.kill for s in self.ctx.scenario.steps)

    async def _cintel(self, args: list[str]) -> tuple[int, str, str, float]:
        code, out, err, seconds, _ = await self._cintel_killed(args, None)
        return code, out, err, seconds

    async def _cintel_killed(self, args: list[str], kill: Kill | None) -> tuple[int, str, str, float, str | None]:
        """Run `cintel ARGS`; with `kill`, SIGKILL it when that is due. Returns (exit code, stdout, stderr,
        seconds, how it was killed or None). Cancelled (the scenario's time is up), it kills the process first."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        baseline = await self._created() if kill is not None and kill.after_created is not None else 0
        process = await asyncio.create_subprocess_exec(
            *CINTEL, *args, env=self.ctx.env(), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        talk = asyncio.ensure_future(process.communicate())  # read as it writes: a full pipe would stall it
        killed: str | None = None
        try:
            if kill is not None:
                killed = await self._kill_when_due(process, talk, kill, baseline, started)
            out, err = await talk
        finally:
            if process.returncode is None:
                process.kill()
                with contextlib.suppress(ProcessLookupError):
                    await process.wait()
            talk.cancel()
        assert process.returncode is not None
        return process.returncode, out.decode(errors="replace"), err.decode(errors="replace"), loop.time() - started, \
            killed  # fmt: skip

    async def _kill_when_due(
        self, process: asyncio.subprocess.Process, talk: asyncio.Future[Any], kill: Kill, baseline: int, started: float
    ) -> str | None:
        loop = asyncio.get_running_loop()
        while not talk.done():
            if kill.after_s is not None and loop.time() - started >= kill.after_s:
                process.send_signal(signal.SIGKILL)
                return f"{kill.after_s:g} s in"
            if kill.after_created is not None:
                created = await self._created() - baseline
                if created >= kill.after_created:
                    process.send_signal(signal.SIGKILL)
                    return f"once the mock had made {created} transcripts ({loop.time() - started:.1f} s in)"
            await asyncio.wait({talk}, timeout=POLL_S)
        return None

    async def _created(self) -> int:
        control = self.ctx.control
        assert control is not None
        answer = await control.get(f"/accounts/{self.ctx.api.account_sid}/stats")
        return int(answer.json().get("transcripts_created", 0))
