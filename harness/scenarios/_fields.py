"""The value types every table of a scenario file shares: strict tables (no unknown key, no coercion), channels,
names, seconds, the packaged utterances, and Twilio's participant object."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StrictInt, StrictStr

__all__ = [
    "KEY_PATTERN",
    "MAX_SECONDS",
    "NAME_PATTERN",
    "UTTERANCE_S",
    "Channel",
    "Fraction",
    "Key",
    "Name",
    "Participant",
    "Scalar",
    "Seconds",
    "Table",
    "Text",
    "Utterance",
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


class Table(BaseModel):
    """A TOML table: no unknown key, no coercion (`"3"` is not 3, `true` is not 1), no NaN or infinity."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


Key = Annotated[StrictStr, Field(pattern=KEY_PATTERN)]


class Participant(Table):
    """Twilio's participant object for a transcript's channel; `identity` maps a Video room's participant(s)."""

    channel_participant: StrictInt | None = None  # not only 1 or 2: a scenario may show what the API says to 3
    role: Text | None = None
    user_id: Text | None = None
    full_name: Text | None = None
    email: Text | None = None
    image_url: Text | None = None
    media_participant_id: Text | None = None
    identity: Annotated[list[Text], Field(min_length=1, max_length=10), BeforeValidator(_one_or_many)] | None = None
