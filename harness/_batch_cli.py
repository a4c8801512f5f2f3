"""`cintel submit`, `status`, `results` and `demo`: the batch runner on the command line.

`demo` is a composition root like `cintel mock`: it starts the mock through its public entry point
(`mock_server.serve`) and points the runner at it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from harness._cli import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from harness._client import IntelligenceClient
from harness._credentials import TWILIO_BASE_URL
from harness._errors import CintelError
from harness._journal import Journal, fingerprint
from harness._progress import ProgressView
from harness._runner import BatchRunner, RunnerOptions, Summary
from harness._webhooks import WebhookReceiver


def add_commands(commands: Any) -> None:
    submit = commands.add_parser("submit", help="transcribe every recording of a manifest, exactly once")
    submit.add_argument("manifest", type=Path, help="JSONL or CSV manifest (README: Manifest)")
    submit.add_argument("--service", required=True, help="Intelligence Service SID (GA…)")
    submit.add_argument("--base-url", help="API base URL (default: CINTEL_BASE_URL, else Twilio)")
    submit.add_argument("--journal", type=Path, help="journal file (default: MANIFEST.journal.sqlite)")
    submit.add_argument("--out", type=Path, help="results directory (default: MANIFEST-results/)")
    submit.add_argument("--no-wait", action="store_true", help="submit only; `cintel status` reports later")
    submit.add_argument("--webhook-port", type=int, help="receive completion callbacks on this port")
    submit.add_argument("--public-url", help="the URL Twilio reaches the receiver at (a tunnel)")
    submit.add_argument(
        "--configure-webhook", action="store_true", help="point the service's WebhookUrl at the receiver"
    )
    submit.add_argument("--word-timestamps", action="store_true", help="fetch sentences with word timestamps")
    submit.add_argument("--media", action="store_true", help="also record each transcript's media URL")
    submit.add_argument("--log-format", choices=("text", "json"), default="text", help="progress as text or JSON")
    for name, text in (("status", "report on a batch from its journal"), ("results", "list a batch's items")):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("--journal", type=Path, required=True)
    demo = commands.add_parser("demo", help="the whole job on an embedded mock with 429s, webhooks and faults")
    demo.add_argument("--items", type=int, default=300, help="synthetic manifest rows (default 300)")
    demo.add_argument("--out", type=Path, help="keep the results here (default: a temporary directory)")


def run_command(args: argparse.Namespace) -> int:
    try:
        if args.command == "submit":
            if not args.manifest.is_file():
                raise CintelError(f"{args.manifest}: no such manifest")
            return asyncio.run(_submit(args))
        if args.command == "status":
            return _status(args.journal)
        if args.command == "results":
            return _results(args.journal)
        return asyncio.run(_demo(args))
    except CintelError as error:
        print(f"cintel {args.command}: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"cintel {args.command}: interrupted; run the same command again to resume", file=sys.stderr)
        return EXIT_INTERRUPTED


async def _submit(args: argparse.Namespace) -> int:
    manifest: Path = args.manifest
    client = IntelligenceClient(base_url=args.base_url)
    journal_path = args.journal or manifest.with_name(manifest.name + ".journal.sqlite")
    out = args.out or manifest.with_name(manifest.stem + "-results")
    batch = {"manifest": fingerprint(manifest), "service_sid": args.service, "base_url": client.credentials.base_url}
    journal = Journal(journal_path, batch=batch)
    is_twilio = client.credentials.base_url == TWILIO_BASE_URL
    options = RunnerOptions(
        service_sid=args.service, out_dir=out, wait=not args.no_wait, word_timestamps=args.word_timestamps,
        include_media=args.media,
    )  # fmt: skip
    view = ProgressView(args.log_format)
    token = client.credentials.signing_token if args.webhook_port is not None else None
    if args.webhook_port is not None and token is None:
        print("cintel submit: webhooks need TWILIO_AUTH_TOKEN to check signatures; polling only", file=sys.stderr)
    try:
        async with client:
            summary, _ = await run_batch(
                client, journal, manifest, options, view, webhook_token=token, webhook_port=args.webhook_port or 0,
                public_url=args.public_url,
                # Against the mock the runner may repoint the service; against Twilio only when asked to.
                repoint_service=args.configure_webhook or not is_twilio,
            )  # fmt: skip
    finally:
        journal.close()
    return _final(summary, out, view)


async def run_batch(
    client: IntelligenceClient,
    journal: Journal,
    manifest: Path,
    options: RunnerOptions,
    view: ProgressView,
    *,
    webhook_token: str | None,
    webhook_port: int = 0,
    public_url: str | None = None,
    repoint_service: bool = False,
) -> tuple[Summary, WebhookReceiver | None]:
    """Run one batch with progress, and a signed-webhook receiver when a token to check signatures is given."""
    runner = BatchRunner(client, journal, manifest, options, on_progress=view.update)
    receiver: WebhookReceiver | None = None
    try:
        if webhook_token is not None and options.wait:
            receiver = WebhookReceiver(webhook_token, runner.nudge, public_url=public_url)
            await receiver.start(port=webhook_port)
            if repoint_service:
                await client.update_service(options.service_sid, webhook_url=receiver.callback_url)
        with view:
            return await runner.run(), receiver
    finally:
        if receiver is not None:
            await receiver.close()


def _final(summary: Summary, out: Path | None, view: ProgressView) -> int:
    view.summary(summary, str(out) if out is not None else None)
    if summary.ok:
        return EXIT_OK
    print(f"{len(summary.failed)} failed, {summary.rejected} rejected, {summary.not_done} not done", file=sys.stderr)
    return EXIT_FAILED


def _status(path: Path) -> int:
    if not path.is_file():
        raise CintelError(f"{path}: no such journal")
    with Journal(path, batch={}) as journal:
        print(json.dumps({"batch": journal.batch_info(), "counts": journal.counts()}, indent=1))
    return EXIT_OK


def _results(path: Path) -> int:
    if not path.is_file():
        raise CintelError(f"{path}: no such journal")
    with Journal(path, batch={}) as journal:
        for item in journal.items():
            print(json.dumps({
                "row": item.row, "customer_key": item.customer_key, "state": item.state,
                "transcript_sid": item.transcript_sid, "status": item.status, "error": item.last_error,
            }))  # fmt: skip
    return EXIT_OK


async def _demo(args: argparse.Namespace) -> int:
    from harness._demo import run_demo

    return await run_demo(args.items, args.out, ProgressView("text"), _final)
