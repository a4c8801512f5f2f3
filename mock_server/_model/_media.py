"""Media in the domain model, mixed into `Account`: jobs for the media pipeline and what it reports back, the alert
log, and the recordings store.

With `media.fetch` on (the default), `create_transcript` answers 202 with the transcript `queued` and leaves a
`MediaJob` in the context's `media_jobs`; the HTTP side (`mock_server._media._pipeline`) fetches and analyses the
audio off the request path and calls back `media_started` → `media_ready` or `media_failed`. Only then does the
configured lifecycle delay start, so nothing completes from audio nobody heard. A failure makes the transcript
`failed` (the v2 resource has no error field, twilio-wire.md §5.1) and appends the code to the account's alert log,
which models Twilio's Debugger (Monitor → Errors).

Nothing here does I/O: the pipeline owns files and sockets, the model owns state.
"""

from __future__ import annotations

import json
import math
from collections import Counter, deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from mock_server._config import MediaConfig
from mock_server._model._context import Context
from mock_server._model._records import FINAL, IN_PROGRESS, QUEUED, AlertRecord, MediaInfo, TranscriptRecord

if TYPE_CHECKING:
    from mock_server._model._sentences import SentencePlan, SentenceSet
from mock_server._model._render import iso

MAX_ALERTS = 100_000  # the log keeps the newest; `alerts` in the stats counts every one ever raised


@dataclass(frozen=True, slots=True)
class MediaJob:
    """Fetch (or read from the recordings store) and analyse one transcript's media, within `limits`."""

    account_sid: str
    transcript_sid: str
    media_url: str | None
    source_sid: str | None
    limits: MediaConfig


def scrub_url(url: str | None) -> str | None:
    """`url` without its query, fragment and userinfo: what may be shown of a (possibly pre-signed) media URL."""
    if url is None:
        return None
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "[unparseable URL]"
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{port}" if port is not None else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def media_url_of(channel_json: str) -> str | None:
    """The `media_url` a stored Channel names (None for a Recording)."""
    props = json.loads(channel_json).get("media_properties")
    url = props.get("media_url") if isinstance(props, dict) else None
    return url if isinstance(url, str) and url else None


class MediaOperations:
    sid: str
    ctx: Context
    media: MediaConfig
    transcripts: dict[str, TranscriptRecord]
    counts: Counter[str]
    alerts: deque[AlertRecord]
    recordings: dict[str, bytes]

    def _finish(self, t: TranscriptRecord, now: float) -> None:
        raise NotImplementedError  # provided by TranscriptOperations

    def _start_lifecycle(self, t: TranscriptRecord, now: float) -> None:
        raise NotImplementedError  # provided by TranscriptOperations

    # --- create time -------------------------------------------------------------------------------------------

    def _wait_for_media(self, t: TranscriptRecord, media_url: str | None) -> bool:
        """With fetching on, park `t` until its media is heard and queue the job; False when fetching is off."""
        limits = self.media
        if not limits.fetch:
            return False
        t.media_pending = True
        t.due = math.inf
        self.ctx.media_jobs.append(MediaJob(self.sid, t.sid, media_url, t.source_sid, limits))
        return True

    # --- what the pipeline reports -----------------------------------------------------------------------------

    def _pending(self, transcript_sid: str) -> TranscriptRecord | None:
        t = self.transcripts.get(transcript_sid)
        return t if t is not None and t.media_pending and t.status not in FINAL else None

    def media_started(self, transcript_sid: str, now: float) -> bool:
        """The pipeline began fetching: the transcript is in progress. False if it is gone (deleted, reset)."""
        t = self._pending(transcript_sid)
        if t is None:
            return False
        if t.status == QUEUED:
            t.status, t.updated = IN_PROGRESS, now
        return True

    def media_ready(
        self,
        transcript_sid: str,
        analysis: MediaInfo,
        media_path: str | None,
        now: float,
        *,
        sha256: str | None = None,
        prepared: tuple[SentencePlan, SentenceSet] | None = None,
    ) -> bool:
        """The media was fetched and analysed: keep what was heard (and the media's hex SHA-256, which finds its
        script and seeds its words), take its duration, start the lifecycle. `prepared`: the sentences the pipeline
        built in its worker, with the plan they follow; completion takes them if the plan still holds.

        Returns False when nobody is waiting any more (the transcript was deleted): the caller discards the file.
        """
        t = self._pending(transcript_sid)
        if t is None:
            return False
        t.media_pending = False
        t.analysis = analysis
        t.media_path = media_path
        t.media_sha256 = sha256
        t.prepared = prepared
        t.duration = max(0, math.floor(analysis.duration_s + 0.5))
        self.counts["media_fetched"] += 1
        self._start_lifecycle(t, now)
        return True

    def media_failed(self, transcript_sid: str, code: int, message: str, now: float) -> bool:
        """The media could not be fetched or heard: the transcript fails and the alert log says why."""
        t = self._pending(transcript_sid)
        if t is None:
            return False
        t.media_pending = False
        t.will_fail = True
        self.counts["media_failed"] += 1
        self.raise_alert(code, message, t, now)
        self._finish(t, now)
        return True

    # --- alert log ---------------------------------------------------------------------------------------------

    def raise_alert(self, code: int, message: str, t: TranscriptRecord, now: float) -> None:
        url = scrub_url(media_url_of(t.channel))
        self.alerts.append(AlertRecord(code, message, t.sid, t.customer_key, url, t.source_sid, now))
        self.counts["alerts"] += 1

    def render_alerts(self) -> list[dict[str, Any]]:
        return [
            {
                "code": a.code,
                "message": a.message,
                "more_info": f"https://www.twilio.com/docs/errors/{a.code}",
                "transcript_sid": a.transcript_sid,
                "customer_key": a.customer_key,
                "media_url": a.media_url,
                "source_sid": a.source_sid,
                "date_created": iso(a.created),
            }
            for a in self.alerts
        ]

    # --- recordings store --------------------------------------------------------------------------------------

    def put_recording(self, recording_sid: str, data: bytes) -> bool:
        """Store a Recording's audio (what `source_sid` transcripts are made from); True when it is new."""
        created = recording_sid not in self.recordings
        self.recordings[recording_sid] = data
        return created

    def recording(self, recording_sid: str) -> bytes | None:
        return self.recordings.get(recording_sid)

    def media_stats(self) -> dict[str, int]:
        return {
            "media_fetched": self.counts["media_fetched"],
            "media_failed": self.counts["media_failed"],
            "alerts": self.counts["alerts"],
            "recordings_stored": len(self.recordings),
        }


def new_alert_log() -> deque[AlertRecord]:
    return deque(maxlen=MAX_ALERTS)


__all__ = ["MAX_ALERTS", "MediaJob", "MediaOperations", "media_url_of", "new_alert_log", "scrub_url"]
