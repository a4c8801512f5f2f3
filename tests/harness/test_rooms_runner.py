"""Merge rows through the BatchRunner on the virtual-time loop: tracks and rooms merged, hosted and created once;
a crash after the merge or after the upload resumes without doing either again; merges are bounded and do not hold
up the other rows; a row's own failure fails it, a host that does not answer leaves it pending, the account's
refusal stops the run; no signed URL reaches the journal or the outputs.

Merges are real (small WAV files, harness.media), run inline instead of in a thread (the virtual clock cannot wait
for a thread); the host and the Video room are fakes. `test_a_merge_in_its_thread_leaves_the_loop_free` runs one
real merge in its daemon thread on a real loop."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import numpy as np
import pytest
import soundfile as sf

from harness import AccountBlocked, IntelligenceClient, RetryPolicy, Unauthorized
from harness._hosting import Hosted, HostingError
from harness._journal import Journal, fingerprint
from harness._rooms import MediaOptions, in_daemon_thread, merge_to_file
from harness._runner import BatchRunner, RunnerOptions, Summary
from harness.media import RoomNotReady
from tests.harness.fake_api import FakeIntelligence
from tests.harness.sim import ACCOUNT_SID, AUTH_TOKEN, SERVICE_SID, run_virtual
from tests.harness.test_rooms_rows import RoomTrack

TWILIO = "https://intelligence.twilio.com"
SIGNATURE = "X-Amz-Signature=Zs1gnatur3"
ROOM = "RM" + "d" * 32


def tone(path: Path, seconds: float, *, rate: int = 16_000, start_s: float = 0.2, length_s: float = 0.6) -> Path:
    """A mono track: silence, a 440 Hz burst at `start_s`, silence."""
    audio = np.zeros(int(seconds * rate), dtype=np.float32)
    first = int(start_s * rate)
    n = int(length_s * rate)
    audio[first : first + n] = 0.3 * np.sin(2 * np.pi * 440 * np.arange(n) / rate)
    sf.write(path, audio, rate)
    return path


class Crash(Exception):
    """Stands for the process dying at that point (the journal is left as it was committed)."""


@dataclass
class FakeHost:
    """A host like S3: `put` uploads, `url` signs (the signature must never be stored)."""

    uploads: list[str] = field(default_factory=list)
    signed: int = 0
    fail_put: Callable[[str], BaseException | None] = lambda _name: None
    fail_url: Callable[[str], BaseException | None] = lambda _name: None

    def describe(self) -> str:
        return "fake"

    async def check(self) -> None:
        pass

    async def put(self, path: Path, name: str) -> Hosted:
        assert path.is_file()
        error = self.fail_put(name)
        if error is not None:
            raise error
        self.uploads.append(name)
        return Hosted(f"s3://bucket/{name}")

    async def url(self, location: str, path: Path, name: str) -> str:
        error = self.fail_url(name)
        if error is not None:
            raise error
        self.signed += 1
        return f"https://bucket.example/{name}?{SIGNATURE}"

    async def aclose(self) -> None:
        pass


@dataclass
class Blocking:
    """`run_blocking` for the virtual loop: inline, a merge taking `merge_s` (virtual) seconds; counts merges."""

    merge_s: float = 0.0
    active: int = 0
    peak: int = 0
    merges: int = 0

    async def __call__(self, function: Callable[..., Any], *args: Any) -> Any:
        if function is not merge_to_file:
            return function(*args)
        self.active += 1
        self.peak = max(self.peak, self.active)
        try:
            await asyncio.sleep(self.merge_s)
            self.merges += 1
            return function(*args)
        finally:
            self.active -= 1


class Batch:
    def __init__(self, tmp_path: Path, rows: list[dict[str, Any]], api: FakeIntelligence | None = None) -> None:
        self.tmp_path = tmp_path
        self.api = api or FakeIntelligence(ACCOUNT_SID, AUTH_TOKEN, service_sids=[SERVICE_SID], complete_after_s=30)
        self.manifest = tmp_path / "calls.jsonl"
        self.manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
        self.host = FakeHost()
        self.blocking = Blocking()
        self.video: Callable[[], Any] | None = None
        self.transport: httpx.AsyncBaseTransport | None = None  # for track URLs

    def run(self, *, merge_workers: int = 2) -> Summary:
        media = MediaOptions(self.host, self.tmp_path / "media", merge_workers=merge_workers,
                             video=self.video, run_blocking=self.blocking, transport=self.transport)  # fmt: skip

        async def main() -> Summary:
            journal = Journal(self.tmp_path / "j.sqlite", batch={"manifest": fingerprint(self.manifest)})
            retry = RetryPolicy(max_attempts=3, base_s=0.1, max_backoff_s=1.0)
            try:
                async with IntelligenceClient(ACCOUNT_SID, AUTH_TOKEN, base_url=TWILIO, transport=self.api,
                                              retry=retry) as client:  # fmt: skip
                    options = RunnerOptions(SERVICE_SID, out_dir=self.tmp_path / "out", poll_initial_s=1.0, media=media)
                    return await BatchRunner(client, journal, self.manifest, options).run()
            finally:
                journal.close()

        return run_virtual(main)

    def channel(self, key: str) -> dict[str, Any]:
        (transcript,) = [t for t in self.api.transcripts.values() if t.customer_key == key]
        return transcript.channel

    def steps(self) -> dict[str, tuple[int, int, bool, str | None]]:
        with Journal.open_readonly(self.tmp_path / "j.sqlite") as journal:
            return {s.customer_key: (s.merge_attempts, s.upload_attempts, s.merged, s.hosted)
                    for s in journal.media_steps()}  # fmt: skip

    def states(self) -> dict[str, str]:
        with Journal.open_readonly(self.tmp_path / "j.sqlite") as journal:
            return {i.customer_key: i.state for i in journal.items()}


def tracks_rows(tmp_path: Path, n: int) -> list[dict[str, Any]]:
    agent, customer = tone(tmp_path / "agent.wav", 2.0), tone(tmp_path / "customer.wav", 1.5, rate=8000)
    return [{"customer_key": f"m{i}", "tracks": [{"path": agent.name, "offset_s": 0},
                                                  {"path": customer.name, "offset_s": 0.5 + i}]}
            for i in range(n)]  # fmt: skip


def test_tracks_rows_are_merged_hosted_and_created_once_beside_plain_rows(tmp_path: Path) -> None:
    rows = tracks_rows(tmp_path, 3) + [{"media_url": f"https://b.example/{i}.wav", "customer_key": f"p{i}"}
                                       for i in range(3)]  # fmt: skip
    batch = Batch(tmp_path, rows)
    summary = batch.run()
    assert summary.ok, summary
    assert batch.api.transcripts_by_customer_key == dict.fromkeys(["m0", "m1", "m2", "p0", "p1", "p2"], 1)
    channel = batch.channel("m1")
    assert channel["media_properties"]["media_url"].startswith("https://bucket.example/")
    assert channel["participants"] == [{"channel_participant": 1, "role": "Agent"},
                                       {"channel_participant": 2, "role": "Customer"}]  # fmt: skip
    batch_dir = next((tmp_path / "media").iterdir())
    merged = sorted(p.name for p in batch_dir.iterdir())
    assert len(merged) == 3
    assert all(name.startswith("m") and name.endswith(".flac") for name in merged)
    info = sf.info(batch_dir / merged[1])
    assert (info.channels, info.samplerate) == (2, 16_000)
    assert info.duration == pytest.approx(3.0, abs=0.01)  # the customer's 1.5 s track placed at 1.5 s
    assert batch.steps()["m1"][:3] == (1, 1, True)
    assert len(batch.host.uploads) == 3


def test_a_crash_after_the_merge_resumes_without_merging_again(tmp_path: Path) -> None:
    batch = Batch(tmp_path, tracks_rows(tmp_path, 2))
    batch.host.fail_put = lambda name: Crash() if "m1" in name else None
    with pytest.raises(Crash):
        batch.run()
    assert batch.states() == {"m0": "submitted", "m1": "pending"}
    assert batch.steps()["m1"][:4] == (1, 1, True, None)  # merged, upload started, not hosted
    modified = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "media").rglob("*.flac")}
    batch.host.fail_put = lambda _name: None
    assert batch.run().ok
    assert batch.api.transcripts_by_customer_key == {"m0": 1, "m1": 1}
    assert batch.steps()["m1"][:3] == (1, 2, True)  # not merged again; the upload that never finished, again
    assert batch.blocking.merges == 2  # one per row over both runs
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "media").rglob("*.flac")} == modified


def test_a_crash_after_the_upload_resumes_by_signing_again_not_uploading(tmp_path: Path) -> None:
    batch = Batch(tmp_path, tracks_rows(tmp_path, 2))
    batch.host.fail_url = lambda name: Crash() if "m0" in name else None
    with pytest.raises(Crash):
        batch.run()
    hosted = batch.steps()["m0"]
    assert hosted[:3] == (1, 1, True)
    assert hosted[3] is not None
    assert hosted[3].startswith("s3://bucket/")
    assert batch.states()["m0"] == "pending"  # never marked submitting: nothing to reconcile
    batch.host.fail_url = lambda _name: None
    assert batch.run().ok
    assert batch.api.transcripts_by_customer_key == {"m0": 1, "m1": 1}
    assert sorted(batch.host.uploads) == sorted(set(batch.host.uploads))  # each file uploaded once
    assert batch.steps()["m0"][:2] == (1, 1)


def test_a_merged_file_deleted_before_the_resume_is_merged_again(tmp_path: Path) -> None:
    batch = Batch(tmp_path, tracks_rows(tmp_path, 1))
    batch.host.fail_put = lambda _name: Crash()
    with pytest.raises(Crash):
        batch.run()
    for merged in (tmp_path / "media").rglob("*.flac"):
        merged.write_bytes(b"fLaC truncated")  # changed since: its hash no longer matches
    batch.host.fail_put = lambda _name: None
    assert batch.run().ok
    assert batch.steps()["m0"][:3] == (2, 2, True)
    assert batch.api.transcripts_by_customer_key == {"m0": 1}


def test_merges_are_bounded_and_plain_rows_do_not_wait_for_them(tmp_path: Path) -> None:
    rows = [*tracks_rows(tmp_path, 6), {"media_url": "https://b.example/p.wav", "customer_key": "p"}]
    batch = Batch(tmp_path, rows)
    batch.blocking.merge_s = 60.0
    assert batch.run(merge_workers=2).ok
    assert batch.blocking.peak == 2
    created = {t.customer_key: t.created for t in batch.api.transcripts.values()}
    assert created["p"] < 60 <= min(created[f"m{i}"] for i in range(6))
    assert max(created.values()) >= 180  # three waves of two merges


def test_a_row_that_cannot_be_merged_fails_with_its_row_and_the_others_go_on(tmp_path: Path) -> None:
    rows = tracks_rows(tmp_path, 2)
    (tmp_path / "noise.wav").write_bytes(b"RIFF not really a wav file")
    rows.append({"customer_key": "bad", "tracks": [{"path": "noise.wav"}, {"path": "agent.wav"}]})
    batch = Batch(tmp_path, rows)
    summary = batch.run()
    assert [(f["customer_key"], f["row"]) for f in summary.failed] == [("bad", 3)]
    assert summary.failed[0]["reason"].startswith("row 3: ")
    assert "noise.wav" in summary.failed[0]["reason"]
    assert batch.api.transcripts_by_customer_key == {"m0": 1, "m1": 1}


def test_a_host_that_does_not_answer_leaves_the_row_pending_until_a_later_run(tmp_path: Path) -> None:
    batch = Batch(tmp_path, tracks_rows(tmp_path, 2))
    batch.host.fail_put = lambda name: HostingError("cannot upload: EndpointConnectionError", transient=True)
    summary = batch.run()
    assert (summary.not_done, summary.failed) == (2, [])
    assert batch.states() == {"m0": "pending", "m1": "pending"}
    assert batch.steps()["m0"][:2] == (1, 5)  # merged once; an upload tried on each of the five rounds
    batch.host.fail_put = lambda _name: None
    assert batch.run().ok
    assert batch.blocking.merges == 2


@dataclass
class FakeVideo:
    """Stands for `VideoClient`, `participants_with_audio` and `download_room_tracks`: a room's participants (in join
    order) and their tracks, written as small WAVs; `downloaded` lists whose tracks were fetched."""

    people: list[tuple[str, float]]
    error: BaseException | None = None
    opened: int = 0
    downloaded: list[str] = field(default_factory=list)
    broken: set[str] = field(default_factory=set)  # identities whose track is not audio

    @contextlib.asynccontextmanager
    async def __call__(self) -> AsyncIterator[FakeVideo]:
        self.opened += 1
        yield self

    async def participants(self, video: Any, room_sid: str) -> list[SimpleNamespace]:
        if self.error is not None:
            raise self.error
        return [SimpleNamespace(sid=f"PA{i:032x}", identity=who) for i, (who, _) in enumerate(self.people)]

    async def download(self, video: Any, room_sid: str, directory: Path, *, participants: Any = None,
                       **_: Any) -> list[RoomTrack]:  # fmt: skip
        if self.error is not None:
            raise self.error
        directory.mkdir(parents=True, exist_ok=True)
        tracks = []
        for i, (who, at) in enumerate(self.people):
            if participants is None or who in participants:
                self.downloaded.append(who)
                path = tone(directory / f"{who}.wav", 1.0)
                if who in self.broken:
                    path.write_bytes(b"RIFF not really a wav file")
                tracks.append(RoomTrack(f"PA{i:032x}", who, path, at))
        return tracks


def patch_video(monkeypatch: pytest.MonkeyPatch) -> FakeVideo:
    """A room of bob then alice, in place of harness.media's Video functions."""
    fake = FakeVideo([("bob", 0.0), ("alice", 1.25)])
    monkeypatch.setattr("harness.media.download_room_tracks", fake.download)
    monkeypatch.setattr("harness.media.participants_with_audio", fake.participants)
    return fake


