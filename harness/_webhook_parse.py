"""Reading a completion callback's fields: strictly, from raw bytes, and no further than the receiver needs.

Every function raises `Refused(status, reason)` for input the client got wrong, and nothing else for any input; the
receiver answers the refusal as it is. The reasons are fixed text, never an echo of the input, so they are safe to
log and to send back.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from urllib.parse import unquote_to_bytes

__all__ = [
    "MAX_FIELDS", "Refused", "callback_fields", "form_params", "last_values", "media_type", "parse_body",
    "parse_form", "parse_json_object",
]  # fmt: skip

MAX_FIELDS = 100  # a Twilio callback has a handful; more is someone else's traffic
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
_UTF8 = (None, "utf-8", "utf8")
_TRANSCRIPT_SID = re.compile(r"GT[0-9a-f]{32}")


class Refused(Exception):
    """A request the receiver turns down: `status` (4xx) and a short fixed `reason`."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status} {reason}")
        self.status = status
        self.reason = reason


def media_type(header: str | None) -> tuple[str, str | None]:
    """The lower-cased media type of a Content-Type header and its charset parameter (None when absent)."""
    if not header:
        return "", None
    mime, *params = header.split(";")
    charset = None
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"').strip().lower()
    return mime.strip().lower(), charset


def parse_form(raw: bytes) -> dict[str, list[str]]:
    """`application/x-www-form-urlencoded` as WHATWG defines it, but strict: the bytes are ASCII and every
    percent-decoded name and value is UTF-8; at most MAX_FIELDS fields."""
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        raise Refused(400, "a form body must be ASCII (percent-encoded UTF-8)") from None
    pairs = [pair for pair in text.split("&") if pair]
    if len(pairs) > MAX_FIELDS:
        raise Refused(400, "too many form fields")
    fields: dict[str, list[str]] = {}
    for pair in pairs:
        name, _, value = pair.partition("=")
        fields.setdefault(_unquote(name), []).append(_unquote(value))
    return fields


def _unquote(text: str) -> str:
    try:
        return unquote_to_bytes(text.replace("+", " ")).decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(400, "a form field is not percent-encoded UTF-8") from None


def parse_json_object(raw: bytes) -> dict[str, object]:
    """A JSON object from strict UTF-8 bytes (no BOM, no other encodings, no nesting past Python's recursion limit)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(400, "the JSON body is not UTF-8") from None
    try:
        value = json.loads(text)
    except RecursionError:
        raise Refused(400, "the JSON body is nested too deeply") from None
    except ValueError:
        raise Refused(400, "the body is not valid JSON") from None
    if not isinstance(value, dict):
        raise Refused(400, "the JSON body is not an object")
    return value


def parse_body(content_type: str | None, raw: bytes) -> dict[str, object]:
    """A body whose bytes are already authenticated: JSON or a form, UTF-8 only, by its Content-Type."""
    mime, charset = media_type(content_type)
    if charset not in _UTF8:
        raise Refused(400, "only UTF-8 bodies are accepted")
    if mime == JSON:
        return parse_json_object(raw)
    if mime == FORM:
        return last_values(parse_form(raw))
    raise Refused(400, "the body must be application/json or application/x-www-form-urlencoded")


def form_params(content_type: str | None, raw: bytes) -> dict[str, list[str]]:
    """The parameters of a form POST (the signature covers them), refusing every other body before parsing it."""
    mime, charset = media_type(content_type)
    if mime != FORM:
        raise Refused(400, "without bodySHA256 in the URL the body must be application/x-www-form-urlencoded")
    if charset not in _UTF8:
        raise Refused(400, "only UTF-8 forms are accepted")
    return parse_form(raw)


def last_values(params: Mapping[str, list[str]]) -> dict[str, object]:
    """One value per name, the last one given (as most frameworks read a repeated form field)."""
    return {name: values[-1] for name, values in params.items()}


def callback_fields(fields: Mapping[str, object]) -> tuple[str, str | None]:
    """(transcript_sid, customer_key) of a callback; a transcript_sid not shaped like GT + 32 hex digits is refused."""
    sid = fields.get("transcript_sid")
    if not isinstance(sid, str) or _TRANSCRIPT_SID.fullmatch(sid) is None:
        raise Refused(400, "no transcript_sid shaped like GT and 32 hex digits")
    key = fields.get("customer_key")
    return sid, key if isinstance(key, str) else None
