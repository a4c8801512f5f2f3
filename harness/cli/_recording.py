"""`--record FILE`, `--replay FILE` and `--pseudonymise` for the commands that talk to the API (`submit`, `merge
--room`; `demo` records only), and the wrapper that runs a command under them.

With `--record`, every client the command makes sends through a recording transport (harness.replay.Recorder) and
the webhook receiver reports the callbacks it accepted; the cassette is written when the command ends, however it
ends (an interrupted run's cassette holds what was answered). With `--replay`, every client gets the cassette's
respx router instead of a network transport — nothing is sent anywhere — and at the end:

- a request the cassette has no answer for ends the command with exit 2 and the diff against the closest recorded
  request (the command cannot be reproduced from this cassette);
- recorded exchanges the run never asked for are listed, and a run that otherwise ended 0 or 1 ends 2 (it did not
  do what was recorded); an interrupted or blocked run (3, 4) keeps its code — it stopped early on purpose;
- recorded callbacks the replay could not deliver (no receiver: no --webhook-port) are a warning only: callbacks
  are nudges, the runner polls anyway.

Replay needs no credentials: without TWILIO_ACCOUNT_SID it uses placeholders; without --base-url or
CINTEL_BASE_URL the recorded base URL (so a replay behaves as "against a mock" or "against Twilio" as the recording
did). This module is light on imports: `harness.replay` (and respx) load only when a flag is given.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from harness._errors import CintelError
from harness.cli._exit import EXIT_FAILED, EXIT_OK, EXIT_USAGE

if TYPE_CHECKING:
    import httpx

    from harness._client import IntelligenceClient
    from harness.media import VideoClient
    from harness.replay import Cassette, CassetteRouter, Recorder

REPLAY_ACCOUNT_SID = "AC" + "0" * 32
REPLAY_AUTH_TOKEN = "cintel-replay-placeholder"  # noqa: S105 — not a credential: nothing is sent under --replay
MAX_MISSES_SHOWN = 3


class RecordReplayError(CintelError):
    """--record/--replay used in a way that cannot work; nothing was sent."""


def add_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("record and replay (README: Record and replay)")
    group.add_argument("--record", type=Path, metavar="FILE",
                       help="write every HTTP exchange (and accepted callback) to this JSON cassette, secrets "
                       "scrubbed")  # fmt: skip
    group.add_argument("--replay", type=Path, metavar="FILE",
                       help="answer every request from this cassette, with no network at all (exit 2 on a request "
                       "it has no answer for, or when recorded exchanges are left unused)")  # fmt: skip
    group.add_argument("--pseudonymise", action="store_true",
                       help="with --record: replace account SIDs (AC…) by consistent placeholders")  # fmt: skip


def add_record_option(parser: argparse.ArgumentParser) -> None:
    """`--record FILE` and `--pseudonymise` alone, for a command that has nothing to replay (`cintel demo` starts
    its own mock: its cassette is a first one for `cintel conformance`, and a replay would have no mock to stand in
    for)."""
    group = parser.add_argument_group("record (README: Record and replay)")
    group.add_argument("--record", type=Path, metavar="FILE",
                       help="write every API exchange (and accepted callback) to this JSON cassette, secrets "
                       "scrubbed — a first cassette for `cintel conformance`")  # fmt: skip
    group.add_argument("--pseudonymise", action="store_true",
                       help="with --record: replace account SIDs (AC…) by consistent placeholders")  # fmt: skip


class Tap:
    """What a command asks while recorded or replayed: transports for its clients, and replay's defaults."""

    def __init__(self, recorder: Recorder | None = None, router: CassetteRouter | None = None) -> None:
        self.recorder = recorder
        self.router = router

    @property
    def cassette(self) -> Cassette | None:
        return self.router.cassette if self.router is not None else None

    def transport(self, make: Callable[[], httpx.AsyncBaseTransport]) -> httpx.AsyncBaseTransport:
        """Replay: the cassette's router; record: `make()` wrapped by the recorder."""
        if self.router is not None:
            return self.router.transport()
        assert self.recorder is not None
        return self.recorder.wrap(make())


