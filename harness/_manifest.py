"""Reading a batch manifest: JSONL or CSV, streamed, every row validated before anything is sent.

A row names its media — `media_url` (http/https; pre-signed URLs are normal) or `source_sid` (a Twilio Recording,
RE…), or audio to merge and host first: `tracks` or `room_sid` (see `_merge_rows`) — and may give `customer_key`
(≤ 64 characters, unique in the batch; generated from the row's content when absent, so a re-run generates the
same one), `participants` (Twilio's participant objects, at most two, `channel_participant` 1 or 2; a JSON cell in
CSV, as is `tracks`), `media_start_time` (ISO-8601) and any other keys, kept as metadata.

The file is UTF-8, with or without a byte-order mark (Excel's "CSV UTF-8" writes one). Lines end in `\n`, `\r\n`
or `\r`; a row's number is its line (JSONL) or its record after the header (CSV).

A column that is not one of the seven above but looks like one — the same name in another case or spelling
(`Media_URL`, `MediaUrl`, `source-sid`, `CustomerKey`), or within a small Damerau–Levenshtein distance of it once
case, `_`, `-` and spaces are set aside (`customer_kye`, `participant`, `media_ur1`; at most 1 edit for names of
5 characters or fewer, 2 otherwise) — is an error, not metadata: kept silently, the row would get a generated key
and no participants. **Escape hatch:** a column whose name starts with `x_` or `meta_` (any case, or `x-`/`meta-`)
is always metadata and never checked; rename a real metadata column that trips the check that way.

Two passes, one file each:

- `scan_manifest(path)` reads the whole file once, in constant memory, and raises `ManifestError` for every
  problem with the *file*: missing, a directory or unreadable; an unknown extension; not UTF-8 (with the row and the
  exact byte offset in the file of the first bad byte); a CSV header without a media column; a misspelled column (CSV
  header, or a key on any JSONL row, with its row); and, unlike other rows, a bad `tracks` or `room_sid` row (with
  its row, column and value: a merge row's mistakes — a wrong path, a missing channel — are cheaper to fix before
  hours of merging than after). It returns a `ManifestScan`: the row count and the unknown columns
  that will be kept as metadata. Call it before anything is written, so a bad file leaves no trace.
- `read_manifest(path)` yields a `ManifestItem` per good row and a `Reject` (row number, reason, an excerpt) per bad
  one, and never raises for a bad row; it raises the same `ManifestError`s as the scan when it meets them.

Every reject reason and excerpt, and every error message that quotes the file, passes through `scrub_text()`.

Memory: rows are read one at a time; the only state kept is the set of customer keys seen, to refuse duplicates
(about 100 bytes a row: 100 MB for a million rows), and a bounded set of column names.
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

from harness._columns import KNOWN, MEDIA_COLUMNS, misspelled_column
from harness._errors import CintelError
from harness._manifest_lines import Lines, Undecodable
from harness._merge_rows import PARTICIPANT_FIELDS, MergeSpec, RowError, merge_spec
from harness._redact import scrub_text, scrub_url

CUSTOMER_KEY_MAX = 64
RECORDING_SID = re.compile(r"^RE[0-9a-fA-F]{32}$")
EXCERPT_CHARS = 200
MAX_LISTED_COLUMNS = 1000  # unknown column names remembered by a scan; more are counted, not listed
FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}
ESCAPE_HATCH = "prefix {it} with 'x_' or 'meta_' to keep {it} as metadata"


class ManifestError(CintelError):
    """The manifest file itself cannot be used (as opposed to one bad row, which is a `Reject`)."""


@dataclass(frozen=True)
class ManifestItem:
    row: int  # 1-based line (JSONL) or record (CSV, header excluded) number
    customer_key: str
    channel: dict[str, Any]  # Twilio's Channel object: media_properties and, when given, participants
    media_start_time: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    key_generated: bool = False
    merge: MergeSpec | None = None  # tracks or a room to merge and host; `channel` then has no media yet

    @property
    def shown_media(self) -> str:
        """The media as the journal and results show it: never a URL's query or credentials."""
        if self.merge is not None:
            return self.merge.describe()
        media = self.channel["media_properties"]
        return scrub_url(media["media_url"]) if "media_url" in media else str(media["source_sid"])


