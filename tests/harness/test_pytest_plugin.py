"""The plugin's cintel_* fixtures, as a user's project sees them: pytester writes test files that use each fixture
and runs pytest on them in a subprocess (the plugin comes from the installed package's `pytest11` entry point, with
no conftest) — sync and async tests, pytest-xdist, a cassette recorded with --cintel-record and replayed with no mock
at all, and the errors a user meets (no cassette, no marker, a replay that differs, no twilio). The last test builds
a fresh virtualenv, installs this package into it from a copy of the source, and runs the fixtures there."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]
RUN = ("-p", "no:cacheprovider", "-p", "no:randomly")
INI = "[pytest]\nasyncio_default_fixture_loop_scope = function\n"

COMMON = """
import asyncio
import io
import json
import wave

import httpx
import pytest

from harness._pytest_fixtures import MockControlError


def wav(seconds: float = 3.0, rate: int = 16000) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\\0\\0" * int(seconds * rate))
    return buffer.getvalue()
"""

FIXTURE_TESTS = (
    COMMON
    + """
SYNTHETIC = {"lifecycle": {"mode": "immediate"}, "media": {"fetch": False}}


def test_mock_gives_a_fresh_account_with_its_own_control_plane(cintel_mock):
    assert cintel_mock.base_url.startswith("http://127.0.0.1:")
    assert cintel_mock.config(SYNTHETIC)["lifecycle"]["mode"] == "immediate"
    url = cintel_mock.put_media("call.wav", wav())
    assert httpx.get(url).content == wav()
    said = cintel_mock.script({"media_url": url, "channels": {"1": ["Hello."], "2": ["Hi."]}})
    assert said["lines"] == {"1": 1, "2": 1}
    created = httpx.post(f"{cintel_mock.base_url}/v2/Transcripts", auth=cintel_mock.auth, data={
        "ServiceSid": cintel_mock.service_sid, "CustomerKey": "k1",
        "Channel": json.dumps({"media_properties": {"media_url": url}})})
    assert created.status_code == 202, created.text
    room = cintel_mock.room({"participants": [
        {"identity": "alice", "joined_s": 0.0, "left_s": 3.0, "media": "call.wav"},
        {"identity": "bob", "joined_s": 1.0, "left_s": 4.0, "segments": [{"at_s": 1.5, "utterance": "hello"}]}]})
    assert room["account_sid"] == cintel_mock.account_sid and room["room_sid"].startswith("RM")
    cintel_mock.put_recording("RE" + "0" * 32, wav())
    key = cintel_mock.api_key()
    assert httpx.get(f"{cintel_mock.base_url}/v2/Services/{cintel_mock.service_sid}",
                     auth=(key["sid"], key["secret"])).status_code == 200
    stats = cintel_mock.stats()
    assert stats["transcripts_by_customer_key"] == {"k1": 1}
    assert (stats["rooms"], stats["recordings_stored"]) == (1, 1)
    assert cintel_mock.alerts() == []


def test_faults_and_config_errors_are_this_accounts(cintel_mock):
    service = f"{cintel_mock.base_url}/v2/Services/{cintel_mock.service_sid}"
    assert cintel_mock.faults(error_5xx=1.0)["faults"]["error_5xx"] == 1.0
    assert httpx.get(service, auth=cintel_mock.auth).status_code == 500
    assert cintel_mock.webhook_faults(drop=0.5)["webhook_faults"]["drop"] == 0.5
    with pytest.raises(MockControlError, match="config: 400 account config: unknown key 'nope'"):
        cintel_mock.config({"nope": 1})


def test_a_later_test_sees_none_of_that(cintel_mock):
    assert cintel_mock.config()["faults"]["error_5xx"] == 0.0
    service = httpx.get(f"{cintel_mock.base_url}/v2/Services/{cintel_mock.service_sid}", auth=cintel_mock.auth)
    assert service.json()["unique_name"] == "cintel-test"
    assert httpx.get(f"{cintel_mock.control_url}/config").json()["faults"]["error_5xx"] == 0.0  # global: untouched


async def create_and_fetch(client, cintel_mock):
    async with client:
        channel = {"media_properties": {"media_url": "https://example.com/a.wav"}}
        created = await client.create_transcript(cintel_mock.service_sid, channel, customer_key="c1")
        return await client.fetch_transcript(created.sid)


def test_client_in_a_sync_test(cintel_client, cintel_mock):
    cintel_mock.config(SYNTHETIC)
    transcript = asyncio.run(create_and_fetch(cintel_client, cintel_mock))
    assert transcript.status == "completed"


@pytest.mark.asyncio
async def test_client_in_an_async_test(cintel_client, cintel_mock):
    cintel_mock.config(SYNTHETIC)
    transcript = await create_and_fetch(cintel_client, cintel_mock)
    assert transcript.status == "completed"
    assert cintel_mock.stats()["transcripts_by_customer_key"] == {"c1": 1}


