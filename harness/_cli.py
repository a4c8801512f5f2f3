"""The `cintel` command: `main(argv) -> int`, one subcommand per job.

This module is a composition root: it is the one place (with the pytest plugin, later) that brings the client
library and the mock together, and it does so only through each package's public entry points, imported lazily so
that `cintel --help` stays fast and a subcommand's dependencies load only when it runs.

Exit codes (DESIGN.md): 0 all done; 1 some items failed; 2 usage or input error; 3 interrupted (resumable).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 3


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cintel",
        description="Batch client, load-test harness and mock for Twilio Conversational Intelligence v2.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    mock = commands.add_parser(
        "mock",
        help="serve the mock Intelligence v2 API until interrupted",
        description="Serve the mock until interrupted; prints its base URL and a ready dev account.",
        add_help=False,  # the mock's own parser answers --help, so its options are documented in one place
    )
    mock.add_argument("mock_args", nargs=argparse.REMAINDER)
    from harness._batch_cli import add_commands

    add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_in = list(sys.argv[1:] if argv is None else argv)
    parser = _parser()
    # The mock's options belong to mock_server's own parser; hand them over untouched.
    if args_in[:1] == ["mock"]:
        return _run_mock(args_in[1:])
    try:
        args = parser.parse_args(args_in)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    from harness._batch_cli import run_command

    return run_command(args)


def _run_mock(argv: list[str]) -> int:
    import mock_server

    try:
        return mock_server.main(argv, prog="cintel mock")
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    raise SystemExit(main())
