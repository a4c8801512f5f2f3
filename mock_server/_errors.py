"""Twilio's error body, as one exception type the whole mock raises.

Every refusal the mock makes — a bad parameter, bad credentials, a missing permission, a 429 — is an `ApiError`;
the HTTP layer turns it into Twilio's JSON error body (`code`, `message`, `more_info`, `status`) and never into an
HTML page or a 500. The body deliberately has no `type`/`title` pair: twilio-python would read that as RFC 9457
and raise a different exception class than it does against the real service.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MORE_INFO = "https://www.twilio.com/docs/errors/{code}"


class ApiError(Exception):
    """A refusal with Twilio's error code, message and HTTP status."""

    def __init__(self, status: int, code: int, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers: dict[str, str] = dict(headers or {})

    def body(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "more_info": MORE_INFO.format(code=self.code),
            "status": self.status,
        }

    def __repr__(self) -> str:
        return f"ApiError({self.status}, {self.code}, {self.message!r})"


def _show(value: object) -> str:
    text = str(value)
    # Keep messages readable even when a fuzzer sends a megabyte: name the value, don't echo all of it.
    return text if len(text) <= 200 else text[:200] + "…"


def invalid_parameter(name: str, value: object, reason: str = "") -> ApiError:
    """400 / 20001, naming the parameter and the value, as Twilio does."""
    suffix = f": {reason}" if reason else ""
    return ApiError(400, 20001, f"Invalid {name}: '{_show(value)}'{suffix}")


def missing_parameter(name: str) -> ApiError:
    return ApiError(400, 20001, f"Missing required parameter {name} in the post body")


def not_found(path: str) -> ApiError:
    return ApiError(404, 20404, f"The requested resource {_show(path)} was not found")


def method_not_allowed(method: str, path: str) -> ApiError:
    return ApiError(405, 20004, f"Method {_show(method)} not allowed on {_show(path)}")


def authenticate() -> ApiError:
    return ApiError(401, 20003, "Authenticate", {"WWW-Authenticate": 'Basic realm="Twilio API"'})


def permission_missing(permission: str) -> ApiError:
    return ApiError(401, 70051, f"Authorization Error: required permission {permission} is missing")


def too_many_requests(headers: Mapping[str, str] | None = None) -> ApiError:
    return ApiError(429, 20429, "Too Many Requests", headers)


def precondition_failed(etag: str) -> ApiError:
    return ApiError(412, 20412, f"Precondition Failed: resource version is {etag}")


def conflict(message: str) -> ApiError:
    return ApiError(409, 20409, message)


def internal_error() -> ApiError:
    """What a seeded 5xx fault answers (the real service's transient failures look like this)."""
    return ApiError(500, 20500, "Internal Server Error")
