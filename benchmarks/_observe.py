"""Where the time goes in a latency benchmark: CPU pinning, the mock's GC pauses and event-loop stalls (with how
long its thread ran and waited for a CPU, from Linux's schedstat), the CPU the hypervisor stole from this VM, and
py-spy. Used by `bench_media_latency`; each helper is a no-op or returns zeros where Linux's /proc is missing."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from aiohttp import web


def trace_gc() -> None:
    """Print each garbage collection over 5 ms (a pause of the event loop) on stderr, with its monotonic time."""
    import gc

    started: list[float] = []

    def watch(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started[:] = [time.monotonic()]
        elif started and (took := time.monotonic() - started[0]) > 0.005:
            print(f"mock: gc gen{info['generation']} {took * 1000:.0f} ms at {time.monotonic():.2f}", file=sys.stderr)

    gc.callbacks.append(watch)


Cpus = frozenset[int] | None  # a process's CPUs (`--pin`), None: wherever the kernel puts it


def pin(cpus: Cpus) -> None:
    if cpus:
        os.sched_setaffinity(0, cpus)


def split_cpus(pin: bool) -> tuple[Cpus, Cpus]:
    """`--pin`: the mock (and the media workers it starts) on the first CPU; the media host, the load generator and
    this driver on the others — S3 and the callers are other machines, and a generator that waits for a CPU the mock
    holds reports the wait as the mock's latency. Without it (or with one CPU) everything shares every CPU."""
    cpus = sorted(os.sched_getaffinity(0))
    if not pin or len(cpus) < 2:
        return None, None
    return frozenset(cpus[:1]), frozenset(cpus[1:])


def cpu_list(cpus: Cpus) -> str:
    return ",".join(map(str, sorted(cpus or ())))


def schedstat() -> tuple[int, int]:
    """This thread's nanoseconds on a CPU and waiting for one (Linux schedstat; zeros elsewhere)."""
    try:
        with open(f"/proc/self/task/{threading.get_native_id()}/schedstat") as f:
            ran, waited, _ = f.read().split()
        return int(ran), int(waited)
    except (OSError, ValueError):
        return 0, 0


async def trace_stalls(app: web.Application) -> AsyncIterator[None]:
    """Print each event-loop stall over 15 ms on stderr, with how long the loop's thread ran meanwhile (work in the
    loop: handlers, GC) and waited for a CPU (other processes ran). Neither: it slept — on the GIL another thread of
    the mock held, or the whole VM was paused (steal)."""

    async def watch() -> None:
        tick = 0.005
        while True:
            ran, waited = schedstat()
            due = time.monotonic() + tick
            await asyncio.sleep(tick)
            late = time.monotonic() - due
            if late > 0.015:
                ran2, waited2 = schedstat()
                print(
                    f"mock: loop stalled {late * 1000:.0f} ms at {time.monotonic():.2f}: ran "
                    f"{(ran2 - ran) / 1e6:.0f} ms, waited for a CPU {(waited2 - waited) / 1e6:.0f} ms",
                    file=sys.stderr,
                )

    task = asyncio.get_running_loop().create_task(watch())
    yield
    task.cancel()


async def profiler(pid: int, where: Path) -> asyncio.subprocess.Process:
    """py-spy recording the mock (every thread, idle ones too) until stopped with SIGINT; collapsed stacks."""
    where.parent.mkdir(parents=True, exist_ok=True)
    spy = os.environ.get("PY_SPY", "py-spy")
    args = ["record", "--pid", str(pid), "--rate", "200", "--threads", "--idle", "--format", "raw", "-o", str(where)]
    return await asyncio.create_subprocess_exec(spy, *args, stdout=asyncio.subprocess.DEVNULL)


def stolen_s() -> float:
    """CPU seconds the hypervisor took from this VM so far, over all CPUs (/proc/stat's steal; 0 elsewhere). A
    paused virtual CPU stalls every process on it — the mock's loop included — without any of them running or
    waiting for a CPU, so each phase reports it beside its latencies."""
    try:
        with open("/proc/stat") as f:
            return int(f.readline().split()[8]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0
