"""One exception tree for everything the client can refuse or fail at.

    CintelError
    ├── ConfigurationError        bad or missing credentials / base URL — raised before any request
    ├── TransportError            the request never got an HTTP answer and it is known not to have been processed
    ├── OutcomeUnknown            a create was sent but its answer was lost (timeout, reset): it may exist;
    │                             carries what is needed to reconcile by CustomerKey — never retried blindly
    ├── RetryBudgetExhausted      the retry budget is spent: the service is failing, stop hammering it
    ├── AccountBlocked            the batch runner stopped: the account (credentials, permissions, service) refuses
    │                             every request alike — nothing is marked failed; fix it and run again (exit 4)
    ├── ApiUnreachable            the batch runner stopped: no answer from the API for too long (exit 3, resumable)
    └── TwilioApiError            Twilio answered with an error (status, code, message, more_info)
        ├── BadRequest            400 (20001 invalid parameter, …)
        ├── Unauthorized          401 (20003 bad credentials, 70051 restricted key lacks a permission)
        ├── Forbidden             403
        ├── NotFound              404 (20404)
        ├── Conflict              409 / 412
        ├── RateLimited           429 (20429: not processed, safe to retry) — `retry_after` when sent
        └── ServerError           5xx
A non-JSON error body (a proxy's HTML page, say) still becomes the `TwilioApiError` for its status, with the
start of the body as its message.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


class CintelError(Exception):
    """Base of every error the harness raises on purpose."""


class ConfigurationError(CintelError):
    """Missing or malformed credentials or base URL; raised when the client is made, before any request."""


class TransportError(CintelError):
    """No answer, and the request is known not to have been processed (e.g. the connection was refused)."""

    def __init__(self, message: str, *, method: str, url: str) -> None:
        super().__init__(message)
        self.method = method
        self.url = url


class OutcomeUnknown(CintelError):
    """A non-idempotent request was sent but no answer arrived: the resource may or may not exist."""

    def __init__(
        self, message: str, *, method: str, url: str, params: Mapping[str, str], customer_key: str | None
    ) -> None:
        super().__init__(message)
        self.method = method
        self.url = url
        self.params = dict(params)
        self.customer_key = customer_key


class RetryBudgetExhausted(CintelError):
    """The retry budget is spent: the service keeps failing, so this request fails fast (`last_error` says why)."""

    def __init__(self, message: str, *, last_error: BaseException | None) -> None:
        super().__init__(message)
        self.last_error = last_error


class AccountBlocked(CintelError):
    """The account refuses the batch as a whole: bad credentials (20003), a key without a permission (70051),
    a suspended account (20403) or an unknown service (20404). `cause` is the Twilio error, `hint` what to do."""

    def __init__(self, message: str, *, cause: TwilioApiError, hint: str) -> None:
        super().__init__(message)
        self.cause = cause
        self.hint = hint


class ApiUnreachable(CintelError):
    """No answer from the API for longer than the runner's bound (or at start): resumable, run the command again."""

    hint = "nothing is lost: run the same command again to resume once the API answers (nothing is sent twice)"

    def __init__(self, message: str, *, unreachable_s: float) -> None:
        super().__init__(message)
        self.unreachable_s = unreachable_s


class TwilioApiError(CintelError):
    """Twilio answered with an error: `status`, `code` (e.g. 20404), `message`, `more_info`, `method`, `url`."""

    status: int = 0

    def __init__(self, status: int, code: int | None, message: str, more_info: str | None, *, method: str, url: str):
        super().__init__(f"HTTP {status}" + (f" / {code}" if code else "") + f": {message}")
        self.status = status
        self.code = code
        self.message = message
        self.more_info = more_info
        self.method = method
        self.url = url


class BadRequest(TwilioApiError):
    """400: an invalid or missing parameter (20001)."""


class Unauthorized(TwilioApiError):
    """401: bad credentials (20003), or a restricted key lacking a permission (70051)."""


class Forbidden(TwilioApiError):
    """403: the account may not do this (20403)."""


class NotFound(TwilioApiError):
    """404: no such resource (20404)."""


class Conflict(TwilioApiError):
    """409 / 412: a conflicting state or a stale If-Match."""


class RateLimited(TwilioApiError):
    """429 / 20429: too many concurrent requests; not processed, safe to retry (`retry_after` when sent)."""

    def __init__(self, *args: Any, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.retry_after = retry_after


class ServerError(TwilioApiError):
    """5xx: the service failed; for a create the outcome is unknown (the client raises OutcomeUnknown)."""


_BY_STATUS: dict[int, type[TwilioApiError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    412: Conflict,
    429: RateLimited,
}


def retry_after_seconds(value: str | None) -> float | None:
    """`Retry-After` as seconds (the delta-seconds form; an HTTP date is not something Twilio sends)."""
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def error_from_response(
    status: int, body: bytes, headers: Mapping[str, str], *, method: str, url: str
) -> TwilioApiError:
    code: int | None = None
    more_info: str | None = None
    message = ""
    try:
        parsed = json.loads(body) if body else None
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        raw_code = parsed.get("code")
        code = raw_code if isinstance(raw_code, int) else None
        message = str(parsed.get("message") or "")
        more_info = parsed.get("more_info") if isinstance(parsed.get("more_info"), str) else None
    if not message:
        text = body[:200].decode("utf-8", "replace").strip()
        message = f"non-JSON error body: {text}" if text else "empty error body"
    cls = _BY_STATUS.get(status) or (ServerError if status >= 500 else TwilioApiError)
    if cls is RateLimited:
        return RateLimited(
            status, code, message, more_info, method=method, url=url,
            retry_after=retry_after_seconds(headers.get("Retry-After")),
        )  # fmt: skip
    return cls(status, code, message, more_info, method=method, url=url)
