"""Keeping credentials out of everything the harness writes.

Pre-signed media URLs carry their signature in the query string (S3's `X-Amz-Signature`, GCS's `Signature`,
Azure's `sig`): the query *is* a credential. Journals, results, rejects and logs therefore keep a URL's scheme,
host and path — enough to recognise the recording — and drop the query and fragment.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

REDACTED = "<redacted>"
_URL_QUERY = re.compile(r"(https?://[^\s?#\"'<>]+)[?#][^\s\"'<>]*")


def scrub_url(url: str) -> str:
    """`https://bucket.s3.amazonaws.com/a.wav?X-Amz-Signature=…` → `https://bucket.s3.amazonaws.com/a.wav?<redacted>`."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return scrub_text(url)
    if not parts.query and not parts.fragment:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"  # drops user:password@ too
    return urlunsplit((parts.scheme, host, parts.path, REDACTED, ""))


def scrub_text(text: str) -> str:
    """Every http(s) URL in free text loses its query and fragment."""
    return _URL_QUERY.sub(lambda m: f"{m.group(1)}?{REDACTED}", text)
