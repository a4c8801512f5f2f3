"""The load generator's speed: one `cintel load` process against a bare aiohttp server, next to wrk against the same
server in the same run.

Goal (issue 11): one process sustains ≥ 3,000 creates/s open-model with ≤ 1 % dropped arrivals. The server runs in
its own process pinned to the first CPU; wrk and then `cintel load` (a real `cintel load` process, started with
`taskset`) are pinned to the last, so each generator has one core to itself and the server another. The ratio is
the generator's achieved rate over wrk's (wrk measures what the server can take: an upper bound).

Also measured, to explain the generator's design: the most a closed loop of 64 gets through (a) the generator's
lean aiohttp sends and (b) `IntelligenceClient.create_transcript` (limiter, retries, models) on the same core, and
the cost of one histogram record.

    python -m benchmarks.bench_load [--quick] [--rates 3000,4000] [--seconds 20]
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from aiohttp import web

from benchmarks._load import served

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "bench-token"
SERVICE_SID = "GA" + "0" * 32
CINTEL = [sys.executable, "-c", "import sys; from harness.cli import main; sys.exit(main())"]
# What the mock answers a create with, near enough in size and shape (the generator parses it: SID and status).
CREATE_ANSWER = json.dumps({
    "sid": "GT" + "1" * 32, "account_sid": ACCOUNT_SID, "service_sid": SERVICE_SID, "status": "queued",
    "channel": {"media_properties": {"media_url": "https://media.example.com/load/1.wav"}}, "customer_key": "k",
    "date_created": "2026-01-01T00:00:00Z", "date_updated": "2026-01-01T00:00:00Z", "data_logging": False,
    "duration": None, "language_code": "en-US", "media_start_time": None, "redaction": True,
    "url": "https://intelligence.twilio.com/v2/Transcripts/GT" + "1" * 32, "links": {"sentences": "x" * 200},
}).encode()  # fmt: skip


def bare_app() -> web.Application:
    async def create(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(status=202, body=CREATE_ANSWER, content_type="application/json")

    async def service(request: web.Request) -> web.Response:  # `cintel load` checks its service before it starts
        return web.json_response({"sid": SERVICE_SID, "webhook_url": None})

    app = web.Application()
    app.router.add_post("/v2/Transcripts", create)
    app.router.add_get("/v2/Services/{sid}", service)
    return app


def pinned_bare_app(cpu: int | None) -> web.Application:
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    return bare_app()


def _option(argv: list[str], name: str, default: str) -> str:
    return argv[argv.index(name) + 1] if name in argv else default


def _pin(cpu: int | None) -> list[str]:
    return ["taskset", "-c", str(cpu)] if cpu is not None and shutil.which("taskset") else []


def run_wrk(url: str, seconds: float, cpu: int | None, connections: int = 64) -> float | None:
    wrk = shutil.which("wrk")
    if wrk is None:
        return None
    form = "ServiceSid=" + SERVICE_SID + "&Channel=%7B%22media_properties%22%3A%7B%22media_url%22%3A%22https%3A%2F%2F"
    form += "media.example.com%2Fload%2F1.wav%22%7D%7D&CustomerKey=load-bench-1"
    script = (
        'wrk.method = "POST"\n'
        f'wrk.body = "{form}"\n'
        'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n'
        'wrk.headers["Authorization"] = "Basic QUMwOmJlbmNo"\n'
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    try:
        command = [*_pin(cpu), wrk, "-t1", f"-c{connections}", f"-d{seconds:g}s", "-s", handle.name, url]
        out = subprocess.run(command, capture_output=True, text=True, check=True, timeout=seconds + 30).stdout
    finally:
        os.unlink(handle.name)
    match = re.search(r"Requests/sec:\s*([0-9.]+)", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        print(f"wrk: {errors.group(1)} non-2xx answers", file=sys.stderr)
    return float(match.group(1)) if match else None


def run_cintel_load(base_url: str, cpu: int | None, *flags: str) -> dict[str, object]:
    """One real `cintel load` process (pinned), its report.json's summary."""
    env = {**os.environ, "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
           "CINTEL_SERVICE_SID": SERVICE_SID}  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="bench-load-") as out:
        command = [*_pin(cpu), *CINTEL, "load", "--base-url", base_url, "--no-webhooks", "--out", out, *flags]
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"cintel load exited {done.returncode}: {done.stderr[-2000:]}")
        summary: dict[str, object] = json.loads((Path(out) / "report.json").read_text(encoding="utf-8"))["summary"]
        return summary


async def _client_closed_loop(base_url: str, seconds: float, concurrency: int) -> tuple[float, float]:
    from harness import AdaptiveLimiter, IntelligenceClient, LimiterParams

    limiter = AdaptiveLimiter(LimiterParams(initial=concurrency, ceiling=concurrency))
    done = 0
    async with IntelligenceClient(ACCOUNT_SID, AUTH_TOKEN, base_url=base_url, limiter=limiter) as client:
        channel = {"media_properties": {"media_url": "https://media.example.com/load/1.wav"}}
        end = time.perf_counter() + seconds

        async def worker(w: int) -> None:
            nonlocal done
            i = 0
            while time.perf_counter() < end:
                await client.create_transcript(SERVICE_SID, channel, customer_key=f"bench-{w}-{i}")
                i += 1
                done += 1

        start, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(worker(w) for w in range(concurrency)))
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        return done / elapsed, cpu / max(done, 1) * 1e6


