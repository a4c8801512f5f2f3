"""API latency while the mock hears media: p99 of fetch-transcript under a steady load, idle against while 8 one-hour
stereo 16 kHz WAVs are fetched and analysed (goal, issue 8: ≤ 2× idle — audio work is off the event loop).

Four processes, so that none of them shares the mock's event loop or GIL: the mock (`_load.served`), a static file
server holding the 8 WAVs (written once into a temporary directory from the committed utterances, as `bench_media`
does; aiohttp's `FileResponse`, sendfile), an open-loop load generator (aiohttp: a GET of one of 50 completed
transcripts every 1/RATE s whatever the answers, latency counted from when the request was due, so a stalled loop
cannot hide its stall), and this driver. With two or more CPUs the mock (and the media workers it starts) is pinned
to the first and the other three processes to the rest (`--no-pin`: all share every CPU): S3 and the callers are
other machines, and a generator or file server that takes the mock's CPU is not the mock's latency. Per round: the
load starts, an idle window (15 s over all rounds), then 8 transcripts are created on the 8 URLs and the busy window
runs until all 8 are fetched, analysed and completed (sentences built), after which they are deleted; idle and busy
windows alternate, so a noisy neighbour lands in both. Each phase also reports the CPU time the hypervisor took from
this VM (/proc/stat steal): a paused virtual CPU stalls the mock's loop and nothing in the mock can prevent it.
Each mode is a fresh mock process with its own idle baseline:

- `shipped`: the mock as shipped (`_pipeline.py` + `_worker.py`: download, decode + VAD, hash and the sentences in
  a spawned process pool in Linux's idle scheduling class; the heap the server starts with frozen);
- `threads`: the same mock with the analyser injected (`create_app(analyse=mock_server._media.analyse)`), which
  takes the pipeline's thread path: the download on the event loop, the rest in threads sharing the GIL — the
  design measured at 27× before (BENCHMARKS.md has both);
- `fetch-only`: the thread path with an analyser that reads the header and hears nothing (no sentences either):
  what a download on the event loop costs by itself.

    python -m benchmarks.bench_media_latency [--quick]     # every mode; --quick: 10-minute files, 1 round, 5 s idle
    python -m benchmarks.bench_media_latency --mode shipped --rounds 3 [--no-pin] [--host-nice 19] [--gc off|freeze]
    python -m benchmarks.bench_media_latency --mode shipped --rounds 1 --profile DIR --trace   # why (py-spy, GC)
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import multiprocessing as mp
import os
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from benchmarks._load import served
from benchmarks._observe import Cpus, cpu_list, pin, profiler, split_cpus, stolen_s, trace_gc, trace_stalls

RATE = 200.0  # fetch-transcript requests per second, open loop
LOAD_TRANSCRIPTS = 50
FILES = 8
WARMUP_S = 1.0
MODES = {
    "shipped": "as shipped (worker processes)",
    "threads": "thread path (download on the loop)",
    "fetch-only": "download on the loop + hash only",
}
DEFAULT_MODES = tuple(MODES)


# --- the mock under test, in its child process ------------------------------------------------------------------


def header_only(source: Any) -> Any:
    """An analyser that reads the header and hears nothing (the download and hash alone)."""
    import soundfile as sf

    from mock_server._media import MediaAnalysis

    info = sf.info(os.fspath(source))
    return MediaAnalysis(info.format.lower(), info.samplerate, info.channels, info.frames / info.samplerate, ())


def _gc_policy(policy: str) -> None:
    """`off`: no cyclic GC in the mock (an upper bound of what fewer GC-tracked objects could give); `freeze`: after
    each completion, everything alive moves to the permanent generation (`gc.freeze()`), which later collections skip
    (nothing in a sentence set is cyclic, so reference counting still frees it)."""
    import gc

    if policy == "off":
        gc.disable()
    elif policy == "startup":
        gc.freeze()
    elif policy == "freeze":
        from mock_server._model import Account

        keep = Account._keep_sentences

        def _keep_sentences(self: Any, t: Any) -> None:
            keep(self, t)
            gc.freeze()

        Account._keep_sentences = _keep_sentences


def mock_app(mode: str, scratch: str, trace: bool = False, gc: str = "on", cpus: Cpus = None) -> web.Application:
    from mock_server import MockConfig, create_app

    # The media folder inside the benchmark's temporary directory, which the driver removes whatever happens to the
    # mock (8 one-hour downloads are 1.8 GB).
    tempfile.tempdir = scratch
    pin(cpus)  # inherited by the media workers it spawns

    config = MockConfig.from_json({"lifecycle": {"mode": "immediate"}, "media": {"timeout_s": 600}})
    from mock_server._media import analyse as real_analyse

    analyse = {"threads": real_analyse, "fetch-only": header_only}.get(mode)
    app = create_app(config, seed=1, analyse=analyse)
    _gc_policy(gc)
    if trace:
        trace_gc()
        app.cleanup_ctx.append(trace_stalls)
    return app


def file_server(root: str, nice: int = 0, cpus: Cpus = None) -> web.Application:
    """The media host (S3's stand-in). `nice`: on this 2-core machine it shares the CPUs with the mock, which a
    remote host never does; `--host-nice` lowers its priority to model that (both figures are reported)."""
    os.nice(nice)
    pin(cpus)

    async def get(request: web.Request) -> web.StreamResponse:
        path = Path(root) / request.match_info["name"]
        if not path.is_file():
            raise web.HTTPNotFound()
        return web.FileResponse(path)

    app = web.Application()
    app.router.add_get("/{name}", get)
    return app


# --- the load generator, in its own process ---------------------------------------------------------------------


def _generate(base: str, auth: str, sids: list[str], rate: float, conn: Any, cpus: Cpus) -> None:
    pin(cpus)
    asyncio.run(_drive(base, auth, sids, rate, conn))


async def _drive(base: str, auth: str, sids: list[str], rate: float, conn: Any) -> None:
    samples: list[tuple[float, float, int]] = []  # (when due, latency from then, status)
    headers = {"Authorization": auth}
    connector = aiohttp.TCPConnector(limit=256)
    async with aiohttp.ClientSession(base, headers=headers, connector=connector) as session:

        async def one(sid: str, due: float) -> None:
            try:
                async with session.get(f"/v2/Transcripts/{sid}") as r:
                    await r.read()
                    status = r.status
            except aiohttp.ClientError:
                status = 0
            samples.append((due, time.monotonic() - due, status))

        for sid in sids[:8]:  # open the first connections before anyone measures
            await one(sid, time.monotonic())
        samples.clear()
        conn.send("ready")
        tasks: set[asyncio.Task[None]] = set()
        start = time.monotonic()
        i = 0
        while not conn.poll():
            due = start + i / rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(one(sids[i % len(sids)], due))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            i += 1
        await asyncio.gather(*tasks)
    conn.send(samples)


class Load:
    """A load generator process: `start()` returns once it is sending, `stop()` its samples."""

    def __init__(self, base: str, auth: str, sids: list[str], cpus: Cpus) -> None:
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_generate, args=(base, auth, sids, RATE, child, cpus), daemon=True)

    async def start(self) -> None:
        self.proc.start()
        if not await asyncio.to_thread(self.conn.poll, 30):
            raise RuntimeError("load generator did not start within 30 s")
        assert self.conn.recv() == "ready"

    async def stop(self) -> list[tuple[float, float, int]]:
        self.conn.send("stop")
        samples: list[tuple[float, float, int]] = await asyncio.to_thread(self.conn.recv)
        await asyncio.to_thread(self.proc.join, 10)
        return samples


# --- the driver ---------------------------------------------------------------------------------------------------


@dataclass
class Figures:
    requests: int
    errors: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    seconds: float

    @classmethod
    def of(cls, samples: list[tuple[float, float, int]], seconds: float) -> Figures:
        latencies = sorted(s[1] * 1000 for s in samples)
        if len(latencies) < 2:
            return cls(len(latencies), 0, 0.0, 0.0, 0.0, seconds)
        cuts = statistics.quantiles(latencies, n=100, method="inclusive")
        errors = sum(1 for s in samples if s[2] != 200)
        return cls(len(latencies), errors, cuts[49], cuts[98], latencies[-1], seconds)


class Mock:
    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session, self.base = session, base
        self.auth = ""
        self.service = ""

    async def setup(self) -> None:
        async with self.session.post(f"{self.base}/__mock__/accounts", json={}) as r:
            account = await r.json()
        self.sid = account["account_sid"]
        token = base64.b64encode(f"{account['account_sid']}:{account['auth_token']}".encode()).decode()
        self.auth = f"Basic {token}"
        body = await self.call("POST", "/v2/Services", 201, data={"UniqueName": "bench"})
        self.service = body["sid"]

    async def call(self, method: str, path: str, expect: int, **kw: Any) -> dict[str, Any]:
        async with self.session.request(method, self.base + path, headers={"Authorization": self.auth}, **kw) as r:
            body = await r.read()
            if r.status != expect:
                raise RuntimeError(f"{method} {path}: {r.status} {body[:300]!r}")
            return json.loads(body) if body else {}

    async def create(self, url: str) -> str:
        channel = json.dumps({"media_properties": {"media_url": url}})
        body = await self.call("POST", "/v2/Transcripts", 202, data={"ServiceSid": self.service, "Channel": channel})
        return str(body["sid"])

    async def heard(self) -> int:
        async with self.session.get(f"{self.base}/__mock__/accounts/{self.sid}/stats") as r:
            stats = await r.json()
        return int(stats.get("media_fetched", 0)) + int(stats.get("media_failed", 0))

    async def wait_completed(self, sids: list[str], timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        for sid in sids:
            while (body := await self.call("GET", f"/v2/Transcripts/{sid}", 200))["status"] != "completed":
                if body["status"] == "failed" or time.monotonic() > deadline:
                    raise RuntimeError(f"{sid}: {body['status']}")
                await asyncio.sleep(0.1)


async def measure_mode(
    mode: str, folder: Path, clip_url: str, urls: list[str], rounds: int, idle_s: float, options: argparse.Namespace
) -> dict[str, Any]:
    """Per round: the load starts, an idle window (`idle_s / rounds`), then the busy window while 8 files are heard
    and completed. Idle and busy windows alternate, so a noisy neighbour on the shared machine lands in both."""
    out: dict[str, Any] = {"mode": mode, "busy": [], "idle": [], "processing_s": [], "stolen": [0.0, 0.0]}
    children = {p.pid for p in mp.active_children()}
    tuning = {"trace": options.trace, "gc": options.gc, "cpus": options.mock_cpus}
    scratch = folder / f"mock-{mode}"
    scratch.mkdir()
    idle_per_round = idle_s / rounds
    with served(mock_app, mode=mode, scratch=str(scratch), **tuning) as base:
        (mock_pid,) = [p.pid for p in mp.active_children() if p.pid not in children]
        async with aiohttp.ClientSession() as session:
            mock = Mock(session, base)
            await mock.setup()
            load_sids = [await mock.create(clip_url) for _ in range(LOAD_TRANSCRIPTS)]
            await mock.wait_completed(load_sids, 120)

            for round_ in range(rounds):
                load = Load(base, mock.auth, load_sids, options.harness_cpus)
                await load.start()
                await asyncio.sleep(WARMUP_S)
                idle_begin, stolen = time.monotonic(), stolen_s()
                await asyncio.sleep(idle_per_round)
                idle_end = time.monotonic()
                if options.trace:
                    print(f"{mode} round {round_ + 1}: idle from {idle_begin:.2f} to {idle_end:.2f}", file=sys.stderr)
                out["stolen"][0] += stolen_s() - stolen
                before = await mock.heard()
                spy = None
                if options.profile is not None and round_ == 0:
                    spy = await profiler(mock_pid, options.profile / f"{mode}.txt")
                    await asyncio.sleep(1.0)  # py-spy attaches
                begin, stolen = time.monotonic(), stolen_s()
                sids = await asyncio.gather(*(mock.create(url) for url in urls))
                heard = [0.0]
                while (n := await mock.heard()) < before + len(urls):
                    if n - before >= len(heard):
                        heard.append(time.monotonic() - begin)
                    if time.monotonic() - begin > 900:
                        raise RuntimeError("the 8 files were not processed within 15 minutes")
                    await asyncio.sleep(0.1)
                await mock.wait_completed(list(sids), 60)  # completion builds the sentences
                end = time.monotonic()
                out["stolen"][1] += stolen_s() - stolen
                if spy is not None:
                    spy.send_signal(signal.SIGINT)
                    await spy.wait()
                samples = await load.stop()
                window = [s for s in samples if begin <= s[0] <= end]
                if options.trace:
                    slow = sorted(sorted(window, key=lambda s: -s[1])[:20])
                    print(
                        f"{mode} round {round_ + 1}: window from {begin:.2f} for {end - begin:.2f} s; files heard "
                        f"at +{', +'.join(f'{t:.2f}' for t in heard[1:])} s; slowest requests (due at +s: ms): "
                        f"{', '.join(f'{s[0] - begin:.2f}: {s[1] * 1000:.0f}' for s in slow)}",
                        file=sys.stderr,
                    )
                out["idle"].extend(s for s in samples if idle_begin <= s[0] <= idle_end)
                out["busy"].extend(window)
                out["processing_s"].append(end - begin)
                for sid in sids:
                    await mock.call("DELETE", f"/v2/Transcripts/{sid}", 204)
    out["idle"] = Figures.of(out["idle"], idle_per_round * rounds)
    out["busy"] = Figures.of(out["busy"], sum(out["processing_s"]))
    return out


def _write_files(folder: Path, seconds: float) -> tuple[float, int]:
    from benchmarks.bench_media import conversation
    from mock_server import demo_call

    start = time.perf_counter()
    (folder / "clip.wav").write_bytes(demo_call(1, seconds=20))
    for i in range(FILES):
        conversation(folder / f"call-{i}.wav", seconds, seed=i + 1)
    return time.perf_counter() - start, (folder / "call-0.wav").stat().st_size


def _row(mode: str, phase: str, f: Figures, idle: Figures | None, stolen_cpu_s: float, extra: str = "") -> str:
    ratio = f"**{f.p99_ms / idle.p99_ms:.2f}×**" if idle and idle.p99_ms else "1.00×"
    goal = "≤ 2×" if idle else ""
    stolen = f"{stolen_cpu_s * 1000 / f.seconds:.0f} ms/s" if f.seconds else "—"
    return (
        f"| {mode} | {phase} | {f.requests:,} ({f.errors} errors) | {f.p50_ms:.1f} ms | {f.p99_ms:.1f} ms | "
        f"{f.max_ms:.0f} ms | {ratio} | {stolen} | {extra} | {goal} |"
    )


async def run(modes: list[str], seconds: float, rounds: int, idle_s: float, options: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="bench-media-latency-") as folder:
        made_s, size = _write_files(Path(folder), seconds)
        with served(file_server, root=folder, nice=options.host_nice, cpus=options.harness_cpus) as files:
            urls = [f"{files}/call-{i}.wav" for i in range(FILES)]
            results = [
                await measure_mode(m, Path(folder), f"{files}/clip.wav", urls, rounds, idle_s, options) for m in modes
            ]
    print(
        f"{FILES} × {seconds / 60:.0f}-minute stereo 16 kHz PCM16 WAV ({size / 2**20:,.0f} MiB each, written in "
        f"{made_s:.1f} s) served from another process; fetch-transcript at {RATE:.0f}/s open loop from another "
        f"process over {LOAD_TRANSCRIPTS} completed transcripts; {rounds} round(s) of {FILES} files per mock; "
        f"{os.cpu_count()} cores; "
        + (
            f"mock pinned to CPU {cpu_list(options.mock_cpus)}, media host and load generator to CPU "
            f"{cpu_list(options.harness_cpus)}.\n"
            if options.mock_cpus
            else "nothing pinned: mock, media host and load generator share every CPU.\n"
        )
    )
    print("| mock | phase | requests | p50 | p99 | max | p99 ÷ idle p99 | CPU stolen (VM) | processing time | goal |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        stolen_idle, stolen_busy = r["stolen"]
        print(_row(MODES[r["mode"]], "idle", r["idle"], None, stolen_idle, f"({r['idle'].seconds:.0f} s)"))
        per_round = ", ".join(f"{s:.1f} s" for s in r["processing_s"])
        print(_row(MODES[r["mode"]], f"{FILES} files processing", r["busy"], r["idle"], stolen_busy, per_round))
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_media_latency")
    parser.add_argument("--quick", action="store_true", help="10-minute files, 1 round, 5 s idle")
    parser.add_argument("--mode", action="append", choices=list(MODES), help="measure this mock (repeatable)")
    parser.add_argument("--rounds", type=int, help="rounds of 8 files per mock (default 3, --quick 1)")
    host = "niceness of the process serving the media files (a remote host does not share the mock's CPUs)"
    parser.add_argument("--host-nice", type=int, default=0, help=host)
    gc = "the mock's cyclic GC: on (as shipped), off, freeze after each completion, or only once at startup"
    parser.add_argument("--gc", choices=("on", "off", "freeze", "startup"), default="on", help=gc)
    spy = "py-spy (PY_SPY=path, else on PATH) records the mock in the first busy round: DIR/MODE.txt"
    parser.add_argument("--profile", type=Path, metavar="DIR", help=spy)
    pinning = "the mock on the first CPU, the media host and load generator on the others (default with 2+ CPUs)"
    parser.add_argument("--pin", action=argparse.BooleanOptionalAction, default=True, help=pinning)
    trace = "on stderr: the mock's GC pauses over 5 ms, its event-loop stalls, and each window's slowest requests"
    parser.add_argument("--trace", action="store_true", help=trace)
    args = parser.parse_args(argv)
    args.mock_cpus, args.harness_cpus = split_cpus(args.pin)
    pin(args.harness_cpus)
    seconds = 600.0 if args.quick else 3600.0
    rounds = args.rounds or (1 if args.quick else 3)
    modes = args.mode or list(DEFAULT_MODES)
    return asyncio.run(run(modes, seconds, rounds, 5.0 if args.quick else 15.0, args))


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
