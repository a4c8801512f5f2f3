"""wrk as the load generator of the server benchmarks: pinned to its own core, and the server pinned to another.

A Python client on the same machine saturates before an aiohttp server does (its own event loop parses every
response), so a server-vs-server ratio measured with it says more about the client than about the servers. wrk
(Debian's `wrk`, C and LuaJIT) does far more requests per core than either server, so with the server on one core
and wrk on the other the server's core is the limit — `WrkRun.generator_cpu` below 1.0 and `server_cpu` near 1.0
are the evidence that it is.

Requests are pre-built in the Lua script's `init()` (as wrk's SCRIPTING advises for fast servers) and cycled; a
`done()` hook prints the summary as one JSON line, so nothing depends on wrk's human-readable output.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing as mp
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from benchmarks._load import AppFactory

SUMMARY_MARK = "WRK-SUMMARY "
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def wrk_path() -> str | None:
    return shutil.which("wrk")


def cores() -> list[int]:
    """The CPUs this process may run on, in order (the server gets the first, wrk the last)."""
    return sorted(os.sched_getaffinity(0))


# --- the server, pinned ------------------------------------------------------------------------------------------


def _serve(factory: AppFactory, kwargs: dict[str, Any], cpu: int | None, port_out: Any) -> None:
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})

    async def run() -> None:
        runner = web.AppRunner(factory(**kwargs), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        sockets: Sequence[Any] = getattr(site._server, "sockets", None) or ()  # asyncio.Server's attribute
        port_out.send(sockets[0].getsockname()[1])
        await asyncio.Event().wait()

    asyncio.run(run())


@dataclass(frozen=True)
class Server:
    base_url: str
    pid: int

    @property
    def port(self) -> int:
        return int(self.base_url.rsplit(":", 1)[1])

    def cpu_seconds(self) -> float:
        """User + system CPU time the server process has used so far (from /proc)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS  # utime, stime (fields 14 and 15 of stat)


@contextmanager
def pinned_server(factory: AppFactory, cpu: int | None, **kwargs: Any) -> Iterator[Server]:
    """Serve `factory(**kwargs)` on 127.0.0.1 in a child process pinned to `cpu`; stop it afterwards."""
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_serve, args=(factory, kwargs, cpu, child), daemon=False)
    proc.start()
    try:
        if not parent.poll(30):
            raise RuntimeError("benchmark server did not start within 30 s")
        assert proc.pid is not None
        yield Server(f"http://127.0.0.1:{parent.recv()}", proc.pid)
    finally:
        proc.terminate()
        proc.join(10)


# --- Lua scripts -------------------------------------------------------------------------------------------------


def _lua_string(text: str) -> str:
    """A Lua string literal for ASCII text (form bodies, SIDs, base64) — anything else is refused, not escaped."""
    if not text.isascii() or any(c in text for c in '"\\\n\r'):
        raise ValueError(f"not a plain ASCII Lua string: {text!r}")
    return f'"{text}"'


_DONE = """
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '%s{"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,'
    .. '"p50_us":%d,"p99_us":%d}\\n',
    "%MARK%", summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
""".replace("%MARK%", SUMMARY_MARK)


def post_form_script(path: str, headers: dict[str, str], bodies: Sequence[str]) -> str:
    """POST `path` with each form body in turn (cycled), `headers` on every request."""
    return _cycled([("POST", path, body) for body in bodies], {**headers, "Content-Type": _FORM})


def get_script(paths: Sequence[str], headers: dict[str, str]) -> str:
    """GET each of `paths` in turn (cycled)."""
    return _cycled([("GET", path, None) for path in paths], headers)


_FORM = "application/x-www-form-urlencoded"


