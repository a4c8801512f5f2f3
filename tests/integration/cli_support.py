"""Running the real `cintel` console command against a mock over loopback, as a user would."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from mock_server import RunningMock

CINTEL = [sys.executable, "-c", "import sys; from harness.cli import main; sys.exit(main())"]
SIGNATURE = "X-Amz-Signature=s3cr3tsig"


@dataclass
class Account:
    base_url: str
    sid: str
    token: str
    service: str

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "CINTEL_"))}
        env.update(TWILIO_ACCOUNT_SID=self.sid, TWILIO_AUTH_TOKEN=self.token, CINTEL_BASE_URL=self.base_url)
        env.update(extra)
        return env

    async def stats(self) -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=self.base_url) as control:
            stats: dict[str, Any] = (await control.get(f"/__mock__/accounts/{self.sid}/stats")).json()
        return stats

    async def per_key(self) -> dict[str, int]:
        per_key: dict[str, int] = (await self.stats())["transcripts_by_customer_key"]
        return per_key

    async def service_webhook(self) -> str | None:
        async with httpx.AsyncClient(base_url=self.base_url, auth=(self.sid, self.token)) as api:
            url: str | None = (await api.get(f"/v2/Services/{self.service}")).json()["webhook_url"]
        return url

    async def set_webhook(self, url: str) -> None:
        async with httpx.AsyncClient(base_url=self.base_url, auth=(self.sid, self.token)) as api:
            answer = await api.post(f"/v2/Services/{self.service}", data={"WebhookUrl": url})
            assert answer.status_code == 200, answer.text


async def new_account(mock: RunningMock, config: dict[str, Any]) -> Account:
    async with httpx.AsyncClient(base_url=mock.base_url) as control:
        account = (await control.post("/__mock__/accounts", json=config)).json()
        sid, token = account["account_sid"], account["auth_token"]
        service = await control.post("/v2/Services", data={"UniqueName": "batch"}, auth=(sid, token))
    return Account(mock.base_url, sid, token, service.json()["sid"])


def write_manifest(path: Path, n: int, *, bad_rows: int = 0, keys: list[str] | None = None) -> Path:
    with path.open("w", encoding="utf-8") as handle:
        for i, key in enumerate(keys or [f"c{i}" for i in range(n)]):
            handle.write(json.dumps({"media_url": f"https://b.example/{i}.wav?{SIGNATURE}{i}", "customer_key": key}))
            handle.write("\n")
        for i in range(bad_rows):
            handle.write(json.dumps({"media_url": f"ftp://b.example/{i}.wav", "customer_key": f"bad{i}"}) + "\n")
    return path


@dataclass
class Finished:
    code: int | None
    out: str
    err: str


def read_one_line_and_close(*args: str) -> tuple[str, str, int]:
    """`cintel ARGS | head -1`: read one line, close the pipe, return (line, stderr, exit code)."""
    process = subprocess.Popen([*CINTEL, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    assert process.stderr is not None
    line = process.stdout.readline()
    process.stdout.close()
    errors = process.stderr.read()
    return line, errors, process.wait(60)


async def start(*args: str, env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *CINTEL, *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )


async def finish(process: asyncio.subprocess.Process, limit_s: float = 120) -> Finished:
    out, err = await asyncio.wait_for(process.communicate(), limit_s)
    return Finished(process.returncode, out.decode(), err.decode())


async def cintel(*args: str, env: dict[str, str], limit_s: float = 120) -> Finished:
    return await finish(await start(*args, env=env), limit_s)
