"""`cintel submit` as a real process against the mock: two runners, signals, kill -9, account errors, exit codes.

Each test is one thing a user or an adversary did (issue 7), with the outcome they must get: exactly one transcript
per row, results written once, the service's WebhookUrl put back, the exit code of the cause and no traceback.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import stat
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from mock_server import MockConfig, RunningMock, serve
from tests.integration.cli_support import (
    CINTEL,
    Account,
    cintel,
    finish,
    new_account,
    read_one_line_and_close,
    start,
    write_manifest,
)

ORIGINAL_HOOK = "https://hooks.example.com/original"


@pytest.fixture
async def mock() -> AsyncIterator[RunningMock]:
    config = {"lifecycle": {"mode": "immediate"}, "media": {"fetch": False}}
    async with serve(MockConfig.from_json(config), port=0, seed=7) as running:
        yield running


async def _until(condition: object, limit_s: float = 60.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while loop.time() < deadline:
        if await condition():  # type: ignore[operator]
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached in time")


def _submit(account: Account, manifest: Path, *extra: str) -> list[str]:
    return ["submit", str(manifest), "--service", account.service, *extra]


def _results_lines(out: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]


async def test_a_second_run_on_a_journal_in_use_is_refused_at_once_and_nothing_is_duplicated(
    mock: RunningMock, tmp_path: Path
) -> None:
    account = await new_account(mock, {"concurrency_limit": 12, "latency_ms": 150})
    manifest = write_manifest(tmp_path / "calls.jsonl", 300)
    args = _submit(account, manifest, "--no-wait")
    first = await start(*args, env=account.env())
    await _until(lambda: _created_at_least(account, 10))
    second = await cintel(*args, env=account.env(), limit_s=30)
    assert second.code == 2
    assert "calls.jsonl.journal.sqlite" in second.err
    assert f"pid {first.pid}" in second.err
    assert "Traceback" not in second.err
    done = await finish(first)
    assert done.code == 0, done.err[-2000:]
    assert await account.per_key() == {f"c{i}": 1 for i in range(300)}


async def _created_at_least(account: Account, n: int) -> bool:
    return sum((await account.per_key()).values()) >= n


async def test_sigterm_during_the_wait_saves_restores_the_webhook_and_exits_3_then_the_same_command_resumes(
    mock: RunningMock, tmp_path: Path
) -> None:
    account = await new_account(mock, {"lifecycle": {"mode": "after_seconds", "seconds": 4}})
    await account.set_webhook(ORIGINAL_HOOK)
    manifest = write_manifest(tmp_path / "calls.jsonl", 40)
    args = _submit(account, manifest, "--webhook-port", "0")
    run = await start(*args, env=account.env())
    await _until(lambda: _created_at_least(account, 40))
    await _until(lambda: _hook_changed(account))
    run.send_signal(signal.SIGTERM)
    stopped = await finish(run, 30)
    assert stopped.code == 3, stopped.err[-2000:]
    assert "interrupted (SIGTERM)" in stopped.err
    assert await account.service_webhook() == ORIGINAL_HOOK
    status = await cintel("status", "--journal", str(tmp_path / "calls.jsonl.journal.sqlite"), "--json",
                          env=account.env())  # fmt: skip
    assert json.loads(status.out)["counts"]["submitted"] == 40  # every answer recorded before exit
    resumed = await cintel(*args, env=account.env())
    assert resumed.code == 0, resumed.err[-2000:]
    assert await account.per_key() == {f"c{i}": 1 for i in range(40)}
    assert await account.service_webhook() == ORIGINAL_HOOK
    assert sorted(str(r["customer_key"]) for r in _results_lines(tmp_path / "calls.jsonl.results")) == sorted(
        f"c{i}" for i in range(40)
    )


async def _hook_changed(account: Account) -> bool:
    return await account.service_webhook() != ORIGINAL_HOOK


async def test_kill_9_during_the_wait_then_resume_writes_each_result_once_and_restores_the_webhook(
    mock: RunningMock, tmp_path: Path
) -> None:
    account = await new_account(mock, {"lifecycle": {"mode": "after_seconds", "seconds": 0.5}, "latency_ms": 20})
    await account.set_webhook(ORIGINAL_HOOK)
    manifest = write_manifest(tmp_path / "calls.jsonl", 120)
    out = tmp_path / "calls.jsonl.results"
    args = _submit(account, manifest, "--webhook-port", "0")
    run = await start(*args, env=account.env())

    async def some_finished() -> bool:
        return (out / "items").is_dir() and len(list((out / "items").iterdir())) >= 5

    await _until(some_finished)
    run.send_signal(signal.SIGKILL)
    await run.wait()
    assert await account.service_webhook() != ORIGINAL_HOOK  # a dead receiver: the resume must put it back
    resumed = await cintel(*args, env=account.env())
    assert resumed.code == 0, resumed.err[-2000:]
    keys = [str(r["customer_key"]) for r in _results_lines(out)]
    assert sorted(keys) == sorted(f"c{i}" for i in range(120))  # one line each: no duplicates after the kill
    assert await account.per_key() == {f"c{i}": 1 for i in range(120)}
    assert await account.service_webhook() == ORIGINAL_HOOK


async def test_wrong_credentials_exit_4_mark_nothing_failed_and_the_fixed_command_carries_on(
    mock: RunningMock, tmp_path: Path
) -> None:
    account = await new_account(mock, {})
    manifest = write_manifest(tmp_path / "calls.jsonl", 5)
    blocked = await cintel(*_submit(account, manifest), env=account.env(TWILIO_AUTH_TOKEN="0" * 32))
    assert blocked.code == 4
    assert "20003" in blocked.err
    assert "run the same command again" in blocked.err
    assert "0" * 32 not in blocked.out + blocked.err
    assert await account.per_key() == {}
    fixed = await cintel(*_submit(account, manifest), env=account.env())
    assert fixed.code == 0, fixed.err[-2000:]
    assert await account.per_key() == {f"c{i}": 1 for i in range(5)}


async def test_a_key_without_the_create_permission_and_an_unknown_service_exit_4(
    mock: RunningMock, tmp_path: Path
) -> None:
    account = await new_account(mock, {})
    permissions = ["/twilio/voice/intelligence.services/*", "/twilio/voice/intelligence.transcripts/read",
                   "/twilio/voice/intelligence.transcripts/list"]  # fmt: skip
    async with httpx.AsyncClient(base_url=mock.base_url) as control:
        key = (await control.post(f"/__mock__/accounts/{account.sid}/keys", json={"permissions": permissions})).json()
    manifest = write_manifest(tmp_path / "calls.jsonl", 3)
    env = account.env(TWILIO_API_KEY=key["sid"], TWILIO_API_SECRET=key["secret"])
    del env["TWILIO_AUTH_TOKEN"]
    restricted = await cintel(*_submit(account, manifest), env=env)
    assert restricted.code == 4
    assert "70051" in restricted.err
    assert "transcripts/create" in restricted.err
    unknown = await cintel("submit", str(manifest), "--service", "GA" + "0" * 32, env=account.env())
    assert unknown.code == 4
    assert "does not exist" in unknown.err
    assert await account.per_key() == {}
    corrected = await cintel(*_submit(account, manifest), env=account.env())  # the same journal, right service
    assert corrected.code == 0, corrected.err
    assert await account.per_key() == {f"c{i}": 1 for i in range(3)}


async def test_an_api_that_vanishes_during_the_wait_is_reported_and_ends_with_exit_3(tmp_path: Path) -> None:
    api = await asyncio.create_subprocess_exec(*CINTEL, "mock", "--port", "0", stdout=asyncio.subprocess.PIPE)
    try:
        assert api.stdout is not None
        exports = ""
        while "export CINTEL_BASE_URL" not in exports:
            exports = (await asyncio.wait_for(api.stdout.readline(), 30)).decode()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "CINTEL_"))}
        env.update(dict(part.split("=", 1) for part in exports.split()[1:]))
        manifest = write_manifest(tmp_path / "calls.jsonl", 5)
        async with httpx.AsyncClient(base_url=env["CINTEL_BASE_URL"]) as control:
            patch = {"lifecycle": {"mode": "after_seconds", "seconds": 600}, "media": {"fetch": False}}
            await control.patch("/__mock__/config", json=patch)
        run = await start("submit", str(manifest), "--unreachable-timeout", "3", "--log-format", "json", env=env)
        await asyncio.sleep(3)  # submitted, now waiting
        api.kill()
        done = await finish(run, 60)
    finally:
        if api.returncode is None:
            api.kill()
        await api.wait()
    assert done.code == 3, done.err[-2000:]
    events = [json.loads(line) for line in done.err.splitlines()]
    assert any("API unreachable for" in str(e.get("outage")) for e in events if e["event"] == "progress")
    assert "while waiting" in events[-1]["message"]
    assert "run the same command again" in done.err


async def test_no_api_at_all_says_so_and_exits_3_not_2(tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path / "calls.jsonl", 2)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "CINTEL_"))}
    env.update(TWILIO_ACCOUNT_SID="AC" + "1" * 32, TWILIO_AUTH_TOKEN="t" * 32)
    done = await cintel("submit", str(manifest), "--service", "GA" + "1" * 32, "--base-url", "http://127.0.0.1:9",
                        "--unreachable-timeout", "2", env=env, limit_s=60)  # fmt: skip
    assert done.code == 3
    assert "API unreachable for" in done.err
    assert "checking the account" in done.err
    assert "run the same command again" in done.err
    assert "Traceback" not in done.err


async def test_rejected_rows_exit_1_and_are_listed(mock: RunningMock, tmp_path: Path) -> None:
    account = await new_account(mock, {})
    manifest = write_manifest(tmp_path / "calls.jsonl", 3, bad_rows=2)
    done = await cintel(*_submit(account, manifest), env=account.env())
    assert done.code == 1
    assert "rejected (rows) 2" in done.out
    rejects = (tmp_path / "calls.jsonl.results" / "rejects.jsonl").read_text().splitlines()
    assert [json.loads(r)["row"] for r in rejects] == [4, 5]


async def test_usage_and_input_errors_exit_2_naming_the_cause_with_no_traceback(
    mock: RunningMock, tmp_path: Path
) -> None:
    account = await new_account(mock, {})
    manifest = write_manifest(tmp_path / "calls.jsonl", 2)
    typo = tmp_path / "typo.csv"
    typo.write_text("media_url,customer_kye\nhttps://b.example/1.wav,k1\n")
    journal_dir = tmp_path / "dir.sqlite"
    journal_dir.mkdir()
    corrupt = tmp_path / "corrupt.sqlite"
    corrupt.write_bytes(b"SQLite format 3\x00" + os.urandom(4000))
    other_batch = tmp_path / "other"
    other_batch.mkdir()
    (other_batch / ".cintel-batch").write_text("someone-else\n")
    cases = {
        "no such manifest": ["submit", str(tmp_path / "none.jsonl"), "--service", account.service],
        "not a Service SID": ["submit", str(manifest), "--service", "GA123"],
        "customer_kye": ["submit", str(typo), "--service", account.service],
        str(journal_dir): [*_submit(account, manifest), "--journal", str(journal_dir)],
        str(corrupt): [*_submit(account, manifest), "--journal", str(corrupt)],
        "another batch": [*_submit(account, manifest), "--out", str(other_batch)],
    }
    for expected, args in cases.items():
        done = await cintel(*args, env=account.env())
        assert (done.code, expected) == (2, expected), done.err
        assert expected in done.err
        assert "Traceback" not in done.err
    assert await account.per_key() == {}


async def test_a_webhook_port_in_use_is_a_usage_error(mock: RunningMock, tmp_path: Path) -> None:
    account = await new_account(mock, {})
    manifest = write_manifest(tmp_path / "calls.jsonl", 2)
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        done = await cintel(*_submit(account, manifest, "--webhook-port", str(port)), env=account.env())
    finally:
        server.close()
    assert done.code == 2
    assert f"webhook port {port}" in done.err
    assert await account.per_key() == {}


async def test_item_files_never_collide_and_outputs_are_private_and_hold_no_secret(
    mock: RunningMock, tmp_path: Path
) -> None:
    account = await new_account(mock, {})
    keys = ["x/1", "x_1", "x?1", "x 1", "x%2F1", "..", "X_1"]
    manifest = write_manifest(tmp_path / "calls.jsonl", len(keys), keys=keys)
    done = await cintel(*_submit(account, manifest), env=account.env())
    assert done.code == 0, done.err
    out = tmp_path / "calls.jsonl.results"
    files = list((out / "items").iterdir())
    assert len(files) == len(keys)
    assert sorted(json.loads(f.read_text())["customer_key"] for f in files) == sorted(keys)
    written = [p for p in tmp_path.rglob("*") if p.is_file() and p != manifest]
    for path in written:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        assert b"s3cr3tsig" not in path.read_bytes(), path
        assert account.token.encode() not in path.read_bytes(), path
    for directory in (out, out / "items"):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert "s3cr3tsig" not in done.out + done.err


async def test_status_and_results_work_while_a_run_holds_the_journal_and_results_survives_head(
    mock: RunningMock, tmp_path: Path
) -> None:
    account = await new_account(mock, {"lifecycle": {"mode": "after_seconds", "seconds": 3}})
    manifest = write_manifest(tmp_path / "calls.jsonl", 300)
    journal = str(tmp_path / "calls.jsonl.journal.sqlite")
    run = await start(*_submit(account, manifest), env=account.env())
    await _until(lambda: _created_at_least(account, 300))
    status = await cintel("status", "--journal", journal, env=account.env())
    assert status.code == 0, status.err
    assert "submitted" in status.out
    # `cintel results | head -1`: the reader takes one line and closes the pipe.
    line, errors, code = await asyncio.to_thread(read_one_line_and_close, "results", "--journal", journal)
    assert json.loads(line)["row"] == 1
    assert code == 0
    assert "BrokenPipe" not in errors
    assert "Traceback" not in errors
    assert (await finish(run)).code == 0


async def test_log_format_json_prints_only_json(mock: RunningMock, tmp_path: Path) -> None:
    account = await new_account(mock, {})
    manifest = write_manifest(tmp_path / "calls.jsonl", 3, bad_rows=1)
    for env in (account.env(), account.env(TWILIO_AUTH_TOKEN="0" * 32)):
        done = await cintel(*_submit(account, manifest, "--log-format", "json"), env=env)
        assert done.code in (1, 4)
        for line in (done.out + done.err).splitlines():
            assert isinstance(json.loads(line), dict), line


def test_demo_refuses_a_negative_count_and_leaves_no_temporary_directory(tmp_path: Path) -> None:
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    bad = subprocess.run([*CINTEL, "demo", "--items", "-3"], env=env, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2
    assert "--items" in bad.stderr
    demo = subprocess.run([*CINTEL, "demo", "--items", "6"], env=env, capture_output=True, text=True, timeout=120)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "exactly once" in demo.stdout
    assert list(tmp_path.iterdir()) == []


async def test_no_secret_of_any_url_shape_reaches_any_file_or_output(mock: RunningMock, tmp_path: Path) -> None:
    """The URL shapes the outside testers leaked (issue 7), in good rows, bad rows and metadata."""
    account = await new_account(mock, {})
    secret = "Zq9sEcReTvAlUe"
    shapes = [
        f"HTTPS://B.EXAMPLE/a.wav?X-Amz-Signature={secret}1",
        f"https://b.example/my call.wav?X-Amz-Signature={secret}2",
        f"https://user:{secret}3@b.example/c.wav",
        f"https://b.example/d.wav?sig={secret}4&se=2030",
    ]
    rows = [{"media_url": url, "customer_key": f"k{i}", "copy": url} for i, url in enumerate(shapes)]
    rows += [{"media_url": f"ftp://b.example/e.wav?X-Amz-Signature={secret}5", "customer_key": "bad"}]
    rows += [{"media_url": f"https://b.example/f.wav?X-Amz-Signature={secret}6", "customer_key": "x" * 80}]
    manifest = tmp_path / "calls.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    done = await cintel(*_submit(account, manifest), env=account.env())
    assert done.code == 1, done.err  # two rows rejected
    assert "copy" in done.err  # the extra column is named once as kept metadata
    json_run = await cintel(*_submit(account, manifest, "--log-format", "json"), env=account.env())
    for text in (done.out, done.err, json_run.out, json_run.err):
        assert secret not in text
    for path in tmp_path.rglob("*"):
        if path.is_file() and path != manifest:
            assert secret.encode() not in path.read_bytes(), path


async def test_a_bad_byte_is_named_by_row_and_offset_before_anything_is_journaled(
    mock: RunningMock, tmp_path: Path
) -> None:
    account = await new_account(mock, {})
    manifest = write_manifest(tmp_path / "calls.jsonl", 50)
    data = manifest.read_bytes()
    offset = data.index(b'"c40"') + 2
    manifest.write_bytes(data[:offset] + b"\xff" + data[offset + 1 :])
    done = await cintel(*_submit(account, manifest), env=account.env())
    assert done.code == 2
    assert "row 41" in done.err
    assert f"byte offset {offset}" in done.err
    assert not (tmp_path / "calls.jsonl.journal.sqlite").exists()
    fixed = write_manifest(manifest, 50)  # the corrected file is the batch: nothing recorded the broken one
    again = await cintel(*_submit(account, fixed), env=account.env())
    assert again.code == 0, again.err
