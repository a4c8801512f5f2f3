"""What a scenario file states, as one declarative model: the mock's configuration, the media, the steps and the
expectations (scenarios/README.md documents every field with an example).

Every table forbids keys it does not know, every value has its type and range, so a typo or an impossible value is
an error before anything is sent (`_load` turns pydantic's errors into `file: key.path: value why`). What a single
field cannot say — a name that refers to a declared media, room or item, speech that must fit inside a track — is
checked by `_load` over the whole file. The `[mock]` table is the mock's own configuration (the keys of
`cintel mock --config`), validated by the mock's model, which `_load` is given: this package never imports the mock.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    model_validator,
)

__all__ = [
    "UTTERANCE_S",
    "AlertExpect",
    "Bound",
    "ConfigureStep",
    "CreateStep",
    "Expect",
    "Item",
    "Kill",
    "MediaSpec",
    "MergeStep",
    "Participant",
    "ParticipantExpect",
    "Room",
    "RoomParticipant",
    "RoomSegment",
    "Scenario",
    "SentenceExpect",
    "ServiceStep",
    "SpeechSegment",
    "Step",
    "SubmitStep",
    "TrackRef",
    "WaitStep",
    "WebhookExpect",
]

# The packaged utterances (mock_server/_media/voices/, 16 kHz): how long each lasts, so speech can be checked to fit
# its track without decoding audio. tests/harness/scenarios checks this table against the files.
UTTERANCE_S: dict[str, float] = {
    "hello": 1.6676875,
    "account": 1.9168125,
    "repeat": 0.9856875,
    "yes": 0.9289375,
    "goodbye": 1.461375,
}
Utterance = Literal["hello", "account", "repeat", "yes", "goodbye"]
MAX_SECONDS = 900.0  # a scenario is a test: fifteen minutes of audio is far more than one needs
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"  # media, room, service and batch names: safe in file names
KEY_PATTERN = r"^[\x20-\x7e]{1,60}$"  # customer keys: printable ASCII, ≤ 64 with a `-000` suffix (manifest rule)


def _one_or_two(value: int) -> int:
    if value not in (1, 2):
        raise ValueError("is not 1 or 2")
    return value


Channel = Annotated[StrictInt, AfterValidator(_one_or_two)]  # StrictInt: `true` is not channel 1
Name = Annotated[StrictStr, Field(pattern=NAME_PATTERN)]
Seconds = Annotated[float, Field(ge=0, le=MAX_SECONDS)]
Fraction = Annotated[float, Field(ge=0, le=1)]
Text = Annotated[StrictStr, Field(min_length=1, max_length=500)]


def _scalar(value: Any) -> Any:
    if isinstance(value, bool | int | str) or (isinstance(value, float) and math.isfinite(value)):
        return value
    raise ValueError("is not a string, a number or true/false")


def _one_or_many(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


# One type each, not unions: pydantic names a union's branches in an error's location, which no file has.
Scalar = Annotated[Any, AfterValidator(_scalar)]


class _Table(BaseModel):
    """A TOML table: no unknown key, no coercion (`"3"` is not 3, `true` is not 1), no NaN or infinity."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


# --- media and rooms -----------------------------------------------------------------------------------------------


class SpeechSegment(_Table):
    """One packaged utterance at `at_s` seconds into a generated track, on a channel of it."""

    at_s: Seconds
    utterance: Utterance
    channel: Channel = 1
    gain: Fraction = 0.5


class MediaSpec(_Table):
    """A media file: generated speech (`seconds` and `segments`) or a `file` next to the scenario."""

    file: Annotated[StrictStr, Field(min_length=1, max_length=500)] | None = None
    seconds: Annotated[float, Field(gt=0, le=MAX_SECONDS)] | None = None
    rate: Literal[8000, 16000, 22050, 44100, 48000] = 16000
    channels: Channel = 1
    format: Literal["wav", "flac", "mp3"] = "wav"
    segments: Annotated[list[SpeechSegment], Field(max_length=500)] = []

    @model_validator(mode="after")
    def _one_source(self) -> MediaSpec:
        if (self.file is None) == (self.seconds is None):
            raise ValueError("needs exactly one of 'file' (a file next to the scenario) or 'seconds' (generated)")
        if self.file is not None and self.segments:
            raise ValueError("'segments' are for generated media ('seconds'), not for a 'file'")
        return self


