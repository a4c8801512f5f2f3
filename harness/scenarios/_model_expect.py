"""What a scenario expects (`[expect]`): statuses, errors, sentences, participants, metadata, alerts, webhook and
stats counters, the share of 429s, goodput — each judged by `_expect` against what was seen."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StrictBool, StrictInt, model_validator

from harness.scenarios._fields import Channel, Key, Participant, Scalar, Seconds, Table, Text

__all__ = [
    "AlertExpect",
    "Bound",
    "Expect",
    "ItemStatus",
    "ParticipantExpect",
    "SentenceExpect",
    "WebhookExpect",
]


class Bound(Table):
    """A number's expected range: `min`, `max` (both inclusive), or `equals`."""

    min: float | None = None
    max: float | None = None
    equals: float | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Bound:
        if self.equals is not None and (self.min is not None or self.max is not None):
            raise ValueError("'equals' stands alone (or give 'min' and/or 'max')")
        if self.equals is None and self.min is None and self.max is None:
            raise ValueError("needs 'min', 'max' or 'equals'")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min:g} is more than max {self.max:g}")
        return self

    def holds(self, value: float) -> bool:
        if self.equals is not None:
            return value == self.equals
        return (self.min is None or value >= self.min) and (self.max is None or value <= self.max)

    def describe(self) -> str:
        if self.equals is not None:
            return f"= {self.equals:g}"
        parts = ([f"≥ {self.min:g}"] if self.min is not None else []) + (
            [f"≤ {self.max:g}"] if self.max is not None else []
        )
        return " and ".join(parts)


class SentenceExpect(Table):
    """One sentence of an item: its channel and start time (± `tolerance_s`, default the expectations' own). The
    sentences listed for an item are all of its sentences, in time order."""

    item: Key
    channel: Channel
    at_s: Seconds
    tolerance_s: Annotated[float, Field(gt=0, le=10)] | None = None
    text: Text | None = None  # a part of the sentence's text


class ParticipantExpect(Participant):
    """A participant of an item's transcript (fields given must match); the ones listed are all of them."""

    item: Key


class AlertExpect(Table):
    """An entry of the mock's alert log (Twilio's Debugger): a media failure's code, for an item or any."""

    code: Annotated[StrictInt, Field(ge=1)]
    item: Key | None = None
    message: Text | None = None


class WebhookExpect(Table):
    """Completion callbacks the mock sent, failed to deliver, or dropped on purpose (`webhook_faults.drop`)."""

    sent: Bound | None = None
    failed: Bound | None = None
    dropped: Bound | None = None


ItemStatus = Literal["completed", "failed", "rejected", "not_done"]


class Expect(Table):
    tolerance_s: Annotated[float, Field(gt=0, le=10)] = 0.05
    statuses: Annotated[dict[str, ItemStatus], Field(max_length=500)] = Field(default_factory=dict)  # "*": every item
    errors: Annotated[dict[str, Text], Field(max_length=500)] = Field(
        default_factory=dict
    )  # a part of the item's failure or reject reason
    exactly_once: StrictBool = False
    sentences: Annotated[list[SentenceExpect], Field(max_length=2000)] = Field(default_factory=list)
    participants: Annotated[list[ParticipantExpect], Field(max_length=500)] = Field(default_factory=list)
    metadata: Annotated[dict[str, dict[str, Scalar]], Field(max_length=500)] = Field(default_factory=dict)
    alerts: Annotated[list[AlertExpect], Field(max_length=500)] = Field(default_factory=list)
    webhooks: WebhookExpect | None = None
    share_429: Bound | None = None  # the mock's 429 answers over all its answers to this scenario's account
    goodput: Bound | None = None  # completed items per second of submitting
    stats: Annotated[dict[str, Bound], Field(max_length=50)] = Field(
        default_factory=dict
    )  # any counter of the mock's account stats

    @property
    def empty(self) -> bool:
        return self == Expect()