def _cycled(requests: Sequence[tuple[str, str, str | None]], headers: dict[str, str]) -> str:
    header_table = ", ".join(f"[{_lua_string(k)}] = {_lua_string(v)}" for k, v in headers.items())
    rows = ",\n  ".join(
        "{" + ", ".join([_lua_string(m), _lua_string(p), "nil" if b is None else _lua_string(b)]) + "}"
        for m, p, b in requests
    )
    return f"""
local specs = {{
  {rows}
}}
local headers = {{ {header_table} }}
local built = {{}}
local n = 0
local i = 0
local threads = 0

function setup(thread)
  thread:set("offset", threads * 7919)  -- threads start apart in the cycle, not asking for the same thing in step
  threads = threads + 1
end

function init(args)
  for k, spec in ipairs(specs) do
    built[k] = wrk.format(spec[1], spec[2], headers, spec[3])
  end
  n = #built
  i = (offset or 0) % n
end

function request()
  i = i + 1
  if i > n then i = 1 end
  return built[i]
end
{_DONE}"""


# --- running wrk -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WrkRun:
    requests: int
    seconds: float
    errors: int  # connect/read/write/timeout errors plus HTTP statuses > 399
    p50_ms: float
    p99_ms: float
    generator_cpu: float  # wrk's CPU time / wall time (1.0 = one core busy)
    server_cpu: float  # the server's CPU time / wall time
    server_cpu_seconds: float

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def per_cpu_second(self) -> float:
        """Requests per second of the server's own CPU time: its rate with a whole core, whoever else runs.

        On a shared machine other processes take turns on the server's core, which lowers `per_second` run by
        run; the work per request does not change, so this figure is the steadier one to compare.
        """
        return self.requests / self.server_cpu_seconds if self.server_cpu_seconds else 0.0


def run_wrk(
    server: Server,
    script: str,
    *,
    seconds: float,
    connections: int,
    threads: int = 1,
    cpu: int | None = None,
) -> WrkRun:
    """Run wrk against `server` with `script` for `seconds`, pinned to `cpu`; its summary and both CPU shares."""
    binary = wrk_path()
    if binary is None:
        raise RuntimeError("wrk is not installed (Debian: apt-get install wrk)")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", prefix="bench-wrk-", delete=False) as handle:
        handle.write(script)
    try:
        command = [
            binary, f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "10s",
            "-s", handle.name, server.base_url,
        ]  # fmt: skip
        taskset = shutil.which("taskset")
        if cpu is not None and taskset is not None:
            command = [taskset, "-c", str(cpu), *command]  # taskset execs wrk: the same pid, pinned from the start
        with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
            server_before = server.cpu_seconds()
            start = time.perf_counter()
            proc = subprocess.Popen(command, stdout=stdout, stderr=stderr)
            # wait4, not wait: its resource usage is wrk's own CPU time, the proof that wrk is not the limit.
            _, status, usage = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - start
            server_used = server.cpu_seconds() - server_before
            proc.returncode = os.waitstatus_to_exitcode(status)
            stdout.seek(0)
            stderr.seek(0)
            out, err = stdout.read().decode(), stderr.read().decode()
    finally:
        os.unlink(handle.name)
    if proc.returncode != 0:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {err.strip() or out.strip()}")
    summary = _summary(out)
    errors = sum(int(summary[k]) for k in ("connect", "read", "write", "status", "timeout"))
    return WrkRun(
        requests=int(summary["requests"]),
        seconds=summary["duration_us"] / 1e6,
        errors=errors,
        p50_ms=summary["p50_us"] / 1000,
        p99_ms=summary["p99_us"] / 1000,
        generator_cpu=(usage.ru_utime + usage.ru_stime) / wall,
        server_cpu=server_used / wall,
        server_cpu_seconds=server_used,
    )


def _summary(out: str) -> dict[str, Any]:
    for line in out.splitlines():
        if line.startswith(SUMMARY_MARK):
            result: dict[str, Any] = json.loads(line[len(SUMMARY_MARK) :])
            return result
    raise RuntimeError(f"wrk printed no summary line:\n{out}")
