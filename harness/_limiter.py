"""AdaptiveLimiter: finds an account's concurrency (and rate) limit by itself, so nobody has to configure one.

Twilio limits concurrent requests per account and answers the excess at once with 429 / 20429, unprocessed. Such
a limit gives no latency warning — excess requests are refused, not queued — so the limiter must *probe*: raise
its limit until it sees a 429, back off, and probe again, gently enough that 429s stay rare. It also watches
latency, so that against a server that queues instead of refusing it stops growing before the queue builds.

The decision — `decide(state, sample, params, now) -> state` — is a pure function; `AdaptiveLimiter` is a thin
async wrapper (a FIFO of waiters, a pause gate, a pacer) that reads time from an injectable clock.

Algorithm (what it borrows, from shared/reference/adaptive-concurrency.md):
- **Loss → decrease** (AIMD; Netflix `AIMDLimit`, TCP Reno): a 429 or a timeout caps the limit at the in-flight
  count the refused request was sent with, minus one — the server refused at that concurrency, so that bounds its
  limit right now (other clients of the same account included); refusals within four round trips of the last
  decrease also multiply it by `backoff` (0.9), because then the bound has proved too optimistic.
- **One decrease per round trip** (TCP fast recovery): refusals of requests sent *before* the last decrease are
  ignored; they describe the old limit. Without this, one burst of 429s collapses the limit to the floor — the
  oscillation AIMD is known for around an external limit (Netflix/concurrency-limits#72, PR #174).
- **Increase that slows near the last refusal and accelerates past it** (TCP CUBIC's W_max idea): +1 per round trip
  below the last refusal point, +1 per ~150 requests within its last unit (so probing refuses ≈ 1 % of requests at
  any concurrency), then doubling each round trip once beyond it, so a capacity that doubles is found in a few
  round trips and a steady one is probed rarely.
- **No increase while the server queues** (Gradient2's signal): if the short-term RTT exceeds `rtt_tolerance` × the
  long-term average RTT, growth stops; beyond twice that the limit shrinks by 2 % per round trip. The baseline is an
  average, not the minimum (Vegas' no-load RTT): measured against a mock with lognormal latency, the minimum was an
  outlier that made every ordinary round trip look like a queue and walked the limit down to the floor. The
  minimum is still tracked, as a metric. Like Gradient2's, the average slowly absorbs a persistent queue; growth
  then resumes at no more than one per round trip, and refusals still bound it.
- **No increase while app-limited** (Netflix: `inflight * 2 < limit`): a sample sent with less than half the limit
  in flight says nothing about the limit.
- **Rate limits**: `Retry-After` always delays the refused request (the retry policy waits at least that long); it
  also pauses every new request until then when refusals repeat or the limit is at the floor — not for an isolated
  refusal, the expected cost of probing (pausing all tasks for each of those, with the mock's Retry-After ≥ 1 s,
  cut goodput to 40 % of capacity against a concurrency limit). A 429 that came while far below
  the concurrency limit means a *rate* limit (a concurrency limit refuses only at the top), and so do refusals
  above 3 % of requests for two seconds in a row (probing costs ~1 %; a token bucket refuses at any concurrency,
  so cutting concurrency cannot hold it: against a 400/s bucket it gave 240/s with 6 % refused). The wrapper then
  paces sends at the rate that got through, cuts it by 10 % per second with refusals, and grows it CUBIC-style:
  half the gap per second back towards the rate of the last refusal, +2 %/s near it, ×1.25/s beyond it; pacing
  ends once the cap sits well above what is being sent (AWS SDK adaptive retry mode paces with a CUBIC rate; the
  SRE book's client-side throttling is the ancestor). Virtual-time figures for that bucket: 383/s, 1.7 % refused.
- Floor and ceiling clamp everything; the limit never leaves [floor, ceiling].
"""

from __future__ import annotations

