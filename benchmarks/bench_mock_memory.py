"""Mock memory: resident memory for N stored transcripts (goal, issue 2: 1,000,000 in ≤ 2 GB).

The transcripts are created through the mock's domain model directly (no HTTP), because the question is how much
memory the stored state takes, not how fast HTTP is; a million HTTP requests would only make the run long. The
baseline is the same process's RSS just before the first create, so the figure is what the transcripts add.

    python -m benchmarks.bench_mock_memory [--quick]
"""

from __future__ import annotations

import gc
import json
import random
import sys
import time
from pathlib import Path

# The domain model is private to mock_server; a benchmark may look inside, the package's users may not.
from mock_server._clock import ManualClock
from mock_server._config import MediaConfig
from mock_server._model import Params, Registry


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("VmRSS not found in /proc/self/status")


def main(argv: list[str]) -> int:
    total = 100_000 if "--quick" in argv else 1_000_000
    registry = Registry(random.Random(7), ManualClock())
    account = registry.create_account(media=MediaConfig(fetch=False))  # what is measured is the stored records
    service_sid = account.create_service(Params.from_pairs([("UniqueName", "memory")])).body["sid"]  # type: ignore[index]
    participants = [{"channel_participant": 1, "role": "Agent"}, {"channel_participant": 2, "role": "Customer"}]
    gc.collect()
    before = rss_bytes()
    start = time.perf_counter()
    for i in range(total):
        channel = {"media_properties": {"media_url": f"https://bucket.example.com/calls/{i:08d}.wav"}}
        if i % 2:
            channel["participants"] = participants  # type: ignore[assignment]
        params = Params.from_pairs(
            [("ServiceSid", service_sid), ("Channel", json.dumps(channel)), ("CustomerKey", f"customer-{i:08d}")]
        )
        account.create_transcript(params)
    elapsed = time.perf_counter() - start
    gc.collect()
    added = rss_bytes() - before
    per = added / total
    print(f"{total:,} transcripts created through the domain model in {elapsed:.1f} s ({total / elapsed:,.0f}/s).\n")
    print("| transcripts | RSS added | bytes per transcript | projected for 1,000,000 | goal |")
    print("|---|---|---|---|---|")
    print(f"| {total:,} | {added / 2**20:,.0f} MiB | {per:,.0f} | {per * 1e6 / 2**30:.2f} GiB | ≤ 2 GB |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
