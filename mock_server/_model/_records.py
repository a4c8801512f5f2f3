"""Stored resources. `__slots__` classes with compact fields: a million transcripts must fit in ≤ 2 GB."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from mock_server._config import LifecycleConfig

if TYPE_CHECKING:
    from mock_server._model._sentences import SentencePlan, SentenceSet

QUEUED, IN_PROGRESS, COMPLETED, FAILED = "queued", "in-progress", "completed", "failed"
FINAL = frozenset({COMPLETED, FAILED})


class ServiceRecord:
    __slots__ = (
        "_attached",
        "auto_redaction",
        "auto_transcribe",
        "created",
        "data_logging",
        "encryption_credential_sid",
        "friendly_name",
        "language_code",
        "media_redaction",
        "operator_sids",
        "sid",
        "unique_name",
        "updated",
        "version",
        "webhook_http_method",
        "webhook_url",
    )

    def __init__(self, sid: str, unique_name: str, created: float) -> None:
        self.sid = sid
        self.unique_name = unique_name
        self.friendly_name: str | None = None
        self.language_code = "en-US"
        self.auto_redaction = False
        self.media_redaction = False
        self.auto_transcribe = False
        self.data_logging = False
        self.webhook_url: str | None = None
        self.webhook_http_method = "POST"
        self.encryption_credential_sid: str | None = None
        self.operator_sids: list[str] = []
        self._attached: tuple[str, ...] = ()
        self.version = 1
        self.created = created
        self.updated = created

    def attached_operators(self) -> tuple[str, ...]:
        """`operator_sids` as a tuple shared by every transcript created while the attachments stay the same.

        A transcript keeps the operators attached when it was created; one shared tuple instead of one each saves
        56 bytes a transcript and a garbage-collector-tracked object per create.
        """
        current = tuple(self.operator_sids)
        if current != self._attached:
            self._attached = current
        return self._attached


class SegmentInfo(Protocol):
    """Where speech is on one channel (`mock_server._media.Segment`): media channel 1 or 2, seconds, level."""

    @property
    def channel(self) -> int: ...
    @property
    def start_s(self) -> float: ...
    @property
    def end_s(self) -> float: ...
    @property
    def level_db(self) -> float: ...


class MediaInfo(Protocol):
    """What the mock heard in a transcript's media (`mock_server._media.MediaAnalysis`), as the model reads it."""

    @property
    def format(self) -> str: ...
    @property
    def sample_rate(self) -> int: ...
    @property
    def channels(self) -> int: ...
    @property
    def duration_s(self) -> float: ...
    @property
    def segments(self) -> Sequence[SegmentInfo]: ...


class TranscriptRecord:
    """One transcript. Status moves forward only: queued → in-progress → completed | failed.

    With media fetching on, a new transcript is `media_pending` (queued, nothing scheduled) until the media pipeline
    reports: then `analysis` holds what was heard in the audio, `media_path` the original bytes on disk and
    `media_sha256` their hash (or the transcript fails), and the lifecycle delay runs from that moment. When it
    completes, `sentences` keeps what the analysed media says (`_sentences.py`); None for invented sentences.
    """

    __slots__ = (
        "analysis",
        "channel",
        "created",
        "customer_key",
        "deleted",
        "due",
        "duration",
        "encryption_credential_sid",
        "language_code",
        "media_path",
        "media_pending",
        "media_redaction",
        "media_sha256",
        "media_start_time",
        "operator_sids",
        "polls",
        "prepared",
        "redaction",
        "roles",
        "sentences",
        "service_sid",
        "sid",
        "source_sid",
        "started",
        "status",
        "updated",
        "will_fail",
    )

    def __init__(
        self,
        sid: str,
        service: ServiceRecord,
        channel: str,
        customer_key: str | None,
        media_start_time: float | None,
        source_sid: str | None,
        roles: tuple[str, str],
        created: float,
    ) -> None:
        self.sid = sid
        self.service_sid = service.sid
        self.channel = channel
        self.customer_key = customer_key
        self.media_start_time = media_start_time
        self.source_sid = source_sid
        self.roles = roles
        self.language_code = service.language_code
        self.redaction = service.auto_redaction
        self.media_redaction = service.media_redaction  # as for `redaction`: the Service's setting at creation
        self.encryption_credential_sid = service.encryption_credential_sid
        self.operator_sids = service.attached_operators()
        self.status = QUEUED
        self.created = created
        self.updated = created
        self.started = created  # when it turns in-progress (after_seconds)
        self.due = created  # when it completes (after_seconds)
        self.polls = 0
        self.duration = 0
        self.will_fail = False
        self.deleted = False
        self.media_pending = False  # the media pipeline has not reported yet
        self.analysis: MediaInfo | None = None  # set when the media was fetched and analysed
        self.media_path: str | None = None  # the fetched media, kept for the Media subresource
        self.media_sha256: str | None = None  # hex SHA-256 of the media bytes: finds its script, seeds its words
        self.sentences: SentenceSet | None = None  # built once at completion from the analysis
        # What the media pipeline's worker built ahead of completion, with the plan it followed (`_sentences.py`).
        self.prepared: tuple[SentencePlan, SentenceSet] | None = None


class AlertRecord:
    """One entry of an account's alert log (Twilio's Debugger: Monitor → Errors), e.g. a media fetch failure."""

    __slots__ = ("code", "created", "customer_key", "media_url", "message", "source_sid", "transcript_sid")

    def __init__(
        self,
        code: int,
        message: str,
        transcript_sid: str,
        customer_key: str | None,
        media_url: str | None,
        source_sid: str | None,
        created: float,
    ) -> None:
        self.code = code
        self.message = message
        self.transcript_sid = transcript_sid
        self.customer_key = customer_key
        self.media_url = media_url  # scrubbed: no query, fragment or userinfo
        self.source_sid = source_sid
        self.created = created


class CustomOperatorRecord:
    __slots__ = ("config", "created", "friendly_name", "operator_type", "sid", "updated", "version")

    def __init__(self, sid: str, friendly_name: str, operator_type: str, config: object, created: float) -> None:
        self.sid = sid
        self.friendly_name = friendly_name
        self.operator_type = operator_type
        self.config = config
        self.version = 1
        self.created = created
        self.updated = created


__all__ = [
    "COMPLETED",
    "FAILED",
    "FINAL",
    "IN_PROGRESS",
    "QUEUED",
    "AlertRecord",
    "CustomOperatorRecord",
    "LifecycleConfig",
    "MediaInfo",
    "SegmentInfo",
    "ServiceRecord",
    "TranscriptRecord",
]
