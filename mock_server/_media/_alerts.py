"""Why a transcript's media could not be used: Twilio's error codes for media, and what each means here.

Twilio's error dictionary (twilio.com/docs/api/errors/NNNNN; twilio-wire.md §5.1) documents these media codes:

- 95005 "Invalid media url" and 95006 "Media url is empty": create-time refusals (400), `mock_server/_model/_channel`.
- 95104 "Invalid media type": the body is not WAV, MP3 or FLAC audio; the transcript is marked failed.
- 17550 "Invalid media URL": "can't resolve the media URL" (DNS fails, host does not exist); marked failed.

Twilio documents no code for an HTTP 403/404/other non-2xx answer, a timeout, an oversized body or too many
redirects (third parties cite 951xx codes that the dictionary does not confirm), so the mock files every download
failure under 17550, the documented umbrella for "the media URL did not give us media", and says in the message what
happened. A `source_sid` naming no Recording in the account's store is 20404 (Twilio's generic "resource not found").
Codes for audio that is too short, silent or below 8 kHz come from the analyser (`MediaRejected.code`).
"""

from __future__ import annotations

from typing import Final

INVALID_MEDIA_URL: Final = 17550  # documented: the media URL cannot be resolved / fetched
INVALID_MEDIA_TYPE: Final = 95104  # documented: not WAV (PCM), MP3 or FLAC
RECORDING_NOT_FOUND: Final = 20404  # Twilio's generic not-found: no such Recording in this account

# code → (documented by Twilio?, what the mock uses it for); README-fetch.md lists the same table.
CODES: Final[dict[int, tuple[bool, str]]] = {
    95005: (True, "create: media_url is not an http/https URL with a host"),
    95006: (True, "create: neither media_url nor source_sid"),
    INVALID_MEDIA_URL: (
        True,
        "fetch: DNS/connection failure; also 403, 404, other non-2xx, timeout, too large, "
        "too many redirects (Twilio documents no code for these)",
    ),
    INVALID_MEDIA_TYPE: (True, "analysis: not audio, or not WAV/MP3/FLAC"),
    RECORDING_NOT_FOUND: (True, "source_sid: no such Recording in the account's recordings store"),
}


class MediaFailure(Exception):
    """The media could not be fetched or used: the transcript fails with `code` and `message` in the alert log."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __repr__(self) -> str:
        return f"MediaFailure({self.code}, {self.message!r})"


def fetch_failure(what: str) -> MediaFailure:
    """17550 with a message saying what went wrong (never the URL's query: it may be a signature)."""
    return MediaFailure(INVALID_MEDIA_URL, f"Invalid media URL: {what}")


__all__ = ["CODES", "INVALID_MEDIA_TYPE", "INVALID_MEDIA_URL", "RECORDING_NOT_FOUND", "MediaFailure", "fetch_failure"]
