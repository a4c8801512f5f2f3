"""Shared pieces of the benchmarks: servers in their own process, and a closed-loop load generator.

The server under test runs in a separate process so that the load generator (this process) and the server do not
share one event loop or one core's GIL; both sides of every comparison are served and driven the same way.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import signal
import statistics
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from aiohttp import web

AppFactory = Callable[..., web.Application]


def _serve(factory: AppFactory, kwargs: dict[str, Any], port_out: Any) -> None:
    async def run() -> None:
        app = factory(**kwargs)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        stop = asyncio.Event()
        # `served` ends this process with SIGTERM: stop the app and return, so its cleanup and atexit hooks run (the
        # mock shuts its media worker pool down; killed outright it left semaphores behind for the resource tracker)
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        port_out.send(server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        await stop.wait()
        await runner.cleanup()

    asyncio.run(run())


@contextmanager
def served(factory: AppFactory, **kwargs: Any) -> Iterator[str]:
    """Serve `factory(**kwargs)` on 127.0.0.1 in a child process; yield its base URL; stop it afterwards."""
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    # Not a daemon: the mock hears media in worker processes of its own, which a daemonic process may not start.
    proc = ctx.Process(target=_serve, args=(factory, kwargs, child), daemon=False)
    proc.start()
    try:
        if not parent.poll(30):
            raise RuntimeError("benchmark server did not start within 30 s")
        yield f"http://127.0.0.1:{parent.recv()}"
    finally:
        proc.terminate()
        proc.join(10)
        if proc.is_alive():  # cleanup hung: do not leave a server behind
            proc.kill()
            proc.join(5)


@dataclass(frozen=True)
class Throughput:
    requests: int
    seconds: float
    errors: int

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


async def closed_loop(
    total: int, concurrency: int, one: Callable[[int], Awaitable[bool]], time_limit_s: float = 120.0
) -> Throughput:
    """Run `one(i)` for i in range(total) from `concurrency` workers; stops at `time_limit_s` whatever happens."""
    next_index = 0
    errors = 0
    done = 0
    deadline = time.perf_counter() + time_limit_s

    async def worker() -> None:
        nonlocal next_index, errors, done
        while next_index < total and time.perf_counter() < deadline:
            i = next_index
            next_index += 1
            ok = await one(i)
            done += 1
            errors += not ok

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Throughput(done, time.perf_counter() - start, errors)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def best_of(rounds: int, *jobs: Callable[[], object]) -> list[float]:
    """Best time of each job over `rounds`, the jobs alternating within a round (same conditions for each)."""
    best = [float("inf")] * len(jobs)
    for _ in range(rounds):
        for i, job in enumerate(jobs):
            start = time.perf_counter()
            job()
            best[i] = min(best[i], time.perf_counter() - start)
    return best
