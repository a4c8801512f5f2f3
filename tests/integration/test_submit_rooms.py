"""`cintel submit` with `tracks` and `room_sid` rows against the mock (issue 9), as a real process over loopback:
the tracks (or the mock room's recordings) are merged, hosted and transcribed, and the mock — which hears the merged
audio — puts each sentence on the channel and within 50 ms of where its speech was placed; swapped participants (the
agent on channel 2) are mapped so; a wrong --media-base-url stops the first run before a merged row is sent; merged
files and downloads are the owner's only (0600 in 0700 directories) unless served; kill -9 during and after merging
then the same command gives one transcript per row without merging or uploading a finished file again; no signature
of any URL reaches a file or the output."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sqlite3
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import numpy as np
import pytest
import soundfile as sf
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer

from mock_server import MockConfig, RunningMock, serve
from mock_server._media._voices import utterance
from tests.integration.cli_support import Account, cintel, finish, new_account, start

ONSET_S = 0.050
AWS_SECRET = "Zaws5ecretKeyForTheTest0nly"  # a fake credential, looked for in every output
BUCKET = "merged-calls"
# Where each utterance is, in seconds from the start of its own track, and where the tracks start in the call.
AGENT = [("hello", 0.40), ("account", 6.30)]
CUSTOMER = [("yes", 0.90), ("goodbye", 7.00)]
CUSTOMER_OFFSET_S = 2.5


@pytest.fixture
async def mock() -> AsyncIterator[RunningMock]:
    async with serve(MockConfig.from_json({"lifecycle": {"mode": "immediate"}}), port=0, seed=5) as running:
        yield running


def speech_track(path: Path, said: list[tuple[str, float]], *, seconds: float, rate: int = 16_000) -> Path:
    """A mono track (WAV or FLAC by its suffix) of silence with packaged utterances where `said` places them."""
    audio = np.zeros(round(seconds * rate), dtype=np.float32)
    for voice, at_s in said:
        samples = utterance(voice) * np.float32(0.5)
        if rate != 16_000:  # linear interpolation is enough to keep the speech recognisable to the VAD
            times = np.arange(round(len(samples) * rate / 16_000)) * (16_000 / rate)
            samples = np.interp(times, np.arange(len(samples)), samples).astype(np.float32)
        first = round(at_s * rate)
        audio[first : first + len(samples)] += samples
    sf.write(path, audio, rate)
    return path


def tracks_manifest(tmp_path: Path, rows: int = 2, *, seconds: float = 12.0) -> Path:
    """`plain` (channels by join order), `swapped` (the agent on channel 2), then copies of `plain` up to `rows`."""
    speech_track(tmp_path / "agent.wav", AGENT, seconds=seconds)
    speech_track(tmp_path / "customer.flac", CUSTOMER, seconds=seconds - 2.5, rate=48_000)
    plain = {"tracks": [{"path": "agent.wav", "offset_s": 0, "identity": "bob"},
                        {"path": "customer.flac", "offset_s": CUSTOMER_OFFSET_S, "identity": "alice"}]}  # fmt: skip
    agent = {"path": "agent.wav", "offset_s": 0, "channel": 2, "participant": {"role": "Agent", "full_name": "Bob"}}
    swapped = {"tracks": [{"path": "customer.flac", "offset_s": CUSTOMER_OFFSET_S, "channel": 1}, agent]}
    lines = [{"customer_key": "plain", **plain}, {"customer_key": "swapped", **swapped}]
    lines += [{"customer_key": f"more{i}", **plain} for i in range(rows - 2)]
    manifest = tmp_path / "calls.jsonl"
    manifest.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return manifest


def expected(agent_channel: int) -> list[tuple[int, float]]:
    """(channel, start) of every sentence in time order, the agent on `agent_channel`."""
    placed = [(agent_channel, at) for _, at in AGENT]
    placed += [(3 - agent_channel, CUSTOMER_OFFSET_S + at) for _, at in CUSTOMER]
    return sorted(placed, key=lambda p: p[1])


def item(out: Path, key: str) -> dict[str, Any]:
    records = [json.loads(p.read_text()) for p in (out / "items").iterdir()]
    (found,) = [r for r in records if r["customer_key"] == key]
    return dict(found)


def check_sentences(record: dict[str, Any], placed: list[tuple[int, float]]) -> None:
    assert record["status"] == "completed", record
    sentences = sorted(record["sentences"], key=lambda s: float(s["start_time"]))
    assert [s["media_channel"] for s in sentences] == [channel for channel, _ in placed], sentences
    for (_, at), sentence in zip(placed, sentences, strict=True):
        assert abs(float(sentence["start_time"]) - at) <= ONSET_S, (record["customer_key"], at, sentence)


async def transcript_channel(account: Account, sid: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=account.base_url, auth=(account.sid, account.token)) as api:
        channel: dict[str, Any] = (await api.get(f"/v2/Transcripts/{sid}")).json()["channel"]
    return channel


def assert_no_secret(tmp_path: Path, texts: list[str], secrets: list[str], *, skip: tuple[str, ...] = ()) -> None:
    assert secrets
    for text in texts:
        for secret in secrets:
            assert secret not in text
    for path in tmp_path.rglob("*"):
        if path.is_file() and path.suffix not in (".wav", ".flac", *skip):
            data = path.read_bytes()
            for secret in secrets:
                assert secret.encode() not in data, (path, secret)


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def _submit(account: Account, manifest: Path, *extra: str) -> list[str]:
    return ["submit", str(manifest), "--service", account.service, *extra]


async def test_tracks_rows_put_each_sentence_on_its_channel_and_swapped_participants_are_mapped(
    mock: RunningMock, tmp_path: Path
) -> None:
    account = await new_account(mock, {})
    manifest = tracks_manifest(tmp_path)
    done = await cintel(*_submit(account, manifest), env=account.env())
    assert done.code == 0, done.err[-3000:]
    out = tmp_path / "calls.jsonl.results"
    plain, swapped = item(out, "plain"), item(out, "swapped")
    check_sentences(plain, expected(agent_channel=1))
    check_sentences(swapped, expected(agent_channel=2))
    plain_channel = await transcript_channel(account, plain["transcript_sid"])
    assert plain_channel["participants"] == [
        {"channel_participant": 1, "role": "Agent", "user_id": "bob"},
        {"channel_participant": 2, "role": "Customer", "user_id": "alice"},
    ]
    swapped_channel = await transcript_channel(account, swapped["transcript_sid"])
    assert swapped_channel["participants"] == [
        {"channel_participant": 1, "role": "Customer"},
        {"channel_participant": 2, "role": "Agent", "full_name": "Bob"},
    ]
    url = swapped_channel["media_properties"]["media_url"]
    assert "/__mock__/media/" in url  # the mock's media host, signed
    signatures = re.findall(r"Signature=([^&]+)", url) + re.findall(
        r"Signature=([^&]+)", plain_channel["media_properties"]["media_url"]
    )
    assert_no_secret(tmp_path, [done.out, done.err], signatures)
    assert await account.per_key() == {"plain": 1, "swapped": 1}


async def test_room_sid_rows_merge_the_rooms_recordings_by_join_time_or_by_the_mapping(
    mock: RunningMock, tmp_path: Path
) -> None:
    account = await new_account(mock, {})
    room = {
        "account_sid": account.sid,
        "participants": [
            {"identity": "alice", "joined_s": 2.0, "left_s": 12.0,
             "segments": [{"at_s": 2.0 + at, "utterance": voice} for voice, at in CUSTOMER]},
            {"identity": "bob", "joined_s": 0.0, "left_s": 12.0,
             "segments": [{"at_s": at, "utterance": voice} for voice, at in AGENT]},
        ],
    }  # fmt: skip
    async with httpx.AsyncClient(base_url=mock.base_url) as control:
        answer = await control.post("/__mock__/rooms", json=room)
    assert answer.status_code == 201, answer.text
    room_sid = answer.json()["room_sid"]
    mapping = [{"identity": "bob", "channel_participant": 2, "role": "Agent", "full_name": "Bob"}]
    rows = [{"customer_key": "by-join-time", "room_sid": room_sid},
            {"customer_key": "mapped", "room_sid": room_sid, "participants": mapping}]  # fmt: skip
    manifest = tmp_path / "rooms.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    media = tmp_path / "phi" / "merged"  # neither exists: both made, private
    done = await cintel(*_submit(account, manifest, "--media-dir", str(media)), env=account.env())
    assert done.code == 0, done.err[-3000:]
    out = tmp_path / "rooms.jsonl.results"
    placed = [(1, at) for _, at in AGENT] + [(2, 2.0 + at) for _, at in CUSTOMER]
    check_sentences(item(out, "by-join-time"), sorted(placed, key=lambda p: p[1]))
    check_sentences(item(out, "mapped"), sorted([(3 - c, at) for c, at in placed], key=lambda p: p[1]))
    channel = await transcript_channel(account, item(out, "mapped")["transcript_sid"])
    assert channel["participants"] == [
        {"channel_participant": 1, "role": "Customer", "user_id": "alice"},
        {"channel_participant": 2, "role": "Agent", "user_id": "bob", "full_name": "Bob"},
    ]
    assert not (tmp_path / "rooms.jsonl.journal.sqlite.tracks").exists()  # downloads removed, and their directory
    merged = list(media.rglob("*"))  # PHI: the owner's only (the process ran with the umask 022)
    assert len(merged) == 3  # the batch's directory and its two files
    assert {mode(p) for p in merged if p.is_file()} == {0o600}
    assert {mode(p) for p in [media.parent, media, *merged] if p.is_dir()} == {0o700}


async def test_a_bad_merge_row_or_no_host_against_twilio_exits_2_before_anything_is_sent(
    mock: RunningMock, tmp_path: Path
) -> None:
    account = await new_account(mock, {})
    manifest = tracks_manifest(tmp_path)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(manifest.read_text() + json.dumps({"tracks": [{"path": "agent.wav", "offset_s": -1},
                                                                 {"path": "customer.flac"}]}) + "\n")  # fmt: skip
    done = await cintel(*_submit(account, bad), env=account.env())
    assert done.code == 2, done.err
    assert f"{bad}: row 3: tracks[0].offset_s: must be seconds from the call's start, 0 to 86400, got -1" in done.err
    assert not (tmp_path / "bad.jsonl.journal.sqlite").exists()
    twilio = account.env()
    del twilio["CINTEL_BASE_URL"]
    done = await cintel(*_submit(account, manifest), env=twilio)
    assert done.code == 2, done.err
    assert "--upload s3://BUCKET/PREFIX" in done.err
    assert "--media-base-url URL" in done.err
    assert "Traceback" not in done.err
    assert not (tmp_path / "calls.jsonl.journal.sqlite").exists()
    assert await account.per_key() == {}


async def test_a_directory_the_user_serves_hosts_the_merged_files(
    mock: RunningMock, tmp_path: Path, served_dir: tuple[str, Path]
) -> None:
    account = await new_account(mock, {})
    base, root = served_dir
    manifest = tracks_manifest(tmp_path)
    done = await cintel(*_submit(account, manifest, "--media-base-url", base, "--media-dir", str(root)),
                        env=account.env())  # fmt: skip
    assert done.code == 0, done.err[-3000:]
    out = tmp_path / "calls.jsonl.results"
    check_sentences(item(out, "plain"), expected(agent_channel=1))
    url = (await transcript_channel(account, item(out, "plain")["transcript_sid"]))["media_properties"]["media_url"]
    assert url.startswith(f"{base}/")
    assert url.endswith(".flac")
    assert "?" not in url
    merged = list(root.rglob("*.flac"))
    assert len(merged) == 2
    assert (mode(root), mode(merged[0].parent), {mode(p) for p in merged}) == (0o755, 0o755, {0o644})  # served


async def test_a_wrong_base_url_stops_the_first_run_before_a_merged_row_is_sent(
    mock: RunningMock, tmp_path: Path, served_dir: tuple[str, Path]
) -> None:
    account = await new_account(mock, {})
    base, root = served_dir
    manifest = tracks_manifest(tmp_path)
    wrong = base.replace("/calls", "/call")
    done = await cintel(*_submit(account, manifest, "--media-base-url", wrong, "--media-dir", str(root)),
                        env=account.env())  # fmt: skip
    assert done.code == 2, done.err[-3000:]
    assert re.search(rf"cintel submit: error: {re.escape(wrong)}/\w+/\S+\.flac: HTTP 404, though \S+\.flac is "
                     rf"in {re.escape(str(root))}: that directory is not served at {re.escape(wrong)}\n",
                     done.err), done.err[-3000:]  # fmt: skip
    assert "fix --media-base-url" in done.err
    assert "Traceback" not in done.err
    assert await account.per_key() == {}  # no transcript doomed to fail
    done = await cintel(*_submit(account, manifest, "--media-base-url", base, "--media-dir", str(root)),
                        env=account.env())  # fmt: skip
    assert done.code == 0, done.err[-3000:]
    assert await account.per_key() == {"plain": 1, "swapped": 1}


# --- kill -9 with S3 hosting -----------------------------------------------------------------------------------------


class CountingGateway:
    """In front of moto: counts object uploads per key and remembers every query signature it was shown."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.uploads: dict[str, int] = {}
        self.signatures: list[str] = []

    async def forward(self, request: web.Request) -> web.StreamResponse:
        query = request.rel_url.query
        if "X-Amz-Signature" in query:
            self.signatures.append(query["X-Amz-Signature"])
        if request.method == "PUT" and "partNumber" not in query:
            key = request.path.split("/", 2)[2]
            self.uploads[key] = self.uploads.get(key, 0) + 1
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        async with ClientSession(auto_decompress=False) as session, session.request(
            request.method, self.upstream + request.rel_url.raw_path_qs, headers=headers, data=await request.read()
        ) as answer:  # fmt: skip
            kept = {k: v for k, v in answer.headers.items() if k.lower() in ("content-type", "etag", "last-modified",
                                                                             "x-amz-bucket-region")}  # fmt: skip
            return web.Response(status=answer.status, body=await answer.read(), headers=kept)


