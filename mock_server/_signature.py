"""X-Twilio-Signature, computed exactly as twilio-python's `RequestValidator` checks it (twilio-wire.md §4).

Form variant: HMAC-SHA1 (key = auth token) over the full URL followed by every parameter name and value, names
sorted, each name's distinct values sorted, no separators; base64. JSON variant: the URL carries
`bodySHA256=<hex sha256 of the raw body>` and the signature covers that URL with no parameters.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from urllib.parse import urlencode, urlsplit, urlunsplit

__all__ = ["SIGNATURE_HEADER", "body_sha256", "compute_signature", "signed_json_request", "with_query"]

SIGNATURE_HEADER = "X-Twilio-Signature"


def compute_signature(url: str, params: Mapping[str, Sequence[str] | str] | None, auth_token: str) -> str:
    """The X-Twilio-Signature value for a request to `url` with form `params` (None or {} for none)."""
    text = url
    if params:
        parts = [text]
        for name in sorted(set(params)):
            values = params[name]
            # A bare string is one value (as in a plain dict given to RequestValidator), not a list of characters.
            distinct = {values} if isinstance(values, str) else set(values)
            for value in sorted(distinct):
                parts.append(name)
                parts.append(value)
        text = "".join(parts)
    mac = hmac.new(auth_token.encode("utf-8"), text.encode("utf-8"), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode("ascii")


def body_sha256(body: bytes) -> str:
    """Hex SHA-256 of the raw body, the value of the `bodySHA256` query parameter."""
    return hashlib.sha256(body).hexdigest()


def with_query(url: str, pairs: Sequence[tuple[str, str]]) -> str:
    """`url` with `pairs` appended to its query string (existing parameters kept, in order)."""
    if not pairs:
        return url
    scheme, netloc, path, query, fragment = urlsplit(url)
    extra = urlencode(list(pairs))
    query = f"{query}&{extra}" if query else extra
    return urlunsplit((scheme, netloc, path, query, fragment))


def signed_json_request(url: str, body: bytes, auth_token: str) -> tuple[str, str]:
    """(URL with `bodySHA256=` added, signature) for a JSON POST of exactly these `body` bytes."""
    signed_url = with_query(url, [("bodySHA256", body_sha256(body))])
    return signed_url, compute_signature(signed_url, None, auth_token)
