"""BatchRunner: manifest → journal → submit → await completion → fetch results → report. Exactly once.

The order of a run, each step safe to interrupt:
1. Load: every manifest row is validated; good rows are journaled as `pending`, bad ones go to `rejects.jsonl`.
2. Preflight: the service is fetched and a create that cannot create anything proves the credentials may create
   transcripts there. An account-level refusal (20003, 70051, 20403, an unknown service) stops the run before
   anything is sent (`AccountBlocked`, exit 4); one met mid-run stops it the same way, nothing marked failed.
3. Reconcile: items left `submitting` (a crash between "about to send" and "answer recorded") or `unknown` (a
   create whose answer was lost) are looked up among the service's transcripts created since their first attempt,
   by CustomerKey. A match is adopted; no match means Twilio never made one, and the item is sent again.
4. Submit: pending items, in groups whose `submitting` mark is committed before any of their creates is sent.
5. Wait (unless `--no-wait`): callbacks are nudges to re-fetch a transcript; polling with growing intervals covers
   callbacks that never come. A finished transcript's results go to `items/` before the journal says finished.
Throughout, an outage (no answer from the API) is reported as it happens and ends the run, resumably
(`ApiUnreachable`, exit 3), once it lasts longer than `unreachable_timeout_s`. Time is the event loop's clock, so
tests run the whole schedule on a virtual-time loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness import _outputs
from harness._client import IntelligenceClient
from harness._errors import (
    AccountBlocked,
    ApiUnreachable,
    CintelError,
    ConfigurationError,
    OutcomeUnknown,
    TwilioApiError,
)
from harness._health import Health
from harness._journal import Journal
from harness._manifest import ManifestItem, Reject, read_manifest
from harness._redact import scrub_text
from harness._rooms import MediaOptions
from harness._runner_checks import account_block, preflight, startup
from harness._runner_media import MergeRows
from harness._runner_wait import CompletionWaiter

GROUP = 64  # items whose `submitting` mark is committed together, before any of them is sent
WORKERS = 256  # concurrent tasks; the client's adaptive limiter decides how many requests are really in flight
RECONCILE_MARGIN_S = 120.0  # clock skew allowance when listing transcripts created since the first attempt
SUBMIT_ROUNDS = 5  # reconcile + submit passes per run; what is still pending after them waits for the next run


@dataclass
class RunnerOptions:
    """What one run does: the service, where results go, whether to wait, and the bounds on waiting."""

    service_sid: str
    out_dir: Path | None = None
    wait: bool = True
    word_timestamps: bool = False
    include_media: bool = False
    retry_failed: bool = False  # re-queue items that failed for their own reasons (reconciled first)
    poll_initial_s: float = 2.0
    poll_max_s: float = 30.0
    wait_timeout_s: float | None = None  # the whole wait phase (`--timeout`); None waits for every item
    unreachable_timeout_s: float = 180.0  # an outage longer than this ends the run (exit 3, resumable)
    media: MediaOptions | None = None  # where tracks/room_sid rows are merged and hosted (`_rooms`)


@dataclass
class Progress:
    """Live counters of a run (the journal's counts are the truth at the end)."""

    loaded: int = 0
    rejected: int = 0
    submitted: int = 0
    adopted: int = 0
    unknown: int = 0
    completed: int = 0
    failed: int = 0
    phase: str = "loading"
    counts: dict[str, int] = field(default_factory=dict)  # the journal's, refreshed at each report
    outage: str | None = None
    started: float | None = None
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)

    def elapsed_s(self) -> float:
        return 0.0 if self.started is None else max(self.clock() - self.started, 0.0)


@dataclass
class Summary:
    """How a run ended: the journal's counts per state, rejected rows, failed items (scrubbed reasons)."""

    counts: dict[str, int]
    rejected: int
    failed: list[dict[str, Any]]
    not_done: int
    elapsed_s: float
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.rejected == 0 and not self.failed and self.not_done == 0


