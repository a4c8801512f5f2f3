"""Media with `Redacted=true` (the default) on a transcript whose Service redacts media: the signed `media_url` serves
the audio with the PII intervals silenced on the channel that spoke them, identical elsewhere (a PCM16 WAV, made
once in a worker thread and kept next to the original). `Redacted=false` serves the original bytes, and needs the
same permission as any Media read. Real speech, heard by the real analyser, with a script saying a phone number.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import math
import os
import stat
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import numpy.typing as npt
import pytest
import soundfile as sf

from mock_server._media import _redact_audio
from mock_server._media._pii import Interval, Word, find_pii
from mock_server._media._pii_results import pii_intervals
from mock_server._media._redact_audio import FADE_S
from mock_server._media._serve_media import write_redacted
from mock_server._model import wav_for
from mock_server._routes import PERMISSION_PREFIX
from tests.mock_server.media.audio_support import Placed, encode, recording
from tests.mock_server.media_support import settle
from tests.mock_server.support import Api, Creds, Reply

FETCH = {"media": {"fetch": True}, "lifecycle": {"mode": "immediate"}}
RATE = 16_000
PLACED = [Placed("hello", 1, 0.5), Placed("yes", 2, 2.0), Placed("account", 2, 4.0), Placed("goodbye", 1, 6.5)]
SCRIPT = {"1": ["Thank you for calling.", "Goodbye now."], "2": ["Yes, that is me.", "Sure, it is +1 555 010 4477 ok."]}
ROUNDING_S = 0.01  # the API shows times to the hundredth: the server's own intervals may differ by that much
Int16 = npt.NDArray[np.int16]


@dataclass(frozen=True)
class ApiSentence:
    """A sentence as the API shows it, in the shape `pii_intervals` reads."""

    media_channel: int
    start_s: float
    end_s: float
    text: str
    words: tuple[Word, ...]


def _speech_wav() -> bytes:
    audio = recording(PLACED, rate=RATE, duration_s=8.0, background=("pink", -50.0))
    return encode(audio, RATE, "WAV", "PCM_16")


def _pcm(data: bytes) -> tuple[Int16, int]:
    samples, rate = sf.read(io.BytesIO(data), dtype="int16", always_2d=True)
    return samples, rate


async def _download(api: Api, url: str) -> Reply:
    parts = urlsplit(url)
    return await api.call("GET", f"{parts.path}?{parts.query}" if parts.query else parts.path, None)


async def _host(api: Api, name: str, data: bytes) -> str:
    async with api.client.put(f"/__mock__/media/{name}", data=data) as r:
        assert r.status == 201
        return str((await r.json())["url"])


async def _service(api: Api, creds: Creds, **fields: str) -> str:
    return await api.service(creds, **fields)


def _channel(url: str) -> str:
    return json.dumps({"media_properties": {"media_url": url}})


async def _completed(api: Api, creds: Creds, service_sid: str, url: str) -> str:
    form = {"ServiceSid": service_sid, "Channel": _channel(url)}
    r = await api.call("POST", "/v2/Transcripts", creds, data=form)
    assert r.status == 202, r.body
    sid = str(r.body["sid"])
    record = api.state.registry.account(creds.sid).transcripts[sid]  # type: ignore[union-attr]
    await settle(lambda: not record.media_pending, timeout_s=30)
    done = await api.call("GET", f"/v2/Transcripts/{sid}", creds)
    assert done.body["status"] == "completed", done.body
    return sid


async def _redacting_transcript(api: Api, wav: bytes) -> str:
    """A completed transcript of `wav` on a Service with AutoRedaction and MediaRedaction, its script saying PII."""
    r = await api.control("POST", "/__mock__/scripts", {"sha256": hashlib.sha256(wav).hexdigest(), "channels": SCRIPT})
    assert r.status == 201, r.body
    svc = await _service(api, api.dev, AutoRedaction="true", MediaRedaction="true")
    return await _completed(api, api.dev, svc, await _host(api, "call.wav", wav))


async def _media_url(api: Api, creds: Creds, sid: str, **params: str) -> str:
    r = await api.call("GET", f"/v2/Transcripts/{sid}/Media", creds, params=params)
    assert r.status == 200, r.body
    return str(r.body["media_url"])


async def _api_sentences(api: Api, sid: str) -> list[ApiSentence]:
    params = {"Redacted": "false", "WordTimestamps": "true", "PageSize": "5000"}
    r = await api.call("GET", f"/v2/Transcripts/{sid}/Sentences", api.dev, params=params)
    assert r.status == 200, r.body
    return [
        ApiSentence(
            s["media_channel"],
            float(s["start_time"]),
            float(s["end_time"]),
            s["transcript"],
            tuple(Word(w["word"], w["start_time"], w["end_time"]) for w in s["words"]),
        )
        for s in r.body["sentences"]
    ]


def _frames(iv: Interval, rate: int, pad_s: float) -> slice:
    return slice(max(0, math.floor((iv.start_s - pad_s) * rate)), math.ceil((iv.end_s + pad_s) * rate))


async def test_redacted_media_is_silent_where_pii_was_spoken_on_that_channel_and_identical_elsewhere(
    make_api: Any,
) -> None:
    api: Api = await make_api(FETCH)
    wav = _speech_wav()
    sid = await _redacting_transcript(api, wav)

    url = await _media_url(api, api.dev, sid)  # Redacted=true is the default
    assert urlsplit(url).path == f"/__mock__/media/{api.dev.sid}/{sid}/redacted"
    got = await _download(api, url)
    assert got.status == 200
    assert got.headers["Content-Type"] == "audio/wav"
    redacted, rate = _pcm(got.body)
    original, original_rate = _pcm(wav)
    assert sf.info(io.BytesIO(got.body)).subtype == "PCM_16"
    assert (rate, redacted.shape) == (original_rate, original.shape)

    sentences = await _api_sentences(api, sid)
    pii = [s for s in sentences if find_pii(s.text)]
    assert [s.media_channel for s in pii] == [2]  # the script's phone number, on the customer's channel
    words = pii_intervals(sentences)  # where the phone number's words were (as the API shows them)
    assert words
    assert all(iv.end_s - iv.start_s < pii[0].end_s - pii[0].start_s for iv in words)  # words, not the sentence

    for iv in words:  # silent there, on that channel (inside the rounding the API's times allow)
        inside = _frames(iv, rate, -ROUNDING_S)
        assert not redacted[inside, iv.channel - 1].any(), iv
        assert original[inside, iv.channel - 1].any()  # there was sound to silence
    # Identical outside the PII sentences (and their fades), and everywhere on the other channel.
    touched = np.zeros(len(original), dtype=bool)
    for s in pii:
        touched[_frames(Interval(2, s.start_s, s.end_s), rate, FADE_S + ROUNDING_S)] = True
    assert np.array_equal(redacted[~touched, 1], original[~touched, 1])
    assert np.array_equal(redacted[:, 0], original[:, 0])
    # Only the finding is cut: the words of the PII sentence before it ("Sure, it is") keep their sound.
    before = Interval(2, pii[0].start_s, words[0].start_s - FADE_S - ROUNDING_S)
    assert np.array_equal(redacted[_frames(before, rate, 0), 1], original[_frames(before, rate, 0), 1])


async def test_unredacted_media_is_the_original_bytes_and_a_redacted_url_cannot_be_edited_into_it(
    make_api: Any,
) -> None:
    api: Api = await make_api(FETCH)
    wav = _speech_wav()
    sid = await _redacting_transcript(api, wav)

    url = await _media_url(api, api.dev, sid, Redacted="false")
    assert urlsplit(url).path == f"/__mock__/media/{api.dev.sid}/{sid}"
    got = await _download(api, url)
    assert (got.status, got.body) == (200, wav)  # the original bytes, unchanged

    redacted_url = await _media_url(api, api.dev, sid, Redacted="true")
    edited = redacted_url.replace("/redacted?", "?")  # the same signature on the original's path
    r = await _download(api, edited)
    assert (r.status, r.body["code"], r.body["message"]) == (403, 20403, "Media URL signature is missing or invalid")


async def test_unredacted_media_needs_the_media_read_permission_as_unredacted_sentences_need_theirs(
    make_api: Any,
) -> None:
    api: Api = await make_api(FETCH)
    sid = await _redacting_transcript(api, _speech_wav())
    sentences_only = await api.key(api.dev, [PERMISSION_PREFIX + "transcript-sentences/read"])
    media_only = await api.key(api.dev, [PERMISSION_PREFIX + "transcript-media/read"])

    r = await api.call("GET", f"/v2/Transcripts/{sid}/Media", sentences_only, params={"Redacted": "false"})
    assert (r.status, r.body["code"]) == (401, 70051)
    assert r.body["message"] == (
        f"Authorization Error: required permission {PERMISSION_PREFIX}transcript-media/read is missing"
    )
    r = await api.call("GET", f"/v2/Transcripts/{sid}/Sentences", media_only, params={"Redacted": "false"})
    assert (r.status, r.body["code"]) == (401, 70051)  # the same rule for unredacted sentences

    unredacted = {"Redacted": "false"}
    assert (await api.call("GET", f"/v2/Transcripts/{sid}/Sentences", sentences_only, params=unredacted)).status == 200
    url = await _media_url(api, media_only, sid, Redacted="false")
    assert (await _download(api, url)).status == 200


async def test_made_once_in_a_worker_thread_kept_next_to_the_media_and_removed_with_it(
    make_api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    writes: list[str] = []
    real_write = _redact_audio.write_wav

    def counted(*args: Any, **kwargs: Any) -> int:
        writes.append(threading.current_thread().name)
        return real_write(*args, **kwargs)

    monkeypatch.setattr(_redact_audio, "write_wav", counted)
    api: Api = await make_api(FETCH)
    sid = await _redacting_transcript(api, _speech_wav())
    url = await _media_url(api, api.dev, sid)

    first = await asyncio.gather(*(_download(api, url) for _ in range(4)))  # at once: one job, four answers
    again = await _download(api, url)
    assert {r.status for r in [*first, again]} == {200}
    assert len({r.body for r in [*first, again]}) == 1
    assert len(writes) == 1  # made once
    assert writes[0].startswith("cintel-mock-media")  # in the media pipeline's pool, never on the event loop

    record = api.state.dev_account.transcripts[sid]
    assert record.media_path is not None
    original, kept = record.media_path, record.media_path + ".redacted.wav"
    assert os.path.exists(kept)
    assert stat.S_IMODE(os.stat(kept).st_mode) == 0o600  # PHI on disk: for the mock's user only
    assert (await api.call("DELETE", f"/v2/Transcripts/{sid}", api.dev)).status == 204
    await settle(lambda: not os.path.exists(original) and not os.path.exists(kept))
    assert (await _download(api, url)).status == 404


async def test_before_completion_the_redacted_media_is_not_there_and_never_the_original(make_api: Any) -> None:
    api: Api = await make_api({"media": {"fetch": True}, "lifecycle": {"mode": "after_polls", "polls": 2}})
    wav = _speech_wav()
    r = await api.control("POST", "/__mock__/scripts", {"sha256": hashlib.sha256(wav).hexdigest(), "channels": SCRIPT})
    assert r.status == 201
    svc = await _service(api, api.dev, AutoRedaction="true", MediaRedaction="true")
    form = {"ServiceSid": svc, "Channel": _channel(await _host(api, "c.wav", wav))}
    sid = str((await api.call("POST", "/v2/Transcripts", api.dev, data=form)).body["sid"])
    record = api.state.dev_account.transcripts[sid]
    await settle(lambda: record.analysis is not None)

    url = await _media_url(api, api.dev, sid)
    assert urlsplit(url).path.endswith("/redacted")
    r = await _download(api, url)
    assert (r.status, r.body["code"]) == (404, 20404)
    assert "completed" in r.body["message"]
    for _ in range(2):
        await api.call("GET", f"/v2/Transcripts/{sid}", api.dev)  # polls complete it
    assert record.status == "completed"
    assert (await _download(api, url)).status == 200  # the same URL, now that there are sentences


async def test_without_media_redaction_or_without_analysis_media_is_served_as_before(make_api: Any) -> None:
    api: Api = await make_api(FETCH)
    wav = _speech_wav()
    auto_only = await api.service(api.dev, AutoRedaction="true")  # text redaction, not media
    sid = await _completed(api, api.dev, auto_only, await _host(api, "a.wav", wav))
    url = await _media_url(api, api.dev, sid)
    assert urlsplit(url).path == f"/__mock__/media/{api.dev.sid}/{sid}"
    assert (await _download(api, url)).body == wav

    offline: Api = await make_api({"lifecycle": {"mode": "immediate"}})  # media.fetch off: nothing was heard
    svc = await offline.service(offline.dev, AutoRedaction="true", MediaRedaction="true")
    sid = str((await offline.transcript(offline.dev, svc))["sid"])
    url = await _media_url(offline, offline.dev, sid)
    assert urlsplit(url).path == f"/__mock__/media/{offline.dev.sid}/{sid}"
    assert (await _download(offline, url)).body == wav_for(sid)  # the generated tone, as before


@dataclass(frozen=True)
class Said:
    media_channel: int
    start_s: float
    end_s: float
    text: str
    words: tuple[Word, ...] = ()


def test_write_redacted_silences_the_words_and_on_mono_media_any_channel(tmp_path: Any) -> None:
    rng = np.random.default_rng(3)
    stereo = rng.integers(-20_000, 20_000, size=(8000 * 3, 2)).astype(np.int16)
    source = tmp_path / "call"
    sf.write(source, stereo, 8000, format="WAV", subtype="PCM_16")
    words = (Word("call", 1.0, 1.2), Word("5550104477", 1.3, 1.9), Word("now", 2.0, 2.2))
    said = [Said(1, 1.0, 2.2, "call 5550104477 now", words)]
    target = write_redacted(str(source), str(tmp_path / "call.redacted.wav"), said)
    out, _ = sf.read(target, dtype="int16")
    assert not out[8000 * 13 // 10 : 8000 * 19 // 10, 0].any()  # the number's word, on channel 1
    fade = round(FADE_S * 8000)
    assert np.array_equal(out[: 8000 * 13 // 10 - fade, 0], stereo[: 8000 * 13 // 10 - fade, 0])
    assert np.array_equal(out[8000 * 19 // 10 + fade :, 0], stereo[8000 * 19 // 10 + fade :, 0])
    assert np.array_equal(out[:, 1], stereo[:, 1])
    assert write_redacted(str(source), target, []) == target  # kept: not made again (no PII now, same file)
    assert np.array_equal(sf.read(target, dtype="int16")[0], out)

    mono = tmp_path / "mono"
    sf.write(mono, stereo[:, 0], 8000, format="WAV", subtype="PCM_16")
    on_two = [Said(2, 0.5, 1.0, "mail pat.jones@example.com")]  # no words: the whole sentence
    out, _ = sf.read(write_redacted(str(mono), str(tmp_path / "mono.redacted.wav"), on_two), dtype="int16")
    assert not out[4000:8000].any()
    assert np.array_equal(out[8000 + fade :], stereo[8000 + fade :, 0])
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".part")]  # no temporary file left behind
