"""Running the mock on a real socket: an async context manager for embedding, and the command-line entry point.

`serve()` is what `python -m mock_server`, `cintel mock`, `cintel demo` and tests use to get a listening mock and
its dev account; `main(argv)` is the command line (`python -m mock_server --help`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

from aiohttp import web

from mock_server._app import STATE, MockState, create_app
from mock_server._clock import Clock
from mock_server._config import ConfigError, MockConfig, load_config_file

EXIT_OK = 0
EXIT_USAGE = 2


@dataclass(frozen=True)
class RunningMock:
    """A listening mock: where it is, and the ready dev account (its token is never shown in repr)."""

    base_url: str
    account_sid: str
    auth_token: str = field(repr=False)
    app: web.Application = field(repr=False)

    @property
    def control_url(self) -> str:
        return f"{self.base_url}/__mock__"

    @property
    def state(self) -> MockState:
        return self.app[STATE]


@contextlib.asynccontextmanager
async def serve(
    config: MockConfig | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    seed: int = 0,
    clock: Clock | None = None,
    app: web.Application | None = None,
) -> AsyncIterator[RunningMock]:
    """Serve a new mock on `host:port` (port 0 picks a free one) until the block exits.

    `app` serves an application already made by `create_app()` (config, seed and clock are then its own).
    """
    if app is None:
        app = create_app(config, seed=seed, clock=clock)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or ()
        bound_port = sockets[0].getsockname()[1] if sockets else port
        shown_host = f"[{host}]" if ":" in host else host
        base_url = f"http://{shown_host}:{bound_port}"
        state = app[STATE]
        state.registry.public_base_url = base_url
        state.base_url_known = True
        dev = state.dev_account
        yield RunningMock(base_url, dev.sid, dev.auth_token, app)
    finally:
        await runner.cleanup()


def _parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description="Serve the mock Twilio Conversational Intelligence v2 API until interrupted."
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1, loopback only)")
    parser.add_argument("--port", type=int, default=8080, help="port to listen on (default: 8080; 0 = any free)")
    parser.add_argument("--seed", type=int, default=0, help="seed for every random choice (default: 0)")
    parser.add_argument("--config", metavar="FILE.toml", help="mock configuration file (keys as in the README)")
    return parser


async def _serve_forever(config: MockConfig, host: str, port: int, seed: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError, RuntimeError):  # not on every platform / thread
        loop.add_signal_handler(signal.SIGTERM, stop.set)
    async with serve(config, host=host, port=port, seed=seed) as mock:
        print(f"Mock Twilio Intelligence v2 listening on {mock.base_url}", flush=True)
        print(f"  dev account:   TWILIO_ACCOUNT_SID={mock.account_sid}", flush=True)
        print(f"                 TWILIO_AUTH_TOKEN={mock.auth_token}", flush=True)
        print(f"  control plane: {mock.control_url}/  (config, accounts, keys, stats, reset, seed)", flush=True)
        print("Press Ctrl-C to stop.", flush=True)
        await stop.wait()


def main(argv: Sequence[str] | None = None, *, prog: str = "python -m mock_server") -> int:
    """Command line: `[--host H] [--port P] [--seed N] [--config FILE.toml]`; returns the exit code."""
    parser = _parser(prog)
    try:
        args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as exit_:  # --help (0) or a usage error (2), already printed by argparse
        return int(exit_.code or 0)
    try:
        config = load_config_file(args.config) if args.config else MockConfig()
    except ConfigError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        asyncio.run(_serve_forever(config, args.host, args.port, args.seed))
    except KeyboardInterrupt:
        print("Mock stopped.", file=sys.stderr)
    except OSError as exc:  # the port is taken, the address is not local, …
        print(f"{prog}: error: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK
