"""Putting a merge row's participants on Intelligence's two channels once its audio is at hand (the rules are in
`_merge_rows`' docstring): a tracks row's files, or a room's downloaded tracks; and the transcript's participants."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from harness._merge_rows import DEFAULT_ROLES, SWAPPED, MergeSpec


class AssignmentError(Exception):
    """The participants cannot be put on two channels (a room with three participants and no mapping, …)."""


class RoomTrackLike(Protocol):
    """What a downloaded room track says (harness.media's `RoomTrack`)."""

    @property
    def participant_sid(self) -> str: ...
    @property
    def identity(self) -> str: ...
    @property
    def path(self) -> Path: ...
    @property
    def offset_s(self) -> float: ...


@dataclass(frozen=True)
class Source:
    """One audio file on its way into the merge: where it starts and whose it is."""

    path: Path
    offset_s: float  # for the join order (0 when not given)
    identity: str | None = None
    explicit: bool = True  # False: no offset given, so the file's own start time (an .mka's) places it


@dataclass(frozen=True)
class Assignment:
    """The files on each channel and the transcript's participants."""

    channel1: tuple[Source, ...]
    channel2: tuple[Source, ...]
    participants: tuple[dict[str, Any], ...]

    def channel(self, number: int) -> tuple[Source, ...]:
        return self.channel1 if number == 1 else self.channel2


def assign_tracks(spec: MergeSpec, files: Sequence[Path]) -> Assignment:
    """Put a tracks row's files (in its order) on their channels: given channels, else join order."""
    sources = [
        Source(f, t.offset_s or 0.0, t.identity, t.offset_s is not None)
        for t, f in zip(spec.tracks, files, strict=True)
    ]
    if spec.tracks[0].channel is not None:
        channels = [t.channel or 1 for t in spec.tracks]
    else:
        order = sorted(range(len(sources)), key=lambda i: (sources[i].offset_s, i))
        channels = [1 + order.index(i) for i in range(len(sources))]
    given: dict[int, Mapping[str, Any]] = {p["channel_participant"]: p for p in spec.participants}
    for track, channel in zip(spec.tracks, channels, strict=True):
        if track.participant is not None:
            given[channel] = track.participant
    placed = {c: tuple(s for s, n in zip(sources, channels, strict=True) if n == c) for c in (1, 2)}
    return Assignment(placed[1], placed[2], _participants(placed, given))


def room_channels(spec: MergeSpec, joined: Sequence[str]) -> dict[str, int]:
    """The channel of each participant to merge, given the room's participants with audio in join order (their
    identities, or SIDs for those without one): the row's mapping, the rest in join order. Those left out (a silent
    supervisor, a recording bot, when the row maps both channels) are not in the answer, so they need not be
    downloaded. `AssignmentError` when the room cannot fill exactly two channels so."""
    room = spec.room_sid or "the room"
    named: dict[str, int] = {}
    for entry in spec.participants:
        if "identity" in entry:
            ids = entry["identity"] if isinstance(entry["identity"], list) else [entry["identity"]]
            named.update(dict.fromkeys(ids, entry["channel_participant"]))
    everyone = ", ".join(joined) or "none"
    absent = [who for who in named if who not in joined]
    if absent:
        raise AssignmentError(f"{room} has no participant with audio whose identity is {absent[0]!r} "
                              f"(its participants with audio: {everyone})")  # fmt: skip
    free = [c for c in (1, 2) if c not in named.values()]
    # Both channels named: exactly those identities are merged (a silent supervisor or a recording bot left out).
    unnamed = [who for who in joined if who not in named] if free else []
    if len(unnamed) > len(free):
        if not named and len(joined) > 2:
            raise AssignmentError(
                f"{room} has {len(joined)} participants with audio ({everyone}); Intelligence transcribes two "
                'channels: map identities to channels in participants ({"identity": …, "channel_participant": 1}; '
                "a list of identities mixes them onto one channel)"
            )
        raise AssignmentError(f"{room}: participant(s) {', '.join(unnamed[len(free):])} not mapped to a channel "
                              f"(its participants with audio: {everyone}); name them in participants")  # fmt: skip
    named.update(zip(unnamed, free, strict=False))
    empty = [c for c in (1, 2) if c not in named.values()]
    if empty:
        raise AssignmentError(f"{room} has {len(joined)} participant(s) with audio ({everyone}): nobody for channel "
                              f"{empty[0]} (a merge needs one per channel)")  # fmt: skip
    return {who: named[who] for who in joined if who in named}


def assign_room(spec: MergeSpec, tracks: Sequence[RoomTrackLike]) -> Assignment:
    """Put a room's downloaded tracks on channels (`room_channels`; join order here is by the tracks' offsets)."""
    groups: dict[str, list[RoomTrackLike]] = {}
    for track in tracks:
        groups.setdefault(track.identity or track.participant_sid, []).append(track)
    joined = sorted(groups, key=lambda who: (min(t.offset_s for t in groups[who]), who))
    channels = room_channels(spec, joined)
    given = {e["channel_participant"]: {k: v for k, v in e.items() if k != "identity"} for e in spec.participants}
    placed = {
        c: tuple(Source(Path(t.path), t.offset_s, who) for who in joined if channels.get(who) == c for t in groups[who])
        for c in (1, 2)
    }
    return Assignment(placed[1], placed[2], _participants(placed, given))


def _participants(
    placed: Mapping[int, Sequence[Source]], given: Mapping[int, Mapping[str, Any]]
) -> tuple[dict[str, Any], ...]:
    roles = dict(DEFAULT_ROLES)
    said = {c: given[c].get("role") for c in given if given[c].get("role")}
    if len(said) == 1:  # one channel's role given as Agent or Customer: the other channel is the other one
        ((channel, role),) = said.items()
        if role in SWAPPED:
            roles[3 - channel] = SWAPPED[role]
    result = []
    for channel in (1, 2):
        entry: dict[str, Any] = {"channel_participant": channel, "role": roles[channel]}
        identities = {s.identity for s in placed[channel] if s.identity}
        if len(identities) == 1:
            entry["user_id"] = identities.pop()
        entry.update({k: v for k, v in given.get(channel, {}).items() if v is not None})
        entry["channel_participant"] = channel
        result.append(entry)
    return tuple(result)