def test_twilio(cintel_twilio, cintel_mock):
    cintel_mock.config(SYNTHETIC)
    assert cintel_twilio.intelligence.v2.services(cintel_mock.service_sid).fetch().unique_name == "cintel-test"
    created = cintel_twilio.intelligence.v2.transcripts.create(service_sid=cintel_mock.service_sid,
        channel={"media_properties": {"media_url": "https://example.com/a.wav"}}, customer_key="t1")
    assert created.account_sid == cintel_mock.account_sid


def test_client_used_and_not_closed_is_named(cintel_client, cintel_mock):
    asyncio.run(cintel_client.fetch_service(cintel_mock.service_sid))
"""
)


def test_each_fixture_works_in_sync_and_async_tests_and_accounts_are_separate(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    pytester.makepyfile(test_fixtures=FIXTURE_TESTS)
    result = pytester.runpytest_subprocess(*RUN, "-W", "ignore::ResourceWarning", "-rA")
    result.assert_outcomes(passed=7, warnings=1)
    result.stdout.fnmatch_lines(["*PytestWarning: cintel_client was used but not closed: use it as `async with*"])


def test_tests_that_change_their_accounts_run_side_by_side_under_xdist(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    pytester.makepyfile(
        test_parallel="""
        import os
        import httpx
        import pytest

        def service(mock):
            return httpx.get(f"{mock.base_url}/v2/Services/{mock.service_sid}", auth=mock.auth).status_code

        @pytest.mark.parametrize("n", range(6))
        def test_broken(cintel_mock, n):
            cintel_mock.faults(error_5xx=1.0)
            assert service(cintel_mock) == 500
            print("worker", os.environ["PYTEST_XDIST_WORKER"], cintel_mock.base_url)

        @pytest.mark.parametrize("n", range(6))
        def test_healthy(cintel_mock, n):
            assert service(cintel_mock) == 200
            assert cintel_mock.stats()["requests"] == 2  # its service's create, and this fetch: nobody else's
            print("worker", os.environ["PYTEST_XDIST_WORKER"], cintel_mock.base_url)
        """
    )
    result = pytester.runpytest_subprocess(*RUN, "-n", "2", "-rP")
    result.assert_outcomes(passed=12)
    mocks = {line.split()[1]: line.split()[2] for line in result.outlines if line.startswith("worker gw")}
    assert sorted(mocks) == ["gw0", "gw1"]
    assert len(set(mocks.values())) == 2  # a mock per worker, each on its own port


REPLAYED = """
import asyncio
import httpx
import pytest


@pytest.mark.cintel_cassette("cassettes/rename.json")
@pytest.mark.asyncio
async def test_rename(cintel_replay):
    async with cintel_replay.client() as client:
        renamed = await client.update_service(cintel_replay.service_sid, friendly_name="Calls")
    assert renamed.friendly_name == "Calls"
    assert renamed.account_sid == cintel_replay.account_sid


@pytest.mark.cintel_cassette("cassettes/list.json")
def test_list_with_any_httpx_client(cintel_replay):
    async def names():
        async with httpx.AsyncClient(transport=cintel_replay.transport(), base_url=cintel_replay.base_url,
                                     auth=(cintel_replay.account_sid, cintel_replay.auth_token)) as http:
            answer = await http.get("/v2/Services")
        return sorted(s["unique_name"] for s in answer.json()["services"])

    assert asyncio.run(names()) == ["cintel-replay", "cintel-test"]
