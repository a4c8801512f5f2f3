"""The wait phase: re-check transcripts when a callback nudges, else on a polling schedule; fetch their results.

Due times live in a heap (stale entries are skipped), so each wake-up costs O(log n), not a scan of every outstanding
item; checks run at most `WORKERS` at a time. Time is the runner's clock (the event loop's), so the schedule runs
on a virtual-time loop in tests. A finished transcript's `items/` file is written *before* the journal records
the item finished: a crash in between rewrites the same file on resume, never a second result line.
"""

from __future__ import annotations

import asyncio
import heapq
from typing import TYPE_CHECKING, Any

from harness import _outputs
from harness._errors import AccountBlocked, CintelError, NotFound, RateLimited, TwilioApiError
from harness._models import Transcript
from harness._runner_checks import account_block

if TYPE_CHECKING:
    from harness._runner import BatchRunner

WORKERS = 256


class CompletionWaiter:
    def __init__(self, runner: BatchRunner) -> None:
        self._runner = runner
        self._nudges: asyncio.Queue[str] = asyncio.Queue()
        self.started: float | None = None
        self._blocked: AccountBlocked | None = None

    def nudge(self, transcript_sid: str) -> None:
        self._nudges.put_nowait(transcript_sid)

    async def run(self) -> AccountBlocked | None:
        """Wait until every submitted item is finished; return the account error that stopped it, if any."""
        r = self._runner
        now = r.now
        self.started = now()
        initial, most = r.options.poll_initial_s, r.options.poll_max_s
        outstanding = {i.transcript_sid: i.customer_key for i in r.journal.items("submitted") if i.transcript_sid}
        interval = dict.fromkeys(outstanding, initial)
        first = now() + initial
        due: dict[str, float] = dict.fromkeys(outstanding, first)
        heap = [(first, sid) for sid in outstanding]
        heapq.heapify(heap)
        while outstanding and self._blocked is None:
            check: set[str] = set()
            try:
                timeout = max(0.0, heap[0][0] - now()) if heap else 1.0
                check.add(await asyncio.wait_for(self._nudges.get(), timeout))
            except TimeoutError:
                pass
            while not self._nudges.empty() and len(check) < WORKERS:
                check.add(self._nudges.get_nowait())
            moment = now()
            while heap and heap[0][0] <= moment and len(check) < WORKERS:
                at, sid = heapq.heappop(heap)
                if due.get(sid) == at:  # else: rescheduled or finished since this entry was pushed
                    check.add(sid)
            batch = [sid for sid in check if sid in outstanding]
            results = await asyncio.gather(*(self._check(sid, outstanding[sid]) for sid in batch))
            for sid, finished in zip(batch, results, strict=True):
                if finished:
                    del outstanding[sid], due[sid], interval[sid]
                else:  # the polling fallback backs off for transcripts that stay in progress
                    interval[sid] = min(interval[sid] * 1.5, most)
                    due[sid] = now() + interval[sid]
                    heapq.heappush(heap, (due[sid], sid))
            r.journal.flush()
        return self._blocked

    async def _check(self, sid: str, key: str) -> bool:
        r = self._runner
        try:
            transcript = await r.client.fetch_transcript(sid)
            r.health.ok()
            if not transcript.is_final:
                return False
            record = await self._results(transcript, key)
        except NotFound:  # this transcript's own fate, not the account's
            r.journal.mark_failed(key, f"transcript {sid} no longer exists (deleted?)")
            r.progress.failed += 1
            return True
        except RateLimited:
            return False  # answered, just busy: the next poll tries again
        except TwilioApiError as error:
            blocked = account_block(error, r, on_service=False)
            if blocked is not None:
                self._blocked = self._blocked or blocked
            elif error.status >= 500:
                r.health.failed(str(error))
            return False
        except CintelError as error:  # the connection: keep waiting, the outage bound ends the run
            r.health.failed(str(error))
            return False
        if r.options.out_dir is not None:
            _outputs.write_item(r.options.out_dir, key, record)  # before the journal says finished
        if transcript.status == "completed":
            r.journal.mark_completed(key)
            r.progress.completed += 1
        else:
            r.journal.mark_failed(key, f"transcript {transcript.status}", transcript.status)
            r.progress.failed += 1
        return True

    async def _results(self, transcript: Transcript, key: str) -> dict[str, Any]:
        r = self._runner
        record: dict[str, Any] = {"customer_key": key, "transcript_sid": transcript.sid, "status": transcript.status}
        journaled = r.journal.get(key)
        if journaled is not None:
            record["row"], record["metadata"] = journaled.row, journaled.metadata
        if transcript.status != "completed":
            return record
        record["duration"] = transcript.duration
        record["sentences"] = [
            s.model_dump(exclude_none=True)
            async for s in r.client.list_sentences(
                transcript.sid, word_timestamps=r.options.word_timestamps or None, page_size=5000
            )
        ]
        record["operator_results"] = [
            o.model_dump(exclude_none=True) async for o in r.client.list_operator_results(transcript.sid)
        ]
        if r.options.include_media:
            record["media_url"] = (await r.client.fetch_media(transcript.sid)).media_url
        return record
