"""Media is heard in worker processes (download, decode, VAD, hash and the sentences themselves), and what they
hand back is what the API answers: sentences prepared ahead of completion, rebuilt when a script arrived meanwhile,
words recomputed on read, a worker that dies failing only its own transcript.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
from typing import Any

import pytest

from mock_server._media import _pipeline
from mock_server._media._alerts import INVALID_MEDIA_TYPE, MediaFailure
from mock_server._media._audio_types import MediaAnalysis, Segment
from mock_server._media._pii import Word
from mock_server._media._script import ScriptedSentence, spread_words
from mock_server._media._worker import WORKER_NICENESS, shared_pool
from mock_server._model._sentences import SentencePlan, build_sentences, redact_sentence
from tests.mock_server.media_support import settle
from tests.mock_server.support import Api
from tests.mock_server.test_media_sentences import CONVERSATION, flac, host, sentences

HELD = {"media": {"fetch": True}, "lifecycle": {"mode": "after_polls", "polls": 1}}


def die_in_worker(*args: object) -> object:
    """Stands in for `hear_file` in a worker process: the worker dies as a crashing decoder would make it."""
    os._exit(3)


async def _create(api: Api, url: str) -> str:
    form = {"ServiceSid": api.state.dev_service_sid, "Channel": json.dumps({"media_properties": {"media_url": url}})}
    r = await api.call("POST", "/v2/Transcripts", api.dev, data=form)
    assert r.status == 202, r.body
    return str(r.body["sid"])


async def test_sentences_are_built_before_completion_and_completion_takes_them(make_api: Any) -> None:
    api: Api = await make_api(HELD)
    sid = await _create(api, await host(api, "call.flac", flac(CONVERSATION)))
    account = api.state.registry.account(api.dev.sid)
    assert account is not None
    t = account.transcripts[sid]
    await settle(lambda: t.analysis is not None, 30)
    assert t.status == "in-progress"  # heard and built, not yet completed
    assert t.prepared is not None
    prepared = t.prepared[1]
    assert (await api.call("GET", f"/v2/Transcripts/{sid}", api.dev)).body["status"] == "completed"
    assert t.sentences is prepared  # taken as built, not built again
    assert t.prepared is None
    said = await sentences(api, api.dev, sid)
    assert [s["media_channel"] for s in said] == [p.channel for p in CONVERSATION]


async def test_a_script_registered_after_the_media_was_heard_still_gives_the_words(make_api: Any) -> None:
    api: Api = await make_api(HELD)
    data = flac(CONVERSATION)
    sid = await _create(api, await host(api, "late-script.flac", data))
    account = api.state.registry.account(api.dev.sid)
    assert account is not None
    await settle(lambda: account.transcripts[sid].prepared is not None, 30)
    lines = {"1": ["One.", "Two.", "Three."], "2": ["Four.", "Five.", "Six."]}
    r = await api.control("POST", "/__mock__/scripts", {"sha256": hashlib.sha256(data).hexdigest(), "channels": lines})
    assert r.status == 201, r.body
    assert (await api.call("GET", f"/v2/Transcripts/{sid}", api.dev)).body["status"] == "completed"
    said = await sentences(api, api.dev, sid)
    assert [s["transcript"] for s in said] == ["One.", "Four.", "Two.", "Five.", "Three.", "Six."]


async def test_a_worker_that_dies_fails_only_its_transcript_and_the_next_one_is_heard(
    make_api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    api: Api = await make_api({"media": {"fetch": True}, "lifecycle": {"mode": "immediate"}})
    account = api.state.registry.account(api.dev.sid)
    assert account is not None
    url = await host(api, "call.flac", flac(CONVERSATION))
    monkeypatch.setattr(_pipeline, "hear_file", die_in_worker)
    doomed = await _create(api, url)
    await settle(lambda: account.transcripts[doomed].status == "failed", 30)
    alerts = (await api.control("GET", f"/__mock__/accounts/{api.dev.sid}/alerts")).body
    assert [(a["transcript_sid"], a["code"]) for a in alerts] == [(doomed, INVALID_MEDIA_TYPE)]
    monkeypatch.undo()
    heard = await _create(api, url)
    await settle(lambda: account.transcripts[heard].status in ("completed", "failed"), 30)
    assert account.transcripts[heard].status == "completed"
    assert len(await sentences(api, api.dev, heard)) == len(CONVERSATION)


def test_words_are_recomputed_on_read_and_redacted_words_are_kept() -> None:
    s = ScriptedSentence(1, 2.0, 5.0, "call me on 415 555 0100 today", 0.9)
    assert s.given_words is None
    assert s.words == spread_words(s.text, 2.0, 5.0)
    redacted = redact_sentence(s)
    assert redacted.given_words is not None
    assert "[PhoneNumber]" in [w.word for w in redacted.words]
    assert all(2.0 <= w.start_s <= w.end_s <= 5.0 for w in redacted.words)
    assert redact_sentence(ScriptedSentence(1, 0.0, 1.0, "hello there", 0.9)).given_words is None


def _round_trip(value: object) -> object:
    return pickle.loads(pickle.dumps(value))  # noqa: S301 - our own bytes, as the worker pool pickles them


def test_what_crosses_the_process_boundary_pickles_whole() -> None:
    plan = SentencePlan(((1, 0.5, 2.0), (2, 2.5, 4.0)), None, hashlib.sha256(b"media").digest(), True)
    built = build_sentences(plan)
    assert _round_trip(plan) == plan
    assert _round_trip(built) == built
    failure = _round_trip(MediaFailure(17552, "404 Not Found from media.example"))
    assert isinstance(failure, MediaFailure)
    assert (failure.code, failure.message, str(failure)) == (17552, "404 Not Found from media.example", failure.message)
    word = Word("hi", 0.0, 0.5)
    assert _round_trip(word) == word
    redacted = ScriptedSentence(2, 1.0, 2.0, "call [PhoneNumber]", 0.9, (Word("call", 1.0, 1.4), word))
    assert _round_trip(redacted) == redacted
    heard = MediaAnalysis("wav", 16_000, 2, 61.5, (Segment(1, 0.5, 2.0, -21.5), Segment(2, 2.5, 4.0, -18.0)))
    assert _round_trip(heard) == heard


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="Linux scheduling classes")
def test_media_workers_run_below_the_api_in_cpu_priority() -> None:
    pool = shared_pool(2)
    assert pool.submit(os.sched_getscheduler, 0).result(timeout=60) == os.SCHED_IDLE
    assert pool.submit(os.getpriority, os.PRIO_PROCESS, 0).result(timeout=60) == WORKER_NICENESS
    assert os.sched_getscheduler(0) != os.SCHED_IDLE  # the API's own process keeps its class


def test_a_placed_utterance_has_one_segment_plan_per_channel_in_order() -> None:
    plan = SentencePlan(((2, 3.0, 4.0), (1, 0.5, 1.5), (1, 5.0, 6.0)), None, b"\x00" * 32, False)
    built = build_sentences(plan)
    assert [(s.media_channel, s.start_s) for s in built.plain] == [(1, 0.5), (2, 3.0), (1, 5.0)]
    assert built.redacted is built.plain  # no redaction asked: one set
