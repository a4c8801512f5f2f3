"""Why a transcript's media could not be used: Twilio's error codes for media, and what each means here.

Twilio's error dictionary (twilio.com/docs/api/errors/NNNNN, read 2026-11-24) documents these media codes:

- 95005 "Invalid media url" and 95006 "Media url is empty": create-time refusals (400), `mock_server/_model/_channel`.
- 95104 "Invalid media type": the body is not WAV, MP3 or FLAC audio; the transcript is marked failed.
- 17550 "Invalid media URL": "can't resolve the media URL" (DNS fails, host does not exist).
- 17551 "Failed to download audio file": timed out, connection reset or refused, or the host answered a server error.
- 17552 "Failed to download media file: not found": the media URL answered 404.
- 17553 "Failed to download media file: unauthorized": 401 or 403 — "a pre-signed URL expired".

(Older Voice Intelligence pages give 95105/95110/95111 for the same three download failures; the 175xx pages are the
current ones.) Twilio documents no code for a body over the size limit or a redirect loop: the mock files those under
17551 and 17550 and says in the message what happened. A `source_sid` naming no Recording in the account's store is
20404 (Twilio's generic "resource not found"). Codes for audio that is too short, silent or below 8 kHz come from the
analyser (`MediaRejected.code`).
"""

from __future__ import annotations

from typing import Final

INVALID_MEDIA_URL: Final = 17550  # documented: the media URL cannot be resolved
DOWNLOAD_FAILED: Final = 17551  # documented: timeout, reset, server error
MEDIA_NOT_FOUND: Final = 17552  # documented: the media URL answered 404
MEDIA_UNAUTHORIZED: Final = 17553  # documented: 401/403, e.g. an expired pre-signed URL
INVALID_MEDIA_TYPE: Final = 95104  # documented: not WAV (PCM), MP3 or FLAC
RECORDING_NOT_FOUND: Final = 20404  # Twilio's generic not-found: no such Recording in this account

# code → (documented by Twilio?, what the mock uses it for); the README lists the same table.
CODES: Final[dict[int, tuple[bool, str]]] = {
    95005: (True, "create: media_url is not an http/https URL with a host"),
    95006: (True, "create: neither media_url nor source_sid"),
    INVALID_MEDIA_URL: (True, "fetch: the host cannot be resolved; also a bad redirect (undocumented for that)"),
    DOWNLOAD_FAILED: (True, "fetch: timeout, reset, refused, 5xx or other non-200; also too large (undocumented)"),
    MEDIA_NOT_FOUND: (True, "fetch: HTTP 404"),
    MEDIA_UNAUTHORIZED: (True, "fetch: HTTP 401 or 403 (an expired pre-signed URL)"),
    INVALID_MEDIA_TYPE: (True, "analysis: not audio, or not WAV/MP3/FLAC"),
    RECORDING_NOT_FOUND: (True, "source_sid: no such Recording in the account's recordings store"),
}

_TITLES: Final = {
    INVALID_MEDIA_URL: "Invalid media URL",
    DOWNLOAD_FAILED: "Failed to download audio file",
    MEDIA_NOT_FOUND: "Failed to download media file: not found",
    MEDIA_UNAUTHORIZED: "Failed to download media file: unauthorized",
}


class MediaFailure(Exception):
    """The media could not be fetched or used: the transcript fails with `code` and `message` in the alert log."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(code, message)  # both in args: a failure in a worker process pickles back whole
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"MediaFailure({self.code}, {self.message!r})"


def fetch_failure(what: str, code: int = INVALID_MEDIA_URL) -> MediaFailure:
    """`code` (a 1755x download code) with Twilio's title and what went wrong (never the URL's query)."""
    return MediaFailure(code, f"{_TITLES.get(code, 'Invalid media URL')}: {what}")


def status_failure(status: int, what: str) -> MediaFailure:
    """The download code for an HTTP answer that is not 200, as Twilio's error pages assign them."""
    code = MEDIA_UNAUTHORIZED if status in (401, 403) else MEDIA_NOT_FOUND if status == 404 else DOWNLOAD_FAILED
    return fetch_failure(what, code)


__all__ = [
    "CODES",
    "DOWNLOAD_FAILED",
    "INVALID_MEDIA_TYPE",
    "INVALID_MEDIA_URL",
    "MEDIA_NOT_FOUND",
    "MEDIA_UNAUTHORIZED",
    "RECORDING_NOT_FOUND",
    "MediaFailure",
    "fetch_failure",
    "status_failure",
]