@pytest.fixture
def room_video(monkeypatch: pytest.MonkeyPatch) -> FakeVideo:
    return patch_video(monkeypatch)


def room_rows() -> list[dict[str, Any]]:
    swapped = [{"identity": "bob", "channel_participant": 2, "role": "Agent", "full_name": "Bob"}]
    return [{"room_sid": ROOM, "customer_key": "r0"},
            {"room_sid": ROOM, "customer_key": "r1", "participants": swapped}]  # fmt: skip


def test_room_rows_put_participants_on_their_channels(tmp_path: Path, room_video: FakeVideo) -> None:
    batch = Batch(tmp_path, room_rows())
    batch.video = room_video
    assert batch.run().ok
    assert batch.channel("r0")["participants"] == [
        {"channel_participant": 1, "role": "Agent", "user_id": "bob"},
        {"channel_participant": 2, "role": "Customer", "user_id": "alice"},
    ]
    assert batch.channel("r1")["participants"] == [
        {"channel_participant": 1, "role": "Customer", "user_id": "alice"},
        {"channel_participant": 2, "role": "Agent", "user_id": "bob", "full_name": "Bob"},
    ]
    assert not any((tmp_path / "media" / ".tracks").rglob("*.wav"))  # downloads removed once merged


def test_a_room_with_three_participants_fails_naming_the_row_not_the_run(tmp_path: Path, room_video: FakeVideo) -> None:
    room_video.people.append(("supervisor", 3.0))
    batch = Batch(tmp_path, room_rows())
    batch.video = room_video
    summary = batch.run()
    reasons = {f["customer_key"]: f["reason"] for f in summary.failed}
    assert reasons["r0"].startswith(f"row 1: {ROOM} has 3 participants with audio (bob, alice, supervisor)")
    assert reasons["r1"].startswith(f"row 2: {ROOM}: participant(s) supervisor not mapped to a channel")
    assert batch.api.creates == 0
    assert room_video.downloaded == []  # refused from the participant list: nothing was downloaded