def client_closed_loop(base_url: str, seconds: float, cpu: int | None, concurrency: int = 64) -> tuple[float, float]:
    """(requests per second, CPU µs per request) of `IntelligenceClient.create_transcript` from 64 tasks."""
    if cpu is not None:
        before = os.sched_getaffinity(0)
        os.sched_setaffinity(0, {cpu})
    try:
        return asyncio.run(_client_closed_loop(base_url, seconds, concurrency))
    finally:
        if cpu is not None:
            os.sched_setaffinity(0, before)


def histogram_record_us(n: int = 1_000_000) -> float:
    from harness.load import Histogram

    h = Histogram()
    values = [(i % 5000) / 1e5 for i in range(n)]
    start = time.perf_counter()
    for v in values:
        h.record(v)
    return (time.perf_counter() - start) / n * 1e6


def _cpu(summary: dict[str, object]) -> str:
    cpu: dict[str, float | None] = summary["generator_cpu"]  # type: ignore[assignment]
    return f"{cpu['us_per_request']} ({cpu['core_share']:.0%})" if cpu["core_share"] is not None else "—"


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    seconds = float(_option(argv, "--seconds", "5" if quick else "20"))
    rates = [int(r) for r in _option(argv, "--rates", "3000").split(",")]
    cpus = sorted(os.sched_getaffinity(0))
    server_cpu, generator_cpu = (cpus[0], cpus[-1]) if len(cpus) > 1 else (None, None)
    wrk_seconds = min(seconds, 10.0)
    with served(pinned_bare_app, cpu=server_cpu) as url:
        run_wrk(url + "/v2/Transcripts", 1, generator_cpu)  # warm the server up
        wrk_rate = run_wrk(url + "/v2/Transcripts", wrk_seconds, generator_cpu)
        loads = [(rate, run_cintel_load(url, generator_cpu, "--rate", f"{rate}/s", "--duration", f"{seconds:g}s"))
                 for rate in rates]  # fmt: skip
        closed = run_cintel_load(url, generator_cpu, "--concurrency", "64", "--duration", f"{min(seconds, 10):g}s")
        client, client_cpu = client_closed_loop(url, min(seconds, 10.0), generator_cpu)
    pinning = f"server on CPU {server_cpu}, generators on CPU {generator_cpu}" if server_cpu is not None else "unpinned"
    wrk_text = f"{wrk_rate:,.0f}" if wrk_rate else "wrk not installed"
    print(f"bare aiohttp create handler (202, {len(CREATE_ANSWER)} B answer); {pinning}; loopback.")
    print(f"wrk -t1 -c64 for {wrk_seconds:g} s: {wrk_text} req/s (what the server takes; the upper bound).\n")
    print("| generator | asked | achieved req/s | dropped | p50 ms | p99 ms | lateness p99 ms | CPU µs/request "
          "(core share) | vs wrk | goal |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|")
    failed = False
    for rate, s in loads:
        achieved, dropped = float(s["achieved_rate"]), float(s["dropped_rate"] or 0)  # type: ignore[arg-type]
        latency, lag = s["latency_ms"], s["schedule_lag_ms"]
        ratio = f"{achieved / wrk_rate:.2f}×" if wrk_rate else "—"
        ok = dropped <= 0.01 and achieved >= 0.99 * rate
        failed |= rate <= 3000 and not ok
        print(f"| cintel load, open model, {seconds:g} s | {rate:,}/s | {achieved:,.0f} | {dropped:.2%} | "
              f"{latency['p50']} | {latency['p99']} | {lag['p99']} | {_cpu(s)} | {ratio} | "  # type: ignore[index]
              f"{'≥ 3,000/s, ≤ 1 % dropped: ' + ('met' if ok else 'NOT met') if rate == 3000 else '—'} |")  # fmt: skip
    closed_rate = float(closed["achieved_rate"])  # type: ignore[arg-type]
    print(f"| cintel load, closed model, 64 concurrent | — | {closed_rate:,.0f} | — | "
          f"{closed['latency_ms']['p50']} | {closed['latency_ms']['p99']} | — | {_cpu(closed)} | "  # type: ignore[index]
          f"{closed_rate / wrk_rate if wrk_rate else 0:.2f}× | ceiling of the lean path |")  # fmt: skip
    print(f"| IntelligenceClient.create_transcript, 64 concurrent | — | {client:,.0f} | — | — | — | — | "
          f"{client_cpu:.1f} | "
          f"{client / wrk_rate if wrk_rate else 0:.2f}× | why the generator does not use it |")  # fmt: skip
    print(f"\nhistogram record: {histogram_record_us(200_000 if quick else 1_000_000):.3f} µs per value")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
