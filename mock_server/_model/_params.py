"""Request parameters, operation results and callback events: the domain model's inputs and outputs.

Parameters arrive as (name, value) pairs — form fields or query arguments, repeated names kept — and every
accessor that can refuse a value raises Twilio's 400 / 20001 naming the parameter and the value, so no handler has
to know how to word an error.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, ClassVar

from mock_server._errors import ApiError, invalid_parameter, missing_parameter


class Params:
    """Multi-valued request parameters; the last value wins where one is expected (as Twilio's stack does)."""

    __slots__ = ("_values",)

    def __init__(self, values: dict[str, list[str]] | None = None) -> None:
        self._values: dict[str, list[str]] = values if values is not None else {}

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, str]]) -> Params:
        values: dict[str, list[str]] = {}
        for name, value in pairs:
            values.setdefault(name, []).append(value)
        return cls(values)

    def __contains__(self, name: object) -> bool:
        return name in self._values

    def names(self) -> list[str]:
        return list(self._values)

    def get(self, name: str) -> str | None:
        values = self._values.get(name)
        return values[-1] if values else None

    def getall(self, name: str) -> list[str]:
        return list(self._values.get(name, ()))

    def required(self, name: str) -> str:
        value = self.get(name)
        if value is None or value == "":
            raise missing_parameter(name)
        return value

    def bool(self, name: str, default: bool | None) -> bool | None:
        value = self.get(name)
        if value is None:
            return default
        lowered = value.lower()
        if lowered == "true":
            return True
        if lowered == "false":
            return False
        raise invalid_parameter(name, value, "must be true or false")

    def int(self, name: str, default: int, *, low: int, high: int) -> int:
        """An integer parameter in `[low, high]`: ASCII digits with an optional minus sign, nothing else.

        Python's `int()` would also take `٣`, `１０`, `5_0` and surrounding spaces; Twilio takes none of them.
        """
        value = self.get(name)
        if value is None:
            return default
        if _INTEGER.fullmatch(value) is None:
            raise invalid_parameter(name, value, "must be an integer")
        # Too many digits to be in range (and int() refuses > 4300 digits): compare lengths, not values.
        number = int(value, 10) if len(value) <= 19 else (-1 if value.startswith("-") else 1) * 10**19
        if not low <= number <= high:
            raise invalid_parameter(name, value, f"must be between {low} and {high}")
        return number

    def datetime(self, name: str) -> float | None:
        """An ISO-8601 date-time parameter as epoch seconds (naive times are taken as UTC)."""
        value = self.get(name)
        if value is None or value == "":
            return None
        return parse_iso8601(name, value)


_INTEGER = re.compile(r"-?[0-9]+")  # [0-9], not \d: a str pattern's \d matches every Unicode digit
_ISO8601 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})"
    r"(?:[Tt ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:[.,]([0-9]{1,9}))?)?([Zz]|[+-][0-9]{2}:?[0-9]{2})?)?"
)
_RANGE = "between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z"


def parse_iso8601(name: str, value: str) -> float:
    """`YYYY-MM-DD[Thh:mm[:ss[.fff]][Z|±hh:mm]]` (ASCII digits; no offset means UTC) → epoch seconds.

    The instant must fall in years 1-9999 *in UTC*: `0001-01-01T00:00:00+23:59` is a real offset but an instant
    before year 1, and is refused rather than rendered as year 0. Digits beyond milliseconds are dropped, so every
    accepted instant renders back as the same UTC second.
    """
    match = _ISO8601.fullmatch(value)
    if match is None:
        raise invalid_parameter(name, value, "must be an ISO-8601 date-time such as 2024-05-01T13:45:00Z")
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    millis = int((fraction or "0")[:3].ljust(3, "0"))
    try:
        zone = UTC
        if offset and offset not in ("Z", "z"):
            hours, minutes = int(offset[1:3]), int(offset[-2:])
            if hours > 23 or minutes > 59:
                raise ValueError
            sign = -1 if offset[0] == "-" else 1
            zone = timezone(sign * timedelta(hours=hours, minutes=minutes))
        parsed = datetime(
            int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0), tzinfo=zone
        )
    except ValueError:
        raise invalid_parameter(name, value, "is not a valid date-time") from None
    try:
        utc = parsed.astimezone(UTC)  # OverflowError when the offset moves it out of years 1-9999
    except OverflowError:
        raise invalid_parameter(name, value, f"must be {_RANGE} in UTC") from None
    delta = utc - _EPOCH
    return delta.days * 86_400 + delta.seconds + millis / 1000


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Result:
    """What an operation answers: HTTP status, JSON body (None for 204) and extra headers (ETag)."""

    status: int
    body: dict[str, Any] | None
    headers: dict[str, str] = field(default_factory=dict)
    encoded: ClassVar[bytes | None] = None  # the HTTP layer encodes `body`


class EncodedResult:
    """An answer whose JSON text the operation wrote itself (create and fetch transcript, the request path's hottest
    bodies: no dict is built only to be encoded). `body` parses the text back, for callers that want the dict."""

    __slots__ = ("encoded", "headers", "status")

    def __init__(self, status: int, encoded: bytes) -> None:
        self.status = status
        self.encoded = encoded
        self.headers: dict[str, str] = {}

    @property
    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = json.loads(self.encoded)
        return body

    def __repr__(self) -> str:
        return f"EncodedResult({self.status}, {self.encoded!r})"


@dataclass(frozen=True, slots=True)
class CallbackEvent:
    """A completion webhook to send: where, how, signed with which token, and the JSON body."""

    account_sid: str
    url: str
    method: str
    auth_token: str = field(repr=False)
    body: dict[str, Any] = field(default_factory=dict)


__all__ = ["ApiError", "CallbackEvent", "EncodedResult", "Params", "Result", "parse_iso8601"]
