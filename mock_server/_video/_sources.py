"""`AudioSources` / `AudioSourcesExcluded`: which recorded tracks a composition takes (twilio-wire.md §6).

Each value names tracks by track name, where `*` matches any run of characters (`*` alone is every track,
`student*` is `student` and `studentTeam`), or is a Recording SID (RT…) or a Participant SID (PA…: that
participant's tracks). A composition takes every track some `AudioSources` value names and no `AudioSourcesExcluded`
value names, in room order. A value Twilio could not mean — empty, over 128 characters, or with control characters
— is refused with 400 / 20001 naming the parameter and the value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from mock_server._errors import invalid_parameter
from mock_server._sids import is_sid

__all__ = ["MAX_SOURCE", "Track", "check_sources", "select_tracks"]

MAX_SOURCE = 128
MAX_VALUES = 100


@dataclass(frozen=True, slots=True)
class Track:
    recording_sid: str
    participant_sid: str
    track_name: str


def check_sources(name: str, values: Sequence[str]) -> list[str]:
    """`values` if every one can name tracks; 400 / 20001 naming `name` and the first bad value."""
    if len(values) > MAX_VALUES:
        raise invalid_parameter(name, f"{len(values)} values", f"at most {MAX_VALUES} may be given")
    for value in values:
        if not value.strip():
            raise invalid_parameter(name, value, "a source is a track name (with * wildcards), an RT… or a PA… SID")
        if len(value) > MAX_SOURCE or not value.isprintable():
            raise invalid_parameter(name, value, f"must be 1 to {MAX_SOURCE} printable characters")
    return list(values)


def _matcher(value: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in value.split("*")), re.DOTALL)


def _names(track: Track, value: str, pattern: re.Pattern[str]) -> bool:
    if is_sid(value, "RT"):
        return track.recording_sid == value
    if is_sid(value, "PA"):
        return track.participant_sid == value
    return pattern.fullmatch(track.track_name) is not None


def select_tracks(tracks: Iterable[Track], included: Sequence[str], excluded: Sequence[str]) -> list[Track]:
    """The tracks some `included` value names and no `excluded` value names, in the order given."""
    take = [(v, _matcher(v)) for v in included]
    drop = [(v, _matcher(v)) for v in excluded]
    return [t for t in tracks if any(_names(t, v, m) for v, m in take) and not any(_names(t, v, m) for v, m in drop)]
