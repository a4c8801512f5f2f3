"""A Video room served by respx for the room tests: two participants with Opus track recordings made at test time,
their media behind `…/Media` redirects, and a fake clock for polling."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import respx

from harness._retry import RetryPolicy
from harness.media import VideoClient

from .containers import encode
from .test_containers import utterance_track

BASE = "http://video.test"
MEDIA = "https://media.example"
ROOM = "RM" + "1" * 32
ROOM_OFFSET_MS = 1_700_000_000_000  # the room's start on Twilio's common clock: the same for every track


class FakeTime:
    """A clock the sleeps advance: polling costs no real time."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def video() -> VideoClient:
    return VideoClient("AC" + "a" * 32, "t" * 32, base_url=BASE, retry=RetryPolicy.no_wait(2), environ={})


def recording(sid: str, participant: str, *, kind: str = "audio", status: str = "completed") -> dict[str, object]:
    return {"sid": sid, "type": kind, "status": status, "container_format": "mka" if kind == "audio" else "mkv",
            "codec": "OPUS", "offset": ROOM_OFFSET_MS, "date_created": "2026-03-01T10:00:05Z",
            "grouping_sids": {"room_sid": ROOM, "participant_sid": participant}}  # fmt: skip


def list_page(key: str, items: list[dict[str, object]]) -> dict[str, object]:
    return {key: items, "meta": {"key": key, "next_page_url": None}}


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    """A router of its own for each test (routes added to respx's global one would outlive the test)."""
    with respx.mock(assert_all_called=False) as router:
        yield router


@pytest.fixture
def room(api: respx.MockRouter, tmp_path: Path) -> dict[str, bytes]:
    """A completed room: bob is listed first but joined after alice; each has one audio track recording (alice's
    starts 0.8 s after the room, bob's 3.2 s), bob also a video track, and a third participant's audio failed."""
    alice = encode(tmp_path / "alice.mka", utterance_track(4.0, 0.5, "hello"), 16_000, start_s=0.8)
    bob = encode(tmp_path / "bob.mka", utterance_track(3.0, 0.5, "yes"), 16_000, start_s=3.2)
    media = {"RTa": alice.read_bytes(), "RTb": bob.read_bytes()}
    api.get(f"{BASE}/v1/Rooms/{ROOM}").respond(
        json={"sid": ROOM, "status": "completed", "date_created": "2026-03-01T10:00:00Z"}
    )
    api.get(f"{BASE}/v1/Rooms/{ROOM}/Participants").respond(json=list_page("participants", [
        {"sid": "PAb", "identity": "bob", "start_time": "2026-03-01T10:00:03Z"},
        {"sid": "PAa", "identity": "alice", "start_time": "2026-03-01T10:00:00Z"},
        {"sid": "PAc", "identity": "carol", "start_time": "2026-03-01T10:00:01Z"},
    ]))  # fmt: skip
    api.get(f"{BASE}/v1/Rooms/{ROOM}/Recordings").respond(json=list_page("recordings", [
        recording("RTb", "PAb"), recording("RTv", "PAb", kind="video"), recording("RTa", "PAa"),
        recording("RTc", "PAc", status="failed"),
    ]))  # fmt: skip
    for sid, content in media.items():
        api.get(f"{BASE}/v1/Recordings/{sid}/Media").respond(302, json={"redirect_to": f"{MEDIA}/{sid}?sig=s"})
        api.get(f"{MEDIA}/{sid}").respond(200, content=content)
    return media
