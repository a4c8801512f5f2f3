"""What a load run measured: counters and HDR histograms per wall-clock second, per operation, and in total.

Seconds are wall-clock seconds (second i covers [floor(start) + i, floor(start) + i + 1) in Unix time), so reports
of several processes that ran at the same time line up second by second when merged; the first and last seconds
are partial. Arrivals count in the second they were due, outcomes and latencies in the second they came.

Outcomes: `ok` (2xx), `rate_limited` (429), `server_errors` (5xx), `other_errors` (any other status, a transport
error, a timeout, or a request still unanswered when the run stopped waiting). Latency is measured from the
arrival's *due* time in the open model (so a generator or a limiter that sends late shows in the latency instead
of hiding it: no coordinated omission) and from the attempt's start in the closed model.

Webhook lag is the time from the moment the client knew a transcript was completed (a create or fetch answer that
said `completed`) to the moment its callback arrived; a callback that comes first is measured from the create's
answer instead, as `callback_after_create`.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from typing import Any

from harness.load._histogram import Histogram
from harness.load._units import OPERATIONS

OK, RATE_LIMITED, SERVER_ERROR, OTHER_ERROR = 0, 1, 2, 3
OUTCOME_NAMES = ("ok", "rate_limited", "server_errors", "other_errors")
PERCENTILES = (50.0, 90.0, 95.0, 99.0, 99.9)
PERCENTILE_NAMES = ("p50", "p90", "p95", "p99", "p99.9")
UNFINISHED = "unfinished (no answer before the run stopped waiting)"
COUNTERS = ("offered", "sent", "completed", "ok", "rate_limited", "server_errors", "other_errors", "dropped")


class Second:
    """One wall-clock second's counters and latency histogram."""

    __slots__ = (*COUNTERS, "in_flight", "in_flight_max", "latency", "limit", "webhook_lag")

    def __init__(self) -> None:
        self.offered = self.sent = self.completed = self.dropped = 0
        self.ok = self.rate_limited = self.server_errors = self.other_errors = 0
        self.in_flight: int | None = None
        self.in_flight_max: int | None = None
        self.limit: float | None = None
        self.latency = Histogram()
        self.webhook_lag = Histogram()


def _ms(value_us: float | None) -> float | None:
    return None if value_us is None else round(value_us / 1000.0, 3)


def latency_summary(histogram: Histogram) -> dict[str, float | None]:
    values = histogram.percentiles(PERCENTILES)
    out = {name: _ms(v) for name, v in zip(PERCENTILE_NAMES, values, strict=True)}
    out["max"] = _ms(histogram.max_us) if histogram.total else None
    out["min"] = _ms(histogram.min_us) if histogram.total else None
    out["mean"] = _ms(histogram.mean_us)
    return out


