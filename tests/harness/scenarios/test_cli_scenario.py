"""`cintel scenario run|list|validate` as a user runs it: exit 0 when every expectation holds, 2 for an invalid file
(every problem listed, nothing run), 99 when an expectation fails; against Twilio (here a mock standing in for it,
reached only through the API) what only the mock can check is listed as skipped."""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from aiohttp import web

from harness.cli import main
from mock_server import MockConfig, serve
from tests.integration.cli_support import cintel

LIBRARY = Path(__file__).resolve().parents[3] / "scenarios"

PASSING = """
description = "Two utterances, one per channel"

[mock]
lifecycle = { mode = "immediate" }

[media.call]
seconds = 4.0
channels = 2
segments = [{ at_s = 0.3, utterance = "hello", channel = 1 }, { at_s = 2.0, utterance = "yes", channel = 2 }]

[[steps]]
do = "submit"
webhooks = true
items = [{ key = "call", media = "call" }]

[expect]
statuses = { call = "completed" }
exactly_once = true
sentences = [{ item = "call", channel = 1, at_s = 0.3 }, { item = "call", channel = 2, at_s = 2.0 }]
"""


def scenario(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_validate_and_list_the_library(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scenario", "validate", str(LIBRARY)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{len(list(LIBRARY.glob('*.toml')))} scenario(s) valid: create_answer_lost, ")
    assert main(["scenario", "list", str(LIBRARY / "video_late_joiner.toml")]) == 0
    line = capsys.readouterr().out
    assert line.startswith("video_late_joiner ")
    assert "merge → submit" in line


def test_an_invalid_file_exits_2_listing_every_problem_and_runs_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = scenario(tmp_path, "good", PASSING)
    bad = scenario(tmp_path, "bad", PASSING.replace('item = "call", channel = 2', 'item = "call", channel = 3')
                   .replace("4.0", "-4"))  # fmt: skip
    assert main(["scenario", "run", str(good), str(bad)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # not even the valid one ran
    assert captured.err.splitlines() == [
        f"cintel scenario: error: {bad}: media.call.seconds: -4 is not more than 0",
        f"cintel scenario: error: {bad}: expect.sentences[1].channel: 3 is not 1 or 2",
    ]
    assert main(["scenario", "validate", str(tmp_path / "absent.toml")]) == 2
    assert "absent.toml: no such file or folder" in capsys.readouterr().err


def test_run_exits_0_when_every_expectation_holds_and_99_when_one_does_not(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = scenario(tmp_path, "good", PASSING)
    wrong = scenario(tmp_path, "wrong", PASSING.replace("at_s = 2.0 }]\n", "at_s = 2.5 }]\n"))
    assert main(["scenario", "run", str(good)]) == 0
    report = capsys.readouterr().out
    assert report.startswith(f"PASS good ({good}, target mock, ")
    assert "ok   sentences of call (± 0.05 s): ch1@0.30, ch2@2.00" in report
    assert report.rstrip().endswith("1 scenario(s): 1 passed, 0 failed")
    assert main(["scenario", "run", "--json", str(wrong)]) == 99
    (line,) = capsys.readouterr().out.splitlines()
    data = json.loads(line)
    assert data["passed"] is False
    (failed,) = [e for e in data["expectations"] if e["verdict"] == "fail"]
    assert failed["actual"] == "ch1@0.30, ch2@2.00 — sentence 2 starts at 2.000 s, 0.500 s from 2.5"


def test_a_scenario_that_runs_out_of_time_fails_saying_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    slow = scenario(tmp_path, "slow", 'timeout_s = 0.5\n[[steps]]\ndo = "wait"\nseconds = 5\n[expect]\n'
                    'stats = { requests = { equals = 0 } }\n')  # fmt: skip
    assert main(["scenario", "run", str(slow)]) == 99
    report = capsys.readouterr().out
    assert "  stopped: timed out after 0.5 s (the scenario's timeout_s)" in report
    assert "ok   stats requests: 0" in report  # what could still be seen is judged


def test_hosting_options_go_with_twilio_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = scenario(tmp_path, "good", PASSING)
    assert main(["scenario", "run", "--media-base-url", "https://m.example", "--media-dir", str(tmp_path),
                 str(good)]) == 2  # fmt: skip
    assert "are for --target twilio" in capsys.readouterr().err
    assert main(["scenario", "run", "--target", "twilio", "--media-base-url", "https://m.example", str(good)]) == 2
    assert "--media-base-url and --media-dir go together" in capsys.readouterr().err


# --- against Twilio: a mock reached only through its API stands in for it --------------------------------------------

TWILIO_CASE = """
description = "Runs on Twilio too; what needs the mock is skipped"

[mock]
lifecycle = { mode = "immediate" }

[media.call]
seconds = 4.0
channels = 2
segments = [{ at_s = 0.3, utterance = "hello", channel = 1 }, { at_s = 2.0, utterance = "yes", channel = 2 }]

[[steps]]
do = "configure"
mock = { concurrency_limit = 2 }

[[steps]]
do = "submit"
webhooks = true
kill = { after_created = 1 }
items = [
  { key = "hosted", media = "call" },
  { key = "expiring", media = "call", ttl_s = 30 },
  { key = "recorded", recording = "call" },
]

[expect]
statuses = { hosted = "completed", expiring = "failed" }
sentences = [{ item = "hosted", channel = 1, at_s = 0.3 }, { item = "hosted", channel = 2, at_s = 2.0 }]
exactly_once = true
alerts = [{ item = "expiring", code = 17553 }]
webhooks = { sent = { min = 1 } }
share_429 = { max = 0.5 }
stats = { media_fetched = { min = 1 } }
"""


@pytest.fixture
async def media_server(tmp_path: Path) -> AsyncIterator[tuple[str, Path]]:
    """A plain web server for a folder: where a user would host media for Twilio to fetch."""
    folder = tmp_path / "served"
    folder.mkdir()
    app = web.Application()
    app.router.add_static("/", folder)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    yield f"http://{host}:{port}", folder
    await runner.cleanup()


async def test_against_twilio_the_mocks_checks_are_listed_as_skipped_and_the_rest_is_judged(
    tmp_path: Path, media_server: tuple[str, Path]
) -> None:
    base_url, served = media_server
    async with serve(MockConfig.from_json({"lifecycle": {"mode": "immediate"}}), port=0) as fake_twilio:
        async with httpx.AsyncClient(base_url=fake_twilio.base_url) as control:
            account = (await control.post("/__mock__/accounts", json={})).json()
        auth = (account["account_sid"], account["auth_token"])
        async with httpx.AsyncClient(base_url=fake_twilio.base_url, auth=auth) as api:
            service = (await api.post("/v2/Services", data={"UniqueName": "mine"})).json()["sid"]
            env = {
                "PATH": "/usr/bin:/bin",
                "TWILIO_ACCOUNT_SID": account["account_sid"],
                "TWILIO_AUTH_TOKEN": account["auth_token"],
                "CINTEL_BASE_URL": fake_twilio.base_url,  # the API only: the runner has no way to its control plane
                "CINTEL_SERVICE_SID": service,  # the user's own service, not a new one per run
            }
            path = scenario(tmp_path, "portable", TWILIO_CASE)
            done = await cintel("scenario", "run", "--target", "twilio", "--media-base-url", base_url,
                                "--media-dir", str(served), str(path), env=env)  # fmt: skip
            transcripts = (await api.get("/v2/Transcripts")).json()["transcripts"]
            services = (await api.get("/v2/Services")).json()["services"]
    assert [t["service_sid"] for t in transcripts] == [service]
    assert [s["sid"] for s in services] == [service]
    assert done.code == 0, done.out + done.err
    lines = done.out.splitlines()
    (submit_line,) = [line.strip() for line in lines if "submit main" in line]
    assert re.fullmatch(
        r"ok   2\. submit main \(1 rows\): exit 0 in \d+\.\d s \(not killed: counting the "
        r"transcripts made is for the mock: only the mock can do this\)",
        submit_line,
    ), submit_line
    assert lines[0].startswith(f"PASS portable ({path}, target twilio, ")
    mock_only = "skipped: only the mock can check this (target twilio)"
    assert [line.strip() for line in lines if line.strip().startswith(("ok", "skip", "FAIL", "done"))] == [
        "skip -. [mock]: the mock's configuration: only the mock can do this",
        "skip 1. configure: the mock's configuration: only the mock can do this",
        submit_line,
        "ok   status of hosted: completed",
        "skip status of expiring: skipped: a signed URL that expires after 30 s is made by the mock's media host: "
        "only the mock can do this",
        "ok   sentences of hosted (± 0.05 s): ch1@0.30, ch2@2.00",
        f"skip exactly once (the mock's transcripts per CustomerKey): {mock_only}",
        f"skip alert 17553 for expiring: {mock_only}",
        f"skip webhooks sent: {mock_only}",
        f"skip share of 429 answers: {mock_only}",
        f"skip stats media_fetched: {mock_only}",
    ]
    assert sorted(p.name for p in served.iterdir()) == ["call.wav"]  # the media went where the user serves it


def test_target_twilio_without_credentials_exits_2_naming_the_variables(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_API_KEY", "TWILIO_API_SECRET"):
        monkeypatch.delenv(name, raising=False)
    library = Path(__file__).resolve().parents[3] / "scenarios" / "media_public_url.toml"
    assert main(["scenario", "run", "--target", "twilio", str(library)]) == 2
    assert "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are not set" in capsys.readouterr().err


def test_report_writes_each_submit_steps_load_report(tmp_path: Path) -> None:
    library = Path(__file__).resolve().parents[3] / "scenarios" / "create_answer_lost.toml"
    assert main(["scenario", "run", str(library), "--report", str(tmp_path / "r")]) == 0
    reports = sorted((tmp_path / "r" / "create_answer_lost").glob("*-submit/report.json"))
    assert reports, list((tmp_path / "r").rglob("*"))
    summary = json.loads(reports[0].read_text())["summary"]
    assert summary["sent"] > 0
    assert (reports[0].parent / "report.html").is_file()
