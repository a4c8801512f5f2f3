"""The `Channel` parameter of CreateTranscript, validated as the service does (twilio-wire.md §2.3).

Channel is a JSON string holding `media_properties` (`media_url` http/https, or `source_sid` RE…; `media_url` wins
when both are given) and optional `participants` (at most two overridden, `channel_participant` 1 or 2). The parsed
channel is kept as the compact JSON string the response echoes, so a stored transcript costs one string, not a
tree of dicts.

Media refusals carry Twilio's own codes (twilio.com/docs/api/errors, twilio-wire.md §5.1): 95005 "Invalid media url"
when `media_url` is not an http/https URL with a host, 95006 "Media url is empty" when there is neither a URL nor a
recording. Their messages never echo the URL: a pre-signed URL is a credential.
"""

from __future__ import annotations

import json
import re
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from mock_server import _strict_json as strict_json
from mock_server._errors import ApiError, invalid_parameter, missing_parameter
from mock_server._sids import is_sid

PARTICIPANT_FIELDS = frozenset(
    {"user_id", "channel_participant", "media_participant_id", "email", "full_name", "image_url", "role"}
)
DEFAULT_ROLES = {1: "Agent", 2: "Customer"}


class ParsedChannel(NamedTuple):  # a tuple, not a frozen dataclass: made on every create, at a fifth of the cost
    compact_json: str
    media_url: str | None
    source_sid: str | None
    roles: tuple[str, str]  # role of media channel 1 and 2 after overrides


def _bad(value: Any, reason: str) -> Exception:
    return invalid_parameter("Channel", value, reason)


def invalid_media_url(reason: str) -> ApiError:
    """400 / 95005 (documented: "Twilio failed to create a new transcript due to an invalid media url")."""
    return ApiError(400, 95005, f"Invalid media url: {reason}")


def media_url_empty() -> ApiError:
    """400 / 95006 (documented: no media url and no recording specified)."""
    return ApiError(400, 95006, "Media url is empty: media_properties needs media_url or source_sid")


def _check_media_url(media_url: object) -> str:
    if not isinstance(media_url, str):
        raise invalid_media_url("media_properties.media_url must be a string")
    if media_url.strip() != media_url or any(ord(c) < 0x21 or ord(c) == 0x7F for c in media_url):
        raise invalid_media_url("media_properties.media_url must not contain spaces or control characters")
    try:
        parts = urlsplit(media_url)
        host, _ = parts.hostname, parts.port  # port raises ValueError when it is not a number in 0-65535
    except ValueError:
        raise invalid_media_url("media_properties.media_url is not a URL") from None
    if parts.scheme.lower() not in ("http", "https") or not host:
        raise invalid_media_url("media_properties.media_url must be an http or https URL with a host")
    return media_url


# The Channel nearly every create sends, `{"media_properties": {"media_url": "<URL>"}}` with only JSON whitespace
# around its tokens, where the URL is http(s), its host only letters, digits, dots and hyphens (so no port, userinfo
# or brackets) and the rest printable ASCII without `"` or `\` (so no JSON escapes). `_parse_channel` accepts every
# such text and answers what `parse_channel` builds from the match (a test holds them equal); the regex costs a
# microsecond where parsing the JSON and the URL cost twenty (the throughput benchmark's create path). Anything else
# takes the full path.
_SIMPLE_CHANNEL = re.compile(
    r'~\{~"media_properties"~:~\{~"media_url"~:~'
    r'"([hH][tT][tT][pP][sS]?://[A-Za-z0-9.-]+(?:[/?#][\x21\x23-\x5b\x5d-\x7e]*)?)"~\}~\}~'.replace("~", r"[ \t\n\r]*")
)
_SIMPLE_ROLES = (DEFAULT_ROLES[1], DEFAULT_ROLES[2])


def parse_channel(raw: str | None) -> ParsedChannel:
    if raw:
        simple = _SIMPLE_CHANNEL.fullmatch(raw)
        if simple is not None:
            media_url = simple[1]
            return ParsedChannel(
                f'{{"media_properties":{{"media_url":"{media_url}"}}}}', media_url, None, _SIMPLE_ROLES
            )
    return _parse_channel(raw)


def _parse_channel(raw: str | None) -> ParsedChannel:
    """The whole of Twilio's rules, for any Channel text."""
    if raw is None or raw == "":
        raise missing_parameter("Channel")
    try:
        channel = strict_json.loads(raw)
    except ValueError as exc:
        raise _bad(raw, f"must be a JSON object: {exc}") from None
    if not isinstance(channel, dict):
        raise _bad(raw, "must be a JSON object")
    props = channel.get("media_properties")
    if props is None:
        raise media_url_empty()
    if not isinstance(props, dict):
        raise _bad(raw, "media_properties must be an object with media_url or source_sid")
    media_url = props.get("media_url")
    source_sid = props.get("source_sid")
    if media_url is not None and media_url != "":
        media_url = _check_media_url(media_url)
        source_sid = None  # media_url wins over source_sid, as documented
    elif source_sid is not None and source_sid != "":
        media_url = None
        if not isinstance(source_sid, str) or not is_sid(source_sid, "RE"):
            raise _bad(raw, "media_properties.source_sid must be a Recording SID (RE…)")
    else:
        raise media_url_empty()
    roles = dict(DEFAULT_ROLES)
    participants = channel.get("participants")
    if participants is not None:
        roles.update(_participant_roles(raw, participants, has_media_url=media_url is not None))
    compact = json.dumps(channel, separators=(",", ":"), ensure_ascii=False)
    return ParsedChannel(compact, media_url, source_sid, (roles[1], roles[2]))


def _participant_roles(raw: str, participants: Any, *, has_media_url: bool) -> dict[int, str]:
    if not isinstance(participants, list):
        raise _bad(raw, "participants must be a list")
    if len(participants) > 2:
        raise _bad(raw, "only two participants can be overridden")
    roles: dict[int, str] = {}
    for p in participants:
        if not isinstance(p, dict):
            raise _bad(raw, "each participant must be an object")
        unknown = sorted(set(p) - PARTICIPANT_FIELDS)
        if unknown:
            raise _bad(raw, f"unknown participant field {unknown[0]}")
        number = p.get("channel_participant")
        # An integer 1 or 2: not True (== 1), not 1.0 (== 1), as Twilio's typed parser sees them.
        if type(number) is not int or number not in (1, 2):
            raise _bad(raw, "participants[].channel_participant must be 1 or 2")
        if number in roles:
            raise _bad(raw, f"channel_participant {number} is given twice")
        for name, value in p.items():
            if name != "channel_participant" and value is not None and not isinstance(value, str):
                raise _bad(raw, f"participants[].{name} must be a string")
        if p.get("media_participant_id") is not None and not has_media_url:
            raise _bad(raw, "The media_participant_id can only be set for transcript with media url")
        role = p.get("role")
        roles[number] = role if isinstance(role, str) and role else DEFAULT_ROLES[number]
    return roles