class LoadMetrics:
    """Counters, histograms and the per-second series of one run (or of several merged reports)."""

    def __init__(self, start_loop: float, start_wall: float) -> None:
        self.start_wall = start_wall
        self.epoch0 = math.floor(start_wall)  # Unix time of second 0's start
        self._origin = start_loop - (start_wall - self.epoch0)  # loop time at which second 0 began
        self.end_loop = start_loop
        self.seconds: list[Second] = []
        self.by_operation = {op: [0, 0, 0, 0] for op in OPERATIONS}  # outcome counts per operation
        self.op_latency = {op: Histogram() for op in OPERATIONS}
        self.schedule_lag = Histogram()
        self.callback_after_create = Histogram()
        self.dropped_reasons: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()  # other_errors by kind ("HTTP 404", "ServerDisconnectedError", …)
        self.callbacks = 0
        self.callbacks_unmatched = 0  # a duplicate, or a transcript this run did not create
        self._created_at: dict[str, float] = {}
        self._completed_at: dict[str, float] = {}
        self.duration_s = 0.0
        self._cpu_start = time.process_time()
        self.cpu_s: float | None = None  # this process's CPU time while it ran (user + system)

    # --- recording (the hot path) -------------------------------------------------------------------------------

    def second(self, t: float) -> Second:
        index = int(t - self._origin)
        seconds = self.seconds
        if index >= len(seconds):
            seconds.extend(Second() for _ in range(index + 1 - len(seconds)))
        return seconds[max(index, 0)]

    def second_start(self, t: float) -> float:
        """The loop time at which the wall-clock second holding loop time t began."""
        return self._origin + math.floor(t - self._origin)

    def offered(self, due: float) -> None:
        self.second(due).offered += 1

    def dropped(self, due: float, reason: str) -> None:
        self.second(due).dropped += 1
        self.dropped_reasons[reason] += 1

    def sent(self, now: float, due: float) -> None:
        self.second(now).sent += 1
        self.schedule_lag.record(now - due)

    def done(self, now: float, operation: str, outcome: int, latency_s: float, error: str | None = None) -> None:
        s = self.second(now)
        s.completed += 1
        if outcome == OK:
            s.ok += 1
        elif outcome == RATE_LIMITED:
            s.rate_limited += 1
        elif outcome == SERVER_ERROR:
            s.server_errors += 1
        else:
            s.other_errors += 1
            self.errors[error or "unknown"] += 1
        s.latency.record(latency_s)
        counts = self.by_operation.get(operation)
        if counts is None:  # an operation outside the mix's four (a metered client's other requests)
            counts = self.by_operation[operation] = [0, 0, 0, 0]
            self.op_latency[operation] = Histogram()
        counts[outcome] += 1
        self.op_latency[operation].record(latency_s)

    def sample(self, now: float, in_flight: int, peak: int, limit: float | None) -> None:
        """Called about once a second: requests in flight now, the most since the last sample, the limit now."""
        s = self.second(now)
        s.in_flight = in_flight
        s.in_flight_max = max(peak, s.in_flight_max or 0)
        s.limit = limit

    def transcript_created(self, sid: str, now: float, completed: bool) -> None:
        self._created_at[sid] = now
        if completed:
            self._completed_at.setdefault(sid, now)

    def transcript_completed(self, sid: str, now: float) -> None:
        if sid in self._created_at:
            self._completed_at.setdefault(sid, now)

    def callback(self, sid: str, now: float) -> None:
        self.callbacks += 1
        created = self._created_at.pop(sid, None)
        completed = self._completed_at.pop(sid, None)
        if created is None:
            self.callbacks_unmatched += 1
        elif completed is not None:
            self.second(now).webhook_lag.record(now - completed)
        else:
            self.callback_after_create.record(now - created)

    def awaiting_callbacks(self) -> int:
        """Transcripts known completed whose callback has not come yet."""
        return len(self._completed_at)

    def finish(self, now: float) -> None:
        self.end_loop = now
        self.cpu_s = time.process_time() - self._cpu_start
        self.duration_s = max(0.0, now - (self._origin + (self.start_wall - self.epoch0)))

    # --- reading ------------------------------------------------------------------------------------------------

    def totals(self) -> dict[str, int]:
        return {name: sum(getattr(s, name) for s in self.seconds) for name in COUNTERS}

    def latency(self) -> Histogram:
        merged = Histogram()
        for histogram in self.op_latency.values():
            merged.merge(histogram)
        return merged

    def webhook_lag(self) -> Histogram:
        merged = Histogram()
        for s in self.seconds:
            merged.merge(s.webhook_lag)
        return merged

    def summary(self) -> dict[str, Any]:
        t = self.totals()
        duration = self.duration_s or float(len(self.seconds)) or 1.0
        by_operation = {}
        for op in self.by_operation:
            counts = dict(zip(OUTCOME_NAMES, self.by_operation[op], strict=True))
            completed = sum(counts.values())
            if completed:
                by_operation[op] = {
                    "completed": completed, **counts, **_rates(counts, completed, None),
                    "latency_ms": latency_summary(self.op_latency[op]),
                }  # fmt: skip
        lag = self.webhook_lag()
        return {
            "duration_s": round(duration, 3),
            **t,
            "unfinished": self.errors.get(UNFINISHED, 0),
            "dropped_reasons": dict(self.dropped_reasons),
            "errors": dict(self.errors.most_common(20)),
            "achieved_rate": round(t["completed"] / duration, 2),
            "goodput_rate": round(t["ok"] / duration, 2),
            **_rates(t, t["completed"], t["offered"]),
            "latency_ms": latency_summary(self.latency()),
            "schedule_lag_ms": latency_summary(self.schedule_lag),
            "generator_cpu": _cpu(self.cpu_s, duration, t["sent"]),
            "by_operation": by_operation,
            "callbacks": self.callbacks,
            "callbacks_unmatched": self.callbacks_unmatched,
            "webhook_lag_ms": {"count": lag.total, **latency_summary(lag)},
            "callback_after_create_ms": {
                "count": self.callback_after_create.total,
                **latency_summary(self.callback_after_create),
            },
        }

    def timeseries(self) -> list[dict[str, Any]]:
        rows = []
        for i, s in enumerate(self.seconds):
            latency = s.latency.percentiles((50.0, 90.0, 99.0, 99.9))
            lag = s.webhook_lag.percentiles((50.0, 99.0))
            rows.append({
                "second": i, "epoch": self.epoch0 + i,
                "offered": s.offered, "sent": s.sent, "achieved": s.completed, "goodput": s.ok,
                "rate_limited": s.rate_limited, "server_errors": s.server_errors, "other_errors": s.other_errors,
                "dropped": s.dropped, "limit": s.limit, "in_flight": s.in_flight, "in_flight_max": s.in_flight_max,
                "p50_ms": _ms(latency[0]), "p90_ms": _ms(latency[1]), "p99_ms": _ms(latency[2]),
                "p99.9_ms": _ms(latency[3]), "max_ms": _ms(s.latency.max_us) if s.latency.total else None,
                "webhook_lag_p50_ms": _ms(lag[0]), "webhook_lag_p99_ms": _ms(lag[1]),
            })  # fmt: skip
        return rows


def _cpu(cpu_s: float | None, duration_s: float, sent: int) -> dict[str, float | None]:
    """How busy the generator's process was: near 1.0 of a core, its own delays start to show in the figures."""
    if cpu_s is None:
        return {"cpu_s": None, "core_share": None, "us_per_request": None}
    return {
        "cpu_s": round(cpu_s, 3),
        "core_share": round(cpu_s / duration_s, 3) if duration_s else None,
        "us_per_request": round(cpu_s / sent * 1e6, 1) if sent else None,
    }


def _rates(counts: dict[str, int], completed: int, offered: int | None) -> dict[str, float | None]:
    def fraction(n: int, of: int) -> float | None:
        return round(n / of, 6) if of else None

    out = {
        "429_rate": fraction(counts["rate_limited"], completed),
        "5xx_rate": fraction(counts["server_errors"], completed),
        "error_rate": fraction(counts["server_errors"] + counts["other_errors"], completed),
    }
    if offered is not None:
        out["dropped_rate"] = fraction(counts["dropped"], offered)
        out["goodput"] = fraction(counts["ok"], offered)
    else:
        out["goodput"] = fraction(counts["ok"], completed)
    return out
