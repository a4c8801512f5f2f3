"""`cintel submit`: the batch runner on the command line, and `run_batch()`, which `cintel demo` shares.

Before anything is sent: the manifest is scanned (encoding, misspelled columns, every tracks/room_sid row), the host
for merged audio is checked (S3 bucket, served directory, the mock's media host), the journal is opened and locked
(a second run on it is refused), the output directory is checked to belong to this batch. During the run SIGINT and
SIGTERM are interruptions: the journal is flushed, the service's WebhookUrl restored, results written, exit 3.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from harness._client import IntelligenceClient
from harness._credentials import TWILIO_BASE_URL, Credentials
from harness._errors import ApiUnreachable, CintelError
from harness._hosting import MOCK_CONTROL_TOKEN_ENV, DirectoryHost, Host, HostingError, MockHost, S3Host, parse_s3_url
from harness._journal import Journal, fingerprint
from harness._manifest import ManifestScan, scan_manifest
from harness._private import PRIVATE_DIR, make_dirs
from harness._progress import ProgressView
from harness._rooms import MediaOptions
from harness._runner import BatchRunner, RunnerOptions, Summary
from harness._runner_checks import startup
from harness._service_hook import pending_restore, repoint, restore
from harness._webhooks import WebhookReceiver
from harness.cli._env import require_credentials
from harness.cli._exit import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK
from harness.cli._recording import Transports, api_client, transport_factory
from harness.cli._submit_report import BatchReport

SERVICE_SID = re.compile(r"^GA[0-9a-fA-F]{32}$")
RESTORE_TIMEOUT_S = 20.0


class UsageError(CintelError):
    """A command-line value that cannot work; nothing was sent."""


def default_paths(manifest: Path) -> tuple[Path, Path]:
    """The journal and output directory beside the manifest, named after its full name (`calls.jsonl` and
    `calls.csv` never share them)."""
    return manifest.with_name(manifest.name + ".journal.sqlite"), manifest.with_name(manifest.name + ".results")


def submit_command(args: argparse.Namespace) -> int:
    if args.mock:
        _check_embedded_mock(args)
    elif not args.service:
        raise UsageError("--service is required (or set CINTEL_SERVICE_SID): the Intelligence Service SID, GA…")
    if args.service and not SERVICE_SID.match(args.service):
        raise UsageError(f"--service {args.service[:40]!r} is not a Service SID (GA followed by 32 hex digits)")
    if not args.manifest.is_file():
        raise UsageError(f"{args.manifest}: no such manifest file")
    view = ProgressView(args.log_format)
    if args.configure_webhook and args.webhook_port is None:
        raise UsageError("--configure-webhook needs --webhook-port (and, against Twilio, --public-url: the tunnel "
                         "Twilio reaches the receiver through)")  # fmt: skip
    scan = scan_manifest(args.manifest)
    if scan.rows == 0:
        raise UsageError(f"{args.manifest}: no rows: nothing to submit")
    if args.out is not None and args.out.exists() and not args.out.is_dir():
        raise UsageError(f"--out {args.out}: a file, not a directory")
    if scan.unknown_columns:
        view.message(f"{args.manifest}: kept as metadata (not Twilio fields): {', '.join(scan.unknown_columns)}",
                     columns=list(scan.unknown_columns))  # fmt: skip
    if args.upload and args.media_base_url:
        raise UsageError("--upload and --media-base-url: choose one place to host the merged audio")
    if args.media_base_url and not args.media_dir:
        raise UsageError("--media-base-url needs --media-dir: the directory you serve at that URL")
    if not scan.merge_rows and (args.upload or args.media_base_url or args.media_dir):
        view.message(f"{args.manifest}: no tracks or room_sid rows, so nothing to merge or host")
    return _in_loop(_submit(args, view, scan), view)


def _in_loop(coroutine: Coroutine[Any, Any, int], view: ProgressView) -> int:
    """Run the command's coroutine; SIGINT and SIGTERM cancel it, which it answers with cleanup and exit 3."""

    async def guarded() -> int:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        received: list[str] = []

        def interrupt(name: str) -> None:
            received.append(name)
            task.cancel()

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, interrupt, sig.name)
        try:
            return await coroutine
        except asyncio.CancelledError:
            if not received:
                raise
            view.message(f"interrupted ({received[0]}): progress is saved; run the same command again to resume")
            return EXIT_INTERRUPTED
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)

    return asyncio.run(guarded())


