"""`--record` / `--replay` / `cintel conformance` as a user runs them: the real `cintel` command against the mock,
then again with the mock stopped (nothing listens on its port, and no credentials are set), then the cassette sent
back to a mock for conformance — with a difference planted in it."""

from __future__ import annotations

import base64
import json
import os
import re
from pathlib import Path
from typing import Any

import httpx
from aiohttp import web
from aiohttp.test_utils import TestServer

from mock_server import MockConfig, serve
from tests.integration.cli_support import SIGNATURE, Account, cintel, new_account, write_manifest
from tests.integration.test_merge_room import ALICE, BOB, make_room
from tests.integration.test_submit_rooms import tracks_manifest

CONFIG = {"lifecycle": {"mode": "after_polls", "polls": 2}, "media": {"fetch": False}}
IMMEDIATE = {"lifecycle": {"mode": "immediate"}, "media": {"fetch": False}}


def _offline_env() -> dict[str, str]:
    """No credentials and no base URL: a replay needs neither (and could not use them: nothing is listening)."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "CINTEL_"))}


async def _record(
    tmp_path: Path, rows: int, *extra: str, config: dict[str, Any] | None = None, account: dict[str, Any] | None = None
) -> tuple[Account, Path]:
    """`cintel submit` against a mock that is stopped afterwards; returns the account it used and the manifest."""
    async with serve(MockConfig.from_json(config or CONFIG), port=0, seed=7) as mock:
        account_used = await new_account(mock, account or {})
        manifest = write_manifest(tmp_path / "calls.jsonl", rows)
        done = await cintel("submit", str(manifest), "--service", account_used.service, "--webhook-port", "0",
                            "--record", str(tmp_path / "run.json"), *extra, env=account_used.env())  # fmt: skip
        assert done.code == 0, done.err[-3000:]
        assert "exchanges and" in done.err
    return account_used, manifest


async def _replay(tmp_path: Path, manifest: Path, service: str, name: str, *extra: str) -> Any:
    return await cintel("submit", str(manifest), "--service", service, "--webhook-port", "0", "--replay",
                        str(tmp_path / "run.json"), "--journal", str(tmp_path / f"{name}.sqlite"), "--out",
                        str(tmp_path / name), "--unreachable-timeout", "10", *extra, env=_offline_env())  # fmt: skip


def _summary(out: Path) -> dict[str, Any]:
    summary: dict[str, Any] = json.loads((out / "summary.json").read_text())
    del summary["elapsed_s"], summary["metrics"]  # wall-clock time and the limiter's round-trip measurements
    return summary


async def test_a_recorded_submit_replays_with_the_mock_stopped_and_writes_the_same_results(tmp_path: Path) -> None:
    account, manifest = await _record(tmp_path, 6)
    recorded_out = tmp_path / "calls.jsonl.results"

    replayed = await _replay(tmp_path, manifest, account.service, "again")

    assert replayed.code == 0, replayed.err[-3000:]
    assert "replay: every recorded exchange was used" in replayed.err
    again = tmp_path / "again"
    assert (again / "results.jsonl").read_bytes() == (recorded_out / "results.jsonl").read_bytes()
    assert sorted(p.name for p in (again / "items").iterdir()) == sorted(
        p.name for p in (recorded_out / "items").iterdir()
    )
    for item in (recorded_out / "items").iterdir():
        assert (again / "items" / item.name).read_bytes() == item.read_bytes()
    assert _summary(again) == _summary(recorded_out)
    assert len((again / "results.jsonl").read_text().splitlines()) == 6


async def test_lost_answers_server_errors_and_resets_replay_to_the_same_results(tmp_path: Path) -> None:
    faults = {"faults": {"reset_after_commit": 0.2, "error_5xx": 0.1, "reset_before": 0.1}}
    account, manifest = await _record(tmp_path, 20, config=IMMEDIATE, account=faults)
    cassette = json.loads((tmp_path / "run.json").read_text())
    errors = {e["error"]["type"] for e in cassette["exchanges"] if "error" in e}
    statuses = {e["response"]["status"] for e in cassette["exchanges"] if "response" in e}
    assert "RemoteProtocolError" in errors  # creates whose answer was lost: reconciled by listing transcripts
    assert 500 in statuses

    replayed = await _replay(tmp_path, manifest, account.service, "again")

    assert replayed.code == 0, replayed.err[-3000:]
    assert "replay: every recorded exchange was used" in replayed.err
    recorded = (tmp_path / "calls.jsonl.results" / "results.jsonl").read_bytes()
    assert (tmp_path / "again" / "results.jsonl").read_bytes() == recorded
    assert _summary(tmp_path / "again") == _summary(tmp_path / "calls.jsonl.results")


async def test_the_cassette_holds_polls_as_sequences_and_callbacks_but_no_secret(tmp_path: Path) -> None:
    account, _ = await _record(tmp_path, 3)
    raw = (tmp_path / "run.json").read_bytes()
    cassette = json.loads(raw)

    basic = base64.b64encode(f"{account.sid}:{account.token}".encode())
    assert account.token.encode() not in raw
    assert basic not in raw
    assert SIGNATURE.encode() not in raw  # the manifest's pre-signed URLs
    assert b"X-Amz-Signature=<redacted>" in raw
    assert (tmp_path / "run.json").stat().st_mode & 0o777 == 0o600
    fetches = [e for e in cassette["exchanges"] if "/v2/Transcripts/GT" in e["request"]["url"]
               and e["request"]["url"].count("/") == 5]  # fmt: skip
    statuses = [e["response"]["body"]["json"]["status"] for e in fetches]
    assert statuses.count("completed") == 3  # each transcript polled until it completed
    assert "in-progress" in statuses
    assert len(cassette["callbacks"]) == 3
    assert all(["x-twilio-signature", "<redacted>"] in c["headers"] for c in cassette["callbacks"])


async def test_a_pseudonymised_recording_has_no_account_sid_and_replays_the_same(tmp_path: Path) -> None:
    account, manifest = await _record(tmp_path, 2, "--pseudonymise", config=IMMEDIATE)
    text = (tmp_path / "run.json").read_text()

    assert account.sid not in text
    assert f'"account_sid": "AC{"0" * 31}1"' in text
    replayed = await _replay(tmp_path, manifest, account.service, "again")
    assert replayed.code == 0, replayed.err[-3000:]
    assert "replay: 2 of 2 recorded callbacks delivered" in replayed.err  # signed again, accepted
    recorded = (tmp_path / "calls.jsonl.results" / "results.jsonl").read_text()
    assert (tmp_path / "again" / "results.jsonl").read_text() == recorded


async def test_a_request_the_cassette_cannot_answer_exits_2_with_the_diff(tmp_path: Path) -> None:
    account, _ = await _record(tmp_path, 3)
    changed = write_manifest(tmp_path / "changed.jsonl", 3, keys=["c0", "c1", "renamed"])

    replayed = await _replay(tmp_path, changed, account.service, "changed")

    assert replayed.code == 2, replayed.err[-3000:]
    assert "replay: error: the cassette has no answer for POST /v2/Transcripts" in replayed.err
    assert "closest recorded request: #" in replayed.err
    assert "form CustomerKey: recorded 'c2', sent 'renamed'" in replayed.err
    assert "Traceback" not in replayed.err


async def test_recorded_exchanges_left_unused_fail_a_replay_that_ran_to_its_end(tmp_path: Path) -> None:
    account, _ = await _record(tmp_path, 3)
    fewer = write_manifest(tmp_path / "fewer.jsonl", 2)

    replayed = await _replay(tmp_path, fewer, account.service, "fewer")

    assert replayed.code == 2, replayed.err[-3000:]
    assert "replay: error: " in replayed.err
    assert "recorded exchanges were not used:" in replayed.err
    assert "POST /v2/Transcripts" in replayed.err.split("were not used:")[1]
    assert (tmp_path / "fewer" / "results.jsonl").read_text().count("\n") == 2  # the run itself did its work


async def test_record_and_replay_refuse_what_cannot_work_before_sending_anything(tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path / "calls.jsonl", 1)
    service = "GA" + "0" * 32
    both = await cintel("submit", str(manifest), "--service", service, "--record", str(tmp_path / "a.json"),
                        "--replay", str(tmp_path / "a.json"), env=_offline_env())  # fmt: skip
    assert both.code == 2
    assert "--record and --replay: choose one" in both.err
    lonely = await cintel("submit", str(manifest), "--service", service, "--pseudonymise", env=_offline_env())
    assert lonely.code == 2
    assert "--pseudonymise goes with --record FILE" in lonely.err
    (tmp_path / "bad.json").write_text('{"version": 1, "exchanges": [{"id": 0}]}')
    bad = await cintel("submit", str(manifest), "--service", service, "--replay", str(tmp_path / "bad.json"),
                       env=_offline_env())  # fmt: skip
    assert bad.code == 2
    assert "bad.json: exchanges.0.id = 0: Input should be greater than or equal to 1" in bad.err
    nowhere = await cintel("submit", str(manifest), "--service", service, "--record",
                           str(tmp_path / "no" / "such" / "dir.json"), env=_offline_env())  # fmt: skip
    assert nowhere.code == 2
    assert "no such directory" in nowhere.err


async def test_conformance_reports_nothing_for_a_clean_cassette_and_exactly_what_was_planted(tmp_path: Path) -> None:
    await _record(tmp_path, 2, config=IMMEDIATE)
    clean = await cintel("conformance", str(tmp_path / "run.json"), env=_offline_env())
    assert clean.code == 0, clean.out + clean.err
    assert "no differences" in clean.out

    cassette = json.loads((tmp_path / "run.json").read_text())
    fetch = next(e for e in cassette["exchanges"] if e["request"]["method"] == "GET"
                 and e["request"]["url"].rsplit("/", 1)[-1].startswith("GT"))  # fmt: skip
    fetch["response"]["body"]["json"]["duration"] = str(fetch["response"]["body"]["json"]["duration"])
    del fetch["response"]["body"]["json"]["language_code"]
    service = next(e for e in cassette["exchanges"] if "/v2/Services/GA" in e["request"]["url"])
    service["response"]["status"] = 404
    (tmp_path / "planted.json").write_text(json.dumps(cassette))

    planted = await cintel("conformance", str(tmp_path / "planted.json"), env=_offline_env())

    assert planted.code == 1, planted.out + planted.err
    lines = [line for line in planted.out.splitlines() if not line.startswith("skipped")]
    path = fetch["request"]["url"].split("://", 1)[1].split("/", 1)[1]
    assert f"#{fetch['id']} GET /{path}: $.duration: type: recorded string, mock number" in lines
    assert f"#{fetch['id']} GET /{path}: $.language_code: extra: recorded absent, mock string" in lines
    status = [line for line in lines if line.startswith(f"#{service['id']} GET /v2/Services/GA")]
    assert len(status) == 1
    assert status[0].endswith(": status: recorded 404, mock 200")
    assert lines[-1].endswith("3 differences")
    ignored = await cintel("conformance", str(tmp_path / "planted.json"), "--ignore", "status", "--ignore", "extra",
                           "--json", env=_offline_env())  # fmt: skip
    report = json.loads(ignored.out)
    assert [(d["kind"], d["path"]) for d in report["differences"]] == [("type", "$.duration")]


async def test_conformance_against_a_running_mock(tmp_path: Path) -> None:
    await _record(tmp_path, 1, config=IMMEDIATE)
    async with serve(MockConfig(), port=0, seed=3) as other:
        done = await cintel("conformance", str(tmp_path / "run.json"), "--base-url", other.base_url,
                            env=_offline_env())  # fmt: skip
        async with httpx.AsyncClient(base_url=other.base_url) as control:
            stats = (await control.get("/__mock__/stats")).json()
    assert done.code == 0, done.out + done.err
    sent = int(done.out.split(" requests sent to the mock")[0].rsplit("\n", 1)[-1])
    assert stats["requests"] >= sent > 0  # they went to that mock
    assert "requests sent to the mock, 0 skipped: no differences" in done.out


async def test_merge_room_records_and_replays_offline_to_the_same_file(tmp_path: Path) -> None:
    config = {"lifecycle": {"mode": "immediate"}, "media": {"fetch": False}}
    async with serve(MockConfig.from_json(config), port=0, seed=9) as mock:
        account = await new_account(mock, {})
        room = await make_room(account, [ALICE, BOB])
        recorded = await cintel("merge", "--room", room, "--base-url", mock.base_url, "-o", str(tmp_path / "a.flac"),
                                "--record", str(tmp_path / "room.json"), env=account.env(), limit_s=180)  # fmt: skip
    assert recorded.code == 0, recorded.err[-3000:]

    replayed = await cintel("merge", "--room", room, "-o", str(tmp_path / "b.flac"), "--replay",
                            str(tmp_path / "room.json"), env=_offline_env(), limit_s=180)  # fmt: skip

    assert replayed.code == 0, replayed.err[-3000:]
    assert "replay: every recorded exchange was used" in replayed.err
    assert (tmp_path / "b.flac").read_bytes() == (tmp_path / "a.flac").read_bytes()
    raw = (tmp_path / "room.json").read_text()
    assert account.token not in raw
    cassette = json.loads(raw)
    media = [e for e in cassette["exchanges"] if "base64" in (e["response"].get("body") or {})]
    assert media  # the recordings' audio, kept to be replayed

    other = "RM" + "f" * 32
    missed = await cintel("merge", "--room", other, "-o", str(tmp_path / "c.flac"), "--replay",
                          str(tmp_path / "room.json"), env=_offline_env(), limit_s=180)  # fmt: skip
    assert missed.code == 2, missed.err[-3000:]
    assert missed.err.startswith(f"cintel merge: replay: error: the cassette has no answer for GET /v1/Rooms/{other}\n"
                                 f"closest recorded request: #1 GET /v1/Rooms/{room} (unused)\n")  # fmt: skip
    assert "Traceback" not in missed.err
    assert "respx" not in missed.err


async def test_a_recorded_submit_of_tracks_rows_replays_with_a_fresh_journal_to_the_same_results(
    tmp_path: Path,
) -> None:
    """The merged files are hosted under the journal's batch id (a random value), which a replay's fresh journal
    draws anew: the media host's upload path differs from the recorded one, and must still match it."""
    manifest = tracks_manifest(tmp_path)
    async with serve(MockConfig.from_json(IMMEDIATE), port=0, seed=5) as mock:
        account = await new_account(mock, {})
        recorded = await cintel("submit", str(manifest), "--service", account.service, "--record",
                                str(tmp_path / "run.json"), env=account.env(), limit_s=180)  # fmt: skip
    assert recorded.code == 0, recorded.err[-3000:]
    uploads = [e["request"]["url"] for e in json.loads((tmp_path / "run.json").read_text())["exchanges"]
               if e["request"]["method"] == "PUT"]  # fmt: skip
    assert len(uploads) == 2
    assert all("/__mock__/media/" in url for url in uploads)

    replayed = await cintel("submit", str(manifest), "--service", account.service, "--replay",
                            str(tmp_path / "run.json"), "--journal", str(tmp_path / "again.sqlite"), "--out",
                            str(tmp_path / "again"), env=_offline_env(), limit_s=180)  # fmt: skip

    assert replayed.code == 0, replayed.err[-3000:]
    assert "replay: every recorded exchange was used" in replayed.err
    recorded_out = tmp_path / "calls.jsonl.results"
    assert (tmp_path / "again" / "results.jsonl").read_bytes() == (recorded_out / "results.jsonl").read_bytes()
    assert _summary(tmp_path / "again") == _summary(recorded_out)


