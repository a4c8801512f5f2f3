"""Client throughput: `create_transcript` from 64 tasks against the mock (all limits off), side by side with raw
aiohttp `ClientSession` and twilio-python's `AsyncTwilioHttpClient` making the same requests.

The harness path includes everything a real call goes through: the adaptive limiter, the retry loop and the
typed `Transcript` model. Goal (issue 3): ≥ 0.7× raw aiohttp and ≥ 1.0× twilio-python. Rounds alternate the three
clients; ratios are of the medians.

    python -m benchmarks.bench_client [--quick]
"""

from __future__ import annotations

import asyncio
import json
import sys
import warnings
from collections.abc import Awaitable, Callable

import aiohttp
from aiohttp import web

from benchmarks._load import closed_loop, median, served
from benchmarks.bench_mock import _setup_account
from harness import AdaptiveLimiter, IntelligenceClient, LimiterParams

CONCURRENCY = 64
CHANNEL = {"media_properties": {"media_url": "https://media.example.com/call.wav"}}


def mock_app() -> web.Application:
    from mock_server import MockConfig, create_app

    return create_app(MockConfig.from_json({"lifecycle": {"mode": "immediate"}, "media": {"fetch": False}}), seed=2)


async def _raw(base: str, auth: dict[str, str], service: str, total: int) -> float:
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(connector=connector, headers=auth) as session:

        async def one(i: int) -> bool:
            form = {"ServiceSid": service, "Channel": json.dumps(CHANNEL), "CustomerKey": f"raw-{i}"}
            async with session.post(f"{base}/v2/Transcripts", data=form) as r:
                body = await r.read()
                return r.status == 202 and json.loads(body)["sid"].startswith("GT")

        return (await closed_loop(total, CONCURRENCY, one)).per_second


async def _harness(base: str, sid: str, token: str, service: str, total: int) -> float:
    # Starting the limiter at the test's concurrency measures the steady state, not the first second's ramp.
    limiter = AdaptiveLimiter(LimiterParams(initial=CONCURRENCY))
    async with IntelligenceClient(sid, token, base_url=base, limiter=limiter) as client:

        async def one(i: int) -> bool:
            t = await client.create_transcript(service, CHANNEL, customer_key=f"harness-{i}")
            return t.sid.startswith("GT")

        return (await closed_loop(total, CONCURRENCY, one)).per_second


async def _twilio(base: str, sid: str, token: str, service: str, total: int) -> float:
    from mock_server import twilio_client

    client = twilio_client(base, sid, token, async_=True)
    try:

        async def one(i: int) -> bool:
            t = await client.intelligence.v2.transcripts.create_async(
                service_sid=service, channel=CHANNEL, customer_key=f"twilio-{i}"
            )
            return str(t.sid).startswith("GT")

        return (await closed_loop(total, CONCURRENCY, one)).per_second
    finally:
        await client.http_client.close()


def main(argv: list[str]) -> int:
    warnings.simplefilter("ignore", DeprecationWarning)  # twilio-python's aiohttp auth= on aiohttp 3.14
    total, rounds = (1500, 2) if "--quick" in argv else (5000, 3)
    results: dict[str, list[float]] = {"raw aiohttp": [], "harness IntelligenceClient": [], "twilio-python async": []}
    with served(mock_app) as base:

        async def setup() -> tuple[dict[str, str], str]:
            async with aiohttp.ClientSession() as session:
                return await _setup_account(session, base)

        auth, service = asyncio.run(setup())
        user, password = aiohttp.BasicAuth.decode(auth["Authorization"])[:2]
        runs: dict[str, Callable[[], Awaitable[float]]] = {
            "raw aiohttp": lambda: _raw(base, auth, service, total),
            "harness IntelligenceClient": lambda: _harness(base, user, password, service, total),
            "twilio-python async": lambda: _twilio(base, user, password, service, total),
        }
        for _ in range(rounds):
            for name, run in runs.items():
                results[name].append(asyncio.run(run()))
    raw = median(results["raw aiohttp"])
    twilio = median(results["twilio-python async"])
    print(f"{rounds} alternating rounds of {total} create_transcript calls each, {CONCURRENCY} concurrent, loopback.\n")
    print("| client | creates/s | vs raw aiohttp | vs twilio-python |")
    print("|---|---|---|---|")
    for name, values in results.items():
        rate = median(values)
        print(f"| {name} | {rate:,.0f} | {rate / raw:.2f}× | {rate / twilio:.2f}× |")
    print("\nGoal for the harness: ≥ 0.70× raw aiohttp and ≥ 1.00× twilio-python.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
