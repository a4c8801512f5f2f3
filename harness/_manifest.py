"""Reading a batch manifest: JSONL or CSV, streamed, every row validated before anything is sent.

A row names its media — `media_url` (http/https; pre-signed URLs are normal) or `source_sid` (a Twilio Recording,
RE…) — and may give `customer_key` (≤ 64 characters, unique in the batch; generated from the row's content when
absent, so a re-run generates the same one), `participants` (Twilio's participant objects, at most two,
`channel_participant` 1 or 2; a JSON cell in CSV), `media_start_time` (ISO-8601) and any other keys, kept as
metadata. `read_manifest()` yields a `ManifestItem` per good row and a `Reject` (row number, reason, an excerpt
with URL query strings scrubbed) per bad one, and never raises for a bad row; only a problem with the file itself
(missing, unreadable, not UTF-8, an unknown extension, a CSV without a media column) is a `ManifestError`.

Memory: rows are read one at a time; the only state kept is the set of customer keys seen, to refuse duplicates
(about 100 bytes a row: 100 MB for a million rows).
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from harness._errors import CintelError
from harness._redact import scrub_text

CUSTOMER_KEY_MAX = 64
RECORDING_SID = re.compile(r"^RE[0-9a-fA-F]{32}$")
PARTICIPANT_FIELDS = frozenset(
    {"user_id", "channel_participant", "media_participant_id", "email", "full_name", "image_url", "role"}
)
KNOWN = frozenset({"media_url", "source_sid", "customer_key", "participants", "media_start_time"})
EXCERPT_CHARS = 200


class ManifestError(CintelError):
    """The manifest file itself cannot be read (as opposed to one bad row, which is a `Reject`)."""


@dataclass(frozen=True)
class ManifestItem:
    row: int  # 1-based line (JSONL) or record (CSV, header excluded) number
    customer_key: str
    channel: dict[str, Any]  # Twilio's Channel object: media_properties and, when given, participants
    media_start_time: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    key_generated: bool = False


@dataclass(frozen=True)
class Reject:
    row: int
    reason: str
    excerpt: str


class _Bad(Exception):
    pass


def read_manifest(path: str | Path) -> Iterator[ManifestItem | Reject]:
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".jsonl", ".ndjson", ".csv"):
        raise ManifestError(f"{path}: unknown manifest format {suffix or '(no extension)'!r}; use .jsonl or .csv")
    try:
        handle = path.open(encoding="utf-8", newline="")
    except OSError as exc:
        raise ManifestError(f"{path}: cannot open: {exc.strerror or exc}") from None
    with handle:
        rows = _jsonl_rows(handle) if suffix != ".csv" else _csv_rows(handle, path)
        seen: set[str] = set()
        try:
            for number, raw, parsed in rows:
                yield _validate(number, raw, parsed, seen)
        except UnicodeDecodeError as exc:
            raise ManifestError(f"{path}: not UTF-8 ({exc.reason} at byte {exc.start})") from None


def _jsonl_rows(handle: IO[str]) -> Iterator[tuple[int, str, Any]]:
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        try:
            parsed: Any = json.loads(line)
        except (ValueError, RecursionError) as exc:
            parsed = _Bad(f"not valid JSON: {exc}")
        yield number, line, parsed


def _csv_rows(handle: IO[str], path: Path) -> Iterator[tuple[int, str, Any]]:
    reader = csv.DictReader(handle)
    try:
        header = reader.fieldnames
    except csv.Error as exc:
        raise ManifestError(f"{path}: not a readable CSV header: {exc}") from None
    if not header or not ({"media_url", "source_sid"} & set(header)):
        raise ManifestError(f"{path}: the CSV header needs a media_url or source_sid column, has {header}")
    number = 0
    while True:
        number += 1
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield number, "", _Bad(f"unreadable CSV record: {exc}")
            continue
        raw = ",".join(str(v) for v in record.values())
        if None in record:  # more cells than header columns
            yield number, raw, _Bad(f"{len(record[None])} more cell(s) than the header has columns")
            continue
        row: dict[str, Any] = {k: v for k, v in record.items() if v not in (None, "")}
        if "participants" in row:
            try:
                row["participants"] = json.loads(row["participants"])
            except ValueError:
                yield number, raw, _Bad("participants is not a JSON list")
                continue
        yield number, raw, row


def _validate(number: int, raw: str, parsed: Any, seen: set[str]) -> ManifestItem | Reject:
    excerpt = scrub_text(raw.strip())[:EXCERPT_CHARS]
    try:
        if isinstance(parsed, _Bad):
            raise parsed
        if not isinstance(parsed, dict):
            raise _Bad(f"a row must be an object, got {type(parsed).__name__}")
        item = _item(number, parsed)
    except _Bad as bad:
        return Reject(number, str(bad), excerpt)
    if item.customer_key in seen:
        return Reject(number, f"customer_key {item.customer_key!r} is already used by an earlier row", excerpt)
    seen.add(item.customer_key)
    return item


def _item(number: int, row: Mapping[str, Any]) -> ManifestItem:
    media: dict[str, str] = {}
    media_url = row.get("media_url")
    if media_url is not None:
        if not isinstance(media_url, str):
            raise _Bad("media_url must be a string")
        try:
            parts = urlsplit(media_url)
        except ValueError:
            raise _Bad("media_url is not a URL") from None
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise _Bad(f"media_url must be an http or https URL, got scheme {parts.scheme or '(none)'!r}")
        media["media_url"] = media_url
    source_sid = row.get("source_sid")
    if source_sid is not None:
        if not isinstance(source_sid, str) or not RECORDING_SID.match(source_sid):
            raise _Bad(f"source_sid must be a Recording SID (RE + 32 hex digits), got {str(source_sid)[:40]!r}")
        media["source_sid"] = source_sid
    if not media:
        raise _Bad("no media: give media_url or source_sid")
    channel: dict[str, Any] = {"media_properties": media}
    participants = row.get("participants")
    if participants is not None:
        channel["participants"] = _participants(participants)
    start = row.get("media_start_time")
    if start is not None:
        if not isinstance(start, str):
            raise _Bad("media_start_time must be an ISO-8601 string")
        try:
            datetime.fromisoformat(start.replace("Z", "+00:00"))
        except ValueError:
            raise _Bad(f"media_start_time {start[:40]!r} is not ISO-8601") from None
    key = row.get("customer_key")
    generated = key is None
    if generated:
        canonical = json.dumps(dict(row), sort_keys=True, separators=(",", ":"), default=str)
        key = "ck-" + hashlib.sha256(canonical.encode()).hexdigest()[:32]
    elif not isinstance(key, str) or not key.strip():
        raise _Bad("customer_key must be a non-empty string")
    elif len(key) > CUSTOMER_KEY_MAX:
        raise _Bad(f"customer_key is {len(key)} characters; Twilio allows {CUSTOMER_KEY_MAX}")
    metadata = {k: v for k, v in row.items() if k not in KNOWN}
    return ManifestItem(number, str(key), channel, start, metadata, generated)


def _participants(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise _Bad("participants must be a list")
    if len(value) > 2:
        raise _Bad(f"{len(value)} participants: Twilio lets at most two be overridden")
    channels: set[int] = set()
    for p in value:
        if not isinstance(p, dict):
            raise _Bad("each participant must be an object")
        unknown = sorted(set(p) - PARTICIPANT_FIELDS)
        if unknown:
            raise _Bad(f"unknown participant field {unknown[0]!r}")
        number = p.get("channel_participant")
        if isinstance(number, bool) or number not in (1, 2):
            raise _Bad(f"participant channel_participant must be 1 or 2, got {number!r}")
        if number in channels:
            raise _Bad(f"two participants on channel {number}")
        channels.add(number)
    return value
