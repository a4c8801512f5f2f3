"""Running the mock on a real socket: an async context manager for embedding, and the command-line entry point.

`serve()` is what `python -m mock_server`, `cintel mock`, `cintel demo` and tests use to get a listening mock, its
dev account and its ready dev service; `main(argv)` is the command line (`python -m mock_server --help`).

Off loopback the control plane would let anyone on the network reset the mock or mint accounts, so `serve()` and
the command line refuse a non-loopback host without a control token (`--control-token`, or the environment
variable `CINTEL_MOCK_CONTROL_TOKEN`, which unlike an argument does not show in `ps`), and the banner warns.

Slow clients are bounded: a connection must deliver a request's headers within `read_timeout_s` of connecting or
of its previous answer (aiohttp's keep-alive timer, which also closes idle keep-alive connections), and the body
within `read_timeout_s` of the headers (else a JSON 408); on exit, requests still in flight get
`SHUTDOWN_GRACE_S` to finish.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field

from aiohttp import web

from mock_server._app import READ_TIMEOUT_S, STATE, MockState, create_app
from mock_server._bounds import SEED
from mock_server._clock import Clock
from mock_server._config import ConfigError, MockConfig, load_config_file
from mock_server._control import CONTROL_TOKEN_HEADER, check_control_token

EXIT_OK = 0
EXIT_USAGE = 2
SHUTDOWN_GRACE_S = 1.0
CONTROL_TOKEN_ENV = "CINTEL_MOCK_CONTROL_TOKEN"  # noqa: S105 - the variable's name, not a secret
_WILDCARDS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}  # noqa: S104 - mapped to loopback for display


class ListenError(OSError):
    """The mock could not listen where it was asked to (port taken or out of range, unknown or foreign host)."""


def is_loopback(host: str) -> bool:
    """True for `localhost` and loopback addresses (127.0.0.0/8, ::1); False for anything reachable from outside."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class RunningMock:
    """A listening mock: where it is, the ready dev account and dev service (secrets never shown in repr)."""

    base_url: str
    account_sid: str
    auth_token: str = field(repr=False)
    app: web.Application = field(repr=False)
    service_sid: str = ""
    control_token: str | None = field(default=None, repr=False)
    host: str = "127.0.0.1"

    @property
    def control_url(self) -> str:
        return f"{self.base_url}/__mock__"

    @property
    def state(self) -> MockState:
        return self.app[STATE]

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)


@contextlib.asynccontextmanager
async def serve(
    config: MockConfig | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    seed: int = 0,
    clock: Clock | None = None,
    app: web.Application | None = None,
    control_token: str | None = None,
    read_timeout_s: float | None = None,
) -> AsyncIterator[RunningMock]:
    """Serve a new mock on `host:port` (port 0 picks a free one) until the block exits.

    `app` serves an application already made by `create_app()` (config, seed and clock are then its own; a
    `control_token` or `read_timeout_s` given here replaces its own). Off loopback a control token is required
    (ValueError without one). A port outside 0-65535 is a ValueError; failing to listen is a `ListenError`.
    """
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ValueError(f"port must be an integer from 0 to 65535, got {port!r}")
    if app is None:
        timeout = READ_TIMEOUT_S if read_timeout_s is None else read_timeout_s
        app = create_app(config, seed=seed, clock=clock, control_token=control_token, read_timeout_s=timeout)
    state = app[STATE]
    if control_token is not None:
        state.control_token = check_control_token(control_token)
    if read_timeout_s is not None:
        state.read_timeout_s = read_timeout_s
    if state.control_token is None and not is_loopback(host):
        raise ValueError(
            f"refusing to serve the mock's control plane on {host!r} (not loopback) without a control token"
        )
    timeout_s = state.read_timeout_s
    runner = web.AppRunner(
        app,
        access_log=None,
        handle_signals=False,
        shutdown_timeout=SHUTDOWN_GRACE_S,
        keepalive_timeout=timeout_s,  # also the time allowed for a request's headers to arrive
        lingering_time=min(10.0, timeout_s),
    )
    await runner.setup()
    try:
        bound_port = await _listen(runner, host, port)
        local = _WILDCARDS.get(host, host)
        shown_host = f"[{local}]" if ":" in local else local
        base_url = f"http://{shown_host}:{bound_port}"
        state.registry.public_base_url = base_url
        # Bound to every interface: signed media URLs take the host clients actually use (the first request's).
        state.base_url_known = host not in _WILDCARDS
        dev = state.dev_account
        yield RunningMock(base_url, dev.sid, dev.auth_token, app, state.dev_service_sid, state.control_token, host)
    finally:
        await runner.cleanup()


