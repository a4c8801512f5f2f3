"""What a scenario file states, as one declarative model: the mock's configuration, the media, the steps and the
expectations (scenarios/README.md documents every field with an example).

Every table forbids keys it does not know, every value has its type and range, so a typo or an impossible value is
an error before anything is sent (`_load` turns pydantic's errors into `file: key.path: value why`). What a single
field cannot say — a name that refers to a declared media, room or item, speech that must fit inside a track — is
checked by `_load` over the whole file. The `[mock]` table is the mock's own configuration (the keys of
`cintel mock --config`), validated by the mock's model, which `_load` is given: this package never imports the mock.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StrictBool, StrictInt, StrictStr, model_validator

from harness.scenarios._fields import (
    MAX_SECONDS,
    Channel,
    Fraction,
    Key,
    Name,
    Participant,
    Scalar,
    Seconds,
    Table,
    Text,
    Utterance,
)
from harness.scenarios._model_expect import Expect

__all__ = [
    "STEP_KINDS",
    "ConfigureStep",
    "CreateStep",
    "Item",
    "Kill",
    "MediaSpec",
    "MergeStep",
    "Room",
    "RoomParticipant",
    "RoomSegment",
    "Scenario",
    "ServiceStep",
    "SpeechSegment",
    "Step",
    "SubmitStep",
    "TrackRef",
    "WaitStep",
]

# --- media and rooms -----------------------------------------------------------------------------------------------


class SpeechSegment(Table):
    """One packaged utterance at `at_s` seconds into a generated track, on a channel of it."""

    at_s: Seconds
    utterance: Utterance
    channel: Channel = 1
    gain: Fraction = 0.5


class MediaSpec(Table):
    """A media file: generated speech (`seconds` and `segments`) or a `file` next to the scenario."""

    file: Annotated[StrictStr, Field(min_length=1, max_length=500)] | None = None
    seconds: Annotated[float, Field(gt=0, le=MAX_SECONDS)] | None = None
    rate: Literal[8000, 16000, 22050, 44100, 48000] = 16000
    channels: Channel = 1
    format: Literal["wav", "flac", "mp3"] = "wav"
    segments: Annotated[list[SpeechSegment], Field(max_length=500)] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_source(self) -> MediaSpec:
        if (self.file is None) == (self.seconds is None):
            raise ValueError("needs exactly one of 'file' (a file next to the scenario) or 'seconds' (generated)")
        if self.file is not None and self.segments:
            raise ValueError("'segments' are for generated media ('seconds'), not for a 'file'")
        return self


class RoomSegment(Table):
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


class RoomParticipant(Table):
    """Who was in the room, when, and what their track carries: `segments` of speech or a declared `media`."""

    identity: Annotated[StrictStr, Field(min_length=1, max_length=128)]
    joined_s: Seconds
    left_s: Seconds
    media: Name | None = None
    segments: Annotated[list[RoomSegment], Field(max_length=500)] | None = None


class Room(Table):
    """A completed Video room the mock records (`POST /__mock__/rooms`), made before the first step."""

    participants: Annotated[list[RoomParticipant], Field(min_length=1, max_length=50)]


# --- items and steps -----------------------------------------------------------------------------------------------


class TrackRef(Table):
    """One participant's track of a `tracks` item or a merge: a declared media at an offset from the call's start."""

    media: Name
    offset_s: Seconds | None = None
    identity: Text | None = None
    channel: Channel | None = None
    participant: Participant | None = None


class Item(Table):
    """One manifest row: `key` (its CustomerKey) and exactly one of `media`, `media_url`, `recording`, `room`,
    `tracks`. `repeat` makes that many rows, keyed `key-000`, `key-001`, …"""

    key: Key
    media: Name | None = None
    media_url: Annotated[StrictStr, Field(min_length=1, max_length=2000)] | None = None
    recording: Name | None = None
    room: Name | None = None
    tracks: Annotated[list[TrackRef], Field(min_length=1, max_length=32)] | None = None
    host: Literal["signed", "public"] = "signed"
    ttl_s: Annotated[StrictInt, Field(ge=1, le=604_800)] | None = None
    participants: Annotated[list[Participant], Field(max_length=10)] | None = None
    metadata: Annotated[dict[str, Scalar], Field(max_length=50)] = Field(default_factory=dict)
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


class ServiceStep(Table):
    """Create an Intelligence Service; later steps name it by `name`."""

    do: Literal["service"]
    name: Name = "default"
    unique_name: Annotated[StrictStr, Field(min_length=1, max_length=100)] | None = None
    auto_redaction: StrictBool = False


class Kill(Table):
    """When to SIGKILL the runner: once the mock made `after_created` transcripts, or `after_s` seconds in."""

    after_created: Annotated[StrictInt, Field(ge=1)] | None = None
    after_s: Annotated[float, Field(gt=0, le=600)] | None = None

    @model_validator(mode="after")
    def _one(self) -> Kill:
        if (self.after_created is None) == (self.after_s is None):
            raise ValueError("needs exactly one of 'after_created' or 'after_s'")
        return self


class SubmitStep(Table):
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


class MergeStep(Table):
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


class ConfigureStep(Table):
    """A JSON merge patch of the scenario account's mock configuration, at `at_s` seconds from the scenario's start
    (alongside the other steps), or in turn when `at_s` is absent. Only against the mock."""

    do: Literal["configure"]
    mock: dict[str, Any]
    at_s: Annotated[float, Field(ge=0, le=1800)] | None = None


class WaitStep(Table):
    do: Literal["wait"]
    seconds: Annotated[float, Field(gt=0, le=600)]


class CreateStep(Table):
    """One transcript create as a client sends it, to see the API's own answer (a 400, its code, its message)."""

    do: Literal["create"]
    service: Name | None = None
    customer_key: Key | None = None
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


class Scenario(Table):
    description: Annotated[StrictStr, Field(max_length=2000)] = ""
    timeout_s: Annotated[float, Field(gt=0, le=1800)] = 120.0
    seed: Annotated[StrictInt, Field(ge=0, le=2**63 - 1)] = 0
    mock: dict[str, Any] = Field(default_factory=dict)
    media: Annotated[dict[Name, MediaSpec], Field(max_length=100)] = Field(default_factory=dict)
    rooms: Annotated[dict[Name, Room], Field(max_length=20)] = Field(default_factory=dict)
    steps: Annotated[list[Step], Field(min_length=1, max_length=100)]
    expect: Expect = Expect()