async def test_a_video_scenario_recorded_against_the_mock_replays_offline(tmp_path: Path) -> None:
    """`cintel scenario run --record DIR`, then `--target replay --cassettes DIR`: a room merged, hosted on the mock
    under the recorded run's batch id, replayed under a new one — and its sentences judged again."""
    library = Path(__file__).resolve().parents[2] / "scenarios" / "video_equal_tracks.toml"
    tapes = tmp_path / "tapes"
    recorded = await cintel("scenario", "run", "--record", str(tapes), str(library), env=_offline_env(), limit_s=180)
    assert recorded.code == 0, recorded.out[-3000:] + recorded.err[-3000:]

    replayed = await cintel("scenario", "run", "--target", "replay", "--cassettes", str(tapes), str(library),
                            env=_offline_env(), limit_s=180)  # fmt: skip

    assert replayed.code == 0, replayed.out[-3000:] + replayed.err[-3000:]
    assert replayed.out.startswith(f"PASS video_equal_tracks ({library}, target replay, ")
    assert "ok   1. submit main (1 rows): exit 0" in replayed.out
    assert "ok   status of standup: completed" in replayed.out
    assert "ok   sentences of standup (± 0.05 s): ch1@0.49, ch2@3.00, ch1@5.99, ch2@7.99" in replayed.out


