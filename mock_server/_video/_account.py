"""One account's Video state: its rooms, participants, recordings and compositions (no HTTP, no threads)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from mock_server._video._compositions import CompositionOperations
from mock_server._video._context import Owner, VideoContext
from mock_server._video._records import CompositionRecord, RecordingRecord, RoomRecord
from mock_server._video._rooms import RoomOperations

__all__ = ["STATS", "VideoAccount"]

# The counters an account's stats document carries (the service adds the callback counters).
STATS = ("rooms", "compositions_created", "compositions_completed", "compositions_failed", "compositions_deleted")


class VideoAccount(CompositionOperations, RoomOperations):
    def __init__(self, owner: Owner, ctx: VideoContext) -> None:
        self.sid = owner.sid
        self.owner = owner
        self.ctx = ctx
        self.rooms: dict[str, RoomRecord] = {}
        self.room_order: list[RoomRecord] = []
        self.recordings: dict[str, RecordingRecord] = {}
        self.recording_order: list[RecordingRecord] = []
        self.compositions: dict[str, CompositionRecord] = {}
        self.composition_order: list[CompositionRecord] = []
        self.counts: Counter[str] = Counter()

    def __repr__(self) -> str:
        return f"VideoAccount({self.sid})"

    def discard_media(self, path: str) -> None:
        self.ctx.discard(path)

    def stats(self) -> dict[str, Any]:
        return {key: self.counts[key] for key in STATS}

    @staticmethod
    def empty_stats() -> dict[str, Any]:
        return dict.fromkeys(STATS, 0)
