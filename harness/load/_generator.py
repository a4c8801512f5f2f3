"""The load generator: arrivals on a schedule (open model) or a fixed set of workers (closed model).

Open model: arrival k is due at `start + profile.arrival_times()[k]`; the loop sleeps until it is due and starts
one request task for it, whatever earlier requests are doing. An arrival is *dropped* — counted, never silently
skipped — when the generator cannot honour it: `max_in_flight` requests are already out (k6's
`dropped_iterations` when no VU is free), or the loop is more than `max_lag_s` behind its schedule (this process is
too slow for the asked rate; sending now would be a burst the profile did not ask for). Latency counts from the due
time, so lateness below `max_lag_s` shows up in the latency, not hidden (no coordinated omission).

Closed model: `concurrency` workers each send, wait for the answer, and send again; with a limiter (`--adaptive`)
every request first passes the client's `AdaptiveLimiter`, which then decides how many are out at once.

The clock is the running loop's (`loop.time()`), so tests drive the generator on a virtual-time loop with an
injected `send`: no real sleeping. `send(operation, k)` returns (outcome, error kind, Retry-After seconds).
"""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from harness._limiter import AdaptiveLimiter
from harness.load._metrics import OTHER_ERROR, RATE_LIMITED, UNFINISHED, LoadMetrics
from harness.load._profile import Profile
from harness.load._units import OPERATIONS

SendResult = tuple[int, str | None, float | None]
Send = Callable[[str, int], Awaitable[SendResult]]
NOT_SENT = "connect"  # an error kind meaning the request never reached the server (the limiter learns nothing)
BEHIND = "generator behind schedule"
IN_FLIGHT_CAP = "max in-flight reached"


@dataclass(frozen=True)
class Tick:
    """What the live view shows each second."""

    elapsed_s: float
    in_flight: int
    limit: float | None
    totals: dict[str, int]


