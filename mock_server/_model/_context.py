"""What every account shares with its registry: the clock, the seeded generator, scheduling, the outbox and the
scripts registered for media."""

from __future__ import annotations

import hashlib
import hmac
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mock_server._clock import Clock
from mock_server._media._script import ScriptStore
from mock_server._model._params import CallbackEvent
from mock_server._sids import SidFactory

if TYPE_CHECKING:
    from mock_server._model._media import MediaJob


def _keep(path: str) -> None:
    """The default for `discard_media`: with no media pipeline attached there are no files to remove."""


@dataclass
class Context:
    clock: Clock
    rng: random.Random
    sids: SidFactory
    schedule: Callable[[float, str, str], None]  # (due, account_sid, transcript_sid)
    outbox: list[CallbackEvent] = field(default_factory=list)
    media_jobs: list[MediaJob] = field(default_factory=list)  # drained by the HTTP side's media pipeline
    discard_media: Callable[[str], None] = _keep  # a deleted transcript's media file, for the pipeline to remove
    public_base_url: str = "http://127.0.0.1:8080"
    media_url_ttl_s: int = 3600
    secret: bytes = b""
    scripts: ScriptStore = field(default_factory=ScriptStore)  # the app's, shared by every account (control plane)

    def sign(self, path: str, expires: int) -> str:
        return hmac.new(self.secret, f"{path}:{expires}".encode(), hashlib.sha256).hexdigest()

    def signed_url(self, path: str) -> str:
        """A URL on the mock itself that stops working after `media_url_ttl_s` (like Twilio's media links)."""
        expires = int(self.clock.now()) + self.media_url_ttl_s
        return f"{self.public_base_url}{path}?Expires={expires}&Signature={self.sign(path, expires)}"