@dataclass(frozen=True)
class Reject:
    row: int
    reason: str
    excerpt: str


@dataclass(frozen=True)
class ManifestScan:
    """What `scan_manifest()` found in a file that `read_manifest()` can read."""

    path: Path
    format: str  # "jsonl" or "csv"
    rows: int  # rows `read_manifest()` will yield (items and rejects; blank JSONL lines are not rows)
    unknown_columns: list[str]  # sorted: columns that are kept as metadata (names scrubbed)
    unknown_columns_more: int = 0  # further distinct unknown names, beyond MAX_LISTED_COLUMNS, not listed
    bom: bool = False  # the file starts with a UTF-8 byte-order mark (accepted and skipped)
    size: int = 0  # bytes read
    merge_rows: int = 0  # rows with `tracks` or `room_sid` (merged and hosted before their create)
    room_rows: int = 0  # of which rows with `room_sid` (their tracks come from the Video API)


class _Bad(Exception):
    merge = False  # a bad `tracks` cell: a merge row, refused by the scan like any bad merge row


def _misspelling(row: int | None, name: str, known: str) -> str:
    where = "the header" if row is None else f"row {row}"
    return f"{where}: column {scrub_text(name)!r} looks like a misspelling of {known!r}"


def _misspelled_error(path: Path, found: list[str]) -> ManifestError:
    them = "it" if len(found) == 1 else "them"
    return ManifestError(f"{path}: " + "; ".join(found) + f"; rename {them} (or {ESCAPE_HATCH.format(it=them)})")


# --- the file: bytes -> lines -> rows ---------------------------------------------------------------------------


def _format(path: Path) -> str:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        suffix = path.suffix or "(no extension)"
        raise ManifestError(f"{path}: unknown manifest format {suffix!r}; use .jsonl (or .ndjson) or .csv")
    return fmt


def _open(path: Path) -> IO[bytes]:
    try:
        return path.open("rb")
    except OSError as exc:
        raise ManifestError(f"{path}: cannot open: {exc.strerror or exc}") from None


def _undecodable(path: Path, fmt: str, error: Undecodable) -> ManifestError:
    if error.offset == 0 and error.byte in (0xFF, 0xFE):
        hint = "it looks like UTF-16: save it as UTF-8"
    else:
        hint = "save it as UTF-8 (in Excel: CSV UTF-8)" if fmt == "csv" else "save it as UTF-8"
    if error.row is None:
        where = f"the header (line {error.line})"
    elif fmt == "csv" and error.row != error.line:
        where = f"row {error.row} (line {error.line})"
    else:
        where = f"row {error.row}"
    return ManifestError(
        f"{path}: not UTF-8: byte 0x{error.byte:02x} at byte offset {error.offset} of the file, in {where}; {hint}"
    )


def _rows(path: Path, fmt: str, lines: Lines, header: list[str]) -> Iterator[tuple[int, str, Any]]:
    """(row number, raw text, parsed row or `_Bad`) for every row; a CSV's header is put in `header`."""
    if fmt == "csv":
        return _csv_rows(path, lines, header)
    return _jsonl_rows(lines)


def _jsonl_rows(lines: Lines) -> Iterator[tuple[int, str, Any]]:
    for line in lines:
        if not line.strip():
            continue
        try:
            parsed: Any = json.loads(line)
        except (ValueError, RecursionError) as exc:
            parsed = _Bad(f"not valid JSON: {exc}")
        yield lines.number, line, parsed