class BatchRunner:
    """Runs one batch against one service; see the module docstring for the order of a run."""

    def __init__(
        self,
        client: IntelligenceClient,
        journal: Journal,
        manifest: Path,
        options: RunnerOptions,
        *,
        on_progress: Callable[[Progress, dict[str, Any]], None] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.client = client
        self.journal = journal
        self.manifest = manifest
        self.options = options
        self._clock = clock
        self.progress = Progress()
        self.health = Health(self.now)
        self._on_progress = on_progress
        self._blocked: AccountBlocked | None = None
        self._waiter = CompletionWaiter(self)
        self.merge_rows = MergeRows(self)
        client.add_retry_listener(self.health.on_retry)

    @property
    def blocked(self) -> AccountBlocked | None:
        return self._blocked

    def block(self, error: AccountBlocked) -> None:
        """The account refused (the first refusal is the one reported): nothing more is sent this run."""
        self._blocked = self._blocked or error

    def now(self) -> float:
        return self._clock() if self._clock is not None else asyncio.get_running_loop().time()

    def nudge(self, transcript_sid: str, customer_key: str | None) -> None:
        """A completion callback arrived (maybe duplicated, late or out of order): re-check that transcript."""
        self._waiter.nudge(transcript_sid)

    def report(self) -> None:
        """Refresh the counters from the journal and hand them to `on_progress` (called at least once a second)."""
        self.progress.counts = self.journal.counts()
        self.progress.outage = self.health.describe()
        if self._on_progress is not None:
            self._on_progress(self.progress, self.client.metrics())

    # --- the run -----------------------------------------------------------------------------------------------

    async def run(self) -> Summary:
        """Run the batch; raises `AccountBlocked` (exit 4) or `ApiUnreachable` (exit 3) after saving everything."""
        self.progress.clock, self.progress.started = self.now, self.now()
        if self.options.out_dir is not None:
            _outputs.prepare(self.options.out_dir, self.journal.batch_id)
        work = asyncio.create_task(self._phases())
        ticker = asyncio.create_task(self._tick())
        timed_out = False
        try:
            done, _ = await asyncio.wait({work, ticker}, return_when=asyncio.FIRST_COMPLETED)
            if work not in done:  # the ticker ended: an outage or the wait timeout
                work.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await work
                if self.health.unreachable_s() > self.options.unreachable_timeout_s:
                    raise ApiUnreachable(
                        f"{self.health.describe()} (while {self.progress.phase}, at "
                        f"{self.client.credentials.base_url}); stopped after --unreachable-timeout "
                        f"{self.options.unreachable_timeout_s:.0f} s",
                        unreachable_s=self.health.unreachable_s(),
                    )
                timed_out = True
            else:
                work.result()
            if self._blocked is not None:
                raise self._blocked
        finally:
            ticker.cancel()
            work.cancel()  # on SIGINT/SIGTERM too: let the work finish cancelling before the last records
            await asyncio.gather(work, ticker, return_exceptions=True)
            await self.merge_rows.aclose()
            self.progress.phase = "done"
            self.journal.flush()
            self.report()
            summary = self._summary(timed_out)
            self._write_outputs(summary)
        return summary

    async def _tick(self) -> None:
        """Report every second; end (so `run` stops the work) on a long outage or when the wait timeout passes."""
        while True:
            await asyncio.sleep(1.0)
            self.report()
            if self.health.unreachable_s() > self.options.unreachable_timeout_s:
                return
            waiting_since = self._waiter.started
            timeout = self.options.wait_timeout_s
            if waiting_since is not None and timeout is not None and self.now() - waiting_since > timeout:
                return

    async def _phases(self) -> None:
        self.progress.phase = "loading"
        self._load()
        self.progress.phase = "checking the account"
        await self.preflight()
        if self.options.retry_failed:
            self.journal.requeue_failed()
        self.progress.phase = "submitting"
        for _ in range(SUBMIT_ROUNDS):
            await self._reconcile()
            await self._submit_pending()
            if self._blocked is not None:
                return
            counts = self.journal.counts()
            if not (counts["unknown"] or counts["submitting"] or counts["pending"]):
                break
        await self._reconcile()  # a round may end with lost answers: settle them before waiting
        if self.options.wait and self._blocked is None:
            self.progress.phase = "waiting"
            blocked = await self._waiter.run()
            self._blocked = self._blocked or blocked

    async def preflight(self) -> None:
        """Check the account before sending anything (`_runner_checks.preflight`)."""
        await preflight(self)

    def _load(self) -> None:
        rejects: list[dict[str, Any]] = []

        def good() -> Any:
            for entry in read_manifest(self.manifest):
                if isinstance(entry, Reject):
                    self.progress.rejected += 1
                    rejects.append({"row": entry.row, "reason": scrub_text(entry.reason), "excerpt": entry.excerpt})
                    continue
                if entry.merge is not None and self.options.media is None:
                    raise ConfigurationError(f"row {entry.row}: a tracks or room_sid row needs RunnerOptions.media")
                self.progress.loaded += 1
                yield entry

        self.journal.add_items(good())
        if self.options.out_dir is not None:
            _outputs.write_lines(self.options.out_dir / "rejects.jsonl", rejects)
        self.report()

    async def _reconcile(self) -> None:
        """Adopt transcripts that exist for items whose create may or may not have happened; re-queue the rest."""
        doubtful = {item.customer_key: item for item in self.journal.items("submitting", "unknown")}
        if not doubtful:
            return
        since = min(i.first_attempt_at or time.time() for i in doubtful.values()) - RECONCILE_MARGIN_S
        after = datetime.fromtimestamp(since, UTC)
        found: dict[str, str] = {}

        async def scan() -> None:
            async for transcript in self.client.list_transcripts(
                service_sid=self.options.service_sid, after_date_created=after, page_size=1000
            ):
                item = doubtful.get(transcript.customer_key or "")
                if item is None or item.customer_key in found:
                    continue
                # An item sent again by --retry-failed skips the transcript that failed (and any other failed one);
                # anything else Twilio has for its CustomerKey is adopted, not duplicated.
                retried = item.failed_transcript_sid is not None
                if retried and (transcript.sid == item.failed_transcript_sid or transcript.status == "failed"):
                    continue
                found[item.customer_key] = transcript.sid

        await startup(self, "list transcripts to reconcile", scan)
        for key in doubtful:
            if key in found:
                self.journal.mark_submitted(key, found[key])
                self.progress.adopted += 1
            else:
                self.journal.mark_pending(key, "no transcript found while reconciling: sending again")
        self.journal.flush()

    async def _submit_pending(self) -> None:
        queue: asyncio.Queue[ManifestItem | None] = asyncio.Queue(maxsize=WORKERS * 2)

        async def worker() -> None:
            while (item := await queue.get()) is not None:
                if self._blocked is None:
                    await self._submit_one(item)
                else:  # the account refused: this one was never sent, back to pending
                    self.journal.mark_pending(item.customer_key, None)

        workers = [asyncio.create_task(worker()) for _ in range(WORKERS)]
        try:
            group: list[ManifestItem] = []
            for entry in read_manifest(self.manifest):
                if self._blocked is not None:
                    break
                if not isinstance(entry, ManifestItem):
                    continue
                journaled = self.journal.get(entry.customer_key)
                if journaled is None or journaled.state != "pending":
                    continue
                if entry.merge is not None:  # merged and hosted first, then queued on its own
                    await self.merge_rows.start(entry, queue)
                    continue
                group.append(entry)
                if len(group) == GROUP:
                    await self._send_group(group, queue)
                    group = []
            if group and self._blocked is None:
                await self._send_group(group, queue)
            await self.merge_rows.drain()
            for _ in workers:
                await queue.put(None)
            await asyncio.gather(*workers)
        finally:
            await self.merge_rows.cancel()
            for task in workers:
                task.cancel()
            self.journal.flush()

    async def _send_group(self, group: list[ManifestItem], queue: asyncio.Queue[ManifestItem | None]) -> None:
        self.journal.mark_submitting(item.customer_key for item in group)  # durable before any is sent
        for item in group:
            await queue.put(item)

    async def _submit_one(self, item: ManifestItem) -> None:
        try:
            transcript = await self.client.create_transcript(
                self.options.service_sid, item.channel, customer_key=item.customer_key,
                media_start_time=item.media_start_time,
            )  # fmt: skip
        except OutcomeUnknown as lost:
            self.journal.mark_unknown(item.customer_key, str(lost))
            self.progress.unknown += 1
            self.health.failed(str(lost))
        except TwilioApiError as error:
            blocked = account_block(error, self)
            if blocked is not None:  # not this item's fault: it goes back to pending, the run stops
                self._blocked = self._blocked or blocked
                self.journal.mark_pending(item.customer_key, None)
            elif error.status >= 500 or error.status == 429:  # retries exhausted: try again on the next round
                self.journal.mark_pending(item.customer_key, str(error))
                if error.status >= 500:
                    self.health.failed(str(error))
            else:
                self.health.ok()
                self.journal.mark_failed(item.customer_key, f"{error.code or error.status}: {error.message}")
                self.progress.failed += 1
        except CintelError as error:  # TransportError, RetryBudgetExhausted: known not to have been processed
            self.journal.mark_pending(item.customer_key, str(error))
            self.health.failed(str(error))
        else:
            self.health.ok()
            self.journal.mark_submitted(item.customer_key, transcript.sid, transcript.status)
            self.progress.submitted += 1

    # --- the end -----------------------------------------------------------------------------------------------

    def _summary(self, timed_out: bool) -> Summary:
        counts = self.journal.counts()
        failed = [
            {"row": i.row, "customer_key": i.customer_key, "transcript_sid": i.transcript_sid,
             "reason": scrub_text(i.last_error or i.status or "failed")}
            for i in self.journal.items("failed")
        ]  # fmt: skip
        finished = counts["completed"] + counts["failed"]
        expected = finished if self.options.wait else finished + counts["submitted"]
        return Summary(
            counts=counts,
            rejected=self.progress.rejected,
            failed=failed,
            not_done=sum(counts.values()) - expected,
            elapsed_s=self.progress.elapsed_s(),
            timed_out=timed_out,
        )

    def _write_outputs(self, summary: Summary) -> None:
        out = self.options.out_dir
        if out is None or not (out / _outputs.MARKER).exists():
            return
        _outputs.write_results(out, self.journal)
        body = {**summary.__dict__, "metrics": self.client.metrics()}
        _outputs.write_private(out / "summary.json", json.dumps(body, indent=1))
