"""`cintel load` against real mocks over loopback: every profile, a mix with 429s, thresholds and exit codes, a mock
elsewhere (webhook lag, the service's WebhookUrl put back, no secret in any file), Twilio refused without the flag,
and `cintel load merge`. Every run is a few seconds of load, bounded by a timeout."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness._credentials import resolve_credentials
from harness.cli import main
from harness.load import LoadSpec, Target, build_spec, run_load
from mock_server import MockConfig, serve
from tests.integration.cli_support import cintel, new_account

LIMITS = """# A busy account: 2 requests at once, 20 ms each, Retry-After on 429
concurrency_limit = 2
retry_after = true
latency_ms = 20
"""
MIX = "create=5,fetch=3,sentences=1,operator_results=1"


def report(out: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((out / "report.json").read_text(encoding="utf-8"))
    return data


@pytest.mark.parametrize(
    ("given", "offered"),
    [
        ({"rate": "40/s", "duration": "1.5s"}, 60),
        ({"ramp_from": "0/s", "ramp_to": "80/s", "duration": "1.5s"}, 60),
        ({"steps": "20/s,60/s", "step_duration": "0.75s"}, 60),
        ({"rate": "20/s", "spike_rate": "100/s", "spike_at": "0.5s", "spike_duration": "0.5s", "duration": "1.5s"}, 70),
        ({"concurrency": "4", "duration": "1.5s"}, None),
        ({"adaptive": True, "concurrency": "8", "duration": "1.5s"}, None),
    ],
    ids=["constant", "ramp", "steps", "spike", "closed", "adaptive"],
)
async def test_each_profile_runs_against_the_mock(given: dict[str, object], offered: int | None) -> None:
    config = MockConfig.from_json({"lifecycle": {"mode": "immediate"}, "media": {"fetch": False}, "latency_ms": 5})
    async with serve(config, port=0) as mock:
        credentials = resolve_credentials(mock.account_sid, mock.auth_token, base_url=mock.base_url)
        spec: LoadSpec = build_spec({**given, "mix": MIX, "prepare": "3", "drain": "5s"})
        result = await run_load(spec, Target(credentials, mock.service_sid), say=lambda _: None, webhooks=True)
    s = result.summary
    if offered is not None:
        assert s["offered"] == offered
    assert s["offered"] == s["sent"] == s["ok"] > 0
    assert s["dropped"] == s["other_errors"] == 0
    assert set(s["by_operation"]) == {"create", "fetch", "sentences", "operator_results"}
    assert s["webhook_lag_ms"]["count"] == s["by_operation"]["create"]["ok"]  # one callback per transcript created
    assert s["latency_ms"]["p50"] >= 5  # the mock's latency


async def test_a_mix_against_a_busy_embedded_mock_counts_429s_and_crosses_a_threshold(tmp_path: Path) -> None:
    limits = tmp_path / "limits.toml"
    limits.write_text(LIMITS, encoding="utf-8")
    out = tmp_path / "report"
    done = await cintel(
        "load", "--rate", "150/s", "--duration", "2s", "--mix", MIX, "--mock-config", str(limits), "--out", str(out),
        "--threshold", "429_rate<1%", "--threshold", "p99<5s", env={}, limit_s=60,
    )  # fmt: skip
    assert done.code == 99, done.err
    s = report(out)["summary"]
    assert s["offered"] == 300
    assert s["rate_limited"] > 0
    assert s["rate_limited"] == sum(op["rate_limited"] for op in s["by_operation"].values())
    assert s["ok"] + s["rate_limited"] + s["server_errors"] + s["other_errors"] == s["completed"] == s["sent"]
    crossed = [t["expression"] for t in report(out)["thresholds"] if not t["passed"]]
    assert crossed == ["429_rate<1%"]
    assert "CROSSED 429_rate<1%" in done.out
    assert "1 threshold(s) crossed: exit 99" in done.out
    assert "embedded mock" in done.err
    rows = (out / "timeseries.csv").read_text(encoding="utf-8").splitlines()
    assert sum(int(r.split(",")[6]) for r in rows[1:]) == s["rate_limited"]  # the rate_limited column


async def test_a_mock_elsewhere_gets_its_webhook_back_and_no_secret_reaches_a_file(tmp_path: Path) -> None:
    config = MockConfig.from_json({"lifecycle": {"mode": "immediate"}, "media": {"fetch": False}})
    async with serve(config, port=0) as mock:
        account = await new_account(mock, {})
        await account.set_webhook("https://example.com/original")
        out = tmp_path / "elsewhere"
        env = account.env(CINTEL_SERVICE_SID=account.service)
        done = await cintel("load", "--base-url", mock.base_url, "--rate", "50/s", "--duration", "1s",
                            "--threshold", "goodput>0.99", "--out", str(out), env=env, limit_s=60)  # fmt: skip
        assert done.code == 0, done.err
        assert await account.service_webhook() == "https://example.com/original"
    s = report(out)["summary"]
    assert s["ok"] == 50
    assert s["webhook_lag_ms"]["count"] == 50
    texts = [done.out, done.err, *((out / n).read_text(encoding="utf-8") for n in ("report.json", "timeseries.csv",
                                                                                     "report.html"))]  # fmt: skip
    assert not any(account.token in text for text in texts)
    assert not any("Basic " in text for text in texts)


async def test_refused_credentials_exit_4_before_any_load(tmp_path: Path) -> None:
    async with serve(MockConfig(), port=0) as mock:
        account = await new_account(mock, {})
        env = account.env(TWILIO_AUTH_TOKEN="wrong-token", CINTEL_SERVICE_SID=account.service)
        done = await cintel("load", "--base-url", mock.base_url, "--rate", "10/s", "--duration", "1s", "--out",
                            str(tmp_path / "r"), env=env, limit_s=60)  # fmt: skip
        transcripts = (await account.stats())["transcripts_created"]
    assert done.code == 4, done.err
    assert f"service {account.service}" in done.err
    assert "refused" in done.err
    assert transcripts == 0
    assert not (tmp_path / "r").exists()


def test_twilio_is_refused_without_the_flag_after_saying_what_would_be_sent(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["load", "--twilio", "--rate", "10/s", "--duration", "60s", "--media-url", "https://b.example/a.wav",
                 "--service", "GA" + "0" * 32])  # fmt: skip
    captured = capsys.readouterr()
    assert code == 2
    assert "up to 600 requests, creating up to 600 transcripts (billed)" in captured.out
    assert "--yes-really-send-to-twilio" in captured.err
    assert "nothing was sent" in captured.err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rate", "10/s", "--duration", "1s", "--threshold", "p98<1s"], "unknown metric 'p98'"),
        (["--rate", "fast", "--duration", "1s"], "--rate 'fast'"),
        (["--ramp", "10/s", "--duration", "1s"], "--ramp '10/s': give FROM:TO"),
        (["a.toml", "b.toml"], "one TOML file at most"),
        (["merge"], "give the report directories"),
    ],
)
def test_usage_errors_exit_2_naming_the_value(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["load", *args]) == 2
    assert message in capsys.readouterr().err


async def test_reports_of_two_processes_merge(tmp_path: Path) -> None:
    for name in ("a", "b"):
        done = await cintel("load", "--rate", "30/s", "--duration", "1s", "--no-webhooks", "--out",
                            str(tmp_path / name), env={}, limit_s=60)  # fmt: skip
        assert done.code == 0, done.err
    done = await cintel("load", "merge", str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(tmp_path / "m"),
                        "--threshold", "goodput>0.9", env={}, limit_s=60)  # fmt: skip
    assert done.code == 0, done.err
    merged = report(tmp_path / "m")
    assert merged["summary"]["offered"] == merged["summary"]["ok"] == 60
    assert merged["thresholds"][0]["passed"] is True
    assert (tmp_path / "m" / "report.html").is_file()
