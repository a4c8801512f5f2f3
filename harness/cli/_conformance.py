"""`cintel conformance CASSETTE [--base-url URL]`: does the mock answer a cassette's requests as they were answered?

The cassette should be recorded from the real API (`cintel submit … --record twilio.json` with Twilio credentials).
Its requests go, in order, to a fresh account on the mock — the one at `--base-url` (its control plane makes the
account; `CINTEL_MOCK_CONTROL_TOKEN` if it needs one), else an embedded mock started for the check — whose config
makes transcripts complete at once and accepts any media URL (a recorded pre-signed URL has lost its signature).
Every difference is printed as `#ID METHOD PATH: $.field.path: kind: recorded …, mock …`.

Exit codes: 0 no difference, 1 differences (listed), 2 the cassette cannot be read, 3 the mock cannot be reached.
This module is light: the mock and harness.replay are imported when the command runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from harness.cli._exit import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK

if TYPE_CHECKING:
    from harness.replay import Cassette, ConformanceReport

KINDS = ("status", "code", "missing", "extra", "type", "null", "paging")
ACCOUNT_CONFIG = {"lifecycle": {"mode": "immediate"}, "media": {"fetch": False}}


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    conformance = commands.add_parser(
        "conformance",
        help="send a cassette's requests (recorded from Twilio) to the mock and report where its answers differ",
        description="Send the API requests of a cassette recorded from the real API (--record) to the mock, in\n"
        "order and with SIDs mapped to the mock's, and report every difference in the answers: status and\n"
        "error code, missing or extra fields, JSON types, nulls, paging. Values are not compared.",
        epilog="exit codes: 0 no difference, 1 differences (listed), 2 the cassette cannot be read, 3 the mock "
        "cannot be reached",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    conformance.add_argument("cassette", type=Path, help="a cassette written by --record")
    conformance.add_argument("--base-url", help="a running cintel mock (default: an embedded one, for this check)")
    conformance.add_argument("--ignore", action="append", choices=KINDS, default=[], metavar="KIND",
                             help=f"leave out differences of this kind ({', '.join(KINDS)}); repeatable")  # fmt: skip
    conformance.add_argument("--json", action="store_true", help="one JSON object instead of lines")


def conformance_command(args: argparse.Namespace) -> int:
    from harness.replay import load_cassette

    cassette = load_cassette(args.cassette)  # CassetteError: exit 2, naming the file and key
    try:
        report = asyncio.run(_check(cassette, args.base_url))
    except _Unreachable as error:
        print(f"cintel conformance: error: {error}", file=sys.stderr)
        return EXIT_INTERRUPTED
    differences = [d for d in report.differences if d.kind not in args.ignore]
    if args.json:
        print(json.dumps({"base_url": report.base_url, "sent": report.sent, "skipped": report.skipped,
                          "differences": [asdict(d) for d in differences]}, indent=1))  # fmt: skip
    else:
        for line in report.skipped:
            print(f"skipped {line}")
        for difference in differences:
            print(difference.describe())
        ignored = len(report.differences) - len(differences)
        tail = f" ({ignored} of the kinds ignored)" if ignored else ""
        print(f"{report.sent} requests sent to the mock, {len(report.skipped)} skipped: "
              f"{len(differences) or 'no'} difference{'s' if len(differences) != 1 else ''}{tail}")  # fmt: skip
    return EXIT_FAILED if differences else EXIT_OK


class _Unreachable(Exception):
    pass


async def _check(cassette: Cassette, base_url: str | None) -> ConformanceReport:
    from harness.replay import check_conformance

    if base_url is not None:
        sid, token = await _new_account(base_url)
        return await check_conformance(cassette, base_url, account_sid=sid, auth_token=token)
    from mock_server import MockConfig, serve

    async with serve(MockConfig(), port=0) as mock:
        sid, token = await _new_account(mock.base_url, mock.control_token)
        return await check_conformance(cassette, mock.base_url, account_sid=sid, auth_token=token)


async def _new_account(base_url: str, control_token: str | None = None) -> tuple[str, str]:
    import httpx

    from harness._hosting import MOCK_CONTROL_TOKEN_ENV

    token = control_token or os.environ.get(MOCK_CONTROL_TOKEN_ENV)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        async with httpx.AsyncClient(base_url=base_url.rstrip("/"), headers=headers, timeout=30.0) as control:
            answer = await control.post("/__mock__/accounts", json=ACCOUNT_CONFIG)
    except httpx.HTTPError as error:
        raise _Unreachable(f"cannot reach the mock at {base_url}: {type(error).__name__}") from None
    if answer.status_code != 201:
        raise _Unreachable(f"{base_url} did not make an account (POST /__mock__/accounts answered "
                           f"{answer.status_code}): is it a cintel mock? ({MOCK_CONTROL_TOKEN_ENV} if it needs a "
                           "control token)")  # fmt: skip
    account = answer.json()
    return str(account["account_sid"]), str(account["auth_token"])
