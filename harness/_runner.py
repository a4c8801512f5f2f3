"""BatchRunner: manifest → journal → submit → await completion → fetch results → report. Exactly once.

The order of a run, each step safe to interrupt:
1. Load: every manifest row is validated; good rows are journaled as `pending`, bad ones go to `rejects.jsonl`.
2. Reconcile: items left `submitting` (a crash between "about to send" and "answer recorded") or `unknown` (a
   create whose answer was lost) are looked up among the service's transcripts created since their first attempt,
   by CustomerKey. A match is adopted; no match means Twilio never made one, and the item is sent again.
3. Submit: pending items, in groups whose `submitting` mark is committed before any of their creates is sent.
   A lost answer (`OutcomeUnknown`) marks the item `unknown`; such items are reconciled again after the pass.
4. Wait (unless `--no-wait`): callbacks from the webhook receiver are nudges to re-fetch a transcript; a polling
   fallback with growing intervals covers callbacks that never come. A finished transcript's sentences and
   operator results (and, if asked, its media URL) are written to the output directory.
Re-running the same command resumes: nothing completed is redone, nothing submitted is submitted again.
"""

from __future__ import annotations

import asyncio
import heapq
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness._client import IntelligenceClient
from harness._errors import (
    CintelError,
    NotFound,
    OutcomeUnknown,
    RetryBudgetExhausted,
    TransportError,
    TwilioApiError,
)
from harness._journal import Journal
from harness._manifest import ManifestItem, Reject, read_manifest
from harness._models import Transcript
from harness._redact import scrub_text

GROUP = 64  # items whose `submitting` mark is committed together, before any of them is sent
WORKERS = 256  # concurrent tasks; the client's adaptive limiter decides how many requests are really in flight
RECONCILE_MARGIN_S = 120.0  # clock skew allowance when listing transcripts created since the first attempt
SUBMIT_ROUNDS = 5  # reconcile + submit passes per run; what is still pending after them waits for the next run


@dataclass
class RunnerOptions:
    service_sid: str
    out_dir: Path | None = None
    wait: bool = True
    word_timestamps: bool = False
    include_media: bool = False
    poll_initial_s: float = 2.0
    poll_max_s: float = 30.0
    wait_timeout_s: float | None = None


@dataclass
class Progress:
    loaded: int = 0
    rejected: int = 0
    submitted: int = 0
    adopted: int = 0
    unknown: int = 0
    completed: int = 0
    failed: int = 0
    started: float = field(default_factory=time.monotonic)


@dataclass
class Summary:
    counts: dict[str, int]
    rejected: int
    failed: list[dict[str, Any]]
    not_done: int
    elapsed_s: float

    @property
    def ok(self) -> bool:
        return self.rejected == 0 and not self.failed and self.not_done == 0


