"""X-Twilio-Signature validation, as twilio-python's `RequestValidator` does it (twilio-wire.md §4).

    s = the full URL Twilio requested (+ for a form body: each name, then each of its values, names sorted,
        values sorted, concatenated without separators)
    signature = base64(HMAC-SHA1(auth_token, s))

For a JSON body, the URL carries `bodySHA256=<hex sha256 of the raw body>`: the hash is checked against the body,
and the URL alone is signed. Twilio's own signing is inconsistent about default ports, so the URL is tried as
given, with the default port added, and with it removed. Comparisons are constant-time; a signature or body hash
that is not ASCII (anything a client sends can arrive) simply does not match.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from urllib.parse import parse_qs, urlsplit, urlunsplit


def compute_signature(url: str, params: Mapping[str, Sequence[str]] | None, auth_token: str) -> str:
    text = url
    for name in sorted(params or {}):
        for value in sorted(set((params or {})[name])):
            text += name + value
    mac = hmac.new(auth_token.encode(), text.encode(), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode()


def _url_variants(url: str) -> list[str]:
    parts = urlsplit(url)
    default = {"https": 443, "http": 80}.get(parts.scheme)
    host = parts.hostname or ""
    bare = urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    with_port = urlunsplit((parts.scheme, f"{host}:{parts.port or default}", parts.path, parts.query, parts.fragment))
    return list(dict.fromkeys([url, bare, with_port]))


def signs_body(url: str) -> bool:
    """True for the JSON variant: the URL carries `bodySHA256`, so the raw body can be checked before it is parsed."""
    return "bodySHA256" in parse_qs(urlsplit(url).query, keep_blank_values=True)


def validate(
    url: str, signature: str | None, auth_token: str, *, form: Mapping[str, Sequence[str]] | None, body: bytes
) -> bool:
    """True when `signature` is Twilio's for this request (form params, or the raw body of a JSON request)."""
    if not signature or not signature.isascii():
        return False
    query = parse_qs(urlsplit(url).query, keep_blank_values=True)
    if "bodySHA256" in query:
        claimed = query["bodySHA256"][0]
        if not claimed.isascii() or not hmac.compare_digest(hashlib.sha256(body).hexdigest(), claimed):
            return False
        params: Mapping[str, Sequence[str]] | None = None
    else:
        params = form
    return any(
        hmac.compare_digest(compute_signature(candidate, params, auth_token), signature)
        for candidate in _url_variants(url)
    )