async def test_cintel_demo_records_a_cassette_that_conformance_finds_clean(tmp_path: Path) -> None:
    """The demo's embedded mock is busy (429s, 5xx, resets, webhook faults): its cassette is a first one to feed
    `cintel conformance` — the API's exchanges only, secrets scrubbed, callbacks kept."""
    cassette_path = tmp_path / "demo.json"
    demo = await cintel("demo", "--items", "6", "--record", str(cassette_path), env=_offline_env(), limit_s=180)
    assert demo.code == 0, demo.out[-2000:] + demo.err[-3000:]
    assert "exactly once: every recording has one transcript" in demo.out
    assert f"callbacks written to {cassette_path}" in demo.err

    raw = cassette_path.read_text()
    cassette = json.loads(raw)
    assert cassette["command"] == "demo"
    paths = {httpx.URL(e["request"]["url"]).path for e in cassette["exchanges"]}
    assert "/v2/Transcripts" in paths
    assert not any(path.startswith("/__mock__/") for path in paths)  # the control plane is the demo's, not the API's
    assert cassette["callbacks"]
    assert not re.search(r"Signature=(?!<redacted>)", raw)  # the media's signed URLs
    assert all(value == "<redacted>" for e in cassette["exchanges"] for name, value in e["request"]["headers"]
               if name == "authorization")  # fmt: skip

    checked = await cintel("conformance", str(cassette_path), env=_offline_env())
    assert checked.code == 0, checked.out + checked.err
    assert "no differences" in checked.out
    replay = await cintel("demo", "--replay", str(cassette_path), env=_offline_env())
    assert replay.code == 2  # nothing to replay: the demo is its own mock
    assert "unrecognized arguments: --replay" in replay.err