def _csv_rows(path: Path, lines: Lines, header_out: list[str]) -> Iterator[tuple[int, str, Any]]:
    reader = csv.DictReader(lines)
    try:
        header = reader.fieldnames
    except csv.Error as exc:
        raise ManifestError(scrub_text(f"{path}: not a readable CSV header: {exc}")) from None
    except Undecodable as error:
        error.row = None
        raise
    if not header:
        raise ManifestError(f"{path}: empty; a CSV manifest starts with a header (media_url or source_sid, …)")
    header_out.extend(header)
    misspelled = [_misspelling(None, name, known) for name in header if (known := misspelled_column(name))]
    if misspelled:
        raise _misspelled_error(path, misspelled)
    if not (MEDIA_COLUMNS & set(header)):
        shown = scrub_text(", ".join(repr(h) for h in header))[:300]
        needs = "a media_url or source_sid column (or room_sid or tracks, to merge)"
        raise ManifestError(f"{path}: the CSV header needs {needs}, has {shown}")
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
        except Undecodable as error:
            error.row = number
            raise
        raw = ",".join(str(v) for v in record.values())
        if None in record:  # more cells than header columns
            yield number, raw, _Bad(f"{len(record[None])} more cell(s) than the header has columns")
            continue
        row: dict[str, Any] = {k: v for k, v in record.items() if v not in (None, "")}
        bad = next((name for name in ("participants", "tracks") if name in row and not _json_cell(row, name)), None)
        if bad:
            refused = _Bad(f"{bad} is not a JSON list")
            refused.merge = bad == "tracks"
        yield number, raw, refused if bad else row


def _json_cell(row: dict[str, Any], name: str) -> bool:
    try:
        row[name] = json.loads(row[name])
    except (ValueError, RecursionError):
        return False
    return True


# --- the two passes ---------------------------------------------------------------------------------------------


def scan_manifest(path: str | Path) -> ManifestScan:
    """Read the whole file once and raise `ManifestError` for any problem with the file itself (see the module)."""
    path = Path(path)
    fmt = _format(path)
    rows = 0
    header: list[str] = []
    unknown: set[str] = set()
    more: set[str] = set()  # names beyond the listed ones; only counted, and bounded too
    misspelled: dict[str, str] = {}  # name -> "row N: column … looks like a misspelling of …" (first row)
    bad_merges: list[str] = []  # "row N: column: what is wrong" for the first 20 bad tracks/room_sid rows
    merges = [0, 0]  # merge rows, room rows
    with _open(path) as handle:
        lines = Lines(handle)
        try:
            for number, _raw, parsed in _rows(path, fmt, lines, header):
                rows += 1
                merge_row = isinstance(parsed, dict) and ("tracks" in parsed or "room_sid" in parsed)
                if merge_row or (isinstance(parsed, _Bad) and parsed.merge):
                    _scan_merge_row(number, parsed, path.parent.absolute(), merges, bad_merges)
                if fmt == "jsonl" and isinstance(parsed, dict):
                    for name in parsed:
                        if name in KNOWN or name in unknown or name in misspelled:
                            continue
                        known = misspelled_column(name)
                        if known is not None:
                            if len(misspelled) < 20:
                                misspelled[name] = _misspelling(number, name, known)
                        elif len(unknown) < MAX_LISTED_COLUMNS:
                            unknown.add(name)
                        elif len(more) < 100_000:
                            more.add(name)
        except Undecodable as error:
            raise _undecodable(path, fmt, error) from None
        except OSError as exc:
            raise ManifestError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if misspelled:
        raise _misspelled_error(path, list(misspelled.values()))
    if bad_merges:
        raise ManifestError(f"{path}: " + "; ".join(bad_merges) + "; fix the row(s): nothing was sent")
    if fmt == "csv":
        names = sorted({name for name in header if name not in KNOWN})
        unknown, more = set(names[:MAX_LISTED_COLUMNS]), set(names[MAX_LISTED_COLUMNS:])
    listed = sorted({scrub_text(name) for name in unknown})
    return ManifestScan(path, fmt, rows, listed, len(more), lines.bom, lines.offset, merges[0], merges[1])


