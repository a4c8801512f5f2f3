"""Manifest rows that name audio to merge instead of a media URL — `tracks` and `room_sid` — their shapes, checked
when the manifest is scanned, and how their participants are put on Intelligence's two channels.

A `tracks` row lists per-participant audio: `[{"path": "agent.wav", "offset_s": 0}, {"url": "https://…/c.mp3",
"offset_s": 2.5, "identity": "alice", "channel": 2, "participant": {"role": "Customer", "full_name": "Alice"}}]`.
`path` (relative to the manifest's directory) or `url` (http/https, downloaded before the merge) is required;
`offset_s` is seconds from the start of the call (default: the file's own start time — a Video `.mka` track
recording carries it — else 0); `channel` (1 or 2) puts the track on a channel — give
it on every track or on none; `participant` is Twilio's participant object for that track's channel.

A `room_sid` row names a Video room (RM…); its participants' audio tracks are downloaded and merged. Its
`participants` may map room participants to channels by `identity` (a string, or a list of identities mixed onto one
channel): `[{"identity": "bob", "channel_participant": 2, "role": "Agent"}]`. When both channels name identities,
only those participants are merged (the others — a silent supervisor, a recording bot — are left out); when one
channel does, the one other participant goes on the other channel.

Channels, when the row does not say: the participant who joined first (smallest offset; ties by listing order or
identity) is channel 1 (Agent), the second channel 2 (Customer); more than two is an error naming the row — a
room's participants are only known once its tracks are listed, so a room row fails then, a tracks row at the scan.
The transcript's participants: for each channel `channel_participant`, `role` (Agent on 1 and Customer on 2, or the
other one when the row gives only one channel's role as Agent or Customer), `user_id` = the identity when one
participant is on the channel, then every field the row gives for that channel.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from harness._redact import scrub_text, scrub_url

ROOM_SID_PREFIX = "RM"
PARTICIPANT_FIELDS = frozenset(
    {"user_id", "channel_participant", "media_participant_id", "email", "full_name", "image_url", "role"}
)
TRACK_FIELDS = frozenset({"path", "url", "offset_s", "identity", "channel", "participant"})
MAX_TRACKS = 32
MAX_OFFSET_S = 86_400.0  # a day: an offset beyond that is a unit mistake (milliseconds), not a call
MAX_IDENTITY = 256
DEFAULT_ROLES = {1: "Agent", 2: "Customer"}
SWAPPED = {"Agent": "Customer", "Customer": "Agent"}


class RowError(Exception):
    """A `tracks`/`room_sid`/`participants` value that cannot be used: the column (with index) and what is wrong."""

    def __init__(self, column: str, message: str) -> None:
        super().__init__(f"{column}: {message}")
        self.column = column


def _shown(value: Any) -> str:
    return scrub_text(repr(value))[:60]


@dataclass(frozen=True)
class TrackSpec:
    """One entry of a `tracks` row, checked; `source` is an absolute path or an http(s) URL."""

    index: int
    source: str
    is_url: bool
    offset_s: float | None = None
    identity: str | None = None
    channel: int | None = None
    participant: Mapping[str, Any] | None = None

    def describe(self) -> str:
        where = scrub_url(self.source) if self.is_url else Path(self.source).name
        return where if self.offset_s is None else f"{where}@{self.offset_s:g}"


@dataclass(frozen=True)
class MergeSpec:
    """What a merge row asks for: its tracks or its room, and its `participants` (with `identity` for a room)."""

    tracks: tuple[TrackSpec, ...] = ()
    room_sid: str | None = None
    participants: tuple[Mapping[str, Any], ...] = ()

    def describe(self) -> str:
        """For the journal and results: never a URL's query (a pre-signed track URL is a credential)."""
        if self.room_sid is not None:
            return f"room {self.room_sid}"
        return "tracks: " + ", ".join(t.describe() for t in self.tracks)


# --- parsing (scan time) -----------------------------------------------------------------------------------------


def parse_room_sid(value: Any) -> str:
    if not isinstance(value, str) or len(value) != 34 or not value.startswith(ROOM_SID_PREFIX):
        raise RowError("room_sid", f"must be a Room SID (RM + 32 hex digits), got {_shown(value)}")
    try:
        int(value[2:], 16)
    except ValueError:
        raise RowError("room_sid", f"must be a Room SID (RM + 32 hex digits), got {_shown(value)}") from None
    return value


