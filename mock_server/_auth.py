"""HTTP Basic credentials as Twilio takes them: account SID + auth token, or API key SID (SK…) + secret.

Only the parsing lives here; the registry compares secrets (in constant time) and says which account and which
permissions a pair stands for. Parsed headers are cached by their exact text, because a load test sends the same
header thousands of times a second and base64 + split is the bulk of the per-request auth cost; the cache holds
parsed pairs, never a verdict, so a deleted account or key is refused at once.
"""

from __future__ import annotations

import binascii
from base64 import b64decode

from mock_server._errors import authenticate

_CACHE_LIMIT = 1024
_cache: dict[str, tuple[str, str]] = {}


def basic_credentials(header: str | None) -> tuple[str, str]:
    """(username, password) from an `Authorization: Basic …` header; ApiError 401/20003 when absent or malformed."""
    if header is None:
        raise authenticate()
    pair = _cache.get(header)
    if pair is not None:
        return pair
    pair = _parse(header)
    if len(_cache) >= _CACHE_LIMIT:
        _cache.clear()  # a crude bound: distinct credentials are few, so this only triggers under fuzzing
    _cache[header] = pair
    return pair


def _parse(header: str) -> tuple[str, str]:
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic" or not encoded:
        raise authenticate()
    try:
        decoded = b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise authenticate() from None
    username, sep, password = decoded.partition(":")
    if not sep or not username:
        raise authenticate()
    return username, password