import asyncio
import collections
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class LimiterParams:
    initial: float = 16.0
    floor: float = 1.0
    ceiling: float = 1000.0
    backoff: float = 0.9
    rtt_tolerance: float = 1.5
    rtt_smoothing: float = 0.1
    noload_decay: float = 0.001  # per sample, the no-load RTT creeps up by this fraction (re-learns a slower server)
    long_smoothing: float = 0.02  # the long-term RTT average that queueing is judged against (~50 samples)
    min_queue_delay_s: float = 0.002  # below this, RTT above the no-load RTT is jitter, not a queue
    probe_every_requests: float = 150.0  # near the last refusal, +1 per this many requests: ≈ 1 % of them refused
    rate_pacing: bool = True  # pace sends when 429s look like a rate limit (see the module docstring)

    def __post_init__(self) -> None:
        if not 1 <= self.floor <= self.initial <= self.ceiling:
            raise ValueError("need 1 ≤ floor ≤ initial ≤ ceiling")
        if not 0.5 <= self.backoff < 1:
            raise ValueError("backoff must be in [0.5, 1)")


@dataclass(frozen=True)
class Sample:
    rtt: float  # seconds from send to answer
    in_flight: int  # requests in flight when this one was sent, itself included
    dropped: bool  # refused (429) or timed out
    sent_at: float


@dataclass(frozen=True)
class LimiterState:
    limit: float
    last_drop_limit: float | None = None  # the limit when the last refusal came (CUBIC's W_max)
    last_decrease_at: float = -math.inf
    growth: float = 1.0  # increase per round trip
    window_start: float = 0.0
    rtt_noload: float | None = None
    rtt_short: float | None = None
    rtt_long: float | None = None  # long-term average RTT: the baseline queueing is measured against


def decide(state: LimiterState, sample: Sample, params: LimiterParams, now: float) -> LimiterState:
    """The new limiter state after one answered (or refused) request. Pure; see the module docstring."""
    if sample.dropped:
        if sample.sent_at < state.last_decrease_at:
            return state  # sent before we last backed off: already accounted for
        bound = max(params.floor, sample.in_flight - 1.0)
        repeated = _repeated(state, now)
        # An isolated refusal: the server refused at `in_flight`, so its limit is below that — go just under it.
        # Refusals in a row mean less capacity than that bound suggests (other clients, a lowered limit): cut.
        limit = _clamp(min(state.limit * params.backoff if repeated else state.limit, bound), params)
        return replace(
            state, limit=limit, last_drop_limit=state.limit, last_decrease_at=now, growth=1.0, window_start=now
        )

    rtt = max(sample.rtt, 1e-6)
    noload = rtt if state.rtt_noload is None else min(rtt, state.rtt_noload * (1 + params.noload_decay))
    short = rtt if state.rtt_short is None else state.rtt_short + params.rtt_smoothing * (rtt - state.rtt_short)
    # Queueing is judged against the long-term average, not the minimum: with a server whose latency varies
    # (lognormal, like real services) the minimum is an outlier and an ordinary RTT would look like a queue.
    long = rtt if state.rtt_long is None else state.rtt_long + params.long_smoothing * (rtt - state.rtt_long)
    limit, growth, window_start = state.limit, state.growth, state.window_start
    new_window = now - window_start >= short
    if new_window:
        window_start = now
    queued = short - long > params.min_queue_delay_s
    if queued and short > 2 * params.rtt_tolerance * long:  # deep queueing: shrink a little, once per RTT
        if new_window:
            limit, growth = _clamp(limit * 0.98, params), 1.0
    elif (queued and short > params.rtt_tolerance * long) or sample.in_flight * 2 < limit:
        pass  # queueing, or app-limited: hold
    else:
        w_max = state.last_drop_limit
        if w_max is not None and limit <= w_max:
            # Below the last refusal. Within its last unit, one probe (+1) per `probe_every_requests` requests
            # whatever the limit, so probing refuses ≈ 1 / probe_every_requests of requests at any concurrency;
            # further below, +1 per round trip.
            near = limit >= min(0.97 * w_max, w_max - 1.5)
            step = max(0.02, limit / params.probe_every_requests) if near else 1.0
            if new_window:
                growth = 1.0
        else:
            # Beyond the last refusal (or before the first): double the growth every round trip, up to limit / 2.
            if new_window:
                growth = min(max(1.0, growth * 2), max(1.0, limit / 2))
            step = growth
        limit = _clamp(limit + step / max(limit, 1.0), params)
    # One object per sample (not one per field changed): this runs on every answer of every request.
    return LimiterState(limit, state.last_drop_limit, state.last_decrease_at, growth, window_start, noload, short, long)


