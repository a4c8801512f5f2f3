"""Pointing the service's WebhookUrl at the run's receiver, and putting it back, whatever happens in between.

The service's original `webhook_url` and `webhook_http_method` are written to the journal (durably) *before* the
service is changed, and cleared only after they were restored. So a run that ends in any way — done, failed,
interrupted by SIGINT/SIGTERM, or killed with `kill -9` — leaves either the original value on the service or a
record in the journal that the next run (or `cintel submit` of the same batch with `--no-wait`) restores first.
A record from an earlier run is never overwritten: it holds the real original, the service now holds a dead URL.
"""

from __future__ import annotations

import json
import logging

from harness._client import IntelligenceClient
from harness._journal import Journal, JournalReader

log = logging.getLogger("harness.runner")
META_KEY = "service_webhook_to_restore"


async def repoint(client: IntelligenceClient, journal: Journal, service_sid: str, callback_url: str) -> None:
    if journal.get_meta(META_KEY) is None:
        service = await client.fetch_service(service_sid)
        original = {"webhook_url": service.webhook_url, "webhook_http_method": service.webhook_http_method}
        journal.set_meta(META_KEY, json.dumps({"service_sid": service_sid, **original}))
    await client.update_service(service_sid, webhook_url=callback_url, webhook_http_method="POST")


def pending_restore(journal: JournalReader) -> dict[str, str | None] | None:
    raw = journal.get_meta(META_KEY)
    if raw is None:
        return None
    record: dict[str, str | None] = json.loads(raw)
    return record


async def restore(client: IntelligenceClient, journal: Journal) -> bool:
    """Put back what `repoint` recorded; True when there was something to restore and it was restored."""
    record = pending_restore(journal)
    if record is None:
        return False
    service_sid = record.get("service_sid")
    if not service_sid:
        journal.set_meta(META_KEY, None)
        return False
    # Twilio has no way to clear a WebhookUrl to "none" other than an empty value.
    await client.update_service(
        service_sid,
        webhook_url=record.get("webhook_url") or "",
        webhook_http_method=record.get("webhook_http_method") or "POST",
    )
    journal.set_meta(META_KEY, None)
    log.info("restored the WebhookUrl of service %s", service_sid)
    return True
