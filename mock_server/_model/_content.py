"""Invented content, deterministic per transcript: the sentences of media nobody listened to, and the results of
the operators that do not read the sentences.

Transcripts whose media was heard take their sentences from the audio (`_sentences.py`); with media fetching off,
sentences come from a `SentenceSource`, by default `ScriptedConversation`: a plausible two-party call from a seed
derived from the transcript SID, so the same transcript always reads the same. The pre-built PII operator's result is
computed from the sentences (`_sentences.py` with `mock_server._media._pii`), not invented here.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from typing import Any, Protocol

from mock_server._model._catalogue import PREBUILT_BY_SID, TYPES_BY_NAME

AGENT_LINES = (
    "Thank you for calling, how can I help you today?",
    "Can I have your phone number please?",
    "I can see your account here.",
    "Let me transfer you to the billing team.",
    "Is there anything else I can help you with?",
    "I have updated the address on file.",
)
CUSTOMER_LINES = (
    "Hi, I have a question about my last bill.",
    "Sure, it is +1 555 010 4477.",
    "My email is pat.jones@example.com.",
    "I would like to change my delivery address.",
    "No, that is all, thank you.",
    "The charge on the twelfth looks wrong to me.",
)


@dataclass(frozen=True, slots=True)
class SentenceRecord:
    media_channel: int
    start_s: float
    end_s: float
    text: str
    confidence: float


class SentenceSource(Protocol):
    """Produces the sentences of a completed transcript.

    `roles` are the participants' roles on media channels 1 and 2 after the Channel's overrides (default Agent,
    Customer): a source puts each speaker's words on the channel that speaker was recorded on.
    """

    def sentences(self, transcript_sid: str, duration_s: int, roles: tuple[str, str]) -> list[SentenceRecord]: ...


def _seed_for(sid: str, salt: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{salt}:{sid}".encode()).digest()[:8], "big")


def _rng_for(sid: str, salt: str) -> random.Random:
    return random.Random(_seed_for(sid, salt))


class ScriptedConversation:
    """The default source: the agent opens, then agent and customer alternate, spread over the media's duration.

    Each line is put on the media channel of its speaker's role, so a Channel whose participants say channel 1 is
    the Customer gets the customer's lines on channel 1.
    """

    def sentences(self, transcript_sid: str, duration_s: int, roles: tuple[str, str]) -> list[SentenceRecord]:
        rng = _rng_for(transcript_sid, "sentences")
        count = rng.randint(4, 10)
        slot = max(duration_s, count * 2) / count
        agent_channel = 1 if roles[0] == "Agent" or roles[1] != "Agent" else 2
        out = []
        for i in range(count):
            agent_speaks = i % 2 == 0
            channel = agent_channel if agent_speaks else 3 - agent_channel
            lines = AGENT_LINES if agent_speaks else CUSTOMER_LINES
            start = round(i * slot + rng.uniform(0, slot * 0.2), 2)
            end = round(start + slot * rng.uniform(0.5, 0.75), 2)
            out.append(SentenceRecord(channel, start, end, rng.choice(lines), round(rng.uniform(0.82, 0.99), 4)))
        return out


def operator_result(
    operator_sid: str, name: str, operator_type: str, transcript_sid: str, url: str, *, redacted: bool
) -> dict[str, Any]:
    """One operator result shaped by its type; values are deterministic per (transcript, operator).

    Not for the PII operator (`pii-extract`), whose result is what `mock_server._media._pii` finds in the sentences.
    """
    rng = _rng_for(transcript_sid + operator_sid, "operator")
    result_type = TYPES_BY_NAME[operator_type].result_type if operator_type in TYPES_BY_NAME else "extract"
    body: dict[str, Any] = {
        "operator_type": result_type,
        "name": name,
        "operator_sid": operator_sid,
        "extract_match": None,
        "match_probability": None,
        "normalized_result": None,
        "utterance_results": [],
        "utterance_match": None,
        "predicted_label": None,
        "predicted_probability": None,
        "label_probabilities": {},
        "extract_results": {},
        "text_generation_results": None,
        "json_results": None,
        "transcript_sid": transcript_sid,
        "url": url,
    }
    if result_type == "conversation-classify":
        labels = {"positive": rng.random(), "neutral": rng.random(), "negative": rng.random()}
        total = sum(labels.values())
        body["label_probabilities"] = {k: round(v / total, 4) for k, v in labels.items()}
        body["predicted_label"] = max(labels, key=labels.__getitem__)
        body["predicted_probability"] = body["label_probabilities"][body["predicted_label"]]
    elif result_type == "utterance-classify":
        match = rng.random() < 0.5
        body["utterance_match"] = match
        body["match_probability"] = round(rng.uniform(0.6, 0.99) if match else rng.uniform(0.0, 0.4), 4)
        body["utterance_results"] = [{"utterance_index": 3, "label": "match", "probability": 0.9}] if match else []
    elif result_type in ("extract", "extract-normalize"):
        body["extract_match"] = True
        body["match_probability"] = round(rng.uniform(0.7, 0.99), 4)
        body["extract_results"] = {"entities": ["billing"]}
        if result_type == "extract-normalize":
            body["normalized_result"] = "billing"
    elif result_type == "text-generation":
        text = "The customer asked about a charge on their bill; the agent updated their address."
        body["text_generation_results"] = {"result": f"[Redacted: {name}]" if redacted else text, "format": "text"}
    else:  # json
        body["json_results"] = {"topic": "billing", "resolved": rng.random() < 0.7}
    return body


def prebuilt_name(operator_sid: str) -> str | None:
    prebuilt = PREBUILT_BY_SID.get(operator_sid)
    return prebuilt.friendly_name if prebuilt else None


def media_seconds(transcript_sid: str) -> int:
    """A deterministic pseudo media length (30–600 s) for media nobody listened to: 30 + the first 8 bytes of
    SHA-256("media:" + SID) modulo 571.

    It used to be `random.Random(that number).randint(30, 600)`: the same range and as deterministic, but seeding a
    Mersenne Twister (2.5 KB of state, ~1,900 steps) on every create was a seventh of the create path's time under
    load. The digest alone is spread evenly enough (the bias of 2**64 mod 571 is below 1e-16).
    """
    return 30 + _seed_for(transcript_sid, "media") % 571