def tap_of(args: argparse.Namespace) -> Tap | None:
    tap: Tap | None = getattr(args, "tap", None)
    return tap


def api_client(
    args: argparse.Namespace,
    *credentials: str,
    base_url: str | None,
    wrap: Callable[[httpx.AsyncBaseTransport], httpx.AsyncBaseTransport] | None = None,
) -> IntelligenceClient:
    """The command's IntelligenceClient: as usual, or through the recorder, or answered by the cassette; `wrap`
    (e.g. `--report`'s meter) goes around whichever transport that is."""
    from harness._client import IntelligenceClient
    from harness._transport import AiohttpTransport

    tap = tap_of(args)
    if tap is None:
        return IntelligenceClient(*credentials, base_url=base_url, transport=wrap(AiohttpTransport()) if wrap else None)
    if tap.router is not None:
        base_url = base_url or os.environ.get("CINTEL_BASE_URL") or tap.router.cassette.base_url
        if not credentials and not os.environ.get("TWILIO_ACCOUNT_SID"):
            credentials = (REPLAY_ACCOUNT_SID, REPLAY_AUTH_TOKEN)
    transport = tap.transport(AiohttpTransport)
    client = IntelligenceClient(*credentials, base_url=base_url, transport=wrap(transport) if wrap else transport)
    if tap.recorder is not None:
        tap.recorder.base_url = client.credentials.base_url
    return client


def video_client(args: argparse.Namespace, *, base_url: str | None) -> VideoClient:
    """The command's Video client (`cintel merge --room`), recorded or answered by the cassette as `api_client`."""
    import httpx

    from harness.media import VideoClient

    tap = tap_of(args)
    if tap is None:
        return VideoClient(base_url=base_url)
    credentials: tuple[str, ...] = ()
    if tap.router is not None:
        base_url = base_url or os.environ.get("CINTEL_VIDEO_BASE_URL") or tap.router.cassette.base_url
        if not os.environ.get("TWILIO_ACCOUNT_SID"):
            credentials = (REPLAY_ACCOUNT_SID, REPLAY_AUTH_TOKEN)
    client = VideoClient(*credentials, base_url=base_url, transport=tap.transport(httpx.AsyncHTTPTransport))
    if tap.recorder is not None:
        tap.recorder.base_url = client.credentials.base_url
    return client


Transports = Callable[[], "httpx.AsyncBaseTransport | None"]


def transport_factory(args: argparse.Namespace) -> Transports:
    """For clients made with httpx's own transport (Video, media hosts, track downloads): None without a tap."""
    tap = tap_of(args)
    if tap is None:
        return lambda: None

    def make() -> httpx.AsyncBaseTransport:
        import httpx

        assert tap is not None
        return tap.transport(httpx.AsyncHTTPTransport)

    return make


def run_tapped(args: argparse.Namespace, command: Callable[[argparse.Namespace], int]) -> int:
    """Run `command(args)` under --record or --replay when given (see the module docstring)."""
    record: Path | None = getattr(args, "record", None)
    replay: Path | None = getattr(args, "replay", None)
    if record is None and replay is None:
        if getattr(args, "pseudonymise", False):
            raise RecordReplayError("--pseudonymise goes with --record FILE (it changes what is written)")
        return command(args)
    if record is not None and replay is not None:
        raise RecordReplayError("--record and --replay: choose one (a replay sends nothing, so records nothing)")
    if getattr(args, "command", None) == "merge" and getattr(args, "room", None) is None:
        raise RecordReplayError("--record and --replay go with --room (merging files talks to no API)")
    if replay is not None and getattr(args, "pseudonymise", False):
        raise RecordReplayError("--pseudonymise goes with --record (a replayed cassette is used as it was written)")
    if getattr(args, "upload", None):
        raise RecordReplayError(
            "--upload sends merged audio to S3 through boto3, which --record and --replay do not "
            "see: record and replay room or track rows against a mock or with --media-base-url"
        )
    if replay is not None and getattr(args, "mock", False):
        raise RecordReplayError("--mock with --replay: nothing is started under replay; run the recorded command "
                                "without --mock, with --service set to the embedded mock's service (printed when it "
                                "was recorded)")  # fmt: skip
    from harness._webhooks import callback_tap

    tap = _open(args, record, replay)
    args.tap = tap
    reset = callback_tap.set(tap.recorder or tap.router)
    try:
        code = _run(command, args, tap)
    finally:
        callback_tap.reset(reset)
        if tap.recorder is not None and record is not None:
            tap.recorder.save(record)
            recorder = tap.recorder
            _say(args, "record", f"{len(recorder.exchanges)} exchanges and {len(recorder.callbacks)} "
                                 f"callbacks written to {record}")  # fmt: skip
    return code


