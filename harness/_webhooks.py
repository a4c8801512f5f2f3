"""The completion-webhook receiver: an aiohttp server that takes Twilio's callbacks as nudges.

A callback is accepted only with a valid X-Twilio-Signature for the URL Twilio used — the `public_url` when the
receiver sits behind a tunnel, else the URL as it arrived — over the raw body (JSON, `bodySHA256` variant) or the
form parameters; anything forged, unsigned, tampered or addressed elsewhere gets 403 and is not recorded. A valid
one calls `on_transcript(transcript_sid, customer_key)`: callbacks may be duplicated, late, reordered or lost, so
the runner treats each as a reason to re-fetch the transcript, never as its status.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from urllib.parse import urlsplit

from aiohttp import web

from harness._signature import validate

log = logging.getLogger("harness.webhooks")
OnTranscript = Callable[[str, str | None], None]


class WebhookReceiver:
    def __init__(self, auth_token: str, on_transcript: OnTranscript, *, public_url: str | None = None) -> None:
        self._token = auth_token
        self._on_transcript = on_transcript
        self.public_url = public_url.rstrip("/") if public_url else None
        self.accepted = 0
        self.rejected = 0
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    def __repr__(self) -> str:
        return f"WebhookReceiver(base_url={self.base_url!r}, public_url={self.public_url!r})"

    @property
    def callback_url(self) -> str:
        """The URL to give Twilio (the service's WebhookUrl)."""
        return f"{self.public_url or self.base_url}/callbacks"

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        app = web.Application()
        app.router.add_route("*", "/callbacks", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        sockets = getattr(site._server, "sockets", None) or ()  # port 0: ask the socket which port it got
        bound = sockets[0].getsockname()[1] if sockets else port
        self.base_url = f"http://{host}:{bound}"

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def _signed_url(self, request: web.Request) -> str:
        if self.public_url is None:
            return str(request.url)
        public = urlsplit(self.public_url)
        query = f"?{request.query_string}" if request.query_string else ""
        return f"{public.scheme}://{public.netloc}{public.path}{request.path}{query}"

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        form: dict[str, list[str]] | None = None
        fields: dict[str, object] = {}
        if request.method == "GET":
            fields = dict(request.query)
        elif request.content_type == "application/json":
            try:
                parsed = json.loads(body) if body else {}
            except ValueError:
                parsed = None
            fields = parsed if isinstance(parsed, dict) else {}
        else:
            posted = await request.post()
            form = {k: [str(v) for v in posted.getall(k)] for k in posted}
            fields = {k: v[-1] for k, v in form.items()}
        signature = request.headers.get("X-Twilio-Signature")
        if request.method == "GET":
            form = None  # a GET signs the whole URL, query included
        if not validate(self._signed_url(request), signature, self._token, form=form, body=body):
            self.rejected += 1
            log.warning("rejected a callback with a missing or invalid X-Twilio-Signature")
            return web.Response(status=403, text="invalid signature")
        transcript_sid = fields.get("transcript_sid")
        if not isinstance(transcript_sid, str) or not transcript_sid.startswith("GT"):
            self.rejected += 1
            return web.Response(status=400, text="no transcript_sid")
        customer_key = fields.get("customer_key")
        self.accepted += 1
        self._on_transcript(transcript_sid, customer_key if isinstance(customer_key, str) else None)
        return web.Response(status=204)
