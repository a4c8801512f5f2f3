"""Mock throughput: create-transcript and fetch-transcript requests per second, all limits off, side by side with a
bare aiohttp handler that reads the same request and answers a body of the same size and status.

Goal (issue 2): create ≥ 0.6× and fetch ≥ 0.7× the bare handler. Rounds alternate bare / mock so that the machine's
noise falls on both alike; the ratio is of the medians.

    python -m benchmarks.bench_mock [--quick]
"""

from __future__ import annotations

import asyncio
import base64
import json
import sys

import aiohttp
from aiohttp import web

from benchmarks._load import Throughput, closed_loop, median, served

CONCURRENCY = 64


def mock_app() -> web.Application:
    from mock_server import MockConfig, create_app

    # Limits off, no latency, no faults: what is measured is the mock's own per-request cost.
    return create_app(MockConfig.from_json({"lifecycle": {"mode": "immediate"}, "media": {"fetch": False}}), seed=1)


def bare_app(create_size: int, fetch_size: int) -> web.Application:
    create_body = b"x" * create_size
    fetch_body = b"y" * fetch_size

    async def create(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(status=202, body=create_body, content_type="application/json")

    async def fetch(request: web.Request) -> web.Response:
        return web.Response(body=fetch_body, content_type="application/json")

    app = web.Application()
    app.router.add_post("/v2/Transcripts", create)
    app.router.add_get("/v2/Transcripts/{sid}", fetch)
    return app


async def _setup_account(session: aiohttp.ClientSession, base: str) -> tuple[dict[str, str], str]:
    async with session.post(f"{base}/__mock__/accounts", json={}) as r:
        account = await r.json()
    token = base64.b64encode(f"{account['account_sid']}:{account['auth_token']}".encode()).decode()
    headers = {"Authorization": f"Basic {token}"}
    async with session.post(f"{base}/v2/Services", data={"UniqueName": "bench"}, headers=headers) as r:
        service = await r.json()
    return headers, str(service["sid"])


def _form(service_sid: str, i: int) -> dict[str, str]:
    channel = {"media_properties": {"media_url": f"https://media.example.com/call-{i}.wav"}}
    return {"ServiceSid": service_sid, "Channel": json.dumps(channel), "CustomerKey": f"bench-{i}"}


async def _round(base: str, total: int, headers: dict[str, str], service_sid: str) -> tuple[Throughput, Throughput]:
    sids: list[str] = ["GT" + "0" * 32] * total
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:

        async def create(i: int) -> bool:
            async with session.post(f"{base}/v2/Transcripts", data=_form(service_sid, i)) as r:
                body = await r.read()
                if r.status == 202 and body[:1] == b"{":
                    sids[i] = json.loads(body)["sid"]
                return r.status == 202

        async def fetch(i: int) -> bool:
            async with session.get(f"{base}/v2/Transcripts/{sids[i]}") as r:
                await r.read()
                return r.status == 200

        created = await closed_loop(total, CONCURRENCY, create)
        fetched = await closed_loop(total, CONCURRENCY, fetch)
    return created, fetched


async def _sizes(base: str) -> tuple[dict[str, str], str, int, int]:
    async with aiohttp.ClientSession() as session:
        headers, service_sid = await _setup_account(session, base)
        async with session.post(f"{base}/v2/Transcripts", data=_form(service_sid, -1), headers=headers) as r:
            created = await r.read()
        sid = json.loads(created)["sid"]
        async with session.get(f"{base}/v2/Transcripts/{sid}", headers=headers) as r:
            fetched = await r.read()
    return headers, service_sid, len(created), len(fetched)


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    total, rounds = (1500, 2) if quick else (6000, 3)
    results: dict[str, dict[str, list[float]]] = {"bare": {"c": [], "f": []}, "mock": {"c": [], "f": []}}
    with served(mock_app) as mock_base:
        headers, service_sid, create_size, fetch_size = asyncio.run(_sizes(mock_base))
        with served(bare_app, create_size=create_size, fetch_size=fetch_size) as bare_base:
            for _ in range(rounds):
                for kind, base in (("bare", bare_base), ("mock", mock_base)):
                    created, fetched = asyncio.run(_round(base, total, headers, service_sid))
                    if created.errors or fetched.errors:
                        print(f"{kind}: {created.errors} create / {fetched.errors} fetch errors", file=sys.stderr)
                        return 1
                    results[kind]["c"].append(created.per_second)
                    results[kind]["f"].append(fetched.per_second)
    print(f"{rounds} alternating rounds of {total} requests each, concurrency {CONCURRENCY}, loopback.")
    print(f"Bodies: create {create_size} B, fetch {fetch_size} B (the bare handler answers the same sizes).\n")
    print("| operation | bare aiohttp req/s | mock req/s | ratio | goal |")
    print("|---|---|---|---|---|")
    for key, name, goal in (("c", "create transcript (POST, 202)", 0.6), ("f", "fetch transcript (GET, 200)", 0.7)):
        bare, mock = median(results["bare"][key]), median(results["mock"][key])
        print(f"| {name} | {bare:,.0f} | {mock:,.0f} | {mock / bare:.2f}× | ≥ {goal}× |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
