"""Twilio SIDs: a two-letter prefix and 32 lowercase hex digits, drawn from the app's seeded generator."""

from __future__ import annotations

import random
import re

SID_PATTERN = re.compile(r"^[A-Z]{2}[0-9a-f]{32}$")


def is_sid(value: str, prefix: str) -> bool:
    return len(value) == 34 and value.startswith(prefix) and SID_PATTERN.match(value) is not None


class SidFactory:
    """Makes SIDs from one seeded `random.Random`, so the same seed and requests give the same SIDs."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng

    def new(self, prefix: str) -> str:
        if len(prefix) != 2 or not prefix.isupper():
            raise ValueError(f"SID prefix must be two capital letters, got {prefix!r}")
        return f"{prefix}{self._rng.getrandbits(128):032x}"