def _check_embedded_mock(args: argparse.Namespace) -> None:
    if args.base_url:
        raise UsageError("--mock and --base-url: choose one (--mock starts its own API)")
    journal = args.journal or default_paths(args.manifest)[0]
    if journal.exists():
        raise UsageError(
            f"--mock with {journal}, which holds an earlier batch: an embedded mock's transcripts end with its "
            "process, so that batch cannot be resumed against a new one; pass a new --journal (and --out)"
        )


async def _submit(args: argparse.Namespace, view: ProgressView, scan: ManifestScan) -> int:
    report = BatchReport(args.report, args.manifest) if getattr(args, "report", None) else None
    wrap = report.wrap if report else None
    code, interrupted = EXIT_INTERRUPTED, True
    try:
        if not args.mock:
            if getattr(args, "replay", None) is None:  # a replay answers from its cassette, credentials or not
                require_credentials(os.environ, "cintel submit sends the batch with your Twilio credentials")
            client = api_client(args, base_url=args.base_url, wrap=wrap)
            if report:
                report.bind(client)
            code = await _submit_to(client, args.service, args, view, scan)
        else:
            code = await _submit_embedded(args, view, scan, report)
        interrupted = code == EXIT_INTERRUPTED
        return code
    finally:
        if report is not None and (html := report.write(code, interrupted)) is not None:
            view.message(f"report: {html}")


async def _submit_embedded(
    args: argparse.Namespace, view: ProgressView, scan: ManifestScan, report: BatchReport | None
) -> int:
    from mock_server import MockConfig, load_config_file, serve

    config = load_config_file(args.mock_config) if args.mock_config else MockConfig()
    async with serve(config, port=0) as mock:
        view.message(f"embedded mock: {mock.base_url} (dev account {mock.account_sid}, service {mock.service_sid})")
        client = api_client(args, mock.account_sid, mock.auth_token, base_url=mock.base_url,
                            wrap=report.wrap if report else None)  # fmt: skip
        if report:
            report.bind(client)
        return await _submit_to(client, args.service or mock.service_sid, args, view, scan, embedded=True)


async def _submit_to(
    client: IntelligenceClient,
    service_sid: str,
    args: argparse.Namespace,
    view: ProgressView,
    scan: ManifestScan,
    *,
    embedded: bool = False,
) -> int:
    manifest: Path = args.manifest
    default_journal, default_out = default_paths(manifest)
    out = args.out or default_out
    base_url = "embedded mock" if embedded else client.credentials.base_url
    batch = {"manifest": fingerprint(manifest), "service_sid": service_sid, "base_url": base_url}
    journal_path = args.journal or default_journal
    media = await _media(args, client.credentials, journal_path) if scan.merge_rows else None
    try:
        journal = Journal(journal_path, batch=batch)
    except BaseException:
        if media is not None:
            await media.host.aclose()
        raise
    is_twilio = client.credentials.base_url == TWILIO_BASE_URL
    options = RunnerOptions(
        service_sid=service_sid, out_dir=out, wait=not args.no_wait, word_timestamps=args.word_timestamps,
        include_media=args.media, retry_failed=args.retry_failed, wait_timeout_s=args.timeout,
        unreachable_timeout_s=args.unreachable_timeout, media=media,
    )  # fmt: skip
    token = client.credentials.signing_token if args.webhook_port is not None else None
    if args.webhook_port is not None and token is None:
        view.message("cintel submit: webhooks need TWILIO_AUTH_TOKEN to check signatures; polling only")
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
    return final(summary, out, view)