async def test_tracks_rows_hosted_in_a_served_directory_replay_with_a_fresh_journal(tmp_path: Path) -> None:
    """With --media-base-url the batch id is in the ranged check's path and in the URL the create sends."""
    root = tmp_path / "www"
    root.mkdir()
    app = web.Application()
    app.router.add_static("/calls/", root)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    base = str(server.make_url("/calls"))
    manifest = tracks_manifest(tmp_path)
    try:
        async with serve(MockConfig.from_json(IMMEDIATE), port=0, seed=5) as mock:
            account = await new_account(mock, {})
            recorded = await cintel("submit", str(manifest), "--service", account.service, "--media-base-url", base,
                                    "--media-dir", str(root), "--record", str(tmp_path / "run.json"),
                                    env=account.env(), limit_s=180)  # fmt: skip
    finally:
        await server.close()
    assert recorded.code == 0, recorded.err[-3000:]
    forms = [dict(e["request"]["body"]["form"]) for e in json.loads((tmp_path / "run.json").read_text())["exchanges"]
             if e["request"]["method"] == "POST" and e["request"]["url"].endswith("/v2/Transcripts")]  # fmt: skip
    channels = [form["Channel"] for form in forms if "CustomerKey" in form]
    assert len(channels) == 2
    assert all(f'"media_url": "{base}/' in channel for channel in channels)

    again = tmp_path / "www-again"  # nothing serves it now: the cassette answers the checks
    again.mkdir()
    replayed = await cintel("submit", str(manifest), "--service", account.service, "--media-base-url", base,
                            "--media-dir", str(again), "--replay", str(tmp_path / "run.json"), "--journal",
                            str(tmp_path / "again.sqlite"), "--out", str(tmp_path / "again"), env=_offline_env(),
                            limit_s=180)  # fmt: skip

    assert replayed.code == 0, replayed.err[-3000:]
    assert "replay: every recorded exchange was used" in replayed.err
    recorded_out = tmp_path / "calls.jsonl.results"
    assert (tmp_path / "again" / "results.jsonl").read_bytes() == (recorded_out / "results.jsonl").read_bytes()
    assert {p.parent.name for p in again.rglob("*.flac")}.isdisjoint(p.parent.name for p in root.rglob("*.flac"))
