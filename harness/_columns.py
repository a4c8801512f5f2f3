"""Telling a misspelled manifest column from a metadata column: a Damerau–Levenshtein distance to the known names.

Names are compared with case, `_`, `-`, spaces and other punctuation set aside (`Media_URL`, `MediaUrl`,
`CustomerKey`, `source-sid` and `RoomSid` are the known columns), then within at most 1 edit for names of 5
characters or fewer and 2 otherwise (`customer_kye`, `participant`, `media_ur1`). A name starting with `x_` or
`meta_` (any case, or `x-`/`meta-`) is always metadata — the escape hatch for a real column that happens to look like
a known one.
"""

from __future__ import annotations

from functools import lru_cache

MEDIA_COLUMNS = frozenset({"media_url", "source_sid", "room_sid", "tracks"})  # a row needs one (a CSV header too)
KNOWN = MEDIA_COLUMNS | {"customer_key", "participants", "media_start_time"}
METADATA_PREFIXES = ("x_", "x-", "meta_", "meta-")


def edit_distance(a: str, b: str, limit: int | None = None) -> int:
    """Damerau–Levenshtein distance (optimal string alignment: an adjacent swap costs 1), symmetric.

    With `limit`, any distance above it is returned as `limit + 1`, and long strings cost nothing.
    """
    if a == b:
        return 0
    if limit is not None and abs(len(a) - len(b)) > limit:
        return limit + 1
    before: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            best = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                best = min(best, before[j - 2] + 1)
            current[j] = best
        if limit is not None and min(current) > limit:
            return limit + 1
        before, previous = previous, current
    distance = previous[len(b)]
    return distance if limit is None else min(distance, limit + 1)


def _folded(name: str) -> str:
    """The name with case, `_`, `-`, spaces and other punctuation set aside: `Media_URL` → `mediaurl`."""
    return "".join(c for c in name.casefold() if c.isalnum())


_KNOWN_FOLDED = tuple(sorted((_folded(k), k) for k in KNOWN))


def misspelled_column(name: str) -> str | None:
    """The manifest column `name` is a likely misspelling of, or None (a known column, or plausible metadata)."""
    return _misspelled(name) if len(name) <= 100 else _misspelled.__wrapped__(name)  # no huge names in the cache


@lru_cache(maxsize=4096)
def _misspelled(name: str) -> str | None:
    if name in KNOWN or name.casefold().startswith(METADATA_PREFIXES):
        return None
    return _nearest_known(_folded(name))


def _nearest_known(folded: str) -> str | None:
    best: tuple[int, str] | None = None
    for known_folded, known in _KNOWN_FOLDED:
        limit = 1 if min(len(folded), len(known_folded)) <= 5 else 2
        distance = edit_distance(folded, known_folded, limit)
        if distance <= limit and (best is None or distance < best[0]):
            best = (distance, known)
    return best[1] if best else None