class Generator:
    def __init__(
        self,
        send: Send,
        metrics: LoadMetrics,
        mix: dict[str, float],
        *,
        rng: random.Random | None = None,
        limiter: AdaptiveLimiter | None = None,
        max_in_flight: int = 1000,
        max_lag_s: float = 1.0,
        on_tick: Callable[[Tick], None] | None = None,
    ) -> None:
        self._send = send
        self.metrics = metrics
        self._operations = [op for op in OPERATIONS if mix.get(op, 0) > 0]
        self._cum_weights = list(itertools.accumulate(mix[op] for op in self._operations))
        self._rng = rng or random.Random(0)
        self.limiter = limiter
        self.max_in_flight = max_in_flight
        self.max_lag_s = max_lag_s
        self._on_tick = on_tick
        self.in_flight = 0
        self._peak = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed_model = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._started = 0.0

    def _choose(self) -> str:
        if len(self._operations) == 1:
            return self._operations[0]
        return self._rng.choices(self._operations, cum_weights=self._cum_weights)[0]

    @property
    def limit(self) -> float | None:
        """The limiter's concurrency limit, else the in-flight cap (what bounds the requests out at once)."""
        return float(self.limiter.limit) if self.limiter is not None else float(self.max_in_flight)

    # --- one request --------------------------------------------------------------------------------------------

    async def _one(self, operation: str, k: int, due: float) -> None:
        loop = self._loop
        assert loop is not None
        metrics = self.metrics
        ticket = None
        try:
            if self.limiter is not None:
                ticket = await self.limiter.acquire()
            now = loop.time()
            if self._closed_model:
                due = now  # the closed model has no schedule: latency is the answer's wait
            metrics.sent(now, due)
            outcome, error, retry_after = await self._send(operation, k)
        except asyncio.CancelledError:
            if ticket is not None and self.limiter is not None:
                self.limiter.cancel(ticket)
            now = loop.time()
            metrics.done(now, operation, OTHER_ERROR, now - due, UNFINISHED)
            raise
        finally:
            self.in_flight -= 1
        now = loop.time()
        if ticket is not None and self.limiter is not None:
            if error == NOT_SENT:
                self.limiter.cancel(ticket)
            else:
                self.limiter.release(
                    ticket, dropped=outcome == RATE_LIMITED, timed_out=error == "timeout", retry_after=retry_after
                )
        metrics.done(now, operation, outcome, now - due, error)

    def _start(self, operation: str, k: int, due: float) -> None:
        assert self._loop is not None
        self.in_flight += 1
        if self.in_flight > self._peak:
            self._peak = self.in_flight
        task = self._loop.create_task(self._one(operation, k, due))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- models -------------------------------------------------------------------------------------------------

    async def run_open(self, profile: Profile, *, first_k: int = 0) -> None:
        """Send `profile`'s arrivals on time (see the module docstring); returns when the last one was due."""
        loop = self._loop = asyncio.get_running_loop()
        metrics = self.metrics
        ticker = loop.create_task(self._ticker())
        start = self._started = loop.time()
        try:
            for k, offset in enumerate(profile.arrival_times(), first_k):
                due = start + offset
                now = loop.time()
                if due > now:
                    await asyncio.sleep(due - now)
                    now = loop.time()
                metrics.offered(due)
                if now - due > self.max_lag_s:
                    metrics.dropped(due, BEHIND)
                elif self.in_flight >= self.max_in_flight:
                    metrics.dropped(due, IN_FLIGHT_CAP)
                else:
                    self._start(self._choose(), k, due)
            end = start + profile.duration_s
            if end > loop.time():
                await asyncio.sleep(end - loop.time())
        finally:
            ticker.cancel()

    async def run_closed(self, duration_s: float, concurrency: int, *, first_k: int = 0) -> None:
        """`concurrency` workers, each one request at a time, until `duration_s` has passed."""
        loop = self._loop = asyncio.get_running_loop()
        self._closed_model = True
        counter = itertools.count(first_k)
        start = self._started = loop.time()
        end = start + duration_s
        ticker = loop.create_task(self._ticker())

        async def worker() -> None:
            while loop.time() < end:
                now = loop.time()
                self.metrics.offered(now)
                self.in_flight += 1
                self._peak = max(self._peak, self.in_flight)
                await self._one(self._choose(), next(counter), now)

        workers = [loop.create_task(worker()) for _ in range(concurrency)]
        try:
            done, pending = await asyncio.wait(workers, timeout=max(0.0, end - loop.time()))
            for task in done:
                task.result()  # a bug in a worker surfaces here instead of being lost
            self._tasks.update(pending)  # workers finish their current request during the drain
        finally:
            ticker.cancel()

    async def drain(self, timeout_s: float) -> int:
        """Wait up to `timeout_s` for requests still out; cancel (and count as unfinished) the rest."""
        loop = asyncio.get_running_loop()
        pending = set(self._tasks)
        if pending:
            _, pending = await asyncio.wait(pending, timeout=timeout_s)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)
        self._sample(loop.time())
        self.metrics.finish(loop.time())
        return len(pending)

    # --- per-second samples -------------------------------------------------------------------------------------

    def _sample(self, now: float) -> None:
        self.metrics.sample(now, self.in_flight, self._peak, self.limit)
        self._peak = self.in_flight

    async def _ticker(self) -> None:
        """Samples in-flight and the limit as each wall-clock second ends; tells the live view."""
        loop = asyncio.get_running_loop()
        metrics = self.metrics
        while True:
            now = loop.time()
            second_end = metrics.second_start(now) + 1.0
            await asyncio.sleep(max(0.0, second_end - now))
            # Attributed to the second that just ended, however late this task woke (a busy loop wakes it late).
            self._sample(second_end - 0.5)
            if self._on_tick is not None:
                now = loop.time()
                self._on_tick(Tick(now - self._started, self.in_flight, self.limit, metrics.totals()))