@pytest.fixture
async def gateway(moto_url: str) -> AsyncIterator[tuple[str, CountingGateway]]:
    counting = CountingGateway(moto_url)
    app = web.Application(client_max_size=1 << 30)
    app.router.add_route("*", "/{tail:.*}", counting.forward)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    s3 = boto3.client("s3", endpoint_url=moto_url, aws_access_key_id="k", aws_secret_access_key="s",
                      region_name="us-east-1")  # fmt: skip
    await asyncio.to_thread(s3.create_bucket, Bucket=BUCKET)
    try:
        yield str(server.make_url("")).rstrip("/"), counting
    finally:
        await server.close()


def journal_steps(path: Path) -> dict[str, tuple[int, int, bool, bool]]:
    """(merge attempts, upload attempts, merged, hosted) per key, read without the writer's lock."""
    if not path.exists():
        return {}
    with sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True) as db:
        try:
            rows = db.execute("SELECT customer_key, merge_attempts, upload_attempts, merged_sha256, hosted FROM media")
            return {key: (m, u, sha is not None, hosted is not None) for key, m, u, sha, hosted in rows}
        except sqlite3.OperationalError:  # not created yet
            return {}


async def test_kill_9_during_and_after_merging_then_resume_merges_and_uploads_each_file_once(
    mock: RunningMock, tmp_path: Path, gateway: tuple[str, CountingGateway]
) -> None:
    account = await new_account(mock, {})
    endpoint, counting = gateway
    manifest = tracks_manifest(tmp_path, rows=6, seconds=240.0)  # long tracks: a merge lasts long enough to kill
    journal = tmp_path / "calls.jsonl.journal.sqlite"
    media_dir = tmp_path / "calls.jsonl.media"
    env = account.env(AWS_ACCESS_KEY_ID="AKIDTEST", AWS_SECRET_ACCESS_KEY=AWS_SECRET, AWS_DEFAULT_REGION="us-east-1",
                      AWS_ENDPOINT_URL=endpoint)  # fmt: skip
    args = _submit(account, manifest, "--upload", f"s3://{BUCKET}/calls", "--merge-workers", "1")
    run = await start(*args, env=env)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 120
    while loop.time() < deadline:  # two rows merged (and maybe hosted), a third being merged
        merged = sum(step[2] for step in journal_steps(journal).values())
        if merged >= 2 and any(media_dir.rglob("*.part")):
            break
        await asyncio.sleep(0.01)
    else:
        raise AssertionError(f"no merge in progress after two merged: {journal_steps(journal)}")
    run.send_signal(signal.SIGKILL)
    await run.wait()
    before = journal_steps(journal)
    done_before = {key for key, (_, _, merged, _) in before.items() if merged}
    hosted_before = {key for key, (_, _, _, hosted) in before.items() if hosted}
    files_before = {p.name: p.stat().st_mtime_ns for p in media_dir.rglob("*.flac")}
    assert len(done_before) >= 2
    resumed = await finish(await start(*args, env=env), 300)
    assert resumed.code == 0, resumed.err[-3000:]
    keys = ["plain", "swapped", *(f"more{i}" for i in range(4))]
    assert await account.per_key() == dict.fromkeys(keys, 1)
    after = journal_steps(journal)
    for key in done_before:  # merged before the kill: not merged again, the same file
        assert after[key][0] == before[key][0] == 1, (key, before[key], after[key])
    interrupted = [key for key, (attempts, _, merged, _) in before.items() if attempts and not merged]
    assert interrupted  # the kill came during a merge: that one (only) is made again
    for key in interrupted:
        assert after[key][0] == before[key][0] + 1, (key, before[key], after[key])
    for name, modified in files_before.items():
        assert next(media_dir.rglob(name)).stat().st_mtime_ns == modified
    assert not list(media_dir.rglob("*.part"))
    uploads = {key.rsplit("/", 1)[-1]: n for key, n in counting.uploads.items()}
    assert len(uploads) == 6
    for key, (_, upload_attempts, _, _) in after.items():
        (count,) = [n for name, n in uploads.items() if name.startswith(key + "-")]
        assert count <= upload_attempts  # every upload was journaled as started before it was sent
        if key in hosted_before:
            assert count == 1, key  # hosted before the kill: signed again on resume, not uploaded again
    check_sentences(item(tmp_path / "calls.jsonl.results", "swapped"), expected(agent_channel=2))
    outputs = [resumed.out, resumed.err]
    assert_no_secret(tmp_path, outputs, [AWS_SECRET, *set(counting.signatures)])
