"""`cintel demo`: the main job end to end on an embedded mock that behaves like a busy Twilio.

The mock is started through its public entry point with a concurrency limit, lognormal latency, a transcription
delay, signed webhooks (some dropped, some duplicated, some late) and a few faults — 5xx answers and connections
reset *after* a transcript was created, the case exactly-once has to survive. A synthetic manifest is written,
the batch runs with progress, and the mock's own count of transcripts per CustomerKey is checked at the end.
Everything lives in a temporary directory that is removed at the end, unless `--out` asks to keep the results.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from pathlib import Path
from typing import Any

import httpx

from harness._client import IntelligenceClient
from harness._journal import Journal, fingerprint
from harness._progress import ProgressView
from harness._runner import RunnerOptions
from harness.cli._exit import EXIT_FAILED
from harness.cli._submit import final, run_batch

DEMO_CONFIG: dict[str, Any] = {
    "concurrency_limit": 8,
    "latency_ms": {"distribution": "lognormal", "median_ms": 40, "sigma": 0.4},
    "lifecycle": {"mode": "after_seconds", "seconds": 1.0, "failure_rate": 0.0},
    "faults": {"error_5xx": 0.01, "reset_after_commit": 0.01},
    "webhook_faults": {"drop": 0.1, "duplicate": 0.1, "delay_ms": 200},
    "media": {"fetch": False},  # the demo's manifest names recordings.example.com: nothing to fetch
}


def write_manifest(path: Path, items: int) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for i in range(items):
            row: dict[str, Any] = {
                "media_url": f"https://recordings.example.com/calls/{i:05d}.wav?X-Amz-Signature=demo{i}",
                "customer_key": f"demo-call-{i:05d}",
                "queue": ("billing", "support", "sales")[i % 3],
            }
            if i % 4 == 0:
                row["participants"] = [
                    {"channel_participant": 1, "role": "Customer"},
                    {"channel_participant": 2, "role": "Agent"},
                ]
            handle.write(json.dumps(row) + "\n")


def demo_command(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="cintel-demo-") as work:
        return asyncio.run(run_demo(args.items, args.out, Path(work), ProgressView("text")))


async def run_demo(items: int, out: Path | None, work: Path, view: ProgressView) -> int:
    from mock_server import MockConfig, serve

    out = out or work / "results"
    manifest = work / "calls.jsonl"
    write_manifest(manifest, items)
    async with serve(MockConfig.from_json(DEMO_CONFIG), port=0, seed=2026) as mock:
        print(f"embedded mock: {mock.base_url} (limit 8 concurrent, 429s, webhooks with faults)")
        print(f"manifest: {manifest} ({items} recordings)")
        client = IntelligenceClient(mock.account_sid, mock.auth_token, base_url=mock.base_url)
        journal = Journal(work / "calls.journal.sqlite", batch={"manifest": fingerprint(manifest)})
        async with client:
            service = await client.create_service("demo-calls")
            options = RunnerOptions(service_sid=service.sid, out_dir=out, poll_initial_s=1.0, poll_max_s=5.0)
            try:
                summary, receiver = await run_batch(
                    client, journal, manifest, options, view, webhook_token=mock.auth_token, repoint_service=True
                )
            finally:
                journal.close()
        async with httpx.AsyncClient(base_url=mock.base_url) as control:
            stats = (await control.get(f"/__mock__/accounts/{mock.account_sid}/stats")).json()
    code = final(summary, out if out.parent != work else None, view)
    per_key = stats["transcripts_by_customer_key"]
    duplicates = {k: n for k, n in per_key.items() if n != 1}
    print(
        f"mock: {stats['transcripts_created']} transcripts for {len(per_key)} customer keys, "
        f"{stats['rejected_429']} requests answered 429, {stats['connections_dropped']} connections dropped, "
        f"{stats['webhooks_sent']} webhooks sent ({stats['webhooks_dropped']} dropped)"
    )
    if receiver is not None:
        print(f"receiver: {receiver.accepted} callbacks accepted, {receiver.rejected} rejected")
    if duplicates or len(per_key) != items:
        print(f"NOT exactly once: {duplicates or 'missing items'}")
        return EXIT_FAILED
    print("exactly once: every recording has one transcript")
    return code