async def _media(args: argparse.Namespace, credentials: Credentials, journal: Path) -> MediaOptions:
    """Where merged audio goes and how it is hosted (README: Submitting rooms), checked before anything is sent."""
    is_twilio = credentials.base_url == TWILIO_BASE_URL
    ttl_s = int(args.media_ttl)
    media_dir: Path = args.media_dir or args.manifest.with_name(args.manifest.name + ".media")
    transport = transport_factory(args)  # None unless --record/--replay
    host: Host
    try:
        if args.upload:
            host = S3Host(*parse_s3_url(args.upload), ttl_s=ttl_s)
        elif args.media_base_url:
            host = DirectoryHost(args.media_base_url, media_dir, transport=transport())
        elif is_twilio:
            raise UsageError(
                "tracks and room_sid rows are merged into a file Twilio must fetch: host it with --upload "
                "s3://BUCKET/PREFIX (pre-signed URLs), or write it to a directory you serve with --media-dir DIR "
                "--media-base-url URL"
            )
        else:  # a mock: its own media host
            host = MockHost(credentials.base_url, ttl_s=ttl_s, token=os.environ.get(MOCK_CONTROL_TOKEN_ENV),
                            transport=transport())  # fmt: skip
        try:
            await host.check()
            if not args.media_base_url:  # our own directory: private (a served one keeps its mode)
                make_dirs(media_dir, PRIVATE_DIR)  # and its missing parents, 0700 whatever the umask
        except BaseException:
            await host.aclose()
            raise
    except HostingError as error:
        if error.transient:
            raise ApiUnreachable(f"the host for merged audio: {error}", unreachable_s=0.0) from None
        raise UsageError(str(error)) from None
    return MediaOptions(host, media_dir, work_dir=Path(f"{journal}.tracks"), merge_workers=args.merge_workers,
                        video=_video(credentials, transport), transport=transport())  # fmt: skip


def _video(credentials: Credentials, transport: Transports) -> Callable[[], Any]:
    """Opens a Video client with the run's credentials: Twilio's Video API (or CINTEL_VIDEO_BASE_URL), or the mock's
    own Video when the Intelligence API is a mock."""
    is_twilio = credentials.base_url == TWILIO_BASE_URL
    base_url = None if is_twilio else os.environ.get("CINTEL_VIDEO_BASE_URL") or credentials.base_url

    def open_video() -> Any:
        from harness.media import VideoClient

        if credentials.username == credentials.account_sid:
            return VideoClient(credentials.account_sid, credentials.password, base_url=base_url, transport=transport())
        return VideoClient(credentials.account_sid, api_key=credentials.username, api_secret=credentials.password,
                           base_url=base_url, transport=transport())  # fmt: skip

    return open_video


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
    """Run one batch with progress, a signed-webhook receiver when a token to check signatures is given, and the
    service's WebhookUrl restored at the end however the run ends."""
    runner = BatchRunner(client, journal, manifest, options, on_progress=view.update)
    receiver: WebhookReceiver | None = None
    try:
        with view:
            if webhook_token is not None and options.wait:
                receiver = WebhookReceiver(webhook_token, runner.nudge, public_url=public_url)
                await receiver.start(port=webhook_port)
                if repoint_service:
                    what = "point the service's WebhookUrl at the receiver"
                    url = receiver.callback_url
                    await startup(runner, what, lambda: repoint(client, journal, options.service_sid, url))
            elif pending_restore(journal) is not None:
                await startup(runner, "restore the service's WebhookUrl", lambda: restore(client, journal))
            return await runner.run(), receiver
    finally:
        await _restore_webhook(client, journal, view)
        if receiver is not None:
            await receiver.close()


async def _restore_webhook(client: IntelligenceClient, journal: Journal, view: ProgressView) -> None:
    record = pending_restore(journal)
    if record is None:
        return
    try:
        await asyncio.wait_for(restore(client, journal), RESTORE_TIMEOUT_S)
    except (CintelError, TimeoutError, asyncio.CancelledError) as error:
        reason = "interrupted" if isinstance(error, asyncio.CancelledError) else str(error) or type(error).__name__
        view.message(
            f"could not restore the WebhookUrl of service {record.get('service_sid')} ({reason}); it is recorded in "
            "the journal and the next run of this batch restores it"
        )
        if isinstance(error, asyncio.CancelledError):
            raise


def final(summary: Summary, out: Path | None, view: ProgressView) -> int:
    view.summary(summary, str(out) if out is not None else None)
    if summary.ok:
        return EXIT_OK
    parts = [f"{len(summary.failed)} failed", f"{summary.rejected} rejected rows", f"{summary.not_done} not done"]
    if summary.not_done:
        why = "--timeout reached" if summary.timed_out else "still to send or transcribing"
        view.message(f"{', '.join(parts)} ({why}); run the same command again to resume")
        return EXIT_INTERRUPTED
    advice = []
    if summary.failed:
        advice.append("`--retry-failed` sends the failed items again")
    if summary.rejected:
        advice.append(
            "the rejected rows are in rejects.jsonl: fix them in a new manifest (a new batch; this one is done)"
        )
    view.message(f"{', '.join(parts)}; " + "; ".join(advice))
    return EXIT_FAILED