def _scan_merge_row(number: int, row: Any, base: Path, merges: list[int], bad: list[str]) -> None:
    try:
        if isinstance(row, _Bad):
            raise row
        _item(number, row, base)
    except _Bad as error:
        if len(bad) < 20:
            bad.append(f"row {number}: {scrub_text(str(error))}")
        return
    merges[0] += 1
    merges[1] += "room_sid" in row


def read_manifest(path: str | Path) -> Iterator[ManifestItem | Reject]:
    """Every row in order: a `ManifestItem` if it is good, a `Reject` saying why if not."""
    path = Path(path)
    fmt = _format(path)
    base = path.parent.absolute()  # where a track's relative path starts
    with _open(path) as handle:
        seen: set[str] = set()
        try:
            for number, raw, parsed in _rows(path, fmt, Lines(handle), []):
                if fmt == "jsonl" and isinstance(parsed, dict):
                    for name in parsed:
                        if name not in KNOWN and (known := misspelled_column(name)) is not None:
                            raise _misspelled_error(path, [_misspelling(number, name, known)])
                yield _validate(number, raw, parsed, seen, base)
        except Undecodable as error:
            raise _undecodable(path, fmt, error) from None
        except OSError as exc:
            raise ManifestError(f"{path}: cannot read: {exc.strerror or exc}") from None


def _validate(number: int, raw: str, parsed: Any, seen: set[str], base: Path) -> ManifestItem | Reject:
    try:
        if isinstance(parsed, _Bad):
            raise parsed
        if not isinstance(parsed, dict):
            raise _Bad(f"a row must be an object, got {type(parsed).__name__}")
        item = _item(number, parsed, base)
    except _Bad as bad:
        return _reject(number, str(bad), raw)
    if item.customer_key in seen:
        return _reject(number, f"customer_key {item.customer_key!r} is already used by an earlier row", raw)
    seen.add(item.customer_key)
    return item


def _reject(number: int, reason: str, raw: str) -> Reject:
    """Reason and excerpt scrubbed (the whole line first, so no cut can split a URL from its secret)."""
    return Reject(number, scrub_text(reason), scrub_text(raw.strip())[:EXCERPT_CHARS])


def _item(number: int, row: Mapping[str, Any], base: Path) -> ManifestItem:
    media: dict[str, str] = {}
    try:
        merge = merge_spec(row, base)
    except RowError as error:
        raise _Bad(str(error)) from None
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
            raise _Bad(
                f"source_sid must be a Recording SID (RE + 32 hex digits), got {scrub_text(str(source_sid))[:40]!r}"
            )
        media["source_sid"] = source_sid
    if merge is not None and media:
        raise _Bad(f"give one of media_url/source_sid, room_sid and tracks, not {' and '.join(sorted(media))} too")
    if not media and merge is None:
        raise _Bad("no media: give media_url or source_sid (or room_sid, or tracks to merge)")
    channel: dict[str, Any] = {"media_properties": media}
    participants = row.get("participants")
    if participants is not None and merge is None:
        channel["participants"] = _participants(participants)
    start = row.get("media_start_time")
    if start is not None:
        if not isinstance(start, str):
            raise _Bad("media_start_time must be an ISO-8601 string")
        try:
            datetime.fromisoformat(start.replace("Z", "+00:00"))
        except ValueError:
            raise _Bad(f"media_start_time {scrub_text(start)[:40]!r} is not ISO-8601") from None
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
    return ManifestItem(number, str(key), channel, start, metadata, generated, merge)


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
            raise _Bad(f"unknown participant field {scrub_text(unknown[0])!r}")
        number = p.get("channel_participant")
        if isinstance(number, bool) or number not in (1, 2):
            raise _Bad(f"participant channel_participant must be 1 or 2, got {number!r}")
        if number in channels:
            raise _Bad(f"two participants on channel {number}")
        channels.add(number)
    return value
