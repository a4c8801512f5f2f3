"""Request parameters, operation results and callback events: the domain model's inputs and outputs.

Parameters arrive as (name, value) pairs — form fields or query arguments, repeated names kept — and every
accessor that can refuse a value raises Twilio's 400 / 20001 naming the parameter and the value, so no handler has
to know how to word an error.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

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
        value = self.get(name)
        if value is None:
            return default
        try:
            number = int(value, 10)
        except ValueError:
            raise invalid_parameter(name, value, "must be an integer") from None
        if not low <= number <= high:
            raise invalid_parameter(name, value, f"must be between {low} and {high}")
        return number

    def datetime(self, name: str) -> float | None:
        """An ISO-8601 date-time parameter as epoch seconds (naive times are taken as UTC)."""
        value = self.get(name)
        if value is None or value == "":
            return None
        return parse_iso8601(name, value)


def parse_iso8601(name: str, value: str) -> float:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
    except ValueError:
        raise invalid_parameter(name, value, "must be an ISO-8601 date-time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


@dataclass(frozen=True, slots=True)
class Result:
    """What an operation answers: HTTP status, JSON body (None for 204) and extra headers (ETag)."""

    status: int
    body: dict[str, Any] | None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CallbackEvent:
    """A completion webhook to send: where, how, signed with which token, and the JSON body."""

    account_sid: str
    url: str
    method: str
    auth_token: str = field(repr=False)
    body: dict[str, Any] = field(default_factory=dict)


__all__ = ["ApiError", "CallbackEvent", "Params", "Result", "parse_iso8601"]
