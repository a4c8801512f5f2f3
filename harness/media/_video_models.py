"""Typed views of the Video v1 resources a room merge reads (tests/specs/twilio_video_v1.json). Unknown fields are
kept, never rejected: Twilio adds fields. Times are parsed to aware datetimes (`None` when absent or unreadable)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


def parse_time(value: str | None) -> datetime | None:
    """ISO-8601 as Video v1 sends it (`2017-07-30T20:00:00Z`); a naive time is taken as UTC (Twilio's is GMT)."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class _Resource(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    def time(self, name: str) -> datetime | None:
        """A date-time field (`date_created`, `start_time`, …) as an aware datetime."""
        value = getattr(self, name, None)
        return parse_time(value if isinstance(value, str) else None)


class Room(_Resource):
    """A Room (RM…): `completed` once it has ended; `date_created` is its start."""

    sid: str
    status: str | None = None
    unique_name: str | None = None
    date_created: str | None = None
    end_time: str | None = None
    duration: int | None = None
    type: str | None = None
    url: str | None = None


class Participant(_Resource):
    """A Room's participant (PA…): `start_time` is when it joined, `end_time` when it left."""

    sid: str
    room_sid: str | None = None
    identity: str | None = None
    status: str | None = None
    start_time: str | None = None
    end_time: str | None = None
    duration: int | None = None
    date_created: str | None = None


class Recording(_Resource):
    """A track recording (RT…) of a room: `type` audio/video/data, `container_format` mka/mkv, `offset` (ms) the
    source room's start on a clock common to all rooms — the same for every track of one room (twilio-wire.md §6)."""

    sid: str
    status: str | None = None
    type: str | None = None
    source_sid: str | None = None
    track_name: str | None = None
    container_format: str | None = None
    codec: str | None = None
    duration: int | None = None
    size: int | None = None
    offset: int | None = None
    date_created: str | None = None
    grouping_sids: dict[str, Any] | None = None
    room_sid: str | None = None
    links: dict[str, str] | None = None

    @property
    def participant_sid(self) -> str | None:
        value = (self.grouping_sids or {}).get("participant_sid")
        return value if isinstance(value, str) else None


class Composition(_Resource):
    """A composition (CJ…): `enqueued` → `processing` → `completed` (or `failed`/`deleted`)."""

    sid: str
    status: str | None = None
    room_sid: str | None = None
    audio_sources: list[str] | None = None
    trim: bool | None = None
    format: str | None = None
    duration: int | None = None
    size: int | None = None
    date_created: str | None = None
    links: dict[str, str] | None = None

    @property
    def is_final(self) -> bool:
        return self.status in ("completed", "failed", "deleted")
