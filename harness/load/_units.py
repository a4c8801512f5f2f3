"""Reading rates ("200/s", "12000/m"), durations ("60s", "2m", "500ms") and the operation mix from text.

Each parser raises `ValueError` with a message that quotes the text; the callers add where it came from (the flag,
or the TOML file and key).
"""

from __future__ import annotations

import math
import re

OPERATIONS = ("create", "fetch", "sentences", "operator_results")
OPERATION_HELP = {
    "create": "POST /v2/Transcripts (create a transcript)",
    "fetch": "GET /v2/Transcripts/{sid} (fetch a transcript)",
    "sentences": "GET /v2/Transcripts/{sid}/Sentences (list sentences, first page)",
    "operator_results": "GET /v2/Transcripts/{sid}/OperatorResults (list operator results)",
}
_NUMBER = r"(\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_RATE = re.compile(rf"^\s*({_NUMBER})\s*(?:/\s*(s|sec|second|m|min|minute|h|hour))?\s*$", re.IGNORECASE)
_DURATION = re.compile(rf"^\s*({_NUMBER})\s*(ms|s|sec|m|min|h)?\s*$", re.IGNORECASE)
_PER_SECOND = {"s": 1.0, "sec": 1.0, "second": 1.0, "m": 60.0, "min": 60.0, "minute": 60.0, "h": 3600.0, "hour": 3600.0}
_SECONDS = {"ms": 0.001, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}


def parse_rate(text: str | float) -> float:
    """Arrivals per second from "200/s", "12000/m", "50/h" or a bare number (per second)."""
    if isinstance(text, bool):
        raise ValueError(f"{text!r} is not a rate (like 200/s)")
    if isinstance(text, int | float):
        value = float(text)
    else:
        match = _RATE.match(text)
        if not match:
            raise ValueError(f"{text!r} is not a rate (like 200/s, 12000/m)")
        value = float(match.group(1)) / _PER_SECOND[(match.group(3) or "s").lower()]
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{text!r} is not a rate of zero or more")
    return value


def parse_duration(text: str | float) -> float:
    """Seconds from "60s", "2m", "1h", "500ms" or a bare number (seconds)."""
    if isinstance(text, bool):
        raise ValueError(f"{text!r} is not a duration (like 60s)")
    if isinstance(text, int | float):
        value = float(text)
    else:
        match = _DURATION.match(text)
        if not match:
            raise ValueError(f"{text!r} is not a duration (like 60s, 2m, 500ms)")
        value = float(match.group(1)) * _SECONDS[(match.group(3) or "s").lower()]
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{text!r} is not a duration of zero or more")
    return value


def parse_mix(text: str | dict[str, object]) -> dict[str, float]:
    """Weights per operation from "create=5,fetch=3" (or a TOML table); unnamed operations get weight 0."""
    if isinstance(text, dict):
        pairs: list[tuple[str, object]] = [(str(k), v) for k, v in text.items()]
    else:
        pairs = []  # the same (name, weight) pairs, from text
        for part in (p.strip() for p in text.split(",")):
            if not part:
                continue
            name, sep, given = part.partition("=")
            if not sep:
                raise ValueError(f"mix entry {part!r} is not NAME=WEIGHT (like create=5)")
            pairs.append((name.strip(), given.strip()))
    weights: dict[str, float] = {}
    for name, raw in pairs:
        if name not in OPERATIONS:
            raise ValueError(f"mix: unknown operation {name!r}; known: {', '.join(OPERATIONS)}")
        if name in weights:
            raise ValueError(f"mix: {name!r} is given twice")
        try:
            weight = float(raw) if isinstance(raw, int | float | str) and not isinstance(raw, bool) else math.nan
        except ValueError:
            weight = math.nan
        if not math.isfinite(weight) or weight < 0:
            raise ValueError(f"mix: weight of {name!r} must be a number ≥ 0, got {raw!r}")
        weights[name] = weight
    if not any(weights.values()):
        raise ValueError("mix: at least one operation needs a weight above 0")
    return {name: weights.get(name, 0.0) for name in OPERATIONS}


def format_mix(weights: dict[str, float]) -> str:
    return ",".join(f"{name}={weight:g}" for name, weight in weights.items() if weight)
