"""`cintel load`: drive an arrival rate (or a number of concurrent requests) and write the report; and
`cintel load merge DIR...`: several processes' reports as one.

Targets: an embedded mock in a child process (default; `--mock-config FILE`), a mock elsewhere (`--base-url`,
credentials from the environment), or Twilio (`--twilio`, or a `--base-url` on twilio.com) — only with
`--yes-really-send-to-twilio`, and only after saying how many requests and transcripts the run will make.
Exit codes: 0 done (thresholds passed or none), 2 usage, 3 interrupted (the report is still written), 99 a
threshold crossed (k6's convention).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from harness._credentials import TWILIO_BASE_URL, resolve_credentials
from harness._errors import CintelError
from harness.cli._exit import EXIT_INTERRUPTED, EXIT_OK, EXIT_THRESHOLDS
from harness.load import LoadResult, LoadSpec, Target, build_spec, merge_reports, run_load, write_report
from harness.load._live import LiveView
from harness.load._ops import DEFAULT_MEDIA_URL
from harness.load._report import write_files
from harness.load._thresholds import ThresholdError, parse_threshold

CONFIRM_FLAG = "--yes-really-send-to-twilio"
SPEC_FLAGS = (
    "rate", "duration", "steps", "step_duration", "spike_rate", "spike_at", "spike_duration", "concurrency",
    "adaptive", "mix", "max_in_flight", "connections", "max_lag", "drain", "timeout", "seed", "prepare", "base_url",
    "mock_config", "service", "media_url", "out",
)  # fmt: skip


class LoadUsageError(CintelError):
    """A `cintel load` command line that cannot run; nothing was sent."""


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    load = commands.add_parser(
        "load",
        help="drive an arrival rate against the mock (or Twilio) and write an HTML report; `load merge DIR...`",
        description="Send requests at an arrival rate (open model: constant, ramp, steps, spike) or from N "
        "concurrent workers (closed model), measure every second, and write report.json, timeseries.csv and "
        "report.html to --out. `cintel load merge DIR... --out DIR` merges reports of processes that ran together.",
        epilog="examples:\n  cintel load --rate 200/s --duration 60s --out load-report\n"
        "  cintel load --ramp 10/s:400/s --duration 2m --mix create=5,fetch=3,sentences=1,operator_results=1\n"
        "  cintel load --steps 100/s,200/s,400/s --step-duration 20s --threshold 'p99<800ms'\n"
        "  cintel load --rate 50/s --spike-rate 500/s --spike-at 20s --spike-duration 5s --duration 60s\n"
        "  cintel load --adaptive --concurrency 64 --duration 60s --mock-config limits.toml\n"
        "  cintel load load.toml            (a [load] table with the same keys)\n\n"
        "exit codes: 0 done, 2 usage, 3 interrupted (report still written), 4 refused by the account,\n"
        "99 a threshold crossed",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    load.add_argument(
        "paths", nargs="*", metavar="FILE.toml | merge DIR",
        help="a TOML file with a [load] table (flags override it), or `merge` and report directories",
    )  # fmt: skip
    shape = load.add_argument_group("load model (open: an arrival rate; closed: concurrent workers)")
    shape.add_argument("--rate", help="constant arrival rate, like 200/s or 12000/m (also the spike's base rate)")
    shape.add_argument("--duration", help="how long, like 60s or 2m")
    shape.add_argument("--ramp", metavar="FROM:TO", help="a linear ramp of the rate over --duration, like 10/s:400/s")
    shape.add_argument("--steps", metavar="R1,R2,...", help="rates held --step-duration each, like 100/s,200/s")
    shape.add_argument("--step-duration", help="how long each step lasts")
    shape.add_argument("--spike-rate", help="the spike's rate (with --rate, --spike-at, --spike-duration)")
    shape.add_argument("--spike-at", help="when the spike starts, like 20s")
    shape.add_argument("--spike-duration", help="how long the spike lasts, like 5s")
    shape.add_argument("--concurrency", help="closed model: this many requests out at once (with --adaptive: at most)")
    shape.add_argument("--adaptive", action="store_true", default=None,
                       help="every request passes the client's adaptive limiter (harness.AdaptiveLimiter)")  # fmt: skip
    shape.add_argument("--mix", help="operation weights: create=5,fetch=3,sentences=1,operator_results=1 "
                                     "(default create=1)")  # fmt: skip
    shape.add_argument("--threshold", action="append", default=None, metavar="EXPR",
                       help="fail (exit 99) unless it holds: 'p99<800ms', '429_rate<2%%', 'goodput>0.95'")  # fmt: skip
    target = load.add_argument_group("target (default: an embedded mock in a child process)")
    target.add_argument("--mock-config", help="the embedded mock's configuration file (TOML)")
    target.add_argument("--base-url", help="a mock elsewhere (credentials and --service from the environment)")
    target.add_argument("--twilio", action="store_true", help=f"the real API ({TWILIO_BASE_URL}); needs {CONFIRM_FLAG}")
    target.add_argument(CONFIRM_FLAG, dest="confirmed", action="store_true",
                        help="send to Twilio: real transcripts are created and billed")  # fmt: skip
    target.add_argument("--service", help="the Intelligence Service SID (default CINTEL_SERVICE_SID; the mock's own)")
    target.add_argument("--media-url", help=f"the media URL creates use ({{n}} = arrival number; mocks default "
                                            f"{DEFAULT_MEDIA_URL})")  # fmt: skip
    target.add_argument("--no-webhooks", action="store_true", help="do not measure webhook lag (no receiver)")
    tuning = load.add_argument_group("generator")
    tuning.add_argument("--max-in-flight", help="requests out at once before arrivals are dropped (default 1000)")
    tuning.add_argument("--connections", help="keep-alive connections at most (default 256); requests beyond wait "
                                              "for one, and the wait counts as latency")  # fmt: skip
    tuning.add_argument("--max-lag", help="drop an arrival the generator is this late for (default 1s)")
    tuning.add_argument("--drain", help="after the last arrival, wait this long for answers (default 10s)")
    tuning.add_argument("--timeout", help="a request's answer timeout (default 30s)")
    tuning.add_argument("--prepare", help="transcripts created before measuring when the mix reads (default 10)")
    tuning.add_argument("--seed", help="seed of the operation mix and the embedded mock (default 1)")
    load.add_argument("--out", help="report directory (default ./load-YYYYmmdd-HHMMSS)")


def load_command(args: argparse.Namespace) -> int:
    paths: list[str] = args.paths
    if paths[:1] == ["merge"]:
        return _merge(paths[1:], args)
    if len(paths) > 1:
        raise LoadUsageError(f"one TOML file at most (got {len(paths)}: {' '.join(paths)}); `cintel load merge DIR...` "
                             "merges reports")  # fmt: skip
    flags: dict[str, Any] = {name: getattr(args, name) for name in SPEC_FLAGS}
    if args.ramp is not None:
        start, sep, end = args.ramp.partition(":")
        if not sep:
            raise LoadUsageError(f"--ramp {args.ramp!r}: give FROM:TO, like 10/s:400/s")
        flags["ramp_from"], flags["ramp_to"] = start, end
    flags["thresholds"] = args.threshold
    if args.no_webhooks:
        flags["webhooks"] = False
    spec = build_spec(flags, Path(paths[0]) if paths else None)
    if args.twilio:
        if spec.base_url:
            raise LoadUsageError("--twilio and --base-url: choose one")
        spec = _with(spec, base_url=TWILIO_BASE_URL)
    to_twilio = spec.base_url is not None and (urlsplit(spec.base_url).hostname or "").endswith("twilio.com")
    if to_twilio:
        _confirm(spec, args.confirmed)
    if spec.mock_config is not None and spec.base_url is not None:
        raise LoadUsageError("--mock-config is for the embedded mock; with --base-url, configure that mock itself")
    out = spec.out or Path(time.strftime("load-%Y%m%d-%H%M%S"))
    if out.exists() and not out.is_dir():
        raise LoadUsageError(f"--out {out}: a file, not a directory")
    mock_json = None
    if spec.base_url is None:
        from harness.cli._load_mock import load_mock_config

        mock_json = load_mock_config(spec.mock_config)
    view = LiveView(duration_s=spec.duration_s, limit_label="limit" if spec.adaptive else "cap")
    result = _in_loop(_run(spec, mock_json, to_twilio, view))
    html = write_report(
        result.metrics, out, spec=spec.to_json(), target=result.target, verdicts=result.verdicts,
        notes=result.notes, interrupted=result.interrupted,
        limit_label="adaptive limit" if spec.adaptive else "in-flight cap (--max-in-flight)",
    )  # fmt: skip
    _print_summary(result, html)
    if result.interrupted:
        return EXIT_INTERRUPTED
    return EXIT_THRESHOLDS if result.crossed else EXIT_OK


def _with(spec: LoadSpec, **changes: Any) -> LoadSpec:
    from dataclasses import replace

    return replace(spec, **changes)


def _confirm(spec: LoadSpec, confirmed: bool) -> None:
    requests, transcripts = spec.planned()
    if requests is None:
        plan = f"a closed model for {spec.duration_s:g} s: as many requests as the API answers (unbounded)"
    else:
        plan = f"up to {requests:,} requests, creating up to {transcripts:,} transcripts (billed)"
    print(f"cintel load → Twilio ({spec.base_url}): {plan}", flush=True)
    if not spec.media_url:
        raise LoadUsageError("against Twilio, --media-url is required: a recording Twilio can fetch")
    if not confirmed:
        raise LoadUsageError(f"this sends to the real API; add {CONFIRM_FLAG} to go ahead (nothing was sent)")


def _in_loop(coroutine: Coroutine[Any, Any, LoadResult]) -> LoadResult:
    async def guarded() -> LoadResult:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        inner = loop.create_task(coroutine)
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, inner.cancel)
        try:
            return await inner
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)

    return asyncio.run(guarded())


async def _run(spec: LoadSpec, mock_json: dict[str, Any] | None, to_twilio: bool, view: LiveView) -> LoadResult:
    if mock_json is not None:
        from harness.cli._load_mock import embedded_mock

        async with embedded_mock(mock_json, seed=spec.seed) as mock:
            view.message(f"embedded mock: {mock.base_url} (its own process)")
            credentials = resolve_credentials(mock.account_sid, mock.auth_token, base_url=mock.base_url)
            target = Target(credentials, spec.service or mock.service_sid, spec.media_url or DEFAULT_MEDIA_URL,
                            "embedded mock")  # fmt: skip
            with view:
                return await run_load(spec, target, on_tick=view.update, say=view.message, webhooks=spec.webhooks)
    import os

    credentials = resolve_credentials(base_url=spec.base_url)
    service = spec.service or os.environ.get("CINTEL_SERVICE_SID")
    if not service:
        raise LoadUsageError("--service is required with --base-url or --twilio (or set CINTEL_SERVICE_SID)")
    local = (urlsplit(credentials.base_url).hostname or "") in ("127.0.0.1", "localhost", "::1")
    # The receiver listens on loopback: only a mock on this machine can call it.
    webhooks = spec.webhooks and local and not to_twilio
    target = Target(credentials, service, spec.media_url or DEFAULT_MEDIA_URL, "twilio" if to_twilio else "mock")
    with view:
        result = await run_load(spec, target, on_tick=view.update, say=view.message, webhooks=webhooks,
                                restore_webhook=True)  # fmt: skip
    if spec.webhooks and not webhooks:
        result.notes.append("webhook lag not measured: the receiver listens on loopback, which this target cannot call")
    return result


def _print_summary(result: LoadResult, html: Path) -> None:
    s = result.summary
    spec = result.spec
    shape = spec.profile.description if spec.profile else f"closed model, {spec.concurrency} concurrent"
    print(f"cintel load: {s['offered']:,} arrivals offered in {s['duration_s']:.1f} s ({shape}), {s['sent']:,} sent, "
          f"{s['dropped']:,} dropped")  # fmt: skip
    if s["dropped"]:
        reasons = ", ".join(f"{k} {v:,}" for k, v in s["dropped_reasons"].items())
        share = (s["dropped_rate"] or 0) * 100
        print(f"  the generator could not keep up with the asked rate: {s['dropped']:,} arrivals dropped "
              f"({share:.2f}%: {reasons}); what was measured is less than was asked")  # fmt: skip
    print(f"  answered {s['completed']:,} ({s['achieved_rate']:,}/s): 2xx {s['ok']:,} · 429 {s['rate_limited']:,} · "
          f"5xx {s['server_errors']:,} · other errors {s['other_errors']:,}")  # fmt: skip
    lat = s["latency_ms"]
    print("  latency ms: " + " · ".join(f"{k} {lat[k]}" for k in ("p50", "p90", "p99", "p99.9", "max")))
    lag = s["webhook_lag_ms"]
    if lag["count"]:
        print(f"  webhook lag ms: p50 {lag['p50']} · p99 {lag['p99']} · max {lag['max']} ({lag['count']:,} callbacks)")
    for note in result.notes:
        print(f"  note: {note}")
    print(f"report: {html} (and report.json, timeseries.csv beside it)")
    if result.verdicts:
        print("thresholds:")
        for verdict in result.verdicts:
            print(f"  {verdict.describe()}")
    if result.crossed:
        print(f"{len(result.crossed)} threshold(s) crossed: exit 99")


def _merge(directories: list[str], args: argparse.Namespace) -> int:
    if not directories:
        raise LoadUsageError("cintel load merge DIR...: give the report directories to merge")
    if args.out is None:
        raise LoadUsageError("cintel load merge needs --out DIR for the merged report")
    thresholds = None
    if args.threshold:
        try:
            thresholds = [parse_threshold(t) for t in args.threshold]
        except ThresholdError as exc:
            raise LoadUsageError(str(exc)) from None
    report = merge_reports([Path(d) for d in directories], thresholds)
    html = write_files(report, Path(args.out))
    s = report["summary"]
    print(f"merged {len(directories)} reports: {s['offered']:,} offered, {s['completed']:,} answered "
          f"({s['achieved_rate']:,}/s), p99 {s['latency_ms']['p99']} ms; report: {html}")  # fmt: skip
    crossed = [v for v in report["thresholds"] if not v["passed"]]
    for v in report["thresholds"]:
        print(f"  {'ok' if v['passed'] else 'CROSSED':7} {v['expression']} (actual {v['actual']})")
    return EXIT_THRESHOLDS if crossed else EXIT_OK
