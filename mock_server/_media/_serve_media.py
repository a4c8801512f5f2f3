"""The signed downloads the Media and Encrypted subresources point at: redacted media, and the "encrypted" results.

`GET /__mock__/media/{AC…}/{GT…}/redacted?Expires=&Signature=` serves the transcript's media with every PII interval
silenced on the channel that spoke it (`_pii.pii_intervals` over the completed transcript's sentences,
`_redact_audio.silence_blocks`), as a PCM16 WAV at the media's sample rate and channel count. It is made once, in the
media pipeline's thread pool (`loop.run_in_executor`: decoding never runs on the event loop), written block by block
to a private temporary file and renamed next to the original (`<original>.redacted.wav`), then streamed from disk.
Requests that arrive while it is being made wait for the same job. Deleting the transcript (or a reset) removes it
with the original.

`…/sentences/{redacted|unredacted}` and `…/operator_results/{LY…}/{redacted|unredacted}` serve the content the
Encrypted subresources' `location`/`locations` name: every sentence as `ListSentence` renders it (with word
timestamps) under `"sentences"`, or one operator result as `FetchOperatorResult` renders it. Twilio encrypts this
content with the public key of the Service's encryption credential; the mock has no such key, so it serves plain
JSON and says so in `X-Mock-Encryption`. The signature is the only credential (no account auth, no control token);
a bad or expired one is 403 / 20403, as for the media itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from aiohttp import web

from mock_server._errors import ApiError, not_found
from mock_server._handlers import error_response, json_response
from mock_server._model._downloads import RedactionJob, SpokenSentence

if TYPE_CHECKING:
    from mock_server._app import MockState

__all__ = [
    "ENCRYPTION_HEADER",
    "ENCRYPTION_NOTE",
    "encrypted_operator_result_handler",
    "encrypted_sentences_handler",
    "redacted_media_handler",
    "write_redacted",
]

log = logging.getLogger("mock_server")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

ENCRYPTION_HEADER = "X-Mock-Encryption"
ENCRYPTION_NOTE = (
    "none; Twilio encrypts this with the public key of the Service's encryption credential, the mock cannot"
)


def write_redacted(source: str, target: str, sentences: Sequence[SpokenSentence]) -> str:
    """Make `target`, the PCM16 WAV of `source` with the sentences' PII silenced, unless it exists. Blocking: run it
    in a worker thread. Returns `target`.

    A mono file silences every finding on its one channel (a sentence said to be on channel 2 is still PII).
    """
    if os.path.exists(target):
        return target
    from mock_server._media import open_audio
    from mock_server._media._pii_results import pii_intervals
    from mock_server._media._redact_audio import silence_blocks, write_wav

    intervals = pii_intervals(sentences)
    with open_audio(source) as audio:
        channels, rate = audio.channels, audio.sample_rate
        spans = [(min(iv.channel, channels), iv.start_s, iv.end_s) for iv in intervals]
        folder, name = os.path.split(target)
        handle, temporary = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=folder)  # 0600, like the original
        try:
            with os.fdopen(handle, "wb") as file:
                write_wav(file, silence_blocks(audio.blocks(), rate, spans), rate, channels)
            os.replace(temporary, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.remove(temporary)
            raise
    return target


def redacted_media_handler(state: MockState) -> Handler:
    """GET /__mock__/media/{AC…}/{GT…}/redacted?Expires=&Signature= → the redacted media (see the module docstring)."""
    making: dict[str, asyncio.Future[str]] = {}  # target path → the job making it

    async def handle(request: web.Request) -> web.StreamResponse:
        registry = state.registry  # replaced on reset: the one that signed this URL
        query = request.rel_url.query
        try:
            job = registry.redacted_media(
                request.match_info["account_sid"],
                request.match_info["sid"],
                query.get("Expires"),
                query.get("Signature"),
            )
        except ApiError as error:
            return error_response(error)
        try:
            path = await _made(job)
        except OSError:  # the folder went away (reset, shutdown) while it was being made
            return error_response(not_found(request.path))
        if job.transcript.deleted or state.registry is not registry:
            state.media.discard(path)  # deleted (or reset) while it was being made: it must not outlive its media
            return error_response(not_found(request.path))
        return web.FileResponse(path, headers={"Content-Type": "audio/wav"})

    async def _made(job: RedactionJob) -> str:
        future = making.get(job.target)
        if future is None:
            loop = asyncio.get_running_loop()
            future = loop.run_in_executor(state.media.executor, write_redacted, job.source, job.target, job.sentences)
            making[job.target] = future
            future.add_done_callback(lambda _: making.pop(job.target, None))
        return await asyncio.shield(future)  # a client that goes away does not cancel the others' job

    return handle


def _encrypted(body: dict[str, object]) -> web.Response:
    return json_response(200, body, {ENCRYPTION_HEADER: ENCRYPTION_NOTE, "Cache-Control": "no-store"})


def encrypted_sentences_handler(state: MockState) -> Handler:
    """GET /__mock__/media/{AC…}/{GT…}/sentences/{redacted|unredacted}?Expires=&Signature= → every sentence."""

    async def handle(request: web.Request) -> web.StreamResponse:
        query = request.rel_url.query
        try:
            body = state.registry.encrypted_sentences(
                request.match_info["account_sid"],
                request.match_info["sid"],
                request.match_info["Variant"],  # signed: only "redacted" or "unredacted" gets past the check
                query.get("Expires"),
                query.get("Signature"),
            )
        except ApiError as error:
            return error_response(error)
        return _encrypted(body)

    return handle


def encrypted_operator_result_handler(state: MockState) -> Handler:
    """GET /__mock__/media/{AC…}/{GT…}/operator_results/{LY…}/{redacted|unredacted}?Expires=&Signature= → one
    operator result."""

    async def handle(request: web.Request) -> web.StreamResponse:
        query = request.rel_url.query
        try:
            body = state.registry.encrypted_operator_result(
                request.match_info["account_sid"],
                request.match_info["sid"],
                request.match_info["OperatorSid"],
                request.match_info["Variant"],  # signed: only "redacted" or "unredacted" gets past the check
                query.get("Expires"),
                query.get("Signature"),
            )
        except ApiError as error:
            return error_response(error)
        return _encrypted(body)

    return handle
