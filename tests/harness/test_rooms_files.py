"""Merge rows' files through the BatchRunner (virtual time, the fakes of test_rooms_runner): a served directory's URL
is checked before the first create of a first run (a wrong base URL stops the run, an unreachable server leaves the
rows pending); only what will be merged is downloaded and a failed row's downloads are removed; every directory made
for merged files or downloads is 0700 and every file 0600, except in the directory the user serves."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness._hosting import DirectoryHost, HostUnusable
from harness._journal import Journal
from harness._rooms import merge_to_file
from tests.harness.test_rooms_runner import ROOM, Batch, Blocking, FakeVideo, patch_video, tone, tracks_rows

BASE = "https://files.example/calls"


@pytest.fixture
def room_video(monkeypatch: pytest.MonkeyPatch) -> FakeVideo:
    return patch_video(monkeypatch)


@dataclass
class Served:
    """The user's web server for `root` at BASE (ranged GETs as a static server answers them); `answer` overrides
    it: a status code, or an exception for a server that cannot be reached."""

    root: Path
    answer: int | type[Exception] | None = None
    seen: list[str] = field(default_factory=list)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(str(request.url))
        if isinstance(self.answer, type):
            raise self.answer("refused", request=request)  # type: ignore[call-arg]  # httpx errors take request=
        if self.answer is not None:
            return httpx.Response(self.answer, text="<html>Not Found</html>")
        prefix = httpx.URL(BASE).path + "/"
        path = self.root / request.url.path.removeprefix(prefix)
        if not request.url.path.startswith(prefix) or not path.is_file():
            return httpx.Response(404, text="<html>Not Found</html>")
        data = path.read_bytes()
        first, _, last = request.headers["Range"].removeprefix("bytes=").partition("-")
        part = data[int(first) : int(last) + 1]
        headers = {"Content-Range": f"bytes {first}-{int(first) + len(part) - 1}/{len(data)}"}
        return httpx.Response(206, content=part, headers=headers)


def served_batch(tmp_path: Path, rows: list[dict[str, Any]], *, mode: int = 0o755) -> tuple[Batch, Served]:
    root = tmp_path / "media"
    root.mkdir()
    root.chmod(mode)  # the user's directory, as they made it
    batch = Batch(tmp_path, rows)
    return batch, Served(root)


def run_served(batch: Batch, server: Served, base: str = BASE) -> Any:
    batch.host = DirectoryHost(base, server.root, transport=server.transport())  # type: ignore[assignment]
    return batch.run()


def last_errors(tmp_path: Path) -> dict[str, str | None]:
    with Journal.open_readonly(tmp_path / "j.sqlite") as journal:
        return {i.customer_key: i.last_error for i in journal.items()}


def test_a_wrong_base_url_stops_the_first_run_before_any_merge_row_is_created(tmp_path: Path) -> None:
    rows = [*tracks_rows(tmp_path, 2), {"media_url": "https://b.example/p.wav", "customer_key": "p"}]
    batch, server = served_batch(tmp_path, rows)
    with pytest.raises(HostUnusable) as caught:
        run_served(batch, server, base="https://files.example/wrong")
    message = str(caught.value)
    assert message.startswith("https://files.example/wrong/")
    assert "HTTP 404" in message
    assert f"is in {server.root}: that directory is not served at https://files.example/wrong" in message
    assert "--media-base-url" in caught.value.hint
    assert server.seen  # checked by a request, not assumed
    created = batch.api.transcripts_by_customer_key
    assert "m0" not in created
    assert "m1" not in created
    states = batch.states()
    assert (states["m0"], states["m1"]) == ("pending", "pending")  # nothing failed: fix the option, run again
    assert "HTTP 404" in (last_errors(tmp_path)["m0"] or "")
    assert run_served(batch, server).ok  # the right base URL: merged once, sent once
    assert batch.api.transcripts_by_customer_key == {"m0": 1, "m1": 1, "p": 1}
    assert batch.blocking.merges == 2
    assert batch.channel("m0")["media_properties"]["media_url"].startswith(f"{BASE}/")


@pytest.mark.parametrize("wrong", ["another file", "a longer file"])
def test_a_url_that_serves_something_else_stops_the_run(tmp_path: Path, wrong: str) -> None:
    batch, server = served_batch(tmp_path, tracks_rows(tmp_path, 1))
    original = server.handle

    def elsewhere(request: httpx.Request) -> httpx.Response:
        answer = original(request)
        if wrong == "another file":
            return httpx.Response(200, text="<!doctype html><title>My app</title>")  # a catch-all page
        total = int(answer.headers["Content-Range"].rpartition("/")[2])
        return httpx.Response(206, content=answer.content, headers={"Content-Range": f"bytes 0-9/{total + 1}"})

    server.handle = elsewhere  # type: ignore[method-assign]
    with pytest.raises(HostUnusable, match="not the merged file") as caught:
        run_served(batch, server)
    assert ("first bytes differ" if wrong == "another file" else "bytes, not") in str(caught.value)
    assert batch.api.creates == 0


@pytest.mark.parametrize("answer", [httpx.ConnectError, 503, 429])
def test_a_server_that_does_not_answer_now_leaves_the_rows_pending(
    tmp_path: Path, answer: int | type[Exception]
) -> None:
    batch, server = served_batch(tmp_path, tracks_rows(tmp_path, 2))
    server.answer = answer
    summary = run_served(batch, server)
    assert (summary.not_done, summary.failed, batch.api.creates) == (2, [], 0)
    assert batch.states() == {"m0": "pending", "m1": "pending"}
    assert str(server.root) in (last_errors(tmp_path)["m0"] or "")  # the reason, for `cintel status`
    server.answer = None
    assert run_served(batch, server).ok
    assert batch.api.transcripts_by_customer_key == {"m0": 1, "m1": 1}


# --- downloads ---------------------------------------------------------------------------------------------------


def test_a_room_mapping_of_both_channels_downloads_only_those_two(tmp_path: Path, room_video: FakeVideo) -> None:
    room_video.people = [("bob", 0.0), ("recorder-bot", 0.1), ("alice", 1.25)]
    mapping = [{"identity": "bob", "channel_participant": 1}, {"identity": "alice", "channel_participant": 2}]
    batch = Batch(tmp_path, [{"room_sid": ROOM, "customer_key": "r", "participants": mapping}])
    batch.video = room_video
    assert batch.run().ok
    assert sorted(room_video.downloaded) == ["alice", "bob"]


def test_a_failed_rows_downloads_are_removed(tmp_path: Path, room_video: FakeVideo) -> None:
    room_video.broken = {"alice"}  # downloaded, then the merge cannot decode it
    urls = [{"url": "https://t.example/a.wav"}, {"url": "https://t.example/gone.wav"}]
    rows: list[dict[str, Any]] = [{"room_sid": ROOM, "customer_key": "r"}, {"customer_key": "u", "tracks": urls}]
    agent = tone(tmp_path / "agent.wav", 1.0).read_bytes()
    batch = Batch(tmp_path, rows)
    batch.video = room_video
    batch.transport = httpx.MockTransport(
        lambda request: httpx.Response(200, content=agent) if request.url.path == "/a.wav" else httpx.Response(404)
    )
    summary = batch.run()
    reasons = {f["customer_key"]: f["reason"] for f in summary.failed}
    assert "alice.wav" in reasons["r"]
    assert "tracks[1].url https://t.example/gone.wav: HTTP 404" in reasons["u"]
    assert sorted(room_video.downloaded) == ["alice", "bob"]
    tracks = tmp_path / "media" / ".tracks"
    assert not tracks.exists() or not any(tracks.rglob("*")), sorted(tracks.rglob("*"))


# --- modes -------------------------------------------------------------------------------------------------------


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@dataclass
class Watching(Blocking):
    """Records the modes of every directory and file under `watched` when a merge starts (the downloads exist)."""

    watched: Path = Path()
    seen: dict[str, int] = field(default_factory=dict)

    async def __call__(self, function: Callable[..., Any], *args: Any) -> Any:
        if function is merge_to_file and self.watched.exists():
            for path in [self.watched, *self.watched.rglob("*")]:
                self.seen[str(path.relative_to(self.watched.parent))] = mode(path)
        return await super().__call__(function, *args)


def test_downloads_and_merged_files_are_private_whatever_the_umask_and_the_media_dirs_mode(
    tmp_path: Path, room_video: FakeVideo
) -> None:
    media = tmp_path / "media"
    media.mkdir()
    media.chmod(0o755)  # the user's --media-dir for S3: theirs, not served, so what is made in it is private
    rows = [*tracks_rows(tmp_path, 1),
            {"customer_key": "u", "tracks": [{"url": "https://t.example/a.wav"}, {"url": "https://t.example/b.wav"}]},
            {"room_sid": ROOM, "customer_key": "r"}]  # fmt: skip
    agent = tone(tmp_path / "agent.wav", 1.0).read_bytes()
    batch = Batch(tmp_path, rows)
    batch.video = room_video
    batch.transport = httpx.MockTransport(lambda request: httpx.Response(200, content=agent))
    batch.blocking = Watching(watched=media / ".tracks")
    previous = os.umask(0o022)
    try:
        assert batch.run().ok
    finally:
        os.umask(previous)
    seen = batch.blocking.seen  # relative to media/, when each merge started
    url_downloads = [name for name in seen if name.endswith(("/track0.wav", "/track1.wav"))]
    assert len(url_downloads) == 2
    assert {seen[name] for name in url_downloads} == {0o600}
    assert any(name.endswith("/bob.wav") for name in seen)  # the room's downloads were there too
    directories = [name for name in seen if not name.endswith(".wav")]
    assert len(directories) >= 3  # .tracks, and one per item
    assert {seen[name] for name in directories} == {0o700}
    assert not (media / ".tracks").exists()  # every item's downloads removed once merged, and their directory
    (batch_dir,) = [p for p in media.iterdir() if p.name != ".tracks"]
    assert mode(batch_dir) == 0o700
    merged = list(batch_dir.iterdir())
    assert len(merged) == 3
    assert {mode(p) for p in merged} == {0o600}
    assert mode(media) == 0o755  # the user's own directory keeps its mode


@pytest.mark.parametrize(
    ("served", "batch_dir", "merged"), [(0o755, 0o755, 0o644), (0o750, 0o750, 0o640), (0o700, 0o700, 0o600)]
)
def test_in_a_served_directory_merged_files_are_readable_where_the_directory_is(
    tmp_path: Path, served: int, batch_dir: int, merged: int
) -> None:
    batch, server = served_batch(tmp_path, tracks_rows(tmp_path, 1), mode=served)
    previous = os.umask(0o077)  # whatever the umask: the web server must read what is served
    try:
        assert run_served(batch, server).ok
    finally:
        os.umask(previous)
    (made,) = [p for p in server.root.iterdir() if p.name != ".tracks"]
    (file,) = made.iterdir()
    assert (mode(server.root), mode(made), mode(file)) == (served, batch_dir, merged)
