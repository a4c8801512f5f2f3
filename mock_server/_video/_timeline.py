"""Which stretches of a room a composition keeps, as Twilio trims (twilio-wire.md §6, docs "Understanding Trim").

The composition starts when the first selected recording starts: the initial gap is always removed. With `Trim=true`
every later gap — a time when none of the selected recordings has media — is removed too, so the kept stretches
follow each other without silence; with `Trim=false` the later gaps stay as silence and the composition runs to the
end of the last selected recording. Positions are samples in the room (integers: no rounding drift over an hour).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

__all__ = ["kept_spans", "output_position", "total_length"]


def kept_spans(intervals: Iterable[tuple[int, int]], trim: bool) -> list[tuple[int, int]]:
    """The room stretches [begin, end) a composition of recordings spanning `intervals` is made of, in order."""
    ordered = sorted((begin, end) for begin, end in intervals if end > begin)
    if not ordered:
        return []
    if not trim:
        return [(ordered[0][0], max(end for _, end in ordered))]
    spans: list[tuple[int, int]] = []
    begin, end = ordered[0]
    for b, e in ordered[1:]:
        if b <= end:  # overlapping or touching: still no gap
            end = max(end, e)
        else:
            spans.append((begin, end))
            begin, end = b, e
    spans.append((begin, end))
    return spans


def total_length(spans: Sequence[tuple[int, int]]) -> int:
    return sum(end - begin for begin, end in spans)


def output_position(spans: Sequence[tuple[int, int]], room_position: int) -> int | None:
    """Where room sample `room_position` lands in the composition; None when it falls in a removed gap."""
    before = 0
    for begin, end in spans:
        if begin <= room_position < end:
            return before + room_position - begin
        before += end - begin
    return None
