"""Media redaction follows the Service's settings when the transcript was made, as AutoRedaction does."""

from __future__ import annotations

from types import SimpleNamespace

from mock_server._model._downloads import redacts_media
from mock_server._model._records import ServiceRecord, TranscriptRecord


def _heard(service: ServiceRecord) -> TranscriptRecord:
    t = TranscriptRecord("GT" + "1" * 32, service, "{}", None, None, None, ("Agent", "Customer"), 0.0)
    t.analysis = SimpleNamespace(segments=(), duration_s=3.0)  # type: ignore[assignment]
    t.media_path = "media.wav"  # never opened: only whether there is a file matters here
    return t


def test_changing_the_service_later_does_not_change_what_an_existing_transcript_serves() -> None:
    service = ServiceRecord("GA" + "1" * 32, "calls", 0.0)
    service.auto_redaction = service.media_redaction = True
    redacting = _heard(service)
    service.media_redaction = False
    plain = _heard(service)
    services = {service.sid: service}
    assert redacts_media(services, redacting)
    assert not redacts_media(services, plain)
    service.media_redaction = True
    assert not redacts_media(services, plain)
    del services[service.sid]
    assert redacts_media(services, redacting)
