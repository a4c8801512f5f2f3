"""The batch runner end to end over loopback against the mock: faults, kill -9 and resume, rejects, no secrets."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness import IntelligenceClient
from harness._journal import Journal, fingerprint
from harness._runner import BatchRunner, RunnerOptions
from harness._webhooks import WebhookReceiver
from mock_server import MockConfig, RunningMock, serve

SIGNATURE = "X-Amz-Signature=s3cr3tsig"
FAULTY = {
    "concurrency_limit": 4,
    "latency_ms": 5,
    "lifecycle": {"mode": "after_seconds", "seconds": 0.3},
    "faults": {"error_5xx": 0.05, "reset_after_commit": 0.05},
    "webhook_faults": {"drop": 0.2, "duplicate": 0.2, "delay_ms": 50},
}


def manifest(path: Path, n: int, bad_rows: int = 0) -> Path:
    with path.open("w", encoding="utf-8") as handle:
        for i in range(n):
            row = {"media_url": f"https://b.example/{i}.wav?{SIGNATURE}{i}", "customer_key": f"c{i}"}
            handle.write(json.dumps(row) + "\n")
        for i in range(bad_rows):
            handle.write(json.dumps({"media_url": f"ftp://b.example/{i}.wav", "customer_key": f"bad{i}"}) + "\n")
    return path


@pytest.fixture
async def mock() -> AsyncIterator[RunningMock]:
    config = {"lifecycle": {"mode": "immediate"}, "media": {"fetch": False}}
    async with serve(MockConfig.from_json(config), port=0, seed=5) as running:
        yield running


async def _account(mock: RunningMock, config: dict[str, Any]) -> tuple[str, str, str]:
    async with httpx.AsyncClient(base_url=mock.base_url) as control:
        account = (await control.post("/__mock__/accounts", json=config)).json()
        sid, token = account["account_sid"], account["auth_token"]
        service = await control.post("/v2/Services", data={"UniqueName": "batch"}, auth=(sid, token))
    return sid, token, service.json()["sid"]


async def _per_key(mock: RunningMock, sid: str) -> dict[str, int]:
    async with httpx.AsyncClient(base_url=mock.base_url) as control:
        stats = (await control.get(f"/__mock__/accounts/{sid}/stats")).json()
    per_key: dict[str, int] = stats["transcripts_by_customer_key"]
    return per_key


async def test_a_faulty_service_still_gives_every_item_exactly_one_transcript(
    mock: RunningMock, tmp_path: Path
) -> None:
    sid, token, service = await _account(mock, FAULTY)
    path = manifest(tmp_path / "calls.jsonl", 80, bad_rows=2)
    out = tmp_path / "out"
    journal = Journal(tmp_path / "j.sqlite", batch={"manifest": fingerprint(path)})
    options = RunnerOptions(service_sid=service, out_dir=out, poll_initial_s=0.2, poll_max_s=1.0, wait_timeout_s=60)
    async with IntelligenceClient(sid, token, base_url=mock.base_url) as client:
        runner = BatchRunner(client, journal, path, options)
        receiver = WebhookReceiver(token, runner.nudge)
        await receiver.start()
        try:
            await client.update_service(service, webhook_url=receiver.callback_url)
            summary = await runner.run()
        finally:
            await receiver.close()
            journal.close()
    assert summary.counts["completed"] == 80
    assert summary.rejected == 2
    assert not summary.ok  # rejected rows make the batch "not all done" (exit code 1)
    assert await _per_key(mock, sid) == {f"c{i}": 1 for i in range(80)}
    assert receiver.accepted > 0
    rejects = [json.loads(line) for line in (out / "rejects.jsonl").read_text().splitlines()]
    assert [r["row"] for r in rejects] == [81, 82]
    assert len((out / "results.jsonl").read_text().splitlines()) == 80
    item = json.loads((out / "items" / "c0.json").read_text())
    assert item["status"] == "completed"
    assert item["sentences"]
    written = b"".join(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file() and p != path)
    assert b"s3cr3tsig" not in written
    assert token.encode() not in written


async def test_kill_9_mid_batch_then_resume_gives_exactly_one_transcript_each(
    mock: RunningMock, tmp_path: Path
) -> None:
    config = {**FAULTY, "latency_ms": 30, "lifecycle": {"mode": "immediate"}}
    sid, token, service = await _account(mock, config)
    path = manifest(tmp_path / "calls.jsonl", 120)
    journal_path = tmp_path / "calls.journal.sqlite"
    env = {**os.environ, "TWILIO_ACCOUNT_SID": sid, "TWILIO_AUTH_TOKEN": token, "CINTEL_BASE_URL": mock.base_url}
    env.pop("TWILIO_API_KEY", None)
    command = [sys.executable, "-c", "import sys; from harness.cli import main; sys.exit(main())", "submit",
               str(path), "--service", service, "--journal", str(journal_path), "--out", str(tmp_path / "out"),
               "--log-format", "json"]  # fmt: skip
    first = await asyncio.create_subprocess_exec(*command, env=env, stderr=asyncio.subprocess.PIPE)
    created = 0
    for _ in range(1000):  # until the service has made some, but not all, of the transcripts
        await asyncio.sleep(0.01)
        created = sum((await _per_key(mock, sid)).values())
        if created >= 30:
            break
    first.send_signal(signal.SIGKILL)
    await first.wait()
    assert first.returncode == -signal.SIGKILL
    assert 30 <= created < 120, f"killed after {created} creates: the kill did not land mid-batch"
    second = await asyncio.create_subprocess_exec(*command, env=env, stderr=asyncio.subprocess.PIPE)
    _, stderr = await asyncio.wait_for(second.communicate(), 120)
    assert second.returncode == 0, stderr.decode()[-2000:]
    assert await _per_key(mock, sid) == {f"c{i}": 1 for i in range(120)}
    assert token not in stderr.decode()
    assert "s3cr3tsig" not in stderr.decode()


async def test_no_wait_then_status_and_results(mock: RunningMock, tmp_path: Path) -> None:
    sid, token, service = await _account(mock, {"lifecycle": {"mode": "immediate"}})
    path = manifest(tmp_path / "calls.jsonl", 5)
    env = {**os.environ, "TWILIO_ACCOUNT_SID": sid, "TWILIO_AUTH_TOKEN": token, "CINTEL_BASE_URL": mock.base_url}
    run = [sys.executable, "-c", "import sys; from harness.cli import main; sys.exit(main())"]
    journal = str(tmp_path / "j.sqlite")
    submit = await asyncio.create_subprocess_exec(
        *run, "submit", str(path), "--service", service, "--journal", journal, "--no-wait", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    await asyncio.wait_for(submit.communicate(), 60)
    assert submit.returncode == 0
    status = await asyncio.create_subprocess_exec(
        *run, "status", "--journal", journal, "--json", stdout=asyncio.subprocess.PIPE
    )
    out, _ = await status.communicate()
    assert json.loads(out)["counts"]["submitted"] == 5
    results = await asyncio.create_subprocess_exec(
        *run, "results", "--journal", journal, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await results.communicate()
    rows = [json.loads(line) for line in out.decode().splitlines()]
    assert [r["customer_key"] for r in rows] == [f"c{i}" for i in range(5)]
    assert all(r["transcript_sid"].startswith("GT") for r in rows)


def test_a_missing_manifest_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from harness.cli import main

    assert main(["submit", str(tmp_path / "none.jsonl"), "--service", "GA" + "0" * 32]) == 2
    assert "none.jsonl" in capsys.readouterr().err


async def test_a_transcript_deleted_meanwhile_is_reported_failed_not_polled_forever(
    mock: RunningMock, tmp_path: Path
) -> None:
    sid, token, service = await _account(mock, {"lifecycle": {"mode": "after_polls", "polls": 50}})
    path = manifest(tmp_path / "calls.jsonl", 2)
    journal = Journal(tmp_path / "j.sqlite", batch={"manifest": fingerprint(path)})
    async with IntelligenceClient(sid, token, base_url=mock.base_url) as client:
        submitted = await BatchRunner(client, journal, path, RunnerOptions(service_sid=service, wait=False)).run()
        assert submitted.counts["submitted"] == 2
        gone = journal.get("c0")
        assert gone is not None
        assert gone.transcript_sid is not None
        await client.delete_transcript(gone.transcript_sid)
        options = RunnerOptions(service_sid=service, poll_initial_s=0.05, poll_max_s=0.1, wait_timeout_s=2)
        summary = await BatchRunner(client, journal, path, options).run()
    journal.close()
    assert [f["customer_key"] for f in summary.failed] == ["c0"]
    assert "no longer exists" in summary.failed[0]["reason"]