def _repeated(state: LimiterState, now: float) -> bool:
    """A refusal now follows the last decrease within a few round trips: a run of refusals, not an isolated one."""
    return state.rtt_short is not None and now - state.last_decrease_at < 4 * state.rtt_short


def _clamp(value: float, params: LimiterParams) -> float:
    return min(params.ceiling, max(params.floor, value))


@dataclass
class Ticket:
    """One admitted request: when it was sent and how many were in flight then (itself included)."""

    sent_at: float
    in_flight: int


class AdaptiveLimiter:
    """The async side: admits requests while fewer than `limit` are in flight, FIFO, paced when rate-limited."""

    def __init__(
        self,
        params: LimiterParams | None = None,
        *,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        self.params = params or LimiterParams()
        self._clock = clock
        self._sleep = sleep or asyncio.sleep
        self.state = LimiterState(limit=self.params.initial)
        self.in_flight = 0
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self.rejected = 0
        self.timeouts = 0
        self.completed = 0
        self.pause_until = 0.0
        self.rate_cap: float | None = None
        self._next_send = 0.0
        self._rate_window_start: float | None = None
        self._rate_window_ok = 0
        self._rate_window_drops = 0
        self._last_rate = 0.0
        self._rate_hot_windows = 0  # consecutive seconds with more refusals than probing explains
        self._rate_w_max: float | None = None  # the paced rate when refusals last came

    def now(self) -> float:
        return self._clock() if self._clock is not None else asyncio.get_running_loop().time()

    # --- metrics ------------------------------------------------------------------------------------------------

    @property
    def limit(self) -> int:
        return max(1, int(self.state.limit))

    @property
    def waiters(self) -> int:
        return len(self._waiters)

    def metrics(self) -> dict[str, float | int | None]:
        return {
            "limit": self.limit,
            "limit_exact": round(self.state.limit, 3),
            "in_flight": self.in_flight,
            "waiters": self.waiters,
            "rejected_429": self.rejected,
            "timeouts": self.timeouts,
            "completed": self.completed,
            "rtt_noload_s": self.state.rtt_noload,
            "rtt_short_s": self.state.rtt_short,
            "rtt_long_s": self.state.rtt_long,
            "rate_cap_per_s": self.rate_cap,
        }

    # --- admission ----------------------------------------------------------------------------------------------

    async def acquire(self) -> Ticket:
        """Wait for a slot (FIFO). A slot is reserved for a waiter when it is woken, so wakers never over-admit."""
        if self.in_flight < self.limit and not self._waiters:
            self.in_flight += 1
        else:
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(future)
            try:
                await future
            except BaseException:
                if future in self._waiters:
                    self._waiters.remove(future)
                elif future.done() and not future.cancelled():
                    self.in_flight -= 1  # we were handed a slot we will not use: give it back
                    self._wake()
                raise
        try:
            await self._wait_for_gates()
        except BaseException:
            self.in_flight -= 1
            self._wake()
            raise
        return Ticket(sent_at=self.now(), in_flight=self.in_flight)

    async def _wait_for_gates(self) -> None:
        now = self.now()
        if self.pause_until > now:
            await self._sleep(self.pause_until - now)
            now = self.now()
        if self.rate_cap is not None:
            slot = max(now, self._next_send)
            self._next_send = slot + 1.0 / self.rate_cap
            if slot > now:
                await self._sleep(slot - now)

    def release(
        self, ticket: Ticket, *, dropped: bool = False, timed_out: bool = False, retry_after: float | None = None
    ) -> None:
        """Record the outcome of an admitted request and hand its slot on."""
        now = self.now()
        self.in_flight -= 1
        lost = dropped or timed_out
        if dropped:
            self.rejected += 1
        elif timed_out:
            self.timeouts += 1
        else:
            self.completed += 1
        sample = Sample(rtt=now - ticket.sent_at, in_flight=ticket.in_flight, dropped=lost, sent_at=ticket.sent_at)
        before = self.state
        self.state = decide(before, sample, self.params, now)
        if dropped and retry_after and (_repeated(before, now) or before.limit <= self.params.floor):
            # Retry-After always delays the refused request (the retry policy waits at least that long). It holds
            # *every* new request only when refusals repeat (or the limit is already at the floor): an isolated
            # refusal is the expected cost of probing, and pausing all tasks for it (the mock sends Retry-After ≥ 1 s)
            # cut goodput to a third of capacity in the virtual-time timeline tests.
            self.pause_until = max(self.pause_until, now + retry_after)
        self._track_rate(now, ticket, dropped)
        self._wake()

    def cancel(self, ticket: Ticket) -> None:
        """An admitted request that was never answered for a reason that says nothing about the server."""
        self.in_flight -= 1
        self._wake()

    def _wake(self) -> None:
        while self._waiters and self.in_flight < self.limit:
            future = self._waiters.popleft()
            if not future.done():
                self.in_flight += 1  # reserved for this waiter
                future.set_result(None)

    # --- rate limits --------------------------------------------------------------------------------------------

    def _track_rate(self, now: float, ticket: Ticket, dropped: bool) -> None:
        if self._rate_window_start is None:
            self._rate_window_start = now
        if dropped:
            self._rate_window_drops += 1
            rate_limited = ticket.in_flight * 2 <= self.state.limit or self.state.limit <= self.params.floor
            if rate_limited and self.rate_cap is None and self.params.rate_pacing:
                elapsed = now - self._rate_window_start
                so_far = self._rate_window_ok / elapsed if elapsed > 0.25 else 0.0
                self._start_pacing(now, max(self._last_rate, so_far))
        else:
            self._rate_window_ok += 1
        elapsed = now - self._rate_window_start
        if elapsed < 1.0:
            return
        ok, drops = self._rate_window_ok, self._rate_window_drops
        self._last_rate = ok / elapsed
        if self.rate_cap is None:
            # The concurrency controller's own probing costs ~1 % of requests; refusals above 3 % for two seconds
            # in a row, while it keeps cutting, mean a limit it cannot hold — a token bucket, whose refusals come at
            # any concurrency. A capacity step gives one such second, not two.
            hot = drops >= 3 and drops > 0.03 * (ok + drops)
            self._rate_hot_windows = self._rate_hot_windows + 1 if hot else 0
            if self._rate_hot_windows >= 2 and self.params.rate_pacing:
                self._start_pacing(now, self._last_rate)  # what got through is what the bucket allows
        elif drops:
            self._rate_w_max = self.rate_cap  # CUBIC's W_max, for the rate
            self.rate_cap = max(1.0, self.rate_cap * 0.9)
        else:
            w_max = self._rate_w_max
            if w_max is None or self.rate_cap >= w_max:
                self.rate_cap *= 1.25  # past the last refusal (or none yet): grow fast
                if self.rate_cap > 1.5 * max(self._last_rate, 1.0):
                    self.rate_cap = None  # well above what is being sent: the rate limit is gone or irrelevant
            elif self.rate_cap < 0.95 * w_max:
                self.rate_cap += (w_max - self.rate_cap) / 2  # well below it: close half the gap per second
            else:
                self.rate_cap *= 1.02  # near it: probe gently
        self._rate_window_start, self._rate_window_ok, self._rate_window_drops = now, 0, 0

    def _start_pacing(self, now: float, rate: float) -> None:
        self.rate_cap = max(1.0, rate)
        self._rate_w_max = None
        self._rate_hot_windows = 0
        self._next_send = now
