"""What a completed transcript says — its sentences, redacted or not, and the operator results read from them —
mixed into `Account` through `TranscriptOperations`.

Where sentences come from:

- **From the audio** (the media pipeline heard the media: `t.analysis` is set). Each speech segment the VAD found is
  one sentence on the segment's own media channel, with its start and end from the audio. The text is the script
  registered for this media through the control plane (`POST /__mock__/scripts`: looked up by the SHA-256 of the
  media bytes first, then by the media URL without its query; a `source_sid` transcript by hash only), a channel's
  lines going to that channel's segments in time order; segments without a line get words seeded by the media's
  hash, so the same media always reads the same (`mock_server._media._script.assign_text`). Built once, when the
  transcript completes, and kept on the record with its redacted twin.
- **Invented** (no analysis: `media.fetch` is off). Today's `ScriptedConversation`, deterministic per transcript SID
  and put on channels by the participants' roles; computed when read (a million stored transcripts stay small).

Redaction (the service's `auto_redaction`, read with `Redacted=true`, the default) replaces each PII finding by its
label (`[PhoneNumber]`, `mock_server._media._pii`), in the text and in the words. The pre-built "PII Extract"
operator's result is computed from the same sentences by the same detector, so the two always agree.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mock_server._errors import not_found
from mock_server._media._pii import find_pii, redact_text, redact_words
from mock_server._media._pii_results import pii_operator_result
from mock_server._media._script import Script, ScriptedSentence, assign_text
from mock_server._model._content import ScriptedConversation, SentenceSource, operator_result
from mock_server._model._context import Context
from mock_server._model._media import media_url_of
from mock_server._model._params import Params, Result
from mock_server._model._records import COMPLETED, MediaInfo, TranscriptRecord
from mock_server._model._render import BASE, paginate

Sentence = ScriptedSentence  # media_channel, start_s, end_s, text, confidence, words (each with its timestamps)
PII_OPERATOR_TYPE = "pii-extract"  # the pre-built "PII Extract" operator's type (_catalogue.py)


@dataclass(frozen=True, slots=True)
class SentenceSet:
    """A transcript's sentences as heard, and as read with redaction (the same objects where nothing was found)."""

    plain: tuple[Sentence, ...]
    redacted: tuple[Sentence, ...]


def redact_sentence(s: Sentence) -> Sentence:
    """`s` with every PII finding replaced by its label, in the text and in the words; `s` itself if none."""
    matches = find_pii(s.text)
    if not matches:
        return s
    return dataclasses.replace(
        s, text=redact_text(s.text, matches), given_words=tuple(redact_words(s.text, s.words, matches))
    )


@dataclass(frozen=True, slots=True)
class SentencePlan:
    """Everything needed to build a heard transcript's sentences, as plain picklable values: the media pipeline
    builds them in a worker (`build_sentences`), off the event loop, and the model checks at completion that the
    script it was built with is still the one registered."""

    segments: tuple[tuple[int, float, float], ...]  # (media_channel, start_s, end_s) per speech segment
    script: Script | None
    seed: bytes  # the media's SHA-256 digest: the same media always reads the same
    redaction: bool  # the service's auto_redaction at creation: build the redacted twin too


@dataclass(frozen=True, slots=True)
class _Span:
    channel: int
    start_s: float
    end_s: float


def build_sentences(plan: SentencePlan) -> SentenceSet:
    """The sentences `plan` describes, and their redacted twins when the service redacts (pure; any thread/process)."""
    plain = tuple(assign_text((_Span(*seg) for seg in plan.segments), plan.script, plan.seed))
    return SentenceSet(plain, tuple(map(redact_sentence, plain)) if plan.redaction else plain)


def sentence_plan(t: TranscriptRecord, ctx: Context, analysis: MediaInfo, sha256: str | None) -> SentencePlan:
    """How `t`'s media reads, given what was heard in it and its hex SHA-256: its segments, the script registered for
    it now (looked up by the hash first, then by the media URL without its query), its seed, whether it is redacted."""
    media_url = None if t.source_sid is not None else media_url_of(t.channel)
    script = ctx.scripts.get(sha256=sha256, media_url=media_url)
    seed = bytes.fromhex(sha256) if sha256 else hashlib.sha256(t.sid.encode()).digest()
    segments = tuple((int(g.channel), float(g.start_s), float(g.end_s)) for g in analysis.segments)
    return SentencePlan(segments, script, seed, t.redaction)


def heard_sentences(t: TranscriptRecord, ctx: Context) -> SentenceSet | None:
    """The sentences of `t`'s analysed media: one per speech segment, text from its script or seeded by its hash.

    Uses what the media pipeline built in its worker (`t.prepared`) when it was built with the script registered
    now; builds them here otherwise (a script registered or replaced while the media was being heard: rare).
    """
    if t.analysis is None:
        return None
    plan = sentence_plan(t, ctx, t.analysis, t.media_sha256)
    prepared = t.prepared
    if prepared is not None and prepared[0] == plan:
        return prepared[1]
    return build_sentences(plan)


def invented_sentences(source: SentenceSource, t: TranscriptRecord) -> tuple[Sentence, ...]:
    """The invented conversation of a transcript nobody listened to, with its words spread over each sentence."""
    return tuple(
        Sentence(r.media_channel, r.start_s, r.end_s, r.text, r.confidence)
        for r in source.sentences(t.sid, t.duration, t.roles)
    )


def _seconds(value: float) -> float:
    return round(value, 2)  # monotonic: a word inside its sentence stays inside it once both are rounded


