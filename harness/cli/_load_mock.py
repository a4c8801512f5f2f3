"""The mock `cintel load` runs against by default: started in a child process of its own.

Why a process: the generator measures latency on its own event loop; a mock sharing that loop (and that core's
GIL) would add its own work to every latency and slow the generator down, so the figures would describe the two
together. The child serves `mock_server.serve(...)` and hands back its base URL, dev account and dev service over a
pipe; it stops when the pipe closes (this process ended or left the block), so it never outlives the run.

Load defaults: transcripts complete at once (`lifecycle.mode = "immediate"`, so webhook lag is measured from the
create's answer) and media URLs are not fetched (`media.fetch = false`: the creates use made-up URLs) — unless the
given config file sets those keys itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing as mp
import tomllib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

START_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class EmbeddedMock:
    base_url: str
    account_sid: str
    auth_token: str = field(repr=False)
    service_sid: str


def load_mock_config(path: Path | None) -> dict[str, Any]:
    """The config (as JSON) for the embedded mock: the file's, checked by the mock, with the load defaults under."""
    from mock_server import MockConfig, load_config_file

    if path is None:
        return MockConfig.from_json({"lifecycle": {"mode": "immediate"}, "media": {"fetch": False}}).to_json()
    config = load_config_file(path)  # every error names the file and the key
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    patch: dict[str, Any] = {}
    if "mode" not in (raw.get("lifecycle") or {}):
        patch["lifecycle"] = {"mode": "immediate"}
    if "fetch" not in (raw.get("media") or {}):
        patch["media"] = {"fetch": False}
    return config.patched(patch, where=str(path)).to_json() if patch else config.to_json()


def _serve(config_json: dict[str, Any], seed: int, conn: Connection) -> None:
    from mock_server import MockConfig, serve

    async def main() -> None:
        async with serve(MockConfig.from_json(config_json), port=0, seed=seed) as mock:
            conn.send((mock.base_url, mock.account_sid, mock.auth_token, mock.service_sid))
            with contextlib.suppress(EOFError, OSError):
                await asyncio.to_thread(conn.recv)  # returns (EOFError) when the parent closes its end or dies

    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C reaches the whole process group; the parent reports it
        asyncio.run(main())


@contextlib.asynccontextmanager
async def embedded_mock(config_json: dict[str, Any], seed: int = 0) -> AsyncIterator[EmbeddedMock]:
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    # Not a daemon: the mock may hear media in worker processes of its own, which a daemonic process may not start.
    process = ctx.Process(target=_serve, args=(config_json, seed, child), daemon=False, name="cintel-load-mock")
    process.start()
    child.close()
    try:
        ready = await asyncio.to_thread(parent.poll, START_TIMEOUT_S)
        if not ready:
            raise RuntimeError(f"the embedded mock did not start within {START_TIMEOUT_S:g} s")
        try:
            base_url, account_sid, auth_token, service_sid = parent.recv()
        except EOFError:
            raise RuntimeError(f"the embedded mock exited before it was ready (exit code {process.exitcode})") from None
        yield EmbeddedMock(base_url, account_sid, auth_token, service_sid)
    finally:
        parent.close()
        await asyncio.to_thread(process.join, 10)
        if process.is_alive():
            process.terminate()
            await asyncio.to_thread(process.join, 5)
