"""Typed views of the wire resources the client reads. Unknown fields are kept, never rejected: Twilio adds fields."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class _Resource(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class Service(_Resource):
    """An Intelligence Service (GA…): language, redaction, webhook settings."""

    sid: str
    account_sid: str | None = None
    unique_name: str | None = None
    friendly_name: str | None = None
    language_code: str | None = None
    auto_redaction: bool | None = None
    media_redaction: bool | None = None
    auto_transcribe: bool | None = None
    data_logging: bool | None = None
    webhook_url: str | None = None
    webhook_http_method: str | None = None
    read_only_attached_operator_sids: list[str] | None = None
    version: int | None = None
    date_created: str | None = None
    date_updated: str | None = None
    url: str | None = None


class Transcript(_Resource):
    """A Transcript (GT…); `is_final` once it is completed, failed, canceled or error."""

    sid: str
    service_sid: str | None = None
    account_sid: str | None = None
    status: str
    channel: dict[str, Any] | None = None
    customer_key: str | None = None
    language_code: str | None = None
    media_start_time: str | None = None
    duration: int | None = None
    redaction: bool | None = None
    date_created: str | None = None
    date_updated: str | None = None
    url: str | None = None

    @property
    def is_final(self) -> bool:
        return self.status in ("completed", "failed", "canceled", "error")


class Word(_Resource):
    """One word of a sentence (with WordTimestamps=true)."""

    word: str | None = None
    start_time: float | str | None = None
    end_time: float | str | None = None


class Sentence(_Resource):
    """One sentence of a transcript: channel, index, times, text, confidence."""

    # Third-party data shows media_channel as a string sometimes: accept both, as twilio-python does.
    media_channel: int | str | None = None
    sentence_index: int | None = None
    start_time: str | float | None = None
    end_time: str | float | None = None
    transcript: str | None = None
    sid: str | None = None
    confidence: str | float | None = None
    words: list[Word] | None = None


class OperatorResult(_Resource):
    """One operator's result on a transcript; type-specific fields are kept as extra fields."""

    operator_sid: str | None = None
    operator_type: str | None = None
    name: str | None = None
    transcript_sid: str | None = None


class Media(_Resource):
    """A transcript's media: `media_url` is a temporary signed URL."""

    sid: str | None = None
    media_url: str | None = None


class Operator(_Resource):
    """A pre-built or custom Language Operator (LY…)."""

    sid: str
    friendly_name: str | None = None
    operator_type: str | None = None
    availability: str | None = None


__all__ = ["Media", "Operator", "OperatorResult", "Sentence", "Service", "Transcript", "Word"]