def test_a_room_not_ended_stays_pending_and_the_videos_refusal_blocks_the_run(
    tmp_path: Path, room_video: FakeVideo
) -> None:
    room_video.error = RoomNotReady(f"room {ROOM} is in-progress: transcribe it once it has ended")
    batch = Batch(tmp_path, room_rows())
    batch.video = room_video
    summary = batch.run()
    assert summary.not_done == 2
    assert batch.states() == {"r0": "pending", "r1": "pending"}
    room_video.error = Unauthorized(401, 20003, "Authenticate", None, method="GET", url=f"/v1/Rooms/{ROOM}")
    with pytest.raises(AccountBlocked):
        batch.run()
    assert batch.states() == {"r0": "pending", "r1": "pending"}
    room_video.error = None
    assert batch.run().ok


def test_no_signed_url_reaches_the_journal_or_the_outputs(tmp_path: Path) -> None:
    batch = Batch(tmp_path, tracks_rows(tmp_path, 2))
    assert batch.run().ok
    assert batch.host.signed == 2
    for path in tmp_path.rglob("*"):
        if path.is_file() and path.suffix not in (".wav", ".flac"):
            assert b"Zs1gnatur3" not in path.read_bytes(), path


def test_a_merge_in_its_thread_leaves_the_loop_free(tmp_path: Path) -> None:
    """A real merge (two 5-minute tracks, one at 48 kHz) in its daemon thread: the loop's 10 ms ticker keeps
    ticking."""
    from harness._merge_assign import Assignment, Source

    agent, customer = tone(tmp_path / "a.wav", 300.0, rate=48_000), tone(tmp_path / "c.wav", 300.0)
    assignment = Assignment((Source(agent, 0.0),), (Source(customer, 5.0),), ())

    async def main() -> tuple[float, int, float]:
        ticks, gap, last = 0, 0.0, time.perf_counter()
        merge = asyncio.create_task(in_daemon_thread(merge_to_file, assignment, tmp_path / "out.flac", 16_000))
        while not merge.done():
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            gap, last, ticks = max(gap, now - last), now, ticks + 1
        await merge
        return gap, ticks, sf.info(tmp_path / "out.flac").duration

    gap, ticks, duration = asyncio.run(main())
    assert duration == pytest.approx(305.0, abs=0.01)
    assert ticks >= 20
    assert gap < 0.25, f"the loop stalled {gap:.3f} s while merging"
