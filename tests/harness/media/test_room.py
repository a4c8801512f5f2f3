"""download_room_tracks against a room served by respx: offsets from the track recordings' own start times (not the
Recording's per-room `offset`), tracks ordered by join time, compositions re-aligned by the recordings they trim,
and rooms or media that are not ready."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import numpy as np
import pytest
import respx

from harness.media import (
    MediaDownloadError,
    MergeError,
    RoomNotReady,
    RoomTrack,
    download_room_tracks,
    participants_with_audio,
)

from .containers import encode
from .room_support import BASE, MEDIA, ROOM, FakeTime, list_page, recording, video
from .test_containers import utterance_track


async def test_recordings_are_placed_by_their_own_start_times_and_ordered_by_join_time(
    api: respx.MockRouter, room: dict[str, bytes], tmp_path: Path
) -> None:
    async with video() as client:
        tracks = await download_room_tracks(client, ROOM, tmp_path / "tracks")

    assert [(t.participant_sid, t.identity) for t in tracks] == [("PAa", "alice"), ("PAb", "bob")]
    assert [t.offset_s for t in tracks] == pytest.approx([0.8, 3.2], abs=0.002)
    assert all(isinstance(t, RoomTrack) and t.path.parent == tmp_path / "tracks" for t in tracks)
    assert tracks[0].path.read_bytes() == room["RTa"]
    assert tracks[1].path.name == "PAb_RTb.mka"


async def test_compositions_are_re_aligned_by_the_recordings_whose_gap_they_trim(
    api: respx.MockRouter, room: dict[str, bytes], tmp_path: Path
) -> None:
    """Each participant's composition starts at their first media (time 0 in the file); the offset comes from the
    head of their track recording (a Range request), so bob is still 3.2 s into the room."""
    made: dict[str, list[str]] = {}

    def create(request: httpx.Request) -> httpx.Response:
        form = parse_qs(request.content.decode())
        sid = "CJ" + form["AudioSources"][0]
        made[sid] = form["Trim"] + form["Format"]
        return httpx.Response(201, json={"sid": sid, "status": "enqueued", "format": "mp4"})

    api.post(f"{BASE}/v1/Compositions").mock(side_effect=create)
    for participant, name in (("PAa", "hello"), ("PAb", "yes")):
        sid = "CJ" + participant
        api.get(f"{BASE}/v1/Compositions/{sid}").mock(side_effect=[
            httpx.Response(200, json={"sid": sid, "status": "processing", "format": "mp4"}),
            httpx.Response(200, json={"sid": sid, "status": "completed", "format": "mp4"}),
        ])  # fmt: skip
        api.get(f"{BASE}/v1/Compositions/{sid}/Media").respond(302, headers={"Location": f"{MEDIA}/{sid}.mp4"})
        content = encode(tmp_path / f"{sid}.mp4", utterance_track(3.0, 0.5, name), 16_000).read_bytes()
        api.get(f"{MEDIA}/{sid}.mp4").respond(200, content=content)
    time = FakeTime()
    async with video() as client:
        tracks = await download_room_tracks(client, ROOM, tmp_path / "c", via="compositions", poll_s=2.0,
                                            sleep=time.sleep, clock=time.clock)  # fmt: skip

    assert made == {"CJPAa": ["false", "mp4"], "CJPAb": ["false", "mp4"]}
    assert [t.identity for t in tracks] == ["alice", "bob"]
    assert [t.path.suffix for t in tracks] == [".mp4", ".mp4"]
    assert [t.offset_s for t in tracks] == pytest.approx([0.8, 3.2], abs=0.002)
    heads = [c.request for c in api.calls if c.request.url.host == "media.example" and "RT" in c.request.url.path]
    assert {h.headers["Range"] for h in heads} == {"bytes=0-262143"}
    assert time.sleeps == [2.0] * 4  # each: enqueued → processing → completed
    assert not list((tmp_path / "c").glob(".head_*"))
    assert {stat.S_IMODE(os.stat(t.path).st_mode) for t in tracks} == {0o600}  # PHI: the owner's only


async def test_downloads_are_private_whatever_the_umask(
    api: respx.MockRouter, room: dict[str, bytes], tmp_path: Path
) -> None:
    """The room's audio is PHI: the directories made for it are 0700 (parents too), the files 0600."""
    previous = os.umask(0o022)
    try:
        async with video() as client:
            tracks = await download_room_tracks(client, ROOM, tmp_path / "new" / "room")
    finally:
        os.umask(previous)

    assert {stat.S_IMODE(os.stat(t.path).st_mode) for t in tracks} == {0o600}
    assert stat.S_IMODE(os.stat(tmp_path / "new").st_mode) == 0o700
    assert stat.S_IMODE(os.stat(tmp_path / "new" / "room").st_mode) == 0o700