def render_sentence(s: Sentence, index: int, sid: str, *, word_timestamps: bool) -> dict[str, Any]:
    words = (
        [{"word": w.word, "start_time": _seconds(w.start_s), "end_time": _seconds(w.end_s)} for w in s.words]
        if word_timestamps
        else []
    )
    return {
        "media_channel": s.media_channel,
        "sentence_index": index,
        "start_time": f"{_seconds(s.start_s):.2f}",
        "end_time": f"{_seconds(s.end_s):.2f}",
        "transcript": s.text,
        "sid": sid,
        "confidence": f"{s.confidence:.4f}",
        "words": words,
    }


def sentence_sid(transcript_sid: str, index: int) -> str:
    return "GX" + hashlib.sha256(f"{transcript_sid}:{index}".encode()).hexdigest()[:32]


def echo(p: Params, *names: str) -> list[tuple[str, str]]:
    """The given parameters, for paging URLs: a next page must ask for the same thing."""
    return [(name, value) for name in names if (value := p.get(name)) is not None]


class SentenceOperations:
    ctx: Context
    transcripts: dict[str, TranscriptRecord]
    sentence_source: SentenceSource = ScriptedConversation()

    def _transcript(self, sid: str, path: str = "") -> TranscriptRecord:
        raise NotImplementedError  # provided by TranscriptOperations

    def refresh(self, t: TranscriptRecord, now: float, *, poll: bool = False) -> None:
        raise NotImplementedError  # provided by TranscriptOperations

    def operator_name_and_type(self, sid: str) -> tuple[str, str]:
        raise NotImplementedError  # provided by Account

    # --- what a transcript says ----------------------------------------------------------------------------------

    def plan_sentences(self, transcript_sid: str, analysis: MediaInfo, sha256: str | None) -> SentencePlan | None:
        """For the media pipeline: how a transcript whose media was just heard will read (None if it is gone)."""
        t = self.transcripts.get(transcript_sid)
        if t is None or t.deleted or t.status == COMPLETED:
            return None
        return sentence_plan(t, self.ctx, analysis, sha256)

    def _keep_sentences(self, t: TranscriptRecord) -> None:
        """At completion: keep the sentences of analysed media on the record (built in the worker, or here once)."""
        t.sentences = heard_sentences(t, self.ctx)
        t.prepared = None

    def sentences_of(self, t: TranscriptRecord, *, redacted: bool = False) -> Sequence[Sentence]:
        """What `t` says (nothing until it is completed); `redacted`: with its PII replaced by labels."""
        if t.status != COMPLETED:
            return ()
        kept = t.sentences
        if kept is not None:
            return kept.redacted if redacted else kept.plain
        plain = invented_sentences(self.sentence_source, t)
        return tuple(map(redact_sentence, plain)) if redacted else plain

    # --- sub-resources -------------------------------------------------------------------------------------------

    def list_sentences(self, tsid: str, p: Params) -> Result:
        t = self._transcript(tsid, "/Sentences")
        self.refresh(t, self.ctx.clock.now())
        redacted = bool(p.bool("Redacted", True)) and t.redaction
        words = bool(p.bool("WordTimestamps", False))
        sentences = self.sentences_of(t, redacted=redacted)

        def render(index: int) -> dict[str, Any]:
            return render_sentence(sentences[index], index, sentence_sid(t.sid, index), word_timestamps=words)

        path = f"/v2/Transcripts/{tsid}/Sentences"
        echoed = echo(p, "Redacted", "WordTimestamps")
        body = paginate(
            p, key="sentences", path=path, items=range(len(sentences)), render=render, filters=echoed,
            max_page_size=5000, newest_first=False,
        )  # fmt: skip
        return Result(200, body)

    def _operator_result(self, t: TranscriptRecord, osid: str, redacted: bool) -> dict[str, Any]:
        name, operator_type = self.operator_name_and_type(osid)
        url = f"{BASE}/v2/Transcripts/{t.sid}/OperatorResults/{osid}"
        if operator_type == PII_OPERATOR_TYPE:
            return pii_operator_result(
                self.sentences_of(t), operator_sid=osid, name=name, transcript_sid=t.sid, url=url, redacted=redacted
            )
        return operator_result(osid, name, operator_type, t.sid, url, redacted=redacted)

    def _operator_results(self, t: TranscriptRecord, redacted: bool) -> list[dict[str, Any]]:
        if t.status != COMPLETED:
            return []
        return [self._operator_result(t, osid, redacted) for osid in t.operator_sids]

    def list_operator_results(self, tsid: str, p: Params) -> Result:
        t = self._transcript(tsid, "/OperatorResults")
        self.refresh(t, self.ctx.clock.now())
        redacted = bool(p.bool("Redacted", True)) and t.redaction
        rows = self._operator_results(t, redacted)
        path = f"/v2/Transcripts/{tsid}/OperatorResults"
        body = paginate(
            p, key="operator_results", path=path, items=rows, render=dict, filters=echo(p, "Redacted"),
            newest_first=False,
        )  # fmt: skip
        return Result(200, body)

    def fetch_operator_result(self, tsid: str, osid: str, p: Params) -> Result:
        t = self._transcript(tsid, f"/OperatorResults/{osid}")
        self.refresh(t, self.ctx.clock.now())
        redacted = bool(p.bool("Redacted", True)) and t.redaction
        if t.status == COMPLETED and osid in t.operator_sids:
            return Result(200, self._operator_result(t, osid, redacted))
        raise not_found(f"/v2/Transcripts/{tsid}/OperatorResults/{osid}")


__all__ = [
    "PII_OPERATOR_TYPE",
    "Sentence",
    "SentenceOperations",
    "SentencePlan",
    "SentenceSet",
    "build_sentences",
    "echo",
    "heard_sentences",
    "invented_sentences",
    "redact_sentence",
    "render_sentence",
    "sentence_plan",
    "sentence_sid",
]
