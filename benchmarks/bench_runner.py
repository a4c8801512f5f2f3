"""Batch runner: memory and per-item time at scale, and submission goodput against the client core alone.

1. Scale: a manifest of N items run end to end (submit, poll, fetch sentences and operator results, write results)
   against the mock (limits off, transcripts complete at once), N = 10,000 and 100,000, each batch in a fresh
   process so its peak RSS is its own; the mock runs in a third process. Goals (issue 4): peak RSS ≤ 250 MB at
   100,000; time per item at 100,000 within 1.15× of the time per item at 10,000.
2. Goodput: creates per second through the runner (`--no-wait`, journal and all) versus the same client creating
   the same number of transcripts from 256 tasks, against a mock limited to 16 concurrent requests held 20 ms each.
   Goal: within 5 %.

    python -m benchmarks.bench_runner [--quick]
"""

from __future__ import annotations

import asyncio
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from aiohttp import web

from benchmarks._load import served
from harness import IntelligenceClient
from harness._journal import Journal, fingerprint
from harness._runner import BatchRunner, RunnerOptions


def mock_app() -> web.Application:
    from mock_server import MockConfig, create_app

    return create_app(MockConfig.from_json({"lifecycle": {"mode": "immediate"}, "media": {"fetch": False}}), seed=9)


async def _account(base: str, config: dict[str, object]) -> tuple[str, str, str]:
    async with httpx.AsyncClient(base_url=base, timeout=30) as control:
        account = (await control.post("/__mock__/accounts", json=config)).json()
        sid, token = account["account_sid"], account["auth_token"]
        service = await control.post("/v2/Services", data={"UniqueName": "bench"}, auth=(sid, token))
    return sid, token, service.json()["sid"]


def _manifest(path: Path, n: int) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for i in range(n):
            handle.write(json.dumps({"media_url": f"https://b.example/{i}.wav?sig={i}", "customer_key": f"k{i}"}))
            handle.write("\n")


async def _batch(base: str, sid: str, token: str, service: str, n: int, wait: bool) -> float:
    work = Path(tempfile.mkdtemp(prefix="bench-runner-"))
    try:
        manifest = work / "m.jsonl"
        _manifest(manifest, n)
        journal = Journal(work / "j.sqlite", batch={"manifest": fingerprint(manifest)})
        options = RunnerOptions(service_sid=service, out_dir=work / "out", wait=wait, poll_initial_s=0.2)
        async with IntelligenceClient(sid, token, base_url=base) as client:
            start = time.perf_counter()
            summary = await BatchRunner(client, journal, manifest, options).run()
            elapsed = time.perf_counter() - start
        journal.close()
        done = summary.counts["completed"] if wait else summary.counts["submitted"]
        if done != n:
            raise RuntimeError(f"batch of {n} ended with {summary.counts}")
        return elapsed
    finally:
        shutil.rmtree(work, ignore_errors=True)


def child(argv: list[str]) -> int:
    """One batch in this (fresh) process; prints seconds and peak RSS as JSON."""
    base, sid, token, service, n = argv[0], argv[1], argv[2], argv[3], int(argv[4])
    elapsed = asyncio.run(_batch(base, sid, token, service, n, wait=True))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: kilobytes
    print(json.dumps({"items": n, "seconds": elapsed, "peak_rss": peak}))
    return 0


async def _client_alone(base: str, sid: str, token: str, service: str, n: int) -> float:
    channel = {"media_properties": {"media_url": "https://b.example/x.wav"}}
    async with IntelligenceClient(sid, token, base_url=base) as client:
        next_i = 0

        async def worker() -> None:
            nonlocal next_i
            while next_i < n:
                i, next_i = next_i, next_i + 1
                await client.create_transcript(service, channel, customer_key=f"alone-{i}")

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(256)))
        return n / (time.perf_counter() - start)


def main(argv: list[str]) -> int:
    if argv[:1] == ["--child"]:
        return child(argv[1:])
    quick = "--quick" in argv
    small, large = (2_000, 20_000) if quick else (10_000, 100_000)
    goodput_n = 1_500 if quick else 4_000
    rows = []
    with served(mock_app) as base:
        for n in (small, large):
            sid, token, service = asyncio.run(_account(base, {"lifecycle": {"mode": "immediate"}}))
            out = subprocess.run(
                [sys.executable, "-m", "benchmarks.bench_runner", "--child", base, sid, token, service, str(n)],
                check=True, capture_output=True, text=True, timeout=1800,
            ).stdout  # fmt: skip
            rows.append(json.loads(out.strip().splitlines()[-1]))
        limited = {"concurrency_limit": 16, "latency_ms": 20, "lifecycle": {"mode": "immediate"}}
        sid, token, service = asyncio.run(_account(base, limited))
        alone = asyncio.run(_client_alone(base, sid, token, service, goodput_n))
        sid, token, service = asyncio.run(_account(base, limited))
        through_runner = goodput_n / asyncio.run(_batch(base, sid, token, service, goodput_n, wait=False))
    per_item = [r["seconds"] / r["items"] * 1e6 for r in rows]
    print("| items | seconds | µs per item | peak RSS (runner process) |")
    print("|---|---|---|---|")
    for r, us in zip(rows, per_item, strict=True):
        print(f"| {r['items']:,} | {r['seconds']:.1f} | {us:,.0f} | {r['peak_rss'] / 2**20:,.0f} MiB |")
    print(f"\nper-item time, {large:,} vs {small:,}: {per_item[1] / per_item[0]:.2f}× (goal ≤ 1.15×); "
          f"peak RSS at {large:,}: {rows[1]['peak_rss'] / 2**20:,.0f} MiB (goal ≤ 250 MB at 100,000)")  # fmt: skip
    print(f"\nsubmission goodput against 16 slots × 20 ms ({goodput_n:,} creates): client alone {alone:,.0f}/s, "
          f"runner {through_runner:,.0f}/s = {through_runner / alone:.2f}× (goal ≥ 0.95×)")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