def _open(args: argparse.Namespace, record: Path | None, replay: Path | None) -> Tap:
    from harness.replay import Recorder, load_cassette, respx_router

    if record is not None:
        parent = record.resolve().parent
        if not parent.is_dir():
            raise RecordReplayError(f"--record {record}: no such directory {parent}")
        if record.is_dir():
            raise RecordReplayError(f"--record {record}: a directory; name the cassette file to write")
        return Tap(recorder=Recorder(pseudonymise=args.pseudonymise, command=args.command))
    assert replay is not None
    cassette = load_cassette(replay)
    if cassette.command is not None and cassette.command != args.command:
        raise RecordReplayError(f"--replay {replay}: recorded by `cintel {cassette.command}`, not `cintel "
                                f"{args.command}`")  # fmt: skip
    return Tap(router=respx_router(cassette))


def _run(command: Callable[[argparse.Namespace], int], args: argparse.Namespace, tap: Tap) -> int:
    from harness.replay import ReplayError

    router = tap.router
    try:
        code = command(args)
    except ReplayError:
        if router is None or not router.misses:
            raise
        code = EXIT_USAGE
    if router is None:
        return code
    if router.misses:
        for miss in router.misses[:MAX_MISSES_SHOWN]:
            _say(args, "replay", str(miss), level="error")
        hidden = len(router.misses) - MAX_MISSES_SHOWN
        if hidden > 0:
            _say(args, "replay", f"… and {hidden} more requests the cassette has no answer for", level="error")
        return EXIT_USAGE
    unused = router.unused()
    for problem in router.callback_problems:
        _say(args, "replay", problem, level="warning")
    undelivered = router.undelivered()
    if undelivered:
        _say(args, "replay", f"{len(undelivered)} recorded callbacks were not delivered (no webhook receiver in this "
                             "run, or it stopped first); the run polled instead", level="warning")  # fmt: skip
    callbacks = router.cassette.callbacks
    if callbacks:
        _say(args, "replay", f"{len(router.delivered)} of {len(callbacks)} recorded callbacks delivered")
    if not unused:
        _say(args, "replay", f"every recorded exchange was used ({len(router.cassette.exchanges)})")
        return code
    listing = "\n".join(f"  {exchange.describe()}" for exchange in unused[:20])
    more = f"\n  … and {len(unused) - 20} more" if len(unused) > 20 else ""
    ended = code in (EXIT_OK, EXIT_FAILED)  # it ran to its end, so it should have asked for everything
    _say(args, "replay", f"{len(unused)} of {len(router.cassette.exchanges)} recorded exchanges were not used:\n"
                         f"{listing}{more}", level="error" if ended else "note")  # fmt: skip
    return EXIT_USAGE if ended else code


def _say(args: argparse.Namespace, what: str, message: str, *, level: str = "info") -> None:
    """One line (or a few) on stderr: `cintel submit: replay: error: …`, or a JSON event with --log-format json."""
    if getattr(args, "log_format", "text") == "json":
        import json

        print(json.dumps({"event": what, "level": level, "message": message}), file=sys.stderr)
        return
    shown = "" if level == "info" else f"{level}: "
    print(f"cintel {args.command}: {what}: {shown}{message}", file=sys.stderr)
