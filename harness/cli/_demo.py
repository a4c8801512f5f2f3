"""`cintel demo`: the main job end to end on an embedded mock that behaves like a busy Twilio and listens to real audio.

The mock is started through its public entry point with a concurrency limit, lognormal latency, a transcription
delay, signed webhooks (some dropped, some duplicated, some late) and a few faults — 5xx answers and connections
reset *after* a transcript was created, the case exactly-once has to survive. It fetches and analyses media as
Twilio does: a handful of stereo call recordings of real (generated) speech (`mock_server.demo_call`) are put on the
mock's media host, each with a script saying what is spoken (a caller giving a phone number and an e-mail address,
which the service's PII redaction then hides), and the manifest's rows point at their signed URLs in turn. The batch
runs with progress; the mock's own count of transcripts per CustomerKey is checked at the end, and its count of media
fetched and analysed shown. Everything lives in a temporary directory that is removed at the end, unless `--out`
asks to keep the results. `--record FILE` keeps the API's exchanges (not the mock's control plane: hosting the calls,
their scripts, its stats) as a cassette — a first one to try `cintel conformance` with.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from harness._client import IntelligenceClient
from harness._journal import Journal, fingerprint
from harness._progress import ProgressView
from harness._runner import RunnerOptions
from harness._transport import AiohttpTransport
from harness.cli._exit import EXIT_FAILED
from harness.cli._recording import Tap, tap_of
from harness.cli._submit import final, run_batch

DEMO_CONFIG: dict[str, Any] = {
    "concurrency_limit": 8,
    "latency_ms": {"distribution": "lognormal", "median_ms": 40, "sigma": 0.4},
    "lifecycle": {"mode": "after_seconds", "seconds": 1.0, "failure_rate": 0.0},
    "faults": {"error_5xx": 0.01, "reset_after_commit": 0.01},
    "webhook_faults": {"drop": 0.1, "duplicate": 0.1, "delay_ms": 200},
}
RECORDINGS = 6  # distinct calls; manifest rows cycle through them, each row with its own customer_key
CALL_SECONDS = 20.0  # demo_call: one turn per 2.5 s, so 8 turns, 4 on each channel: one script line per turn
MEDIA_TTL_S = 3600
PII_OPERATOR_TYPE = "pii-extract"  # Twilio's pre-built "PII Extract" operator
AGENT = "Dana Brooks"
CALLERS = (
    ("Jordan Lee", "(415) 555-0142", "jordan.lee@example.com"),
    ("Sam Patel", "(212) 555-0187", "sam.patel@example.org"),
    ("Alex Kim", "(312) 555-0123", "alex.kim@example.net"),
    ("Morgan Price", "(617) 555-0175", "morgan.price@example.com"),
    ("Riley Chen", "(206) 555-0161", "riley.chen@example.org"),
    ("Casey Diaz", "(303) 555-0119", "casey.diaz@example.net"),
)


@dataclass(frozen=True)
class Recording:
    """One hosted demo call: its media-host name, the seed that made it, its signed URL and what it says."""

    name: str
    seed: int
    url: str
    sha256: str
    script: dict[str, list[str]]
    caller: str


def recording_seed(index: int) -> int:
    """The `demo_call` seed of the index-th recording."""
    return 2026 + index


def call_script(index: int) -> dict[str, list[str]]:
    """What the index-th call says, one line per turn: channel 1 the agent, channel 2 the caller."""
    name, phone, email = CALLERS[index % len(CALLERS)]
    return {
        "1": [
            f"Hello, thank you for calling, this is {AGENT}. How can I help you today?",
            "Of course. What is the best phone number to reach you on?",
            "Thank you. And an email address for the confirmation?",
            "All done, you will get an email shortly. Goodbye, have a nice day.",
        ],
        "2": [
            f"Hi, this is {name}, I would like to update my contact details.",
            f"You can reach me on {phone}.",
            f"Yes, it is {email}.",
            "Great, thanks for your help. Goodbye.",
        ],
    }


async def host_recordings(control: httpx.AsyncClient, count: int = RECORDINGS) -> list[Recording]:
    """Make `count` demo calls, put each on the mock's media host and register its script by the audio's hash."""
    from mock_server import demo_call

    recordings = []
    for index in range(count):
        seed = recording_seed(index)
        audio = await asyncio.to_thread(demo_call, seed, seconds=CALL_SECONDS)
        name = f"demo-call-{index}.wav"
        put = await control.put(f"/__mock__/media/{name}", params={"ttl_s": MEDIA_TTL_S}, content=audio)
        put.raise_for_status()
        sha256 = hashlib.sha256(audio).hexdigest()
        script = call_script(index)
        posted = await control.post("/__mock__/scripts", json={"sha256": sha256, "channels": script})
        posted.raise_for_status()
        caller = CALLERS[index % len(CALLERS)][0]
        recordings.append(Recording(name, seed, put.json()["url"], sha256, script, caller))
    return recordings


def write_manifest(path: Path, items: int, recordings: list[Recording]) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for i in range(items):
            recording = recordings[i % len(recordings)]
            row: dict[str, Any] = {
                "media_url": recording.url,
                "customer_key": f"demo-call-{i:05d}",
                "queue": ("billing", "support", "sales")[i % 3],
                "recording": recording.name,
            }
            if i % 4 == 0:  # Twilio's participant objects: who is on which channel (the agent speaks first)
                row["participants"] = [
                    {"channel_participant": 1, "role": "Agent", "full_name": AGENT},
                    {"channel_participant": 2, "role": "Customer", "full_name": recording.caller},
                ]
            handle.write(json.dumps(row) + "\n")


def demo_command(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="cintel-demo-") as work:
        return asyncio.run(run_demo(args.items, args.out, Path(work), ProgressView("text"), tap=tap_of(args)))


async def run_demo(items: int, out: Path | None, work: Path, view: ProgressView, *, tap: Tap | None = None) -> int:
    """The demo; with `tap` (`--record`), the API client sends through its recorder."""
    from mock_server import MockConfig, serve

    out = out or work / "results"
    manifest = work / "calls.jsonl"
    async with serve(MockConfig.from_json(DEMO_CONFIG), port=0, seed=2026) as mock:
        print(f"embedded mock: {mock.base_url} (limit 8 concurrent, 429s, webhooks with faults)")
        async with httpx.AsyncClient(base_url=mock.base_url) as control:
            recordings = await host_recordings(control, min(RECORDINGS, items))
            print(
                f"media host: {len(recordings)} stereo calls of real speech ({CALL_SECONDS:g} s, 16 kHz), "
                "each with a script (a phone number and an e-mail address to redact)"
            )
            write_manifest(manifest, items, recordings)
            print(f"manifest: {manifest} ({items} recordings)")
            transport = tap.transport(AiohttpTransport) if tap is not None else None
            client = IntelligenceClient(mock.account_sid, mock.auth_token, base_url=mock.base_url, transport=transport)
            if tap is not None and tap.recorder is not None:
                tap.recorder.base_url = mock.base_url
            journal = Journal(work / "calls.journal.sqlite", batch={"manifest": fingerprint(manifest)})
            async with client:
                service = await client.create_service("demo-calls", auto_redaction=True)
                async for operator in client.list_operators():
                    if operator.operator_type == PII_OPERATOR_TYPE:  # what it found, with the values hidden
                        await client.attach_operator(service.sid, operator.sid)
                options = RunnerOptions(service_sid=service.sid, out_dir=out, poll_initial_s=1.0, poll_max_s=5.0)
                try:
                    summary, receiver = await run_batch(
                        client, journal, manifest, options, view, webhook_token=mock.auth_token,
                        repoint_service=True,
                    )  # fmt: skip
                finally:
                    journal.close()
            stats = (await control.get(f"/__mock__/accounts/{mock.account_sid}/stats")).json()
    code = final(summary, out if out.parent != work else None, view)
    per_key = stats["transcripts_by_customer_key"]
    duplicates = {k: n for k, n in per_key.items() if n != 1}
    print(
        f"mock: {stats['transcripts_created']} transcripts for {len(per_key)} customer keys, "
        f"{stats['rejected_429']} requests answered 429, {stats['connections_dropped']} connections dropped, "
        f"{stats['webhooks_sent']} webhooks sent ({stats['webhooks_dropped']} dropped)"
    )
    print(
        f"media: {stats.get('media_fetched', 0)} fetched and analysed by the mock, {stats.get('media_failed', 0)} "
        "failed; sentences come from the speech it found, PII redacted"
    )
    if receiver is not None:
        print(f"receiver: {receiver.accepted} callbacks accepted, {receiver.rejected} rejected")
    if duplicates or len(per_key) != items:
        print(f"NOT exactly once: {duplicates or 'missing items'}")
        return EXIT_FAILED
    print("exactly once: every recording has one transcript")
    return code
