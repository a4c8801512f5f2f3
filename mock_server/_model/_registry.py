"""All accounts of one mock: creation, credentials, the lifecycle schedule, callbacks and signed downloads.

One `Registry` per app. Every random choice (SIDs, tokens, failures) comes from the one seeded generator it is
given, so the same seed and the same requests give the same run. Credentials are compared in constant time.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import io
import math
import random
import struct
import wave
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from mock_server._clock import Clock
from mock_server._config import LifecycleConfig, MediaConfig
from mock_server._errors import ApiError, not_found
from mock_server._model import _downloads as downloads
from mock_server._model._account import Account
from mock_server._model._context import Context
from mock_server._model._downloads import RedactionJob
from mock_server._model._media import MediaJob
from mock_server._model._params import CallbackEvent
from mock_server._model._records import COMPLETED, TranscriptRecord
from mock_server._sids import SidFactory


@dataclass(frozen=True, slots=True)
class ApiKey:
    sid: str
    secret: str = field(repr=False)
    account_sid: str
    permissions: frozenset[str] | None  # None: full access (a standard key)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request is from: the account, and the permissions of the key used (None = everything)."""

    account: Account
    permissions: frozenset[str] | None


class Registry:
    def __init__(self, rng: random.Random, clock: Clock, public_base_url: str = "http://127.0.0.1:8080") -> None:
        self.rng = rng
        self.clock = clock
        self._heap: list[tuple[float, str, str]] = []
        self.ctx = Context(
            clock=clock,
            rng=rng,
            sids=SidFactory(rng),
            schedule=self._schedule,
            public_base_url=public_base_url,
            secret=rng.getrandbits(256).to_bytes(32, "big"),
        )
        self._accounts: dict[str, Account] = {}
        self._keys: dict[str, ApiKey] = {}

    @property
    def public_base_url(self) -> str:
        return self.ctx.public_base_url

    @public_base_url.setter
    def public_base_url(self, value: str) -> None:
        self.ctx.public_base_url = value.rstrip("/")

    @property
    def media_url_ttl_s(self) -> int:
        return self.ctx.media_url_ttl_s

    @media_url_ttl_s.setter
    def media_url_ttl_s(self, value: int) -> None:
        self.ctx.media_url_ttl_s = value

    # --- accounts and credentials ------------------------------------------------------------------------------

    def create_account(
        self,
        auth_token: str | None = None,
        lifecycle: LifecycleConfig | None = None,
        media: MediaConfig | None = None,
    ) -> Account:
        sid = self.ctx.sids.new("AC")
        token = auth_token if auth_token is not None else f"{self.rng.getrandbits(128):032x}"
        account = Account(sid, token, self.ctx, lifecycle, media)
        self._accounts[sid] = account
        return account

    def account(self, sid: str) -> Account | None:
        return self._accounts.get(sid)

    def accounts(self) -> list[Account]:
        return list(self._accounts.values())

    def create_key(self, account_sid: str, permissions: Sequence[str] | None) -> ApiKey:
        if account_sid not in self._accounts:
            raise not_found(f"/__mock__/accounts/{account_sid}")
        key = ApiKey(
            sid=self.ctx.sids.new("SK"),
            secret=f"{self.rng.getrandbits(128):032x}",
            account_sid=account_sid,
            permissions=None if permissions is None else frozenset(permissions),
        )
        self._keys[key.sid] = key
        return key

    def authenticate(self, username: str, password: str) -> Principal | None:
        if username.startswith("SK"):
            key = self._keys.get(username)
            if key is None or not hmac.compare_digest(key.secret.encode(), password.encode()):
                return None
            return Principal(self._accounts[key.account_sid], key.permissions)
        account = self._accounts.get(username)
        if account is None or not hmac.compare_digest(account.auth_token.encode(), password.encode()):
            return None
        return Principal(account, None)

    def reset(self) -> None:
        """Forget every account, key, transcript and pending callback."""
        self._accounts.clear()
        self._keys.clear()
        self._heap.clear()
        self.ctx.outbox.clear()
        self.ctx.media_jobs.clear()

    def reseed(self, seed: int) -> None:
        self.rng.seed(seed)

    # --- lifecycle and callbacks -------------------------------------------------------------------------------

    def _schedule(self, due: float, account_sid: str, transcript_sid: str) -> None:
        heapq.heappush(self._heap, (due, account_sid, transcript_sid))

    def next_due(self) -> float | None:
        return self._heap[0][0] if self._heap else None

    def tick(self, now: float) -> list[CallbackEvent]:
        """Finish every transcript due by `now`; return all callbacks waiting to be sent."""
        heap = self._heap
        while heap and heap[0][0] <= now:
            _, account_sid, transcript_sid = heapq.heappop(heap)
            account = self._accounts.get(account_sid)
            transcript = account.transcripts.get(transcript_sid) if account else None
            if account is not None and transcript is not None:
                account.refresh(transcript, now)
        return self.drain_callbacks()

    def drain_callbacks(self) -> list[CallbackEvent]:
        outbox = self.ctx.outbox
        if not outbox:  # nearly every request: nothing to copy
            return []
        events = outbox[:]
        outbox.clear()
        return events

    def drain_media_jobs(self) -> list[MediaJob]:
        jobs = self.ctx.media_jobs
        if not jobs:
            return []
        drained = jobs[:]
        jobs.clear()
        return drained

    # --- signed media ------------------------------------------------------------------------------------------

    def check_signed(self, path: str, expires: str | None, signature: str | None) -> str:
        """ "ok" when `path` was signed by this registry and has not expired, else "invalid" or "expired"."""
        # ASCII digits only (int() would take "٣", " 3", "+3", "3_0"): the exact text the signer wrote.
        if not expires or len(expires) > 12 or not expires.isascii() or not expires.isdigit():
            return "invalid"
        expires_at = int(expires)
        expected = self.ctx.sign(path, expires_at)
        if not hmac.compare_digest(expected.encode(), (signature or "").encode("utf-8", "replace")):
            return "invalid"
        return "expired" if self.clock.now() > expires_at else "ok"

    def verify_signed(self, path: str, expires: str | None, signature: str | None) -> None:
        """Raise 403 unless `path` was signed by this registry and has not expired."""
        verdict = self.check_signed(path, expires, signature)
        if verdict == "invalid":
            raise ApiError(403, 20403, "Media URL signature is missing or invalid")
        if verdict == "expired":
            raise ApiError(403, 20403, "Media URL has expired")

    def _signed(
        self, path: str, account_sid: str, transcript_sid: str, expires: str | None, signature: str | None
    ) -> tuple[Account, TranscriptRecord]:
        """The account and transcript a signed download names: 403 unless signed and unexpired, else 404 if gone."""
        self.verify_signed(path, expires, signature)
        account = self._accounts.get(account_sid)
        transcript = account.transcripts.get(transcript_sid) if account is not None else None
        if account is None or transcript is None:
            raise not_found(path)
        return account, transcript

    def media(self, account_sid: str, transcript_sid: str, expires: str | None, signature: str | None) -> bytes | str:
        """A transcript's media: the path of the audio it was made from when fetched, else a generated tone."""
        path = downloads.media_path(account_sid, transcript_sid)
        _, transcript = self._signed(path, account_sid, transcript_sid, expires, signature)
        if transcript.media_path is not None:
            return transcript.media_path
        return wav_for(transcript_sid)

    def redacted_media(
        self, account_sid: str, transcript_sid: str, expires: str | None, signature: str | None
    ) -> RedactionJob:
        """What the redacted media is made from: the original file and the completed transcript's sentences.

        Only a completed transcript has sentences, so only it has redacted media (404 before: the original is never
        served in its place).
        """
        path = downloads.redacted_media_path(account_sid, transcript_sid)
        account, t = self._signed(path, account_sid, transcript_sid, expires, signature)
        account.refresh(t, self.clock.now())
        if t.status != COMPLETED or t.media_path is None:
            raise ApiError(
                404, 20404, f"The redacted media of {transcript_sid} is made when the transcript has completed"
            )
        sentences = downloads.transcript_sentences(account, t)
        return RedactionJob(t, t.media_path, downloads.redacted_file(t.media_path), sentences)

    def encrypted_sentences(
        self, account_sid: str, transcript_sid: str, variant: str, expires: str | None, signature: str | None
    ) -> dict[str, Any]:
        """The Encrypted Sentences' `location`: every sentence, as `ListSentence` renders them (not encrypted)."""
        path = downloads.sentences_path(account_sid, transcript_sid, variant)
        account, _ = self._signed(path, account_sid, transcript_sid, expires, signature)
        return {"sentences": downloads.all_sentences(account, transcript_sid, variant == downloads.REDACTED)}

    def encrypted_operator_result(
        self,
        account_sid: str,
        transcript_sid: str,
        operator_sid: str,
        variant: str,
        expires: str | None,
        signature: str | None,
    ) -> dict[str, Any]:
        """One of the Encrypted OperatorResults' `locations`: that result as `FetchOperatorResult` renders it."""
        path = downloads.operator_result_path(account_sid, transcript_sid, operator_sid, variant)
        account, _ = self._signed(path, account_sid, transcript_sid, expires, signature)
        return downloads.operator_result(account, transcript_sid, operator_sid, variant == downloads.REDACTED)


def wav_for(transcript_sid: str, seconds: float = 2.0, rate: int = 8000) -> bytes:
    """A small, valid stereo PCM WAV, deterministic per transcript: a different tone on each channel."""
    seed = int.from_bytes(hashlib.sha256(transcript_sid.encode()).digest()[:2], "big")
    left_hz, right_hz = 300 + seed % 200, 600 + seed % 300
    frames = bytearray()
    for n in range(int(seconds * rate)):
        left = int(8000 * math.sin(2 * math.pi * left_hz * n / rate))
        right = int(8000 * math.sin(2 * math.pi * right_hz * n / rate))
        frames += struct.pack("<hh", left, right)
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(bytes(frames))
    return out.getvalue()