class BatchRunner:
    def __init__(
        self,
        client: IntelligenceClient,
        journal: Journal,
        manifest: Path,
        options: RunnerOptions,
        *,
        on_progress: Callable[[Progress, dict[str, Any]], None] | None = None,
    ) -> None:
        self.client = client
        self.journal = journal
        self.manifest = manifest
        self.options = options
        self.progress = Progress()
        self._on_progress = on_progress
        self._nudges: asyncio.Queue[str] = asyncio.Queue()
        self._results_file: Any = None

    def nudge(self, transcript_sid: str, customer_key: str | None) -> None:
        """A completion callback arrived (maybe duplicated, late or out of order): re-check that transcript."""
        self._nudges.put_nowait(transcript_sid)

    def _report(self) -> None:
        if self._on_progress is not None:
            self._on_progress(self.progress, self.client.metrics())

    # --- the run -----------------------------------------------------------------------------------------------

    async def run(self) -> Summary:
        out = self.options.out_dir
        if out is not None:
            (out / "items").mkdir(parents=True, exist_ok=True)
        self._load()
        for _ in range(SUBMIT_ROUNDS):
            await self._reconcile()
            await self._submit_pending()
            counts = self.journal.counts()
            if not (counts["unknown"] or counts["submitting"] or counts["pending"]):
                break
        await self._reconcile()  # a round may end with lost answers: settle them before waiting
        if self.options.wait:
            await self._await_completion()
        self.journal.flush()
        return self._summary()

    def _load(self) -> None:
        rejects_path = self.options.out_dir / "rejects.jsonl" if self.options.out_dir else None
        rejects = rejects_path.open("w", encoding="utf-8") if rejects_path else None
        try:

            def good() -> Any:
                for entry in read_manifest(self.manifest):
                    if isinstance(entry, Reject):
                        self.progress.rejected += 1
                        if rejects is not None:
                            rejects.write(json.dumps(entry.__dict__) + "\n")
                        continue
                    self.progress.loaded += 1
                    yield entry

            self.journal.add_items(good())
        finally:
            if rejects is not None:
                rejects.close()
        self._report()

    async def _reconcile(self) -> None:
        """Adopt transcripts that exist for items whose create may or may not have happened; re-queue the rest."""
        doubtful = {item.customer_key: item for item in self.journal.items("submitting", "unknown")}
        if not doubtful:
            return
        since = min(i.first_attempt_at or time.time() for i in doubtful.values()) - RECONCILE_MARGIN_S
        after = datetime.fromtimestamp(since, UTC)
        found: dict[str, str] = {}
        async for transcript in self.client.list_transcripts(
            service_sid=self.options.service_sid, after_date_created=after, page_size=1000
        ):
            key = transcript.customer_key
            if key in doubtful and key not in found:
                found[key] = transcript.sid
        for key in doubtful:
            if key in found:
                self.journal.mark_submitted(key, found[key])
                self.progress.adopted += 1
            else:
                self.journal.mark_pending(key, "no transcript found while reconciling: sending again")
        self.journal.flush()
        self._report()

    async def _submit_pending(self) -> None:
        queue: asyncio.Queue[ManifestItem | None] = asyncio.Queue(maxsize=WORKERS * 2)

        async def worker() -> None:
            while (item := await queue.get()) is not None:
                await self._submit_one(item)

        workers = [asyncio.create_task(worker()) for _ in range(WORKERS)]
        try:
            group: list[ManifestItem] = []
            for entry in read_manifest(self.manifest):
                if not isinstance(entry, ManifestItem):
                    continue
                journaled = self.journal.get(entry.customer_key)
                if journaled is None or journaled.state != "pending":
                    continue
                group.append(entry)
                if len(group) == GROUP:
                    await self._send_group(group, queue)
                    group = []
            if group:
                await self._send_group(group, queue)
            for _ in workers:
                await queue.put(None)
            await asyncio.gather(*workers)
        finally:
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
        except TwilioApiError as error:
            if error.status >= 500 or error.status == 429:  # retries exhausted: try again on the next run
                self.journal.mark_pending(item.customer_key, str(error))
            else:
                self.journal.mark_failed(item.customer_key, f"{error.code or error.status}: {error.message}")
                self.progress.failed += 1
        except (TransportError, RetryBudgetExhausted) as error:
            self.journal.mark_pending(item.customer_key, str(error))
        else:
            self.journal.mark_submitted(item.customer_key, transcript.sid, transcript.status)
            self.progress.submitted += 1
        self._report()

    # --- completion --------------------------------------------------------------------------------------------

    async def _await_completion(self) -> None:
        """Re-check transcripts when nudged by a callback, else when their polling interval is up.

        Due times live in a heap (stale entries are skipped), so each wake-up costs O(log n), not a scan of every
        outstanding item; checks run at most `WORKERS` at a time.
        """
        outstanding = {i.transcript_sid: i.customer_key for i in self.journal.items("submitted") if i.transcript_sid}
        interval = dict.fromkeys(outstanding, self.options.poll_initial_s)
        first = time.monotonic() + self.options.poll_initial_s
        due: dict[str, float] = dict.fromkeys(outstanding, first)
        heap = [(first, sid) for sid in outstanding]
        heapq.heapify(heap)
        deadline = time.monotonic() + self.options.wait_timeout_s if self.options.wait_timeout_s else None
        while outstanding:
            if deadline is not None and time.monotonic() > deadline:
                return
            check: set[str] = set()
            try:
                timeout = max(0.0, heap[0][0] - time.monotonic()) if heap else 1.0
                check.add(await asyncio.wait_for(self._nudges.get(), timeout))
            except TimeoutError:
                pass
            while not self._nudges.empty() and len(check) < WORKERS:
                check.add(self._nudges.get_nowait())
            now = time.monotonic()
            while heap and heap[0][0] <= now and len(check) < WORKERS:
                at, sid = heapq.heappop(heap)
                if due.get(sid) == at:  # else: rescheduled or finished since this entry was pushed
                    check.add(sid)
            batch = [sid for sid in check if sid in outstanding]
            results = await asyncio.gather(*(self._check(sid, outstanding[sid]) for sid in batch))
            for sid, finished in zip(batch, results, strict=True):
                if finished:
                    del outstanding[sid], due[sid], interval[sid]
                else:  # the polling fallback backs off for transcripts that stay in progress
                    interval[sid] = min(interval[sid] * 1.5, self.options.poll_max_s)
                    due[sid] = time.monotonic() + interval[sid]
                    heapq.heappush(heap, (due[sid], sid))
            self.journal.flush()
            self._report()

    async def _check(self, sid: str, key: str) -> bool:
        try:
            transcript = await self.client.fetch_transcript(sid)
            if not transcript.is_final:
                return False
            record = await self._results(transcript, key)
        except NotFound:
            self.journal.mark_failed(key, f"transcript {sid} no longer exists (deleted?)")
            self.progress.failed += 1
            return True
        except CintelError:
            return False  # keep waiting: the next nudge or poll tries again
        if transcript.status == "completed":
            self.journal.mark_completed(key)
            self.progress.completed += 1
        else:
            self.journal.mark_failed(key, f"transcript {transcript.status}", transcript.status)
            self.progress.failed += 1
        self._write(key, record)
        return True

    async def _results(self, transcript: Transcript, key: str) -> dict[str, Any]:
        record: dict[str, Any] = {"customer_key": key, "transcript_sid": transcript.sid, "status": transcript.status}
        journaled = self.journal.get(key)
        if journaled is not None:
            record["row"], record["metadata"] = journaled.row, journaled.metadata
        if transcript.status != "completed":
            return record
        record["duration"] = transcript.duration
        record["sentences"] = [
            s.model_dump(exclude_none=True)
            async for s in self.client.list_sentences(
                transcript.sid, word_timestamps=self.options.word_timestamps or None, page_size=5000
            )
        ]
        record["operator_results"] = [
            r.model_dump(exclude_none=True) async for r in self.client.list_operator_results(transcript.sid)
        ]
        if self.options.include_media:
            record["media_url"] = (await self.client.fetch_media(transcript.sid)).media_url
        return record

    def _write(self, key: str, record: dict[str, Any]) -> None:
        out = self.options.out_dir
        if out is None:
            return
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in key)[:80]
        (out / "items" / f"{safe}.json").write_text(json.dumps(record, indent=1), encoding="utf-8")
        if self._results_file is None:
            self._results_file = (out / "results.jsonl").open("a", encoding="utf-8")
        slim = {k: v for k, v in record.items() if k not in ("sentences", "operator_results", "media_url")}
        self._results_file.write(json.dumps(slim) + "\n")
        self._results_file.flush()

    # --- the end -----------------------------------------------------------------------------------------------

    def _summary(self) -> Summary:
        if self._results_file is not None:
            self._results_file.close()
            self._results_file = None
        counts = self.journal.counts()
        failed = [
            {"row": i.row, "customer_key": i.customer_key, "transcript_sid": i.transcript_sid,
             "reason": scrub_text(i.last_error or i.status or "failed")}
            for i in self.journal.items("failed")
        ]  # fmt: skip
        finished = counts["completed"] + counts["failed"]
        expected = finished if self.options.wait else finished + counts["submitted"]
        summary = Summary(
            counts=counts,
            rejected=self.progress.rejected,
            failed=failed,
            not_done=sum(counts.values()) - expected,
            elapsed_s=time.monotonic() - self.progress.started,
        )
        if self.options.out_dir is not None:
            body = {**summary.__dict__, "metrics": self.client.metrics()}
            (self.options.out_dir / "summary.json").write_text(json.dumps(body, indent=1), encoding="utf-8")
        return summary
