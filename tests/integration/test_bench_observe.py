"""The latency benchmark's instruments: how CPUs are split between the mock and the harness, the event-loop stall
tracer (a blocked loop is reported with what its thread did meanwhile), and the hypervisor's steal counter."""

from __future__ import annotations

import asyncio
import os
import sys
import time

import pytest
from aiohttp import web

from benchmarks import _observe

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads Linux's /proc")


@pytest.mark.parametrize(
    ("available", "pin", "expected"),
    [
        ({0, 1}, True, (frozenset({0}), frozenset({1}))),
        ({3, 1, 2}, True, (frozenset({1}), frozenset({2, 3}))),  # the lowest CPU for the mock, the rest for the rest
        ({0}, True, (None, None)),  # one CPU: nothing to split
        ({0, 1}, False, (None, None)),  # --no-pin
    ],
)
def test_the_mock_gets_one_cpu_and_the_harness_the_others(
    monkeypatch: pytest.MonkeyPatch, available: set[int], pin: bool, expected: tuple[object, object]
) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(available))
    assert _observe.split_cpus(pin) == expected


@linux_only
async def test_a_blocked_event_loop_is_reported_with_its_own_running_time(capsys: pytest.CaptureFixture[str]) -> None:
    tracer = _observe.trace_stalls(web.Application())
    await tracer.__anext__()
    await asyncio.sleep(0.02)  # the watcher is between two ticks
    end = time.thread_time() + 0.06
    while time.thread_time() < end:  # 60 ms of CPU on the loop's own thread: a handler that does not yield
        pass
    await asyncio.sleep(0.02)
    with pytest.raises(StopAsyncIteration):
        await tracer.__anext__()
    stalls = [line for line in capsys.readouterr().err.splitlines() if "loop stalled" in line]
    assert stalls, "a 60 ms block went unreported"
    ran_ms = int(stalls[0].split(": ran ")[1].split(" ms")[0])
    assert ran_ms >= 40  # the loop's thread was the one running, not waiting for a CPU or asleep


@linux_only
def test_stolen_time_is_a_counter() -> None:
    first = _observe.stolen_s()
    assert first >= 0.0
    assert _observe.stolen_s() >= first