async def _listen(runner: web.AppRunner, host: str, port: int) -> int:
    site = web.TCPSite(runner, host or None, port)
    try:
        await site.start()
    except (OSError, OverflowError, ValueError) as exc:  # taken, not local, unknown name, not an address…
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise ListenError(f"cannot listen on {host or '*'}:{port}: {reason}") from exc
    sockets = getattr(site._server, "sockets", None) or ()
    return int(sockets[0].getsockname()[1]) if sockets else port


def banner(mock: RunningMock, *, seed: int) -> str:
    """What `cintel mock` prints at start: where it is, what is ready, copy-paste lines, and any warning."""
    auth = (
        f"needs the control token: Authorization: Bearer <token> or {CONTROL_TOKEN_HEADER}"
        if mock.control_token is not None
        else "no auth: loopback only"
    )
    exports = (
        f"export CINTEL_BASE_URL={mock.base_url} TWILIO_ACCOUNT_SID={mock.account_sid} "
        f"TWILIO_AUTH_TOKEN={mock.auth_token} CINTEL_SERVICE_SID={mock.service_sid}"
    )
    lines = [
        f"Mock Twilio Intelligence v2 listening on {mock.base_url}  (seed {seed})",
        f"  dev account:   {mock.account_sid}",
        f'  dev service:   {mock.service_sid}  (UniqueName "dev")',
        f"  control plane: {mock.control_url}/  (GET it for the index; {auth})",
        "",
        "Point cintel or your own code at it (copy and paste):",
        f"  {exports}",
        '  cintel submit MANIFEST.jsonl --service "$CINTEL_SERVICE_SID"',
        "",
    ]
    if not mock.loopback:
        lines += [
            f"WARNING: listening on {mock.host or '*'}, not loopback: anyone who can reach this port can use the dev",
            "         account above. From another machine use this machine's address instead of "
            f"{mock.base_url.split('//')[1].rsplit(':', 1)[0]}.",
            "",
        ]
    lines.append("Press Ctrl-C to stop.")
    return "\n".join(lines)


def _ascii_int(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        # ASCII digits only: int() would also take "٨٠٨٠", " 80", "8_080".
        if not (text.isascii() and text.isdigit() and len(text) <= 20) or not low <= int(text) <= high:
            raise argparse.ArgumentTypeError(f"must be an integer from {low} to {high}, got {text!r}")
        return int(text)

    return parse


def _parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description="Serve the mock Twilio Conversational Intelligence v2 API until interrupted."
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1, loopback only)")
    parser.add_argument(
        "--port", type=_ascii_int(0, 65535), default=8080, help="port (default: 8080; 0 = any free one)"
    )
    parser.add_argument("--seed", type=_ascii_int(0, int(SEED.high)), default=0, help="seed for every random choice")
    parser.add_argument("--config", metavar="FILE.toml", help="mock configuration file (keys as in the README)")
    parser.add_argument(
        "--control-token",
        metavar="TOKEN",
        default=os.environ.get(CONTROL_TOKEN_ENV),
        help=f"require this token on the control plane (Authorization: Bearer TOKEN or {CONTROL_TOKEN_HEADER});"
        f" required when --host is not loopback (default: ${CONTROL_TOKEN_ENV})",
    )
    return parser


async def _serve_forever(config: MockConfig, args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError, RuntimeError):  # not on every platform / thread
        loop.add_signal_handler(signal.SIGTERM, stop.set)
    async with serve(config, host=args.host, port=args.port, seed=args.seed, control_token=args.control_token) as mock:
        print(banner(mock, seed=args.seed), flush=True)
        await stop.wait()


def main(argv: Sequence[str] | None = None, *, prog: str = "python -m mock_server") -> int:
    """Command line: `[--host H] [--port P] [--seed N] [--config FILE.toml] [--control-token T]` → exit code."""
    parser = _parser(prog)
    try:
        args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as exit_:  # --help (0) or a usage error (2), already printed by argparse
        return int(exit_.code or 0)
    if args.control_token is not None:
        try:
            check_control_token(args.control_token)
        except ValueError as exc:
            return _usage(prog, f"--control-token: {exc}")
    elif not is_loopback(args.host):
        return _usage(
            prog,
            f"--host {args.host} is not loopback: the control plane (/__mock__/) would be open to the network. "
            f"Give it a token: --control-token TOKEN (or ${CONTROL_TOKEN_ENV}), e.g. "
            "$(python -c 'import secrets; print(secrets.token_urlsafe(24))')",
        )
    try:
        config = load_config_file(args.config) if args.config else MockConfig()
    except ConfigError as exc:
        return _usage(prog, str(exc))
    try:
        asyncio.run(_serve_forever(config, args))
    except KeyboardInterrupt:
        print("Mock stopped.", file=sys.stderr)
    except ListenError as exc:
        return _usage(prog, str(exc))
    return EXIT_OK


def _usage(prog: str, message: str) -> int:
    print(f"{prog}: error: {message}", file=sys.stderr)
    return EXIT_USAGE
