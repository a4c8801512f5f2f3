"""The `cintel` command line: subcommand dispatch, exit codes, and `cintel mock` as a real process."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from harness.cli import main


def test_no_subcommand_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().err


def test_unknown_subcommand_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["transcribe-everything"]) == 2
    assert "invalid choice" in capsys.readouterr().err


def test_mock_with_a_bad_config_file_exits_2_naming_file_and_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "mock.toml"
    config.write_text("concurrency_limit = 4\n[lifecycle]\nmodee = 'immediate'\n")
    assert main(["mock", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert str(config) in err
    assert "lifecycle.modee" in err


def test_mock_help_documents_its_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mock", "--help"]) == 0
    out = capsys.readouterr().out
    for option in ("--host", "--port", "--seed", "--config"):
        assert option in out


def test_cintel_mock_serves_and_prints_a_working_dev_account(tmp_path: Path) -> None:
    """The real console entry point, as a user runs it: it prints a base URL and credentials that work."""
    proc = subprocess.Popen(
        [sys.executable, "-c", "import sys; from harness.cli import main; sys.exit(main())", "mock", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 20
        base = sid = token = None
        while time.monotonic() < deadline and not (base and sid and token):
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            base = base or _find(r"(http://127\.0\.0\.1:\d+)", line)
            sid = sid or _find(r"\b(AC[0-9a-f]{32})\b", line)
            token = token or _find(r"\b([0-9a-f]{32})\b", line.replace(sid or "", ""))
        printed = "".join(lines)
        assert base, printed
        assert sid, printed
        assert token, printed
        response = httpx.get(f"{base}/v2/Services", auth=(sid, token), timeout=5)
        assert response.status_code == 200
        assert response.json()["meta"]["key"] == "services"
        assert httpx.get(f"{base}/v2/Services", auth=(sid, "0" * 32), timeout=5).json()["code"] == 20003
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _find(pattern: str, text: str) -> str | None:
    match = re.search(pattern, text)
    return match.group(1) if match else None


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert re.fullmatch(r"cintel \S+\n", capsys.readouterr().out)


def test_every_subcommand_has_a_description(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    listing = capsys.readouterr().out
    for command in ("mock", "submit", "status", "results", "demo"):
        assert re.search(rf"^\s+{command}\s+\S", listing, re.MULTILINE), command


def test_submit_help_documents_exit_codes_credentials_and_the_journal(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["submit", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    needles = ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_API_KEY", "CINTEL_BASE_URL", "--journal JOURNAL",
               "the record that makes it", "exit codes", "blocked by the account")  # fmt: skip
    for needle in needles:
        assert needle in text
    for code in range(5):
        assert re.search(rf"\b{code} ", text)


def test_manifests_with_the_same_stem_never_share_a_journal_or_an_output_directory() -> None:
    from harness.cli._submit import default_paths

    jsonl, csv = default_paths(Path("calls/foo.jsonl")), default_paths(Path("calls/foo.csv"))
    assert set(jsonl).isdisjoint(csv)
    assert jsonl == (Path("calls/foo.jsonl.journal.sqlite"), Path("calls/foo.jsonl.results"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["demo", "--items", "-3"], "--items"),
        (["demo", "--items", "x"], "--items"),
        (["submit", "m.jsonl", "--timeout", "-1"], "--timeout"),
        (["submit", "m.jsonl", "--webhook-port", "99999"], "--webhook-port"),
    ],
)
def test_bad_option_values_are_usage_errors(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(args) == 2
    assert message in capsys.readouterr().err


def test_an_empty_manifest_or_an_out_file_is_a_usage_error_before_anything_else(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "calls.jsonl"
    empty.write_text("\n\n")
    assert main(["submit", str(empty), "--service", "GA" + "0" * 32]) == 2
    assert "no rows" in capsys.readouterr().err
    empty.write_text('{"media_url": "https://b.example/a.wav"}\n')
    a_file = tmp_path / "out"
    a_file.write_text("")
    assert main(["submit", str(empty), "--service", "GA" + "0" * 32, "--out", str(a_file)]) == 2
    assert "not a directory" in capsys.readouterr().err
    assert not (tmp_path / "calls.jsonl.journal.sqlite").exists()


def test_submit_option_combinations_that_cannot_work_are_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = tmp_path / "calls.jsonl"
    manifest.write_text('{"media_url": "https://b.example/a.wav"}\n')
    service = ["--service", "GA" + "0" * 32]
    assert main(["submit", str(manifest), *service, "--configure-webhook"]) == 2
    assert "--configure-webhook needs --webhook-port" in capsys.readouterr().err
    assert main(["submit", str(manifest), "--mock", "--base-url", "http://127.0.0.1:9"]) == 2
    assert "choose one" in capsys.readouterr().err
    (tmp_path / "calls.jsonl.journal.sqlite").write_bytes(b"")
    assert main(["submit", str(manifest), "--mock"]) == 2
    assert "cannot be resumed" in capsys.readouterr().err


def test_submit_mock_runs_a_batch_end_to_end_and_refuses_to_resume_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_API_KEY", "TWILIO_API_SECRET", "CINTEL_BASE_URL"):
        monkeypatch.delenv(name, raising=False)  # --mock brings its own dev account
    manifest = tmp_path / "calls.jsonl"
    manifest.write_text("".join(f'{{"media_url": "https://b.example/{i}.wav", "customer_key": "k{i}"}}\n'
                                for i in range(3)))  # fmt: skip
    config = tmp_path / "mock.toml"  # nothing is at b.example: the embedded mock must not fetch
    config.write_text('[media]\nfetch = false\n\n[lifecycle]\nmode = "immediate"\n')
    args = ["submit", str(manifest), "--mock", "--mock-config", str(config)]
    assert main(args) == 0, capsys.readouterr()
    results = (tmp_path / "calls.jsonl.results" / "results.jsonl").read_text().splitlines()
    assert sorted(json.loads(line)["customer_key"] for line in results) == ["k0", "k1", "k2"]
    assert all(json.loads(line)["state"] == "completed" for line in results), results
    capsys.readouterr()
    assert main(args) == 2  # the same journal: its mock is gone with its process
    assert "cannot be resumed" in capsys.readouterr().err