def parse_merge_participants(value: Any, *, room: bool) -> tuple[dict[str, Any], ...]:
    """A merge row's `participants`: at most one entry per channel, `channel_participant` 1 or 2, Twilio's fields
    as strings, and (room rows only) `identity`: a string or a list of strings, each identity on one channel."""
    if not isinstance(value, list):
        raise RowError("participants", f"must be a list of participant objects, got {type(value).__name__}")
    if len(value) > 2:
        raise RowError("participants", f"{len(value)} entries: one per channel, so at most two")
    seen_channels: set[int] = set()
    seen_identities: set[str] = set()
    entries = []
    for i, entry in enumerate(value):
        column = f"participants[{i}]"
        if not isinstance(entry, dict):
            raise RowError(column, f"must be an object, got {type(entry).__name__}")
        allowed = PARTICIPANT_FIELDS | ({"identity"} if room else set())
        unknown = sorted(set(entry) - allowed)
        if unknown:
            hint = "; in a tracks row give each track its identity" if unknown[0] == "identity" else ""
            raise RowError(f"{column}.{scrub_text(unknown[0])[:40]}", f"not a participant field{hint}")
        channel = entry.get("channel_participant")
        if type(channel) is not int or channel not in (1, 2):
            raise RowError(f"{column}.channel_participant", f"must be 1 or 2, got {_shown(channel)}")
        if channel in seen_channels:
            raise RowError(f"{column}.channel_participant", f"channel {channel} is given twice")
        seen_channels.add(channel)
        _check_strings(column, entry, skip={"channel_participant", "identity"})
        if "identity" in entry:
            for identity in _identities(f"{column}.identity", entry["identity"]):
                if identity in seen_identities:
                    raise RowError(f"{column}.identity", f"{identity!r} is on both channels")
                seen_identities.add(identity)
        entries.append(dict(entry))
    return tuple(entries)


