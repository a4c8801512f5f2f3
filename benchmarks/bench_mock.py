"""Mock throughput: requests per second of each mock route family, side by side with a bare aiohttp handler.

The bare handler does the minimum the same request needs — read the body and parse the form for a POST — and answers
a canned copy of the mock's own answer (same status, same bytes). Goal (issue 11): create ≥ 0.6× and fetch ≥ 0.7×
the bare handler; sentences and operator results (the rest of `cintel load`'s operation mix) are reported too.

The load comes from wrk (Debian's `wrk`) when it is installed: the server pinned to one core, wrk to another, each
operation run for a fixed time, bare and mock alternating round by round (and which goes first) so the shared
machine's noise falls on both alike; the ratio is of the medians. Two tables: requests per second, and requests per
second of the server's own CPU time — on a machine shared with other work, other processes take turns on the
server's core and move the first from run to run, while the second (the work a request costs) stays put. The first
table shows wrk's and the server's CPU share: wrk well below one core with the server near one core (or waiting for
its turn) say the server is the limit, and a last run with twice wrk's threads and connections checks that the bare
figure (the ceiling) does not rise much. Without wrk, an in-process aiohttp client drives the servers; it saturates
before either server does, so those figures are labelled generator-bound.

The mock runs as the issue's measurement: all limits off, no latency, no faults, lifecycle immediate, media fetch off.

    python -m benchmarks.bench_mock [--quick] [--seconds S] [--rounds N] [--connections C] [--python-client]
    nox -s bench -- mock [--quick] [--seconds=S] [--rounds=N] [--connections=C]
"""

from __future__ import annotations

import asyncio
import base64
import json
import statistics
import sys
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

import aiohttp
from aiohttp import web

from benchmarks import _wrk
from benchmarks._load import closed_loop, median, served

CONCURRENCY = 64  # the Python client's tasks (fallback only)
FETCH_SIDS = 2000  # distinct transcripts the fetch-like operations cycle over
CREATE_BODIES = 1024  # distinct create forms (CustomerKey differs) wrk cycles over
SIZE_SAMPLE = 21  # transcripts whose answers are looked at to pick the bare handler's canned one
WARM_UP_S = 1.0  # per server and operation, before the measured rounds
PREBUILT_OPERATOR = "Sentiment Analysis"  # attached to the bench service, so there are operator results to list


def mock_app() -> web.Application:
    from mock_server import MockConfig, create_app

    # Limits off, no latency, no faults: what is measured is the mock's own per-request cost.
    return create_app(MockConfig.from_json({"lifecycle": {"mode": "immediate"}, "media": {"fetch": False}}), seed=1)


# --- the bare handler --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Canned:
    """What the mock answered to one request of each operation: the bare handler answers these same bytes."""

    create: bytes
    fetch: bytes
    sentences: bytes
    operator_results: bytes


def bare_app(canned: Canned) -> web.Application:
    async def create(request: web.Request) -> web.Response:
        parse_qsl((await request.read()).decode(), keep_blank_values=True)
        return web.Response(status=202, body=canned.create, content_type="application/json")

    def answer(body: bytes) -> Callable[[web.Request], object]:
        async def handle(request: web.Request) -> web.Response:
            return web.Response(body=body, content_type="application/json")

        return handle

    app = web.Application()
    app.router.add_post("/v2/Transcripts", create)
    app.router.add_get("/v2/Transcripts/{sid}", answer(canned.fetch))  # type: ignore[arg-type]
    app.router.add_get("/v2/Transcripts/{sid}/Sentences", answer(canned.sentences))  # type: ignore[arg-type]
    app.router.add_get("/v2/Transcripts/{sid}/OperatorResults", answer(canned.operator_results))  # type: ignore[arg-type]
    return app


# --- the mock's account, service and transcripts -----------------------------------------------------------------


async def _setup_account(session: aiohttp.ClientSession, base: str) -> tuple[dict[str, str], str]:
    async with session.post(f"{base}/__mock__/accounts", json={}) as r:
        account = await r.json()
    token = base64.b64encode(f"{account['account_sid']}:{account['auth_token']}".encode()).decode()
    headers = {"Authorization": f"Basic {token}"}
    async with session.post(f"{base}/v2/Services", data={"UniqueName": "bench"}, headers=headers) as r:
        service = await r.json()
    return headers, str(service["sid"])