async def test_a_room_in_progress_is_not_ready(api: respx.MockRouter, tmp_path: Path) -> None:
    api.get(f"{BASE}/v1/Rooms/{ROOM}").respond(json={"sid": ROOM, "status": "in-progress"})
    async with video() as client:
        with pytest.raises(RoomNotReady, match="is in-progress"):
            await download_room_tracks(client, ROOM, tmp_path)


async def test_processing_recordings_are_waited_for_within_the_timeout(
    api: respx.MockRouter, room: dict[str, bytes], tmp_path: Path
) -> None:
    processing = list_page("recordings", [recording("RTa", "PAa", status="processing")])
    api.get(f"{BASE}/v1/Rooms/{ROOM}/Recordings").mock(side_effect=[
        httpx.Response(200, json=processing), httpx.Response(200, json=processing),
        httpx.Response(200, json=list_page("recordings", [recording("RTa", "PAa")])),
    ])  # fmt: skip
    time = FakeTime()
    async with video() as client:
        tracks = await download_room_tracks(client, ROOM, tmp_path, poll_s=5, sleep=time.sleep, clock=time.clock)
    assert [t.identity for t in tracks] == ["alice"]
    assert time.sleeps == [5, 5]

    api.get(f"{BASE}/v1/Rooms/{ROOM}/Recordings").respond(json=processing)
    async with video() as client:
        with pytest.raises(RoomNotReady, match="still processing: RTa"):
            await download_room_tracks(client, ROOM, tmp_path, poll_s=5, timeout_s=12, sleep=time.sleep,
                                       clock=time.clock)  # fmt: skip


async def test_a_room_without_audio_is_refused(api: respx.MockRouter, tmp_path: Path) -> None:
    api.get(f"{BASE}/v1/Rooms/{ROOM}").respond(json={"sid": ROOM, "status": "completed"})
    api.get(f"{BASE}/v1/Rooms/{ROOM}/Participants").respond(json=list_page("participants", []))
    api.get(f"{BASE}/v1/Rooms/{ROOM}/Recordings").respond(
        json=list_page("recordings", [recording("RTv", "PAa", kind="video")])
    )
    async with video() as client:
        with pytest.raises(MergeError, match="no completed audio recordings"):
            await download_room_tracks(client, ROOM, tmp_path)


async def test_a_file_without_timestamps_falls_back_to_the_recordings_date(
    api: respx.MockRouter, tmp_path: Path
) -> None:
    import soundfile as sf

    wav = tmp_path / "plain.wav"
    sf.write(wav, np.zeros(16_000), 16_000)
    api.get(f"{BASE}/v1/Rooms/{ROOM}").respond(
        json={"sid": ROOM, "status": "completed", "date_created": "2026-03-01T10:00:00Z"}
    )
    api.get(f"{BASE}/v1/Rooms/{ROOM}/Participants").respond(json=list_page("participants", []))
    plain = {**recording("RTw", "PAa"), "container_format": "wav"}
    api.get(f"{BASE}/v1/Rooms/{ROOM}/Recordings").respond(content=json.dumps(list_page("recordings", [plain])))
    api.get(f"{BASE}/v1/Recordings/RTw/Media").respond(302, json={"redirect_to": f"{MEDIA}/RTw"})
    api.get(f"{MEDIA}/RTw").respond(200, content=wav.read_bytes())
    async with video() as client:
        (track,) = await download_room_tracks(client, ROOM, tmp_path / "t")

    assert track.offset_s == 5.0  # date_created 10:00:05 vs the room's 10:00:00
    assert track.identity == "PAa"  # not among the participants: named by its SID


async def test_a_failed_download_is_raised_as_itself(
    api: respx.MockRouter, room: dict[str, bytes], tmp_path: Path
) -> None:
    api.get(f"{MEDIA}/RTb").respond(404, text="NoSuchKey")
    async with video() as client:
        with pytest.raises(MediaDownloadError, match="HTTP 404"):
            await download_room_tracks(client, ROOM, tmp_path / "t")


async def test_participants_with_audio_by_join_time_and_a_chosen_subset(
    api: respx.MockRouter, room: dict[str, bytes], tmp_path: Path
) -> None:
    async with video() as client:
        with_audio = await participants_with_audio(client, ROOM)
        (bob,) = await download_room_tracks(client, ROOM, tmp_path / "t", participants=["bob"])

    assert [p.identity for p in with_audio] == ["alice", "bob"]  # carol's recording failed
    assert (bob.identity, bob.path.name) == ("bob", "PAb_RTb.mka")
    assert not (tmp_path / "t" / "PAa_RTa.mka").exists()