"""


def test_a_cassette_recorded_with_cintel_record_replays_with_no_mock(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    pytester.makepyfile(test_replayed=REPLAYED)
    recorded = pytester.runpytest_subprocess(*RUN, "--cintel-record", "--setup-show")
    recorded.assert_outcomes(passed=2)
    assert "SETUP    S _cintel_mock_server" in recorded.stdout.str()
    cassette = json.loads((pytester.path / "cassettes" / "rename.json").read_text())
    assert [e["request"]["method"] for e in cassette["exchanges"]] == ["POST", "POST"]  # the service, the rename
    assert cassette["command"] == "pytest test_replayed.py::test_rename"
    assert ["authorization", "<redacted>"] in cassette["exchanges"][0]["request"]["headers"]

    # The recording run's mock is gone with its process; the replay starts none and every exchange is used.
    replayed = pytester.runpytest_subprocess(*RUN, "--setup-show")
    replayed.assert_outcomes(passed=2)
    assert "_cintel_mock_server" not in replayed.stdout.str()
    assert "cintel_mock" not in replayed.stdout.str()


def test_a_replay_that_differs_fails_naming_the_difference(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    pytester.makepyfile(test_replayed=REPLAYED)
    pytester.runpytest_subprocess(*RUN, "--cintel-record").assert_outcomes(passed=2)
    recorded = (pytester.path / "cassettes" / "rename.json").read_bytes()
    changed = REPLAYED.replace('friendly_name="Calls")', 'friendly_name="Sales")').replace(
        'await http.get("/v2/Services")', 'await http.get("/v2/Services/" + cintel_replay.service_sid)'
    )
    pytester.makepyfile(test_replayed=changed)

    replayed = pytester.runpytest_subprocess(*RUN)
    replayed.assert_outcomes(failed=2)
    replayed.stdout.fnmatch_lines(["*ReplayMiss: the cassette has no answer for POST /v2/Services/GA*"])
    replayed.stdout.fnmatch_lines(["*closest recorded request: #2 POST /v2/Services/GA*", "*FriendlyName*Calls*"])

    # Recording a failing test leaves the cassette as it was.
    pytester.makepyfile(test_replayed=changed)  # renamed "Sales", it still expects "Calls"
    rerecorded = pytester.runpytest_subprocess(*RUN, "--cintel-record", "test_replayed.py::test_rename")
    rerecorded.assert_outcomes(failed=1)
    assert (pytester.path / "cassettes" / "rename.json").read_bytes() == recorded


def test_an_exchange_left_unused_is_an_error_at_teardown(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    pytester.makepyfile(test_replayed=REPLAYED)
    pytester.runpytest_subprocess(*RUN, "--cintel-record").assert_outcomes(passed=2)
    pytester.makepyfile(
        test_replayed=REPLAYED.replace("    assert asyncio.run(names()) ==", "    assert names and [] !=")
    )
    replayed = pytester.runpytest_subprocess(*RUN)
    replayed.assert_outcomes(passed=2, errors=1)
    replayed.stdout.fnmatch_lines([
        "*ERROR at teardown of test_list_with_any_httpx_client*",
        "*ReplayUnused: 1 of 2 recorded exchanges were not used:",
        "*#2 GET /v2/Services*",
    ])  # fmt: skip


def test_no_cassette_no_marker_and_no_twilio_are_clear(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    pytester.makeconftest("import sys\nsys.modules['twilio'] = None  # as if the extra were not installed\n")
    pytester.makepyfile(
        test_errors="""
        import pytest

        @pytest.mark.cintel_cassette("cassettes/never.json")
        def test_missing(cintel_replay):
            pass

        def test_unmarked(cintel_replay):
            pass

        def test_twilio(cintel_twilio):
            pass
        """
    )
    result = pytester.runpytest_subprocess(*RUN, "-rs")
    result.assert_outcomes(errors=2, skipped=1)
    missing = pytester.path / "cassettes" / "never.json"
    result.stdout.fnmatch_lines([
        f"*cintel_replay: no cassette at {missing} — record it with: "
        "pytest --cintel-record test_errors.py::test_missing",
        "*cintel_replay needs the cassette's path: @pytest.mark.cintel_cassette(\"cassettes/name.json\")*",
        "SKIPPED*cintel_twilio needs the official twilio package: pip install 'cintel-harness[[]twilio[]]'",
    ])  # fmt: skip
    assert "Traceback" not in result.stdout.str()


FRESH_PROJECT_TESTS = """
import asyncio
from pathlib import Path

import harness


def test_installed_copy(cintel_mock):
    assert Path(harness.__file__).is_relative_to(Path(__import__("sys").prefix))


def test_client_without_an_async_plugin(cintel_client, cintel_mock):
    async def fetch():
        async with cintel_client as client:
            return await client.fetch_service(cintel_mock.service_sid)

    assert asyncio.run(fetch()).unique_name == "cintel-test"


def test_twilio(cintel_twilio, cintel_mock):
    assert cintel_twilio.intelligence.v2.services(cintel_mock.service_sid).fetch().sid == cintel_mock.service_sid
"""

# Not given to the fresh venv: this checkout's own (editable) install, and plugins a user's project may not have.
NOT_SHARED = ("cintel_harness", "__editable__", "_cintel_harness", "pytest_asyncio", "xdist", "pytest_xdist")


def test_the_fixtures_work_in_a_fresh_project_that_only_installs_the_package(tmp_path: Path) -> None:
    """A new venv gets this package installed (non-editable, built from a copy of the source) and nothing else of
    this checkout; the dependencies come from this environment's site-packages through a .pth file (pip checks they
    satisfy the package's requirements) instead of from the network. The project is a folder with one test file:
    no conftest, no ini — the fixtures come from the entry point alone, and `harness` from the venv."""
    source = _mkdir(tmp_path / "source")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, source / name)
    for package in ("harness", "mock_server"):
        shutil.copytree(ROOT / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))
    shared = _mkdir(tmp_path / "shared")
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if not entry.name.startswith(NOT_SHARED) and entry.suffix != ".pth":
            (shared / entry.name).symlink_to(entry)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(subprocess.check_output([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                        text=True).strip())  # fmt: skip
    (site / "shared-deps.pth").write_text(f"{shared}\n")
    pip = [sys.executable, "-m", "pip", "--python", str(python), "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "install", "--no-deps", str(source)], check=True)
    check = subprocess.run([*pip, "check"], capture_output=True, text=True)
    assert "cintel-harness" not in check.stdout, check.stdout  # its requirements are all met by the shared deps

    project = _mkdir(tmp_path / "project")
    (project / "test_user.py").write_text(textwrap.dedent(FRESH_PROJECT_TESTS))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PYTEST", "VIRTUAL_ENV"))}
    run = subprocess.run([python, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rA"], cwd=project, env=env,
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert "3 passed" in run.stdout


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path
