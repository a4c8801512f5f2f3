"""The runner's side of merge rows (`tracks`, `room_sid`): each pending one is prepared — merged and hosted, see
`_rooms` — in its own task while the manifest is read on, then sent like any row: its `submitting` mark committed
before its create, so a crash from there on is reconciled by CustomerKey and never creates a second transcript.

A row whose preparation fails for its own reasons (a file that cannot be decoded, a room with three participants, a
room without audio) is `failed` with the reason; one that cannot be prepared *now* (a host or a download that did
not answer, a room not ended yet) stays `pending` with the reason and is tried again on the next round or run. A
Video API error that is the account's (credentials, permissions) stops the run like any account error.

A host that answers, definitively, that it does not serve the merged files (`HostUnusable`: a served directory's URL
that answers 404 for a file just written, or another file) would fail every merge row alike: the row stays pending,
no other merge row is prepared, and once the rows in preparation are settled the run stops with that error (exit 2,
the URL and the directory named) — the plain rows sent so far are journaled as usual, nothing is marked failed.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import TYPE_CHECKING

from harness._errors import CintelError, TwilioApiError
from harness._hosting import HostUnusable
from harness._manifest import ManifestItem
from harness._rooms import MediaPreparer, PrepareDeferred, PrepareFailed
from harness._runner_checks import account_block

if TYPE_CHECKING:
    from harness._runner import BatchRunner

PREPARE_BACKLOG = 256  # merge rows in preparation at once (their merges and downloads are bounded separately)


class MergeRows:
    """Prepares the merge rows of one run and hands each to the create queue when it is ready."""

    def __init__(self, runner: BatchRunner) -> None:
        self._runner = runner
        media = runner.options.media
        self.preparer = MediaPreparer(runner.journal, media, runner.journal.batch_id) if media is not None else None
        self._slots = asyncio.Semaphore(PREPARE_BACKLOG)
        self._tasks: set[asyncio.Task[None]] = set()
        self.stopped: HostUnusable | None = None  # the host cannot serve merged files: no more merge rows this run

    async def start(self, item: ManifestItem, queue: asyncio.Queue[ManifestItem | None]) -> None:
        """Begin preparing `item` (waits while `PREPARE_BACKLOG` rows are in preparation); not once stopped (it stays
        pending)."""
        if self.stopped is not None:
            return
        await self._slots.acquire()
        task = asyncio.create_task(self._prepare_then_queue(item, queue))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for every row in preparation to be queued or recorded; then raise `HostUnusable` if the host turned
        out not to serve merged files (the runner's round ends on it, then the run)."""
        while self._tasks:
            await asyncio.gather(*self._tasks)
        if self.stopped is not None:
            raise self.stopped

    async def cancel(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def aclose(self) -> None:
        await self.cancel()
        if self.preparer is not None:
            await self.preparer.aclose()

    async def _prepare_then_queue(self, item: ManifestItem, queue: asyncio.Queue[ManifestItem | None]) -> None:
        r, key = self._runner, item.customer_key
        try:
            assert self.preparer is not None  # the runner refuses merge rows at load without media options
            try:
                channel = await self.preparer.prepare(item)
            except PrepareFailed as error:
                self._failed(item, str(error))
                return
            except HostUnusable as error:  # not this row's fault: every row would fail alike
                r.journal.mark_pending(key, str(error))
                self.stopped = self.stopped or error
                return
            except TwilioApiError as error:  # the Video API's answer
                blocked = account_block(error, r, on_service=False)
                if blocked is not None:
                    r.block(blocked)
                    r.journal.mark_pending(key, None)
                elif error.status >= 500 or error.status == 429:
                    r.journal.mark_pending(key, f"the Video API: {error}")
                else:
                    self._failed(item, f"the Video API: HTTP {error.status} {error.code or ''} {error.message}")
                return
            except (PrepareDeferred, CintelError) as error:  # transport errors, a download refused this time
                r.journal.mark_pending(key, str(error))
                return
            if r.blocked is not None:  # the account refused meanwhile: this one is not sent
                r.journal.mark_pending(key, None)
                return
            r.journal.mark_submitting([key])  # durable before its create, as for a group of plain rows
            await queue.put(dataclasses.replace(item, channel=channel))
        finally:
            self._slots.release()

    def _failed(self, item: ManifestItem, reason: str) -> None:
        self._runner.journal.mark_failed(item.customer_key, f"row {item.row}: {reason}")
        self._runner.progress.failed += 1