def _form(service_sid: str, i: int) -> dict[str, str]:
    # Fixed-width numbers: every create form, and so every answer, has the same size.
    channel = {"media_properties": {"media_url": f"https://media.example.com/call-{i:08d}.wav"}}
    return {"ServiceSid": service_sid, "Channel": json.dumps(channel), "CustomerKey": f"bench-{i:08d}"}


@dataclass(frozen=True)
class Fixture:
    headers: dict[str, str]
    service_sid: str
    sids: list[str]
    canned: Canned


async def _fixture(base: str, transcripts: int) -> Fixture:
    """An account and service on the mock, `transcripts` completed transcripts, and one answer of each operation."""
    async with aiohttp.ClientSession() as session:
        headers, service_sid = await _setup_account(session, base)
        async with session.get(f"{base}/v2/Operators/PreBuilt", headers=headers) as r:
            operators = (await r.json())["operators"]
        operator_sid = next(o["sid"] for o in operators if o["friendly_name"] == PREBUILT_OPERATOR)
        attach = f"{base}/v2/Services/{service_sid}/Operators/{operator_sid}"
        async with session.post(attach, headers=headers) as r:
            assert r.status == 202, await r.text()
        sids: list[str] = []
        first = b""
        for i in range(transcripts):
            async with session.post(f"{base}/v2/Transcripts", data=_form(service_sid, i), headers=headers) as r:
                body = await r.read()
                assert r.status == 202, body
            first = first or body
            sids.append(json.loads(body)["sid"])
        answers = []
        for suffix in ("", "/Sentences", "/OperatorResults"):
            # Invented sentences differ in number from one transcript to the next: the median-sized answer of a
            # few transcripts stands for them all.
            sample = []
            for sid in sids[:SIZE_SAMPLE]:
                async with session.get(f"{base}/v2/Transcripts/{sid}{suffix}", headers=headers) as r:
                    assert r.status == 200, await r.text()
                    sample.append(await r.read())
            answers.append(sorted(sample, key=len)[len(sample) // 2])
    return Fixture(headers, service_sid, sids, Canned(first, *answers))


# --- with wrk ----------------------------------------------------------------------------------------------------

OPERATIONS = (
    # key, table label, goal (None: reported only)
    ("create", "create transcript (POST, 202)", 0.6),
    ("fetch", "fetch transcript (GET, 200)", 0.7),
    ("sentences", "list sentences (GET, 200)", None),
    ("operator_results", "list operator results (GET, 200)", None),
)


def _scripts(fixture: Fixture) -> dict[str, str]:
    bodies = [urlencode(_form(fixture.service_sid, 10**7 + i)) for i in range(CREATE_BODIES)]
    paths = {
        "fetch": [f"/v2/Transcripts/{sid}" for sid in fixture.sids],
        "sentences": [f"/v2/Transcripts/{sid}/Sentences" for sid in fixture.sids],
        "operator_results": [f"/v2/Transcripts/{sid}/OperatorResults" for sid in fixture.sids],
    }
    scripts = {key: _wrk.get_script(p, fixture.headers) for key, p in paths.items()}
    scripts["create"] = _wrk.post_form_script("/v2/Transcripts", fixture.headers, bodies)
    return scripts


def _with_wrk(argv: list[str]) -> int:
    quick = "--quick" in argv
    seconds = _option(argv, "--seconds", 2.0 if quick else 4.0)
    rounds = int(_option(argv, "--rounds", 1 if quick else 5))
    connections = int(_option(argv, "--connections", 64))
    operations = OPERATIONS[:2] if quick else OPERATIONS
    cpus = _wrk.cores()
    server_cpu, wrk_cpu = (cpus[0], cpus[-1]) if len(cpus) > 1 else (None, None)
    runs: dict[tuple[str, str], list[_wrk.WrkRun]] = {}
    with _wrk.pinned_server(mock_app, server_cpu) as mock:
        fixture = asyncio.run(_fixture(mock.base_url, FETCH_SIDS))
        scripts = _scripts(fixture)
        with _wrk.pinned_server(bare_app, server_cpu, canned=fixture.canned) as bare:

            def run(server: _wrk.Server, key: str, threads: int = 1, length: float = seconds) -> _wrk.WrkRun:
                return _wrk.run_wrk(
                    server, scripts[key], seconds=length, connections=threads * connections, threads=threads,
                    cpu=wrk_cpu,
                )  # fmt: skip

            for key, _label, _goal in operations:  # warm-up, not counted: connections, caches, first-call paths
                for server in (bare, mock):
                    run(server, key, length=WARM_UP_S)
            for round_number in range(rounds):
                for key, _label, _goal in operations:
                    pair = (("bare", bare), ("mock", mock))
                    for kind, server in pair if round_number % 2 == 0 else pair[::-1]:  # neither always goes first
                        result = run(server, key)
                        if result.errors:
                            print(f"{kind} {key}: {result.errors} errors from wrk", file=sys.stderr)
                            return 1
                        runs.setdefault((kind, key), []).append(result)
            # The ceiling check: twice wrk's threads and connections (on the same core), between two ordinary runs,
            # must not find more in the bare server than they do.
            ceiling = [run(bare, "create"), run(bare, "create", threads=2), run(bare, "create")]
    _report(runs, operations, ceiling, fixture, rounds, seconds, connections, server_cpu, wrk_cpu)
    return 0


def _report(
    runs: dict[tuple[str, str], list[_wrk.WrkRun]],
    operations: tuple[tuple[str, str, float | None], ...],
    ceiling: list[_wrk.WrkRun],
    fixture: Fixture,
    rounds: int,
    seconds: float,
    connections: int,
    server_cpu: int | None,
    wrk_cpu: int | None,
) -> None:
    pinning = f"server on CPU {server_cpu}, wrk on CPU {wrk_cpu}" if server_cpu is not None else "not pinned (1 CPU)"
    print(
        f"wrk, {rounds} alternating round(s) of {seconds:g} s per operation (after {WARM_UP_S:g} s of warm-up each), "
        f"1 thread, {connections} connections;"
    )
    print(f"{pinning}; loopback. Fetch-like operations cycle over {len(fixture.sids)} transcripts.")
    sizes = ", ".join(f"{k} {len(getattr(fixture.canned, k))} B" for k, _, _ in operations)
    print(f"Answers: {sizes} (the bare handler answers the same bytes).\n")
    print("Throughput, median (min–max) of the rounds:\n")
    print("| operation | bare aiohttp req/s | mock req/s | ratio | goal | wrk CPU (max) | server CPU (bare / mock) |")
    print("|---|---|---|---|---|---|---|")
    for key, label, goal in operations:
        bare_runs, mock_runs = runs[("bare", key)], runs[("mock", key)]
        ratio = _median_of(mock_runs, "per_second") / _median_of(bare_runs, "per_second")
        wrk_max = max(r.generator_cpu for r in (*bare_runs, *mock_runs))
        server_share = f"{_mean_cpu(bare_runs):.0%} / {_mean_cpu(mock_runs):.0%}"
        print(
            f"| {label} | {_spread(bare_runs, 'per_second')} | {_spread(mock_runs, 'per_second')} | {ratio:.2f}× "
            f"| {f'≥ {goal}×' if goal else '—'} | {wrk_max:.0%} | {server_share} |"
        )
    print(
        "\nPer second of the server's own CPU time (what it does with a whole core; steadier on a shared machine, "
        "where other processes take turns on the server's core):\n"
    )
    print("| operation | bare aiohttp req/CPU-s | mock req/CPU-s | ratio | goal |")
    print("|---|---|---|---|---|")
    for key, label, goal in operations:
        bare_runs, mock_runs = runs[("bare", key)], runs[("mock", key)]
        ratio = _median_of(mock_runs, "per_cpu_second") / _median_of(bare_runs, "per_cpu_second")
        print(
            f"| {label} | {_spread(bare_runs, 'per_cpu_second')} | {_spread(mock_runs, 'per_cpu_second')} "
            f"| {ratio:.2f}× | {f'≥ {goal}×' if goal else '—'} |"
        )
    single = statistics.fmean([ceiling[0].per_second, ceiling[2].per_second])
    doubled = ceiling[1]
    print(
        f"\nCeiling check (bare create): 1 wrk thread / {connections} connections {single:,.0f} req/s (mean of the "
        f"runs before and after); 2 threads / {2 * connections} connections {doubled.per_second:,.0f} req/s "
        f"({doubled.per_second / single:.2f}×; wrk CPU {doubled.generator_cpu:.0%}, server CPU "
        f"{doubled.server_cpu:.0%})."
    )


def _median_of(runs: list[_wrk.WrkRun], figure: str) -> float:
    return float(statistics.median(getattr(r, figure) for r in runs))


def _spread(runs: list[_wrk.WrkRun], figure: str) -> str:
    rates = sorted(getattr(r, figure) for r in runs)
    middle = statistics.median(rates)
    return f"{middle:,.0f}" if len(rates) == 1 else f"{middle:,.0f} ({rates[0]:,.0f}–{rates[-1]:,.0f})"


def _mean_cpu(runs: list[_wrk.WrkRun]) -> float:
    return statistics.fmean(r.server_cpu for r in runs)


def _option(argv: list[str], name: str, default: float) -> float:
    """`--name VALUE` or `--name=VALUE` (the second also passes through `python -m benchmarks` and nox)."""
    for at, arg in enumerate(argv):
        if arg.startswith(f"{name}="):
            return float(arg.partition("=")[2])
        if arg == name and at + 1 < len(argv):
            return float(argv[at + 1])
    return default


# --- without wrk: the in-process client (generator-bound) ---------------------------------------------------------


async def _python_round(base: str, total: int, fixture: Fixture) -> tuple[float, float, int]:
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(connector=connector, headers=fixture.headers) as session:

        async def create(i: int) -> bool:
            async with session.post(f"{base}/v2/Transcripts", data=_form(fixture.service_sid, 10**7 + i)) as r:
                await r.read()
                return r.status == 202

        async def fetch(i: int) -> bool:
            async with session.get(f"{base}/v2/Transcripts/{fixture.sids[i % len(fixture.sids)]}") as r:
                await r.read()
                return r.status == 200

        created = await closed_loop(total, CONCURRENCY, create)
        fetched = await closed_loop(total, CONCURRENCY, fetch)
    return created.per_second, fetched.per_second, created.errors + fetched.errors


def _with_python_client(argv: list[str]) -> int:
    total, rounds = (1500, 2) if "--quick" in argv else (6000, 3)
    results: dict[str, dict[str, list[float]]] = {"bare": {"c": [], "f": []}, "mock": {"c": [], "f": []}}
    with served(mock_app) as mock_base:
        fixture = asyncio.run(_fixture(mock_base, 200))
        with served(bare_app, canned=fixture.canned) as bare_base:
            for _ in range(rounds):
                for kind, base in (("bare", bare_base), ("mock", mock_base)):
                    created, fetched, errors = asyncio.run(_python_round(base, total, fixture))
                    if errors:
                        print(f"{kind}: {errors} errors", file=sys.stderr)
                        return 1
                    results[kind]["c"].append(created)
                    results[kind]["f"].append(fetched)
    print("GENERATOR-BOUND: measured with an in-process aiohttp client (wrk not installed, or --python-client).")
    print("The client saturates before either server, so the ratios below overstate the mock; install wrk.\n")
    print(f"{rounds} alternating rounds of {total} requests each, concurrency {CONCURRENCY}, loopback.\n")
    print("| operation | bare aiohttp req/s | mock req/s | ratio | goal |")
    print("|---|---|---|---|---|")
    for key, name, goal in (("c", "create transcript (POST, 202)", 0.6), ("f", "fetch transcript (GET, 200)", 0.7)):
        bare, mock = median(results["bare"][key]), median(results["mock"][key])
        print(f"| {name} | {bare:,.0f} | {mock:,.0f} | {mock / bare:.2f}× (generator-bound) | ≥ {goal}× |")
    return 0


def main(argv: list[str]) -> int:
    if _wrk.wrk_path() is None or "--python-client" in argv:
        return _with_python_client(argv)
    return _with_wrk(argv)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
