"""Signed downloads: what the Media and Encrypted subresources point at, as the model answers them. No I/O.

Every URL the mock hands out for a download lives under `/__mock__/media/{AccountSid}/{TranscriptSid}` and is signed
(HMAC over path and expiry, `Context.signed_url`); the signature is the only credential, as on Twilio's media links.
What the download serves is fixed by the signed path, so editing a URL (say, dropping `/redacted`) breaks its
signature (403) instead of reaching the other variant:

- `…/{GT}`: the media the transcript was made from — the original bytes (or, with media fetching off, a tone);
- `…/{GT}/redacted`: that media with the PII intervals silenced (PCM16 WAV), for `Redacted=true` on a transcript
  whose Service redacts media and whose media was heard;
- `…/{GT}/sentences/{redacted|unredacted}`: the Encrypted Sentences' `location`;
- `…/{GT}/operator_results/{LY}/{redacted|unredacted}`: one of the Encrypted OperatorResults' `locations`.

Twilio encrypts the last two with the public key of the Service's encryption credential; the mock cannot (it has no
key) and serves them as plain JSON, saying so in a header (`mock_server._media._serve_media`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from mock_server._media._pii import PiiSentence
from mock_server._model._params import Params
from mock_server._model._records import ServiceRecord, TranscriptRecord

if TYPE_CHECKING:
    from mock_server._model._transcripts import TranscriptOperations

ROOT = "/__mock__/media"
REDACTED, UNREDACTED = "redacted", "unredacted"
REDACTED_SUFFIX = ".redacted.wav"  # the redacted media is kept next to the original, under the same name


SpokenSentence = PiiSentence  # what the redacted media needs of a sentence: the PII detector's view of one


@dataclass(frozen=True, slots=True)
class RedactionJob:
    """Make (once) and serve `target`: the media at `source` with the PII the `sentences` name silenced."""

    transcript: TranscriptRecord
    source: str
    target: str
    sentences: tuple[SpokenSentence, ...]


# --- paths -----------------------------------------------------------------------------------------------------------


def which(redacted: bool) -> str:
    return REDACTED if redacted else UNREDACTED


def media_path(account_sid: str, transcript_sid: str) -> str:
    return f"{ROOT}/{account_sid}/{transcript_sid}"


def redacted_media_path(account_sid: str, transcript_sid: str) -> str:
    return f"{ROOT}/{account_sid}/{transcript_sid}/redacted"


def sentences_path(account_sid: str, transcript_sid: str, variant: str) -> str:
    return f"{ROOT}/{account_sid}/{transcript_sid}/sentences/{variant}"


def operator_result_path(account_sid: str, transcript_sid: str, operator_sid: str, variant: str) -> str:
    return f"{ROOT}/{account_sid}/{transcript_sid}/operator_results/{operator_sid}/{variant}"


def redacted_file(original: str) -> str:
    """Where the redacted media of the media file `original` is kept."""
    return original + REDACTED_SUFFIX


def media_files(original: str) -> tuple[str, str]:
    """Every file a transcript's media may leave on disk: the original and its redacted copy (remove both)."""
    return original, redacted_file(original)


def discard_media_files(discard: Callable[[str], None]) -> Callable[[str], None]:
    """`discard` (which removes one file) made to remove every file of a transcript's media, given the original."""

    def discard_all(original: str) -> None:
        for path in media_files(original):
            discard(path)

    return discard_all


# --- decisions -------------------------------------------------------------------------------------------------------


def redacts_media(services: Mapping[str, ServiceRecord], t: TranscriptRecord) -> bool:
    """Whether `Redacted=true` gets silenced media: the transcript was redacted (AutoRedaction when it was created),
    its Service redacts media, and the media was heard (with fetching off there is nothing to silence).

    The record keeps `redaction` and `media_redaction` from creation time, as Twilio applies the Service's settings
    when the transcript is made: changing the Service later does not change what an existing transcript serves.
    """
    if not t.redaction or t.analysis is None or t.media_path is None:
        return False
    return bool(t.media_redaction)


# --- content ---------------------------------------------------------------------------------------------------------


def transcript_sentences(account: TranscriptOperations, t: TranscriptRecord) -> tuple[SpokenSentence, ...]:
    """The completed transcript's sentences, unredacted, exactly as `list_sentences` reads them (`_sentences.py`:
    kept on the record from the audio, or invented when nothing was heard), with their words' timestamps."""
    return tuple(account.sentences_of(t))


def all_sentences(account: TranscriptOperations, transcript_sid: str, redacted: bool) -> list[dict[str, Any]]:
    """Every sentence exactly as `ListSentence` renders it (with word timestamps), walking its pages."""
    params = Params.from_pairs(
        [("Redacted", "true" if redacted else "false"), ("WordTimestamps", "true"), ("PageSize", "5000")]
    )
    out: list[dict[str, Any]] = []
    while True:
        body = account.list_sentences(transcript_sid, params).body
        assert isinstance(body, dict)
        out.extend(body["sentences"])
        next_url = body["meta"]["next_page_url"]
        if not next_url:
            return out
        params = Params.from_pairs(parse_qsl(urlsplit(next_url).query, keep_blank_values=True))


def operator_result(
    account: TranscriptOperations, transcript_sid: str, operator_sid: str, redacted: bool
) -> dict[str, Any]:
    """One operator result exactly as `FetchOperatorResult` renders it."""
    params = Params.from_pairs([("Redacted", "true" if redacted else "false")])
    body = account.fetch_operator_result(transcript_sid, operator_sid, params).body
    assert isinstance(body, dict)
    return body


__all__ = [
    "REDACTED",
    "ROOT",
    "UNREDACTED",
    "RedactionJob",
    "SpokenSentence",
    "all_sentences",
    "discard_media_files",
    "media_files",
    "media_path",
    "operator_result",
    "operator_result_path",
    "redacted_file",
    "redacted_media_path",
    "redacts_media",
    "sentences_path",
    "transcript_sentences",
    "which",
]