def _identities(column: str, value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    if not items:
        raise RowError(column, "an empty list: name at least one identity")
    for item in items:
        if not isinstance(item, str) or not item or len(item) > MAX_IDENTITY:
            raise RowError(column, f"an identity is a string of 1 to {MAX_IDENTITY} characters, got {_shown(item)}")
    return list(items)


def _check_strings(column: str, entry: Mapping[str, Any], *, skip: Iterable[str] = ()) -> None:
    for name, field_value in entry.items():
        if name not in skip and not isinstance(field_value, str):
            raise RowError(f"{column}.{name}", f"must be a string, got {_shown(field_value)}")


def parse_tracks(value: Any, base: Path) -> tuple[TrackSpec, ...]:
    """A `tracks` value, each entry checked (a path must name an existing file), channels all given or none."""
    if not isinstance(value, list):
        raise RowError("tracks", f"must be a list of track objects, got {type(value).__name__}")
    if not 2 <= len(value) <= MAX_TRACKS:
        raise RowError("tracks", f"{len(value)} track(s): a merge needs 2 to {MAX_TRACKS} (one or more per channel)")
    tracks = tuple(_track(i, entry, base) for i, entry in enumerate(value))
    with_channel = [t for t in tracks if t.channel is not None]
    if with_channel and len(with_channel) != len(tracks):
        missing = next(t for t in tracks if t.channel is None)
        raise RowError(f"tracks[{missing.index}].channel", "missing: give every track a channel (1 or 2), or none")
    if with_channel:
        for channel in (1, 2):
            if not any(t.channel == channel for t in tracks):
                raise RowError("tracks", f"no track on channel {channel}: each of the two channels needs one")
    elif len(tracks) > 2:
        raise RowError(
            "tracks",
            f"{len(tracks)} tracks and no channels: Intelligence transcribes two channels; give each track a "
            '"channel" (1 or 2) to mix several onto one',
        )
    owners: dict[int, int] = {}
    for track in tracks:
        if track.participant is not None and track.channel is not None:
            if track.channel in owners:
                first = owners[track.channel]
                raise RowError(f"tracks[{track.index}].participant", f"channel {track.channel} already has "
                               f"tracks[{first}]'s participant")  # fmt: skip
            owners[track.channel] = track.index
    return tracks


def _track(index: int, entry: Any, base: Path) -> TrackSpec:
    column = f"tracks[{index}]"
    if not isinstance(entry, dict):
        raise RowError(column, f"must be an object with path or url, got {type(entry).__name__}")
    unknown = sorted(set(entry) - TRACK_FIELDS)
    if unknown:
        raise RowError(f"{column}.{scrub_text(unknown[0])[:40]}", "not a track field (path, url, offset_s, identity, "
                       "channel, participant)")  # fmt: skip
    if ("path" in entry) == ("url" in entry):
        raise RowError(column, "give exactly one of path and url")
    if "url" in entry:
        source, is_url = _url(f"{column}.url", entry["url"]), True
    else:
        source, is_url = _path(f"{column}.path", entry["path"], base), False
    offset = entry.get("offset_s")
    if offset is not None and (
        isinstance(offset, bool) or not isinstance(offset, int | float) or not 0 <= offset <= MAX_OFFSET_S
    ):
        raise RowError(f"{column}.offset_s", f"must be seconds from the call's start, 0 to {MAX_OFFSET_S:g}, "
                       f"got {_shown(offset)}")  # fmt: skip
    identity = entry.get("identity")
    if identity is not None:
        _identities(f"{column}.identity", identity if isinstance(identity, str) else [identity])
    channel = entry.get("channel")
    if channel is not None and (type(channel) is not int or channel not in (1, 2)):
        raise RowError(f"{column}.channel", f"must be 1 or 2, got {_shown(channel)}")
    participant = entry.get("participant")
    if participant is not None:
        participant = _track_participant(f"{column}.participant", participant)
        said = participant.get("channel_participant")
        if channel is not None and said is not None and said != channel:
            raise RowError(f"{column}.participant.channel_participant", f"{said}, but the track's channel is {channel}")
        channel = channel if channel is not None else said
    value = float(offset) if offset is not None else None
    return TrackSpec(index, source, is_url, value, identity, channel, participant)


def _track_participant(column: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise RowError(column, f"must be a participant object, got {type(value).__name__}")
    unknown = sorted(set(value) - PARTICIPANT_FIELDS)
    if unknown:
        raise RowError(f"{column}.{scrub_text(unknown[0])[:40]}", "not a participant field")
    channel = value.get("channel_participant")
    if channel is not None and (type(channel) is not int or channel not in (1, 2)):
        raise RowError(f"{column}.channel_participant", f"must be 1 or 2, got {_shown(channel)}")
    _check_strings(column, value, skip={"channel_participant"})
    return dict(value)


def _url(column: str, value: Any) -> str:
    if not isinstance(value, str):
        raise RowError(column, f"must be a string, got {type(value).__name__}")
    try:
        parts = urlsplit(value)
    except ValueError:
        raise RowError(column, f"not a URL: {_shown(value)}") from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise RowError(column, f"must be an http or https URL, got scheme {parts.scheme or '(none)'!r}")
    return value


def _path(column: str, value: Any, base: Path) -> str:
    if not isinstance(value, str) or not value or "\x00" in value:
        raise RowError(column, f"must be a file path, got {_shown(value)}")
    path = Path(value)
    path = path if path.is_absolute() else base / path
    try:
        if not path.is_file():
            what = "a directory, not a file" if path.is_dir() else "no such file"
            raise RowError(column, f"{scrub_text(str(path))}: {what}")
    except OSError as error:
        raise RowError(column, f"{scrub_text(str(path))}: {error.strerror or error}") from None
    return str(path)


def merge_spec(row: Mapping[str, Any], base: Path) -> MergeSpec | None:
    """A `tracks` or `room_sid` row's spec (None for other rows); `RowError` naming the column and the value."""
    tracks, room = row.get("tracks"), row.get("room_sid")
    if tracks is None and room is None:
        return None
    if tracks is not None and room is not None:
        raise RowError("tracks", "give room_sid or tracks, not both")
    given = row.get("participants")
    participants = parse_merge_participants(given, room=room is not None) if given is not None else ()
    if room is not None:
        return MergeSpec(room_sid=parse_room_sid(room), participants=participants)
    spec = MergeSpec(tracks=parse_tracks(tracks, base), participants=participants)
    check_row_participants(spec)
    return spec


def check_row_participants(spec: MergeSpec) -> None:
    """A tracks row's `participants` must not give a channel a second participant object."""
    owners = {t.channel: t.index for t in spec.tracks if t.participant is not None and t.channel is not None}
    for i, entry in enumerate(spec.participants):
        channel = entry["channel_participant"]
        if channel in owners:
            first = owners[channel]
            raise RowError(f"participants[{i}]", f"channel {channel} already has tracks[{first}]'s participant")
