"""Arrival-rate profiles for the open model: constant, ramp, steps and spike, all as piecewise-linear rates.

A profile is a list of segments, each with a duration and a rate that moves linearly from `start_rate` to
`end_rate` (per second). The cumulative number of arrivals N(t) is the integral of the rate; arrival k (k = 0, 1, …)
is due at the first t with N(t) = k — so a constant 200/s gives exactly 200 arrivals in every second, a ramp gives
the integral of its rate in every second (±1 where a second cuts an arrival's interval), and the schedule does not
depend on how fast anything answers (the open model: arrivals do not wait for answers).

Within a segment, N(t) = a·t + s·t²/2 with a the start rate and s the slope, so arrival n of the segment is at
t = 2n / (a + √(a² + 2sn)) — closed form, stable for s = 0 and for falling rates, one square root per arrival.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

MAX_RATE = 1_000_000.0  # per second: far beyond one process; a typo like 2000000/s is refused, not attempted
MAX_DURATION_S = 7 * 86400.0


class ProfileError(ValueError):
    """A profile that cannot be run; the message names the value."""


@dataclass(frozen=True)
class Segment:
    duration_s: float
    start_rate: float
    end_rate: float

    @property
    def arrivals(self) -> float:
        """The (fractional) number of arrivals the segment's rate integrates to."""
        return (self.start_rate + self.end_rate) / 2.0 * self.duration_s

    def arrivals_until(self, t: float) -> float:
        t = min(max(t, 0.0), self.duration_s)
        slope = (self.end_rate - self.start_rate) / self.duration_s
        return self.start_rate * t + slope * t * t / 2.0

    def time_of(self, n: float) -> float:
        """The time within the segment at which its cumulative arrivals reach n (0 ≤ n ≤ `arrivals`)."""
        a = self.start_rate
        slope = (self.end_rate - a) / self.duration_s
        root = math.sqrt(max(0.0, a * a + 2.0 * slope * n))
        if a + root == 0.0:
            return 0.0
        return min(self.duration_s, 2.0 * n / (a + root))


@dataclass(frozen=True)
class Profile:
    """An open-model arrival schedule; `kind` and `description` say what it was made from."""

    kind: str
    segments: tuple[Segment, ...]
    description: str

    @property
    def duration_s(self) -> float:
        return sum(s.duration_s for s in self.segments)

    def rate_at(self, t: float) -> float:
        """The asked arrival rate (per second) at t seconds from the start."""
        start = 0.0
        for segment in self.segments:
            if t < start + segment.duration_s:
                return segment.start_rate + (segment.end_rate - segment.start_rate) * (t - start) / segment.duration_s
            start += segment.duration_s
        return 0.0

    def arrivals_until(self, t: float) -> float:
        """N(t): the rate's integral from 0 to t."""
        total = 0.0
        start = 0.0
        for segment in self.segments:
            if t <= start:
                break
            total += segment.arrivals_until(t - start)
            start += segment.duration_s
        return total

    @property
    def total_arrivals(self) -> int:
        """How many arrivals the whole profile schedules (those due before its end)."""
        return math.ceil(self.arrivals_until(self.duration_s) - 1e-9)

    def arrival_times(self) -> Iterator[float]:
        """Due times (seconds from the start) of arrivals 0, 1, 2, … in order."""
        start = 0.0
        before = 0.0  # arrivals of the earlier segments
        k = 0
        for segment in self.segments:
            inside = segment.arrivals
            while k - before < inside - 1e-9:
                yield start + segment.time_of(k - before)
                k += 1
            before += inside
            start += segment.duration_s

    def to_json(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "description": self.description,
            "duration_s": self.duration_s,
            "arrivals": self.total_arrivals,
            "segments": [[s.duration_s, s.start_rate, s.end_rate] for s in self.segments],
        }


def _check_rate(rate: float, what: str) -> float:
    if not (math.isfinite(rate) and 0 <= rate <= MAX_RATE):
        raise ProfileError(f"{what}: a rate must be between 0 and {MAX_RATE:,.0f}/s, got {rate:g}/s")
    return float(rate)


def _check_duration(seconds: float, what: str) -> float:
    if not (math.isfinite(seconds) and 0 < seconds <= MAX_DURATION_S):
        raise ProfileError(f"{what}: a duration must be more than 0 and at most 7 days, got {seconds:g} s")
    return float(seconds)


def _profile(kind: str, segments: list[Segment], description: str) -> Profile:
    profile = Profile(kind, tuple(s for s in segments if s.duration_s > 0), description)
    if profile.total_arrivals == 0:
        raise ProfileError(f"{description}: schedules no arrivals (every rate is 0)")
    return profile


def constant(rate: float, duration_s: float) -> Profile:
    rate, duration_s = _check_rate(rate, "rate"), _check_duration(duration_s, "duration")
    return _profile("constant", [Segment(duration_s, rate, rate)], f"constant {rate:g}/s for {duration_s:g} s")


def ramp(start_rate: float, end_rate: float, duration_s: float) -> Profile:
    start_rate, end_rate = _check_rate(start_rate, "ramp start"), _check_rate(end_rate, "ramp end")
    duration_s = _check_duration(duration_s, "duration")
    text = f"ramp {start_rate:g}/s → {end_rate:g}/s over {duration_s:g} s"
    return _profile("ramp", [Segment(duration_s, start_rate, end_rate)], text)


def steps(rates: list[float], step_s: float) -> Profile:
    if not rates:
        raise ProfileError("steps: give at least one rate")
    checked = [_check_rate(r, f"step {i + 1}") for i, r in enumerate(rates)]
    step_s = _check_duration(step_s, "step duration")
    if step_s * len(checked) > MAX_DURATION_S:
        raise ProfileError(f"steps: {len(checked)} steps of {step_s:g} s last more than 7 days")
    text = f"steps {', '.join(f'{r:g}/s' for r in checked)}, {step_s:g} s each"
    return _profile("steps", [Segment(step_s, r, r) for r in checked], text)


def spike(base_rate: float, spike_rate: float, at_s: float, spike_s: float, duration_s: float) -> Profile:
    """`base_rate` for `duration_s`, except `spike_rate` from `at_s` for `spike_s` (instant rise and fall)."""
    base_rate, spike_rate = _check_rate(base_rate, "rate"), _check_rate(spike_rate, "spike rate")
    duration_s, spike_s = _check_duration(duration_s, "duration"), _check_duration(spike_s, "spike duration")
    if not (math.isfinite(at_s) and at_s >= 0 and at_s + spike_s <= duration_s):
        raise ProfileError(
            f"spike: it must start at or after 0 s and end by the duration ({duration_s:g} s); "
            f"got spike at {at_s:g} s lasting {spike_s:g} s"
        )
    segments = [
        Segment(at_s, base_rate, base_rate),
        Segment(spike_s, spike_rate, spike_rate),
        Segment(duration_s - at_s - spike_s, base_rate, base_rate),
    ]
    text = f"spike {base_rate:g}/s with {spike_rate:g}/s from {at_s:g} s for {spike_s:g} s, {duration_s:g} s in all"
    return _profile("spike", segments, text)
