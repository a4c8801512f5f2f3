"""Twilio's pre-built operators and operator types: a fixed catalogue every account sees.

Their SIDs are derived from their names (sha256), not from the app's generator, so they are the same across
resets, seeds and runs — tests and users can hard-code them as they would Twilio's published ones.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from mock_server._model._render import BASE

CATALOGUE_EPOCH = 1_672_531_200.0  # 2023-01-01T00:00:00Z: when the catalogue "was published"


def stable_sid(prefix: str, name: str) -> str:
    return prefix + hashlib.sha256(f"{prefix}:{name}".encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class OperatorType:
    name: str
    friendly_name: str
    output_type: str  # operator_type_enum_output_type
    result_type: str  # operator_result_enum_operator_type
    provider: str
    configurable: bool
    description: str

    @property
    def sid(self) -> str:
        return stable_sid("EY", self.name)


OPERATOR_TYPES: tuple[OperatorType, ...] = (
    OperatorType(
        "conversation-classify", "Conversation Classify", "text-classification", "conversation-classify",
        "twilio", False, "Classifies a whole conversation into one label.",
    ),
    OperatorType(
        "utterance-classify", "Utterance Classify", "text-classification", "utterance-classify",
        "twilio", False, "Classifies each utterance.",
    ),
    OperatorType(
        "extract", "Extract", "text-extraction", "extract", "twilio", False, "Extracts entities from the text."
    ),
    OperatorType(
        "extract-normalize", "Extract and Normalize", "text-extraction-normalized", "extract-normalize",
        "twilio", False, "Extracts one value and normalizes it.",
    ),
    OperatorType(
        "pii-extract", "PII Extract", "text-extraction", "pii-extract", "twilio", False,
        "Finds personally identifiable information.",
    ),
    OperatorType(
        "text-generation", "Generative", "text-generation", "text-generation", "openai", True,
        "Generates text from the conversation with a prompt.",
    ),
    OperatorType(
        "json", "Generative JSON", "json", "json", "openai", True,
        "Generates a JSON object from the conversation with a prompt and a schema.",
    ),
)  # fmt: skip
TYPES_BY_NAME = {t.name: t for t in OPERATOR_TYPES}
TYPES_BY_SID = {t.sid: t for t in OPERATOR_TYPES}
LANGUAGES = ["en-US"]


@dataclass(frozen=True, slots=True)
class Prebuilt:
    friendly_name: str
    operator_type: str
    description: str

    @property
    def sid(self) -> str:
        return stable_sid("LY", self.friendly_name)


PREBUILT: tuple[Prebuilt, ...] = (
    Prebuilt("Conversation Summary", "text-generation", "A short summary of the conversation."),
    Prebuilt("Sentiment Analysis", "conversation-classify", "Positive, negative or neutral overall."),
    Prebuilt("Call Transfer", "utterance-classify", "Detects when a call is transferred."),
    Prebuilt("Entity Recognition", "extract", "Names, places and organisations mentioned."),
    Prebuilt("PII Extract", "pii-extract", "Phone numbers, emails and other PII."),
    Prebuilt("Escalation Request", "utterance-classify", "The customer asks for a supervisor."),
)
PREBUILT_BY_SID = {p.sid: p for p in PREBUILT}


def render_operator_type(t: OperatorType) -> dict[str, Any]:
    return {
        "name": t.name,
        "sid": t.sid,
        "friendly_name": t.friendly_name,
        "description": t.description,
        "docs_link": f"https://www.twilio.com/docs/conversational-intelligence/operators/{t.name}",
        "output_type": t.output_type,
        "supported_languages": LANGUAGES,
        "provider": t.provider,
        "availability": "general-availability",
        "configurable": t.configurable,
        "config_schema": {"type": "object"} if t.configurable else None,
        "date_created": "2023-01-01T00:00:00Z",
        "date_updated": "2023-01-01T00:00:00Z",
        "url": f"{BASE}/v2/OperatorTypes/{t.sid}",
    }


def render_prebuilt(p: Prebuilt, *, url_path: str = "Operators/PreBuilt") -> dict[str, Any]:
    return {
        "account_sid": None,
        "sid": p.sid,
        "friendly_name": p.friendly_name,
        "description": p.description,
        "author": "twilio",
        "operator_type": p.operator_type,
        "version": 1,
        "availability": "general-availability",
        "config": {},
        "date_created": "2023-01-01T00:00:00Z",
        "date_updated": "2023-01-01T00:00:00Z",
        "url": f"{BASE}/v2/{url_path}/{p.sid}",
    }