class RoomSegment(_Table):
    """Speech in a Video room, in room time: one utterance, or `duration_s` of utterances in a row."""

    at_s: Seconds
    utterance: Utterance | None = None
    duration_s: Annotated[float, Field(gt=0, le=MAX_SECONDS)] | None = None
    gain: Fraction = 0.5

    @model_validator(mode="after")
    def _one_kind(self) -> RoomSegment:
        if (self.utterance is None) == (self.duration_s is None):
            raise ValueError("needs exactly one of 'utterance' or 'duration_s'")
        return self


class RoomParticipant(_Table):
    """Who was in the room, when, and what their track carries: `segments` of speech or a declared `media`."""

    identity: Annotated[StrictStr, Field(min_length=1, max_length=128)]
    joined_s: Seconds
    left_s: Seconds
    media: Name | None = None
    segments: Annotated[list[RoomSegment], Field(max_length=500)] | None = None


class Room(_Table):
    """A completed Video room the mock records (`POST /__mock__/rooms`), made before the first step."""

    participants: Annotated[list[RoomParticipant], Field(min_length=1, max_length=50)]


# --- items and steps -----------------------------------------------------------------------------------------------


class Participant(_Table):
    """Twilio's participant object for a transcript's channel; `identity` maps a Video room's participant(s)."""

    channel_participant: StrictInt | None = None  # not only 1 or 2: a scenario may show what the API says to 3
    role: Text | None = None
    user_id: Text | None = None
    full_name: Text | None = None
    email: Text | None = None
    image_url: Text | None = None
    media_participant_id: Text | None = None
    identity: Annotated[list[Text], Field(min_length=1, max_length=10), BeforeValidator(_one_or_many)] | None = None


class TrackRef(_Table):
    """One participant's track of a `tracks` item or a merge: a declared media at an offset from the call's start."""

    media: Name
    offset_s: Seconds | None = None
    identity: Text | None = None
    channel: Channel | None = None
    participant: Participant | None = None


