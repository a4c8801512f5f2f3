"""Video status callbacks: the mock's webhook dispatcher, sending Twilio's form-encoded, signed requests.

Retries, backoff, the seeded `webhook_faults` and the per-account counters are the Intelligence dispatcher's
(`mock_server._webhooks`); only the request differs. Video callbacks are always `application/x-www-form-urlencoded`
(twilio-wire.md §4, docs status-callbacks): a POST carries the parameters as its form body and is signed over the
URL followed by every name and value (twilio-python's `RequestValidator` form variant); a GET carries them in the
query string and is signed over the full URL.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from yarl import URL

from mock_server._signature import SIGNATURE_HEADER, compute_signature, with_query
from mock_server._webhooks import CallbackLike, WebhookDispatcher, deliver

__all__ = ["FORM", "VideoCallbacks"]

log = logging.getLogger("mock_server.webhooks")

FORM = "application/x-www-form-urlencoded"


def _safe(url: str) -> str:
    """The URL for logs: scheme, host and path only (a callback URL may carry credentials or tokens)."""
    parts = URL(url)
    return f"{parts.scheme}://{parts.host}{parts.path}"


class VideoCallbacks(WebhookDispatcher):
    """Composition status callbacks: form-encoded and signed, with the dispatcher's retries and faults."""

    async def _attempt(self, event: CallbackLike) -> bool:
        pairs = [(name, str(value)) for name, value in event.body.items() if value is not None]
        params = dict(pairs)
        if event.method.upper() == "GET":
            url = with_query(event.url, pairs)
            headers = {SIGNATURE_HEADER: compute_signature(url, None, event.auth_token)}
            data: bytes | None = None
            method = "GET"
        else:
            url = event.url
            headers = {SIGNATURE_HEADER: compute_signature(url, params, event.auth_token), "Content-Type": FORM}
            data = urlencode(pairs).encode("ascii")
            method = "POST"
        what = f"video callback to {_safe(event.url)}"
        return await deliver(self._ensure_session(), method, url, data, headers, what)
