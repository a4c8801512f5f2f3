"""The `cintel` command: `main(argv) -> int`, one subcommand per job.

This package is a composition root: the one place (with the pytest plugin, later) that brings the client library
and the mock together, through each package's public entry points. Command modules are imported when their command
runs, so `cintel --help` stays fast. Arrows point one way: `_main` → the command modules → `_exit`.
Errors end a command with the exit code of their cause (`_exit.code_for`) and one line naming what to fix — never a
traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from harness._errors import CintelError
from harness.cli._exit import EXIT_BLOCKED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, HELP, code_for

CREDENTIALS_HELP = """credentials (environment):
  TWILIO_ACCOUNT_SID + TWILIO_AUTH_TOKEN, or TWILIO_ACCOUNT_SID + TWILIO_API_KEY + TWILIO_API_SECRET
  CINTEL_BASE_URL   the API to talk to (e.g. a `cintel mock`); default https://intelligence.twilio.com
  CINTEL_SERVICE_SID  the default --service"""


def _version() -> str:
    try:
        return version("cintel-harness")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown"


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text.removesuffix("s"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value <= 30 * 86400:
        raise argparse.ArgumentTypeError(f"must be between 0 and 30 days in seconds, got {text}")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 0–65535, got {value}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cintel",
        description="Batch client, load-test harness and mock for Twilio Conversational Intelligence v2.",
        epilog=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"cintel {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    commands.add_parser(
        "mock",
        help="serve the mock Intelligence v2 API until interrupted",
        description="Serve the mock until interrupted; prints its base URL, a ready dev account and service.",
        add_help=False,  # the mock's own parser answers --help, so its options are documented in one place
    ).add_argument("mock_args", nargs=argparse.REMAINDER)
    _add_submit(commands)
    for name, text in (
        ("status", "report on a batch from its journal: counts per state (works while a run holds the journal)"),
        ("results", "print one JSON line per item of a batch: state, transcript SID, error (pipe-friendly)"),
    ):
        sub = commands.add_parser(name, help=text, description=text)
        sub.add_argument("--journal", type=Path, required=True, help="the batch's journal (MANIFEST.journal.sqlite)")
        if name == "status":
            sub.add_argument("--json", action="store_true", help="one JSON object instead of a table")
    demo = commands.add_parser(
        "demo",
        help="the whole job on an embedded mock with 429s, webhooks and faults",
        description="Run a synthetic batch on an embedded mock that behaves like a busy Twilio, and check that "
        "every recording got exactly one transcript. Needs nothing but this package.",
    )
    demo.add_argument("--items", type=_positive_int, default=300, help="synthetic manifest rows (default 300)")
    demo.add_argument("--out", type=Path, help="keep the results here (default: a temporary directory, removed)")
    from harness.cli._recording import add_record_option  # a light module

    add_record_option(demo)
    _add_merge(commands)
    from harness.cli._scenario import add_parser as add_scenario  # a light module: heavy imports wait for its run

    add_scenario(commands)
    from harness.cli._conformance import add_parser as add_conformance  # light too

    add_conformance(commands)
    from harness.cli._load import add_parser as add_load

    add_load(commands)
    return parser


def _add_merge(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    merge = commands.add_parser(
        "merge",
        help="merge per-participant tracks (or a Video room's) into one stereo FLAC, each at its offset",
        description="Merge per-participant audio tracks (wav, flac, mp3, and Video's mka, webm, mp4) into one "
        "stereo 16-bit FLAC for Intelligence: channel 1 the first track, channel 2 the second, each placed at its "
        "offset from room start (TRACK@OFFSET_S in seconds, else the container's own start time). With --room, the "
        "tracks of a completed Video room are downloaded and placed by their recordings' start times. The file is "
        "verified after writing.",
        epilog="environment (read with --room only; merging files reads none):\n"
        "  TWILIO_ACCOUNT_SID + TWILIO_AUTH_TOKEN, or TWILIO_ACCOUNT_SID + TWILIO_API_KEY + TWILIO_API_SECRET\n"
        "  CINTEL_VIDEO_BASE_URL  the Video API (e.g. a `cintel mock`); default https://video.twilio.com\n"
        f"\n{HELP}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    merge.add_argument("tracks", nargs="*", metavar="TRACK[@OFFSET_S]", help="the two tracks, channel 1 first")
    merge.add_argument("-o", "--output", type=Path, required=True, help="the stereo FLAC to write")
    merge.add_argument("--rate", type=_positive_int, default=16000, help="output sample rate (default 16000)")
    merge.add_argument(
        "--align-ends", action="store_true",
        help="the guide's rule: delay the shorter track by the difference in durations (wrong when a participant "
        "left early; prefer offsets)",
    )  # fmt: skip
    merge.add_argument("--print-ffmpeg", action="store_true", help="also print an equivalent ffmpeg command")
    merge.add_argument("--channel1", action="append", metavar="A,B",
                       help="tracks (with --room: participant identities) mixed onto channel 1")  # fmt: skip
    merge.add_argument("--channel2", action="append", metavar="C",
                       help="tracks (with --room: participant identities) mixed onto channel 2")  # fmt: skip
    merge.add_argument("--room", metavar="RM…", help="a completed Video room: download its participants' audio")
    merge.add_argument("--base-url", help="with --room: the Video API (default: CINTEL_VIDEO_BASE_URL, else Twilio)")
    merge.add_argument(
        "--via", choices=("recordings", "compositions"), default="recordings",
        help="with --room: the track recordings (default), or one Trim=false audio composition per participant",
    )  # fmt: skip
    from harness.cli._recording import add_options as add_record_replay  # a light module

    add_record_replay(merge)


def _add_submit(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    submit = commands.add_parser(
        "submit",
        help="transcribe every recording of a manifest, exactly once (resumable)",
        description="Transcribe every recording of a manifest exactly once. Run the same command again to resume "
        "after an interruption, a crash or an outage; nothing is sent twice.",
        epilog=f"{CREDENTIALS_HELP}\n\n{HELP}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    submit.add_argument("manifest", type=Path, help="JSONL or CSV manifest (README: Manifest)")
    submit.add_argument("--service", default=os.environ.get("CINTEL_SERVICE_SID"),
                        help="Intelligence Service SID (GA…); default CINTEL_SERVICE_SID")  # fmt: skip
    submit.add_argument("--base-url", help="API base URL, e.g. a cintel mock (default: CINTEL_BASE_URL, else Twilio)")
    submit.add_argument(
        "--mock",
        action="store_true",
        help="run against an embedded mock started for this run (its dev account and service)",
    )
    submit.add_argument("--mock-config", type=Path, help="with --mock: the mock's configuration file (TOML)")
    submit.add_argument(
        "--journal", type=Path,
        help="the batch's journal, the record that makes it exactly-once and resumable (default: "
        "MANIFEST.journal.sqlite beside the manifest); one run at a time: a second run on it is refused",
    )  # fmt: skip
    submit.add_argument("--out", type=Path, help="results directory (default: MANIFEST.results/ beside it)")
    report = "also write the load report of the run (report.html, report.json, timeseries.csv) into DIR"
    submit.add_argument("--report", type=Path, metavar="DIR", help=report)
    submit.add_argument("--no-wait", action="store_true", help="submit only; `cintel status` reports later")
    submit.add_argument(
        "--retry-failed",
        action="store_true",
        help="send again the items that failed for their own reasons (existing transcripts adopted)",
    )
    submit.add_argument("--timeout", type=_seconds, help="stop waiting after this many seconds (exit 3, resumable)")
    submit.add_argument(
        "--unreachable-timeout",
        type=_seconds,
        default=180.0,
        help="stop (exit 3, resumable) when the API has not answered for this long (default 180)",
    )
    submit.add_argument("--webhook-port", type=_port, help="receive completion callbacks on this port")
    submit.add_argument("--public-url", help="the URL Twilio reaches the receiver at (a tunnel)")
    submit.add_argument(
        "--configure-webhook", action="store_true",
        help="point the service's WebhookUrl at the receiver for the run (restored at the end)",
    )  # fmt: skip
    submit.add_argument("--word-timestamps", action="store_true", help="fetch sentences with word timestamps")
    submit.add_argument("--media", action="store_true", help="also record each transcript's media URL")
    submit.add_argument("--log-format", choices=("text", "json"), default="text", help="progress as text or JSON")
    media = submit.add_argument_group(
        "merged audio (rows with tracks or room_sid)",
        "Against a mock the merged files go to its media host; against Twilio choose --upload or --media-base-url.",
    )
    media.add_argument("--upload", metavar="s3://BUCKET/PREFIX",
                       help="upload merged files to S3; each create gets a pre-signed URL ([s3] extra)")  # fmt: skip
    media.add_argument("--media-base-url", metavar="URL",
                       help="the public URL at which you serve --media-dir (no upload, no signature)")  # fmt: skip
    media.add_argument("--media-dir", type=Path,
                       help="where merged files are written (default MANIFEST.media/ beside it)")  # fmt: skip
    media.add_argument("--media-ttl", type=_seconds, default=21600.0,
                       help="a signed URL's lifetime from its create (default 21600 = 6 h; max 7 days)")  # fmt: skip
    media.add_argument("--merge-workers", type=_positive_int, default=2, help="merges at once (default 2)")
    from harness.cli._recording import add_options as add_record_replay  # a light module

    add_record_replay(submit)


def main(argv: Sequence[str] | None = None) -> int:
    args_in = list(sys.argv[1:] if argv is None else argv)
    # The mock's options belong to mock_server's own parser; hand them over untouched.
    if args_in[:1] == ["mock"]:
        return _run_mock(args_in[1:])
    try:
        args = _parser().parse_args(args_in)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    json_errors = getattr(args, "log_format", "text") == "json"
    try:
        return _dispatch(args)
    except CintelError as error:
        code = code_for(error)
        hint = getattr(error, "hint", None)
        if code == EXIT_BLOCKED:
            done = "Nothing was marked failed: " if args.command == "submit" else ""
            hint = f"{hint}. {done}fix it and run the same command again"
        _error(args.command, str(error), code, json_errors, hint=hint)
        return code
    except KeyboardInterrupt:
        _error(args.command, "interrupted; run the same command again to resume", EXIT_INTERRUPTED, json_errors)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `cintel results | head`: the reader left; say nothing more
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except OSError as error:  # a file or directory the command was pointed at
        name = f"{error.filename}: " if error.filename else ""
        _error(args.command, f"{name}{error.strerror or error}", EXIT_USAGE, json_errors)
        return EXIT_USAGE
    except Exception as error:  # a bug: the journal keeps everything done so far, so say so instead of a traceback
        if os.environ.get("CINTEL_DEBUG"):
            raise
        message = (
            f"unexpected {type(error).__name__}: {error} (a bug — please report it; CINTEL_DEBUG=1 shows "
            "the traceback). Everything already done is kept: run the same command again to resume"
        )
        _error(args.command, message, EXIT_INTERRUPTED, json_errors)
        return EXIT_INTERRUPTED


def _dispatch(args: argparse.Namespace) -> int:
    from harness.cli._logging import setup_logging

    setup_logging(getattr(args, "log_format", "text"))
    if args.command == "submit":
        from harness.cli._recording import run_tapped
        from harness.cli._submit import submit_command

        return run_tapped(args, submit_command)
    if args.command in ("status", "results"):
        from harness.cli._reports import results_command, status_command

        return status_command(args) if args.command == "status" else results_command(args)
    if args.command == "merge":
        from harness.cli._merge import merge_command
        from harness.cli._recording import run_tapped

        return run_tapped(args, merge_command)
    if args.command == "scenario":
        from harness.cli._scenario import scenario_command

        return scenario_command(args)
    if args.command == "load":
        from harness.cli._load import load_command

        return load_command(args)
    if args.command == "conformance":
        from harness.cli._conformance import conformance_command

        return conformance_command(args)
    from harness.cli._demo import demo_command
    from harness.cli._recording import run_tapped

    return run_tapped(args, demo_command)


def _error(command: str, message: str, code: int, as_json: bool, hint: str | None = None) -> None:
    from harness._redact import scrub_text

    message = scrub_text(message)
    if as_json:
        import json

        print(json.dumps({"event": "error", "command": command, "message": message, "hint": hint,
                          "exit_code": code}), file=sys.stderr)  # fmt: skip
        return
    print(f"cintel {command}: error: {message}", file=sys.stderr)
    if hint:
        print(f"cintel {command}: {hint}", file=sys.stderr)


def _run_mock(argv: list[str]) -> int:
    import mock_server

    try:
        return mock_server.main(argv, prog="cintel mock")
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    raise SystemExit(main())
