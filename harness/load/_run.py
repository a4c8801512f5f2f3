"""One load run: webhook receiver, preparation, the generator, the drain, and what was measured.

`run_load(spec, target)` returns a `LoadResult` whatever happens after the generator started: an interruption
(Ctrl-C, SIGTERM: the caller cancels the task) stops sending, cancels what is still out (counted as unfinished) and
returns what was measured, marked `interrupted`, so the report is still written.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harness._limiter import AdaptiveLimiter, LimiterParams
from harness._webhooks import WebhookReceiver
from harness.load._generator import Generator, Tick
from harness.load._metrics import LoadMetrics
from harness.load._ops import HttpOperations, Target
from harness.load._spec import LoadSpec
from harness.load._thresholds import Verdict, evaluate

log = logging.getLogger("harness.load")
CALLBACK_GRACE_S = 3.0  # after the drain, how long to wait for the callbacks of transcripts completed meanwhile
WARM_CONNECTIONS = 32
BUSY_CORE_SHARE = 0.9  # the generator used more of its core than this: its own figures may be generator-bound


@dataclass
class LoadResult:
    spec: LoadSpec
    metrics: LoadMetrics
    target: dict[str, Any]
    verdicts: list[Verdict] = field(default_factory=list)
    interrupted: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def summary(self) -> dict[str, Any]:
        return self.metrics.summary()

    @property
    def crossed(self) -> list[Verdict]:
        return [v for v in self.verdicts if not v.passed]


class _Callbacks:
    """The receiver's `on_transcript`: hands each callback to the run's metrics, once they exist."""

    def __init__(self) -> None:
        self.metrics: LoadMetrics | None = None
        self.settled = asyncio.Event()  # set when no transcript known completed still waits for its callback

    def __call__(self, sid: str, customer_key: str | None) -> None:
        if self.metrics is not None:
            self.metrics.callback(sid, asyncio.get_running_loop().time())
            if not self.metrics.awaiting_callbacks():
                self.settled.set()


async def run_load(
    spec: LoadSpec,
    target: Target,
    *,
    on_tick: Callable[[Tick], None] | None = None,
    say: Callable[[str], None] = print,
    webhooks: bool = False,
    restore_webhook: bool = False,
) -> LoadResult:
    """Run the load test `spec` against `target` (see the module docstring). With `webhooks`, the target's service
    is pointed at a local receiver for the run (and its WebhookUrl put back afterwards when `restore_webhook`)."""
    run_id = secrets.token_hex(4)
    callbacks = _Callbacks()
    receiver: WebhookReceiver | None = None
    token = target.credentials.signing_token
    credentials = target.credentials
    target_info = {"kind": target.kind, "service_sid": target.service_sid, "account_sid": credentials.account_sid,
                   "base_url": credentials.base_url}  # fmt: skip
    notes: list[str] = []
    placeholder = LoadMetrics(asyncio.get_running_loop().time(), time.time())
    ops = HttpOperations(target, placeholder, run_id=run_id, rng=random.Random(spec.seed),
                         max_connections=spec.connections, timeout_s=spec.timeout_s)  # fmt: skip
    async with ops:
        previous_webhook = await ops.check_service()  # bad credentials or service: an error before any load
        await ops.warm(min(WARM_CONNECTIONS, spec.max_in_flight))
        if webhooks and token is None:
            notes.append("webhook lag not measured: callbacks are signed with the auth token, and an API key was used")
        elif webhooks:
            receiver = WebhookReceiver(token or "", callbacks)
            await receiver.start()
            await ops.point_webhook(receiver.callback_url)
        try:
            if spec.reads and spec.prepare:
                made = await ops.prepare(spec.prepare)
                say(f"prepared {made} transcripts for the reads in the mix (not measured)")
            result = await _measure(spec, ops, callbacks, target_info, on_tick, notes)
            if receiver is not None:
                await _await_callbacks(result.metrics, callbacks.settled)
        finally:
            if receiver is not None:
                await receiver.close()
                if restore_webhook:
                    await asyncio.shield(ops.point_webhook(previous_webhook))
    result.verdicts = evaluate(list(spec.thresholds), result.summary)
    return result


async def _measure(
    spec: LoadSpec,
    ops: HttpOperations,
    callbacks: _Callbacks,
    target_info: dict[str, Any],
    on_tick: Callable[[Tick], None] | None,
    notes: list[str],
) -> LoadResult:
    loop = asyncio.get_running_loop()
    metrics = LoadMetrics(loop.time(), time.time())
    ops.metrics = metrics
    callbacks.metrics = metrics
    limiter = None
    if spec.adaptive:
        ceiling = float(spec.concurrency if spec.profile is None and spec.concurrency else spec.max_in_flight)
        limiter = AdaptiveLimiter(LimiterParams(initial=min(16.0, ceiling), ceiling=ceiling))
    generator = Generator(ops, metrics, spec.mix, rng=random.Random(spec.seed), limiter=limiter,
                          max_in_flight=spec.max_in_flight, max_lag_s=spec.max_lag_s, on_tick=on_tick)  # fmt: skip
    result = LoadResult(spec, metrics, target_info, notes=notes)
    try:
        if spec.profile is not None:
            await generator.run_open(spec.profile)
        else:
            await generator.run_closed(spec.duration_s, spec.concurrency or 1)
        drain = spec.drain_s
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None:
            task.uncancel()
        result.interrupted = True
        drain = 0.0
    unfinished = await generator.drain(drain)
    if unfinished:
        notes.append(f"{unfinished} requests had no answer {drain:g} s after the last arrival: counted as unfinished")
    notes.extend(_health_notes(spec, metrics))
    return result


def _health_notes(spec: LoadSpec, metrics: LoadMetrics) -> list[str]:
    """What the figures cannot be trusted for: a generator that was busy or that queued requests itself."""
    notes = []
    peak = max((s.in_flight_max or 0 for s in metrics.seconds), default=0)
    if peak > spec.connections:
        notes.append(
            f"in flight peaked at {peak} with {spec.connections} connections: requests waited for a free connection "
            "and that wait is part of their latency (raise --connections)"
        )
    duration = metrics.duration_s
    if metrics.cpu_s is not None and duration > 0 and metrics.cpu_s / duration > BUSY_CORE_SHARE:
        notes.append(
            f"the generator's process used {metrics.cpu_s / duration:.0%} of a core: its own delays may be in the "
            "latency; spread the rate over several processes (README: Scale past one machine)"
        )
    return notes


async def _await_callbacks(metrics: LoadMetrics, settled: asyncio.Event) -> None:
    """Give callbacks of transcripts known completed a moment to arrive, so the last seconds' lag is not lost."""
    if metrics.awaiting_callbacks():
        settled.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(settled.wait(), CALLBACK_GRACE_S)