class Item(_Table):
    """One manifest row: `key` (its CustomerKey) and exactly one of `media`, `media_url`, `recording`, `room`,
    `tracks`. `repeat` makes that many rows, keyed `key-000`, `key-001`, …"""

    key: Annotated[StrictStr, Field(pattern=KEY_PATTERN)]
    media: Name | None = None
    media_url: Annotated[StrictStr, Field(min_length=1, max_length=2000)] | None = None
    recording: Name | None = None
    room: Name | None = None
    tracks: Annotated[list[TrackRef], Field(min_length=1, max_length=32)] | None = None
    host: Literal["signed", "public"] = "signed"
    ttl_s: Annotated[StrictInt, Field(ge=1, le=604_800)] | None = None
    participants: Annotated[list[Participant], Field(max_length=10)] | None = None
    metadata: Annotated[dict[str, Scalar], Field(max_length=50)] = {}
    repeat: Annotated[StrictInt, Field(ge=1, le=2000)] = 1

    @property
    def source(self) -> str:
        return next(n for n in ("media", "media_url", "recording", "room", "tracks") if getattr(self, n) is not None)

    def customer_keys(self) -> list[str]:
        """The CustomerKeys of this item's rows."""
        if self.repeat == 1:
            return [self.key]
        return [f"{self.key}-{i:03d}" for i in range(self.repeat)]

    @model_validator(mode="after")
    def _one_source(self) -> Item:
        given = [n for n in ("media", "media_url", "recording", "room", "tracks") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError(
                "needs exactly one of 'media', 'media_url', 'recording', 'room' or 'tracks'"
                + (f" (got {', '.join(given)})" if given else "")
            )
        if self.media is None and (self.ttl_s is not None or self.host != "signed"):
            raise ValueError("'host' and 'ttl_s' say how a declared 'media' is served: give them with 'media'")
        if self.host == "public" and self.ttl_s is not None:
            raise ValueError("'ttl_s' is a signed URL's lifetime: a public URL has none")
        return self


ExitCode = Annotated[StrictInt, Field(ge=0, le=255)]


class ServiceStep(_Table):
    """Create an Intelligence Service; later steps name it by `name`."""

    do: Literal["service"]
    name: Name = "default"
    unique_name: Annotated[StrictStr, Field(min_length=1, max_length=100)] | None = None
    auto_redaction: StrictBool = False


class Kill(_Table):
    """When to SIGKILL the runner: once the mock made `after_created` transcripts, or `after_s` seconds in."""

    after_created: Annotated[StrictInt, Field(ge=1)] | None = None
    after_s: Annotated[float, Field(gt=0, le=600)] | None = None

    @model_validator(mode="after")
    def _one(self) -> Kill:
        if (self.after_created is None) == (self.after_s is None):
            raise ValueError("needs exactly one of 'after_created' or 'after_s'")
        return self


class SubmitStep(_Table):
    """`cintel submit` of a batch's `items` (or a `manifest` file next to the scenario). A later submit step of the
    same `batch` runs the same command again on the same journal: a resume."""

    do: Literal["submit"]
    batch: Name = "main"
    service: Name | None = None
    items: Annotated[list[Item], Field(min_length=1, max_length=200)] | None = None
    manifest: Annotated[StrictStr, Field(min_length=1, max_length=500)] | None = None
    webhooks: StrictBool = False
    wait: StrictBool = True
    timeout_s: Annotated[float, Field(gt=0, le=1800)] | None = None
    word_timestamps: StrictBool = False
    retry_failed: StrictBool = False
    kill: Kill | None = None
    expect_exit: ExitCode | None = None  # default: 0, or not checked when the step kills the runner

    @property
    def expected_exit(self) -> int | None:
        if self.expect_exit is not None:
            return self.expect_exit
        return None if self.kill is not None else 0


class MergeStep(_Table):
    """`cintel merge` of a room's tracks (`room`) or of declared media (`tracks`) into `output`, a FLAC later items
    can name as `media`."""

    do: Literal["merge"]
    output: Name
    room: Name | None = None
    tracks: Annotated[list[TrackRef], Field(min_length=1, max_length=32)] | None = None
    via: Literal["recordings", "compositions"] = "recordings"
    channel1: Annotated[list[Text], Field(min_length=1, max_length=32)] | None = None
    channel2: Annotated[list[Text], Field(min_length=1, max_length=32)] | None = None
    align_ends: StrictBool = False
    expect_exit: ExitCode = 0
    expect_error: Text | None = None  # a part of what the command says on stderr
    expect_output: Text | None = None  # a part of what it prints (who is on which channel)

    @model_validator(mode="after")
    def _one_source(self) -> MergeStep:
        if (self.room is None) == (self.tracks is None):
            raise ValueError("needs exactly one of 'room' or 'tracks'")
        if (self.channel1 is None) != (self.channel2 is None):
            raise ValueError("'channel1' and 'channel2' go together")
        return self


class ConfigureStep(_Table):
    """A JSON merge patch of the scenario account's mock configuration, at `at_s` seconds from the scenario's start
    (alongside the other steps), or in turn when `at_s` is absent. Only against the mock."""

    do: Literal["configure"]
    mock: dict[str, Any]
    at_s: Annotated[float, Field(ge=0, le=1800)] | None = None


class WaitStep(_Table):
    do: Literal["wait"]
    seconds: Annotated[float, Field(gt=0, le=600)]


class CreateStep(_Table):
    """One transcript create as a client sends it, to see the API's own answer (a 400, its code, its message)."""

    do: Literal["create"]
    service: Name | None = None
    customer_key: Annotated[StrictStr, Field(pattern=KEY_PATTERN)] | None = None
    media: Name | None = None
    media_url: Annotated[StrictStr, Field(min_length=1, max_length=2000)] | None = None
    recording: Name | None = None
    participants: Annotated[list[Participant], Field(max_length=10)] | None = None
    expect_status: Annotated[StrictInt, Field(ge=100, le=599)] = 201
    expect_code: Annotated[StrictInt, Field(ge=1)] | None = None
    expect_message: Text | None = None

    @model_validator(mode="after")
    def _at_most_one_source(self) -> CreateStep:
        if sum(x is not None for x in (self.media, self.media_url, self.recording)) > 1:
            raise ValueError("takes at most one of 'media', 'media_url' or 'recording'")
        return self


Step = Annotated[
    ServiceStep | SubmitStep | MergeStep | ConfigureStep | WaitStep | CreateStep, Field(discriminator="do")
]
STEP_KINDS = ("service", "submit", "merge", "configure", "wait", "create")


# --- expectations --------------------------------------------------------------------------------------------------


class Bound(_Table):
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


class SentenceExpect(_Table):
    """One sentence of an item: its channel and start time (± `tolerance_s`, default the expectations' own). The
    sentences listed for an item are all of its sentences, in time order."""

    item: Annotated[StrictStr, Field(pattern=KEY_PATTERN)]
    channel: Channel
    at_s: Seconds
    tolerance_s: Annotated[float, Field(gt=0, le=10)] | None = None
    text: Text | None = None  # a part of the sentence's text


class ParticipantExpect(Participant):
    """A participant of an item's transcript (fields given must match); the ones listed are all of them."""

    item: Annotated[StrictStr, Field(pattern=KEY_PATTERN)]


class AlertExpect(_Table):
    """An entry of the mock's alert log (Twilio's Debugger): a media failure's code, for an item or any."""

    code: Annotated[StrictInt, Field(ge=1)]
    item: Annotated[StrictStr, Field(pattern=KEY_PATTERN)] | None = None
    message: Text | None = None


class WebhookExpect(_Table):
    """Completion callbacks the mock sent, failed to deliver, or dropped on purpose (`webhook_faults.drop`)."""

    sent: Bound | None = None
    failed: Bound | None = None
    dropped: Bound | None = None


ItemStatus = Literal["completed", "failed", "rejected", "not_done"]


class Expect(_Table):
    tolerance_s: Annotated[float, Field(gt=0, le=10)] = 0.05
    statuses: Annotated[dict[str, ItemStatus], Field(max_length=500)] = {}  # "*": every item
    errors: Annotated[dict[str, Text], Field(max_length=500)] = {}  # a part of the item's failure or reject reason
    exactly_once: StrictBool = False
    sentences: Annotated[list[SentenceExpect], Field(max_length=2000)] = []
    participants: Annotated[list[ParticipantExpect], Field(max_length=500)] = []
    metadata: Annotated[dict[str, dict[str, Scalar]], Field(max_length=500)] = {}
    alerts: Annotated[list[AlertExpect], Field(max_length=500)] = []
    webhooks: WebhookExpect | None = None
    share_429: Bound | None = None  # the mock's 429 answers over all its answers to this scenario's account
    goodput: Bound | None = None  # completed items per second of submitting
    stats: Annotated[dict[str, Bound], Field(max_length=50)] = {}  # any counter of the mock's account stats

    @property
    def empty(self) -> bool:
        return self == Expect()


class Scenario(_Table):
    description: Annotated[StrictStr, Field(max_length=2000)] = ""
    timeout_s: Annotated[float, Field(gt=0, le=1800)] = 120.0
    seed: Annotated[StrictInt, Field(ge=0, le=2**63 - 1)] = 0
    mock: dict[str, Any] = {}
    media: Annotated[dict[Name, MediaSpec], Field(max_length=100)] = {}
    rooms: Annotated[dict[Name, Room], Field(max_length=20)] = {}
    steps: Annotated[list[Step], Field(min_length=1, max_length=100)]
    expect: Expect = Expect()
