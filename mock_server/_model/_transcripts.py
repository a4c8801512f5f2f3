"""Transcript operations and lifecycle, mixed into `Account`.

Lifecycle (per the account's `LifecycleConfig`): `immediate` completes at create; `after_seconds` is queued, then
in-progress from a quarter of the way, then completed at `created + seconds + per_media_second × media length` (the
registry's `tick` finishes due transcripts and sends their callbacks even if nobody polls); `after_polls` turns
in-progress on the first fetch and completes on the N-th. `failure_rate` (seeded) makes some end `failed` instead.
Status only ever moves forward.

With `media.fetch` on, the transcript first waits for its media (`_media.py`): the lifecycle starts when the media
pipeline has heard the audio, and `per_media_second` and `duration` then use the media's real length. What a completed
transcript says (sentences, redaction, operator results) lives in `_sentences.py`, mixed in here.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from typing import Any

from mock_server._config import LifecycleConfig, MediaConfig
from mock_server._errors import ApiError, invalid_parameter, not_found
from mock_server._model import _downloads as downloads
from mock_server._model._channel import parse_channel
from mock_server._model._content import media_seconds
from mock_server._model._context import Context
from mock_server._model._media import MediaOperations
from mock_server._model._params import CallbackEvent, EncodedResult, Params, Result
from mock_server._model._records import (
    COMPLETED,
    FAILED,
    FINAL,
    IN_PROGRESS,
    ServiceRecord,
    TranscriptRecord,
)
from mock_server._model._render import BASE, iso, json_string, paginate
from mock_server._model._sentences import SentenceOperations
from mock_server._sids import is_sid

STATUSES = ("queued", "in-progress", "completed", "new", "failed", "canceled", "error")
CUSTOMER_KEY_MAX = 64
EVENT_TYPE = "voice_intelligence_transcript_available"


class TranscriptOperations(SentenceOperations, MediaOperations):
    sid: str
    auth_token: str
    ctx: Context
    lifecycle: LifecycleConfig
    media: MediaConfig
    services: dict[str, ServiceRecord]
    transcripts: dict[str, TranscriptRecord]
    order: list[TranscriptRecord]
    by_source_sid: dict[str, str]
    customer_keys: Counter[str]
    counts: Counter[str]

    # --- rendering ---------------------------------------------------------------------------------------------

    def render_transcript(self, t: TranscriptRecord) -> dict[str, Any]:
        url = f"{BASE}/v2/Transcripts/{t.sid}"
        return {
            "account_sid": self.sid,
            "service_sid": t.service_sid,
            "sid": t.sid,
            "date_created": iso(t.created),
            "date_updated": iso(t.updated),
            "status": t.status,
            "channel": json.loads(t.channel),
            "data_logging": False,
            "language_code": t.language_code,
            "customer_key": t.customer_key,
            "media_start_time": iso(t.media_start_time) if t.media_start_time is not None else None,
            "duration": t.duration,
            "url": url,
            "redaction": t.redaction,
            "encryption_credential_sid": t.encryption_credential_sid,
            "links": {
                "sentences": f"{url}/Sentences",
                "encrypted_sentences": f"{url}/Sentences/Encrypted",
                "media": f"{url}/Media",
                "operator_results": f"{url}/OperatorResults",
                "encrypted_operator_results": f"{url}/OperatorResults/Encrypted",
            },
        }

    def transcript_json(self, t: TranscriptRecord) -> bytes:
        """`render_transcript(t)` as the HTTP layer's encoder writes it (compact, UTF-8), without the dict.

        Create and fetch answer with this: building the dict, parsing the stored Channel back into one and encoding
        it all again cost more than the rest of either operation. The Channel is stored as the compact JSON the
        encoder would write for it, so it goes in as it is. SIDs the mock made, statuses, language codes (one of
        `LANGUAGE_CODES`), dates and the URLs built from them are ASCII letters, digits and `-:/._` that JSON writes
        as they are; only text a client chose is escaped. A test holds this equal to encoding `render_transcript`.
        """
        sid = t.sid
        url = f"{BASE}/v2/Transcripts/{sid}"
        start = "null" if t.media_start_time is None else f'"{iso(t.media_start_time)}"'
        key = t.customer_key
        credential = t.encryption_credential_sid
        text = (
            f'{{"account_sid":"{self.sid}","service_sid":"{t.service_sid}","sid":"{sid}",'
            f'"date_created":"{iso(t.created)}","date_updated":"{iso(t.updated)}","status":"{t.status}",'
            f'"channel":{t.channel},"data_logging":false,"language_code":"{t.language_code}",'
            f'"customer_key":{"null" if key is None else json_string(key)},"media_start_time":{start},'
            f'"duration":{t.duration:d},"url":"{url}","redaction":{"true" if t.redaction else "false"},'
            f'"encryption_credential_sid":{"null" if credential is None else json_string(credential)},'
            f'"links":{{"sentences":"{url}/Sentences","encrypted_sentences":"{url}/Sentences/Encrypted",'
            f'"media":"{url}/Media","operator_results":"{url}/OperatorResults",'
            f'"encrypted_operator_results":"{url}/OperatorResults/Encrypted"}}}}'
        )
        return text.encode()

    # --- lifecycle ---------------------------------------------------------------------------------------------

    def _finish(self, t: TranscriptRecord, now: float) -> None:
        t.status = FAILED if t.will_fail else COMPLETED
        t.updated = now
        if t.status == COMPLETED and t.analysis is None:
            t.duration = media_seconds(t.sid)  # nothing was heard (fetching off): a deterministic invented length
        elif t.status == COMPLETED:
            self._keep_sentences(t)  # what the audio says, built once (`_sentences.py`)
        self.counts[t.status] += 1
        service = self.services.get(t.service_sid)
        if service is None or not service.webhook_url or service.webhook_http_method == "NULL":
            return
        body: dict[str, Any] = {
            "account_sid": self.sid,
            "service_sid": t.service_sid,
            "transcript_sid": t.sid,
            "event_type": EVENT_TYPE,
        }
        if t.customer_key is not None:
            body["customer_key"] = t.customer_key
        if t.encryption_credential_sid:
            body["encryption_credential_sid"] = t.encryption_credential_sid
        event = CallbackEvent(self.sid, service.webhook_url, service.webhook_http_method, self.auth_token, body)
        self.ctx.outbox.append(event)
        if t.status == COMPLETED and t.operator_sids:
            # Operator results are announced by a second callback on the same webhook (twilio-wire.md §3).
            self.ctx.outbox.append(event)

    def refresh(self, t: TranscriptRecord, now: float, *, poll: bool = False) -> None:
        """Bring `t` up to date with the clock (and count a poll when `poll`)."""
        if t.status in FINAL or t.media_pending:
            return
        if math.isinf(t.due):  # after_polls
            if poll:
                t.polls += 1
                if t.polls >= self.lifecycle.polls:
                    self._finish(t, now)
                elif t.status != IN_PROGRESS:
                    t.status, t.updated = IN_PROGRESS, now
        elif now >= t.due:
            self._finish(t, now)
        elif now >= t.started and t.status != IN_PROGRESS:
            t.status, t.updated = IN_PROGRESS, now

    # --- operations --------------------------------------------------------------------------------------------

    def create_transcript(self, p: Params) -> EncodedResult:
        service_sid = p.required("ServiceSid")
        service = self.services.get(service_sid)  # only ever holds well-formed SIDs: the pattern is checked on a miss
        if service is None:
            if not is_sid(service_sid, "GA"):
                raise invalid_parameter("ServiceSid", service_sid, "must be a Service SID (GA…)")
            raise not_found(f"/v2/Services/{service_sid}")
        channel = parse_channel(p.get("Channel"))
        customer_key = p.get("CustomerKey")
        if customer_key is not None and len(customer_key) > CUSTOMER_KEY_MAX:
            raise invalid_parameter("CustomerKey", customer_key, f"must be at most {CUSTOMER_KEY_MAX} characters")
        media_start_time = p.datetime("MediaStartTime")
        if channel.source_sid is not None and channel.source_sid in self.by_source_sid:
            existing = self.by_source_sid[channel.source_sid]
            raise invalid_parameter(
                "Channel", channel.source_sid, f"Recording already has a transcript ({existing}); delete it first"
            )
        now = self.ctx.clock.now()
        t = TranscriptRecord(
            self.ctx.sids.new("GT"), service, channel.compact_json, customer_key, media_start_time,
            channel.source_sid, channel.roles, now,
        )  # fmt: skip
        lifecycle = self.lifecycle
        if lifecycle.failure_rate > 0:
            t.will_fail = self.ctx.rng.random() < lifecycle.failure_rate
        self.transcripts[t.sid] = t
        self.order.append(t)
        if t.source_sid is not None:
            self.by_source_sid[t.source_sid] = t.sid
        if customer_key is not None:
            self.customer_keys[customer_key] += 1
        self.counts["created"] += 1
        if not self._wait_for_media(t, channel.media_url):
            self._start_lifecycle(t, now)
        return EncodedResult(202, self.transcript_json(t))

    def _start_lifecycle(self, t: TranscriptRecord, now: float) -> None:
        """Run the configured lifecycle from `now` (creation, or when the media has been heard)."""
        lifecycle = self.lifecycle
        t.due = now
        if lifecycle.mode == "after_polls":
            t.due, t.polls = math.inf, 0
        elif lifecycle.mode == "after_seconds":
            length = t.analysis.duration_s if t.analysis is not None else media_seconds(t.sid)
            total = lifecycle.seconds + lifecycle.per_media_second * length
            t.started, t.due = now + total / 4, now + total
            if total > 0:
                self.ctx.schedule(t.due, self.sid, t.sid)
        if t.due <= now:
            self._finish(t, now)

    def _transcript(self, sid: str, path: str = "") -> TranscriptRecord:
        t = self.transcripts.get(sid)
        if t is None:
            raise not_found(f"/v2/Transcripts/{sid}{path}")
        return t

    def fetch_transcript(self, sid: str) -> EncodedResult:
        t = self.transcripts.get(sid)
        if t is None:
            raise not_found(f"/v2/Transcripts/{sid}")
        if t.status not in FINAL:  # a finished transcript is what it is: no clock to read, no poll to count
            self.refresh(t, self.ctx.clock.now(), poll=True)
        return EncodedResult(200, self.transcript_json(t))

    def delete_transcript(self, sid: str) -> Result:
        t = self._transcript(sid)
        del self.transcripts[sid]
        t.deleted = True
        if t.media_path is not None:
            self.ctx.discard_media(t.media_path)
            t.media_path = None
        if t.source_sid is not None:
            self.by_source_sid.pop(t.source_sid, None)  # one transcript per Recording: deleting frees it
        self.counts["deleted"] += 1
        return Result(204, None)

    def list_transcripts(self, p: Params) -> Result:
        filters: list[tuple[str, str]] = []
        service_sid = p.get("ServiceSid")
        status = p.get("Status")
        language = p.get("LanguageCode")
        source_sid = p.get("SourceSid")
        if status is not None and status not in STATUSES:
            raise invalid_parameter("Status", status, f"must be one of {', '.join(STATUSES)}")
        bounds = {name: p.datetime(name) for name in (
            "BeforeStartTime", "AfterStartTime", "BeforeDateCreated", "AfterDateCreated",
        )}  # fmt: skip
        for name in ("ServiceSid", "BeforeStartTime", "AfterStartTime", "BeforeDateCreated", "AfterDateCreated",
                     "Status", "LanguageCode", "SourceSid"):  # fmt: skip
            value = p.get(name)
            if value:
                filters.append((name, value))
        now = self.ctx.clock.now()
        before_start, after_start = bounds["BeforeStartTime"], bounds["AfterStartTime"]
        before_created, after_created = bounds["BeforeDateCreated"], bounds["AfterDateCreated"]

        def keep(t: TranscriptRecord) -> bool:
            if t.deleted or (service_sid and t.service_sid != service_sid):
                return False
            if (language and t.language_code != language) or (source_sid and t.source_sid != source_sid):
                return False
            if before_created is not None and not t.created < before_created:
                return False
            if after_created is not None and not t.created > after_created:
                return False
            if before_start is not None or after_start is not None:
                start = t.media_start_time
                if start is None or (before_start is not None and not start < before_start):
                    return False
                if after_start is not None and not start > after_start:
                    return False
            if status:
                self.refresh(t, now)
                return t.status == status
            return True

        def render(t: TranscriptRecord) -> dict[str, Any]:
            self.refresh(t, now)
            return self.render_transcript(t)

        body = paginate(
            p, key="transcripts", path="/v2/Transcripts", items=self.order, render=render, keep=keep, filters=filters
        )
        return Result(200, body)

    # --- sub-resources -----------------------------------------------------------------------------------------

    def fetch_media(self, tsid: str, p: Params) -> Result:
        """`media_url` signs the variant asked for: silenced PII (`Redacted=true`, the default, when the Service
        redacts media and the media was heard) or the original bytes (`_downloads.py`)."""
        t = self._transcript(tsid, "/Media")
        redacted = bool(p.bool("Redacted", True)) and downloads.redacts_media(self.services, t)
        path = downloads.redacted_media_path(self.sid, t.sid) if redacted else downloads.media_path(self.sid, t.sid)
        return Result(
            200,
            {
                "account_sid": self.sid,
                "media_url": self.ctx.signed_url(path),
                "service_sid": t.service_sid,
                "sid": t.sid,
                "url": f"{BASE}/v2/Transcripts/{t.sid}/Media",
            },
        )

    def fetch_encrypted_sentences(self, tsid: str, p: Params) -> Result:
        t = self._transcript(tsid, "/Sentences/Encrypted")
        variant = downloads.which(bool(p.bool("Redacted", True)) and t.redaction)
        location = self.ctx.signed_url(downloads.sentences_path(self.sid, t.sid, variant))
        url = f"{BASE}/v2/Transcripts/{t.sid}/Sentences/Encrypted"
        return Result(200, {"location": location, "transcript_sid": t.sid, "url": url})

    def fetch_encrypted_operator_results(self, tsid: str, p: Params) -> Result:
        t = self._transcript(tsid, "/OperatorResults/Encrypted")
        variant = downloads.which(bool(p.bool("Redacted", True)) and t.redaction)
        locations = [
            self.ctx.signed_url(downloads.operator_result_path(self.sid, t.sid, o, variant)) for o in t.operator_sids
        ]
        url = f"{BASE}/v2/Transcripts/{t.sid}/OperatorResults/Encrypted"
        return Result(200, {"locations": locations, "transcript_sid": t.sid, "url": url})


__all__ = ["ApiError", "TranscriptOperations"]
