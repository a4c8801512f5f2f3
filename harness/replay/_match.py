"""When a live request is "the same" as a recorded one, and what differs when it is not.

Two requests match when their method, path, query and body are equal after the same scrubbing (secrets and
credential parameters `<redacted>`, the receiver's URL a placeholder) and these normalisations:

- any account SID is `AC*`: a replay may run under other credentials, and a pseudonymised cassette has fake ones;
- the batch id in a merged file's hosted name is `<batch>`: `cintel submit` hosts a `tracks`/`room_sid` row's merged
  file as `<batch id>/<key>-<hash>.flac` (`harness._hosting.merged_name`; `<batch id>-<key>-<hash>.flac` on the
  mock's media host), and the batch id is drawn at random by each new journal — a replay with a fresh journal
  uploads to, checks and sends Intelligence the same names under another batch id (BATCH_IN_NAME);
- the query and form pairs are compared as multisets in name order (values of a repeated name keep their order);
- the values of CLOCK_PARAMETERS are not compared (the runner derives `AfterDateCreated` from the clock);
- a JSON body is compared parsed, a binary one by its SHA-256.

The host is not compared: a replay does not need the recording's base URL (nothing is sent).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

import httpx

from harness.replay._cassette import Body, Exchange, RecordedRequest
from harness.replay._scrub import ACCOUNT_SID

CLOCK_PARAMETERS = frozenset({"AfterDateCreated", "BeforeDateCreated", "DateCreatedAfter", "DateCreatedBefore"})
ANY = "<any>"
BATCH = "<batch>"
# A journal's batch id (uuid4().hex) where it starts a merged file's hosted name — followed by `/` (S3 key, served
# directory; `%2F` inside an encoded URL) or `-` (the mock's media host flattens the name) and `<key>-<12 hex>.flac`.
# Only that shape: a 32-hex value anywhere else (a SID's digits, a customer key) is compared as it is.
BATCH_IN_NAME = re.compile(r"(?<![0-9A-Za-z])[0-9a-f]{32}(?=(?:/|-|%2[fF])[A-Za-z0-9_-]{1,80}-[0-9a-f]{12}\.flac)")
Pairs = tuple[tuple[str, str], ...]


def _norm(text: str) -> str:
    if "AC" in text:
        text = ACCOUNT_SID.sub("AC*", text)
    if ".flac" in text:
        text = BATCH_IN_NAME.sub(BATCH, text)
    return text


def _pairs(pairs: list[tuple[str, str]] | Pairs) -> Pairs:
    kept = [(_norm(name), ANY if name in CLOCK_PARAMETERS else _norm(value)) for name, value in pairs]
    return tuple(sorted(kept, key=lambda pair: pair[0]))


def _json(value: Any) -> Any:
    if isinstance(value, str):
        return _norm(value)
    if isinstance(value, list):
        return [_json(item) for item in value]
    if isinstance(value, dict):
        return {_norm(key): _json(item) for key, item in value.items()}
    return value


@dataclass(frozen=True, slots=True)
class RequestKey:
    method: str
    path: str
    query: Pairs
    body: Pairs | str | None

    def describe(self) -> str:
        return f"{self.method} {self.path}"


def split_url(url: str) -> tuple[str, Pairs]:
    parsed = httpx.URL(url)
    return parsed.path, tuple(parsed.params.multi_items())


def body_key(body: Body | None) -> Pairs | str | None:
    if body is None:
        return None
    if body.form is not None:
        return _pairs(body.form)
    if "json_value" in body.model_fields_set:
        return "json:" + json.dumps(_json(body.json_value), sort_keys=True, ensure_ascii=False)
    if body.text is not None:
        return "text:" + _norm(body.text)
    if body.base64 is not None:
        return "sha256:" + hashlib.sha256(body.content()).hexdigest()
    return f"sha256:{body.sha256}"


def request_key(request: RecordedRequest) -> RequestKey:
    path, query = split_url(request.url)
    return RequestKey(request.method, _norm(path), _pairs(query), body_key(request.body))


def path_pattern(path: str) -> str:
    """A regex for respx's path lookup: the normalised path, any account SID where `AC*` stands, any batch id where
    `<batch>` does."""
    pattern = re.escape(path).replace(re.escape("AC*"), "AC[0-9a-fA-F]{32}")
    return "^" + pattern.replace(re.escape(BATCH), "[0-9a-f]{32}") + "$"


# --- the diff against the closest recorded request -----------------------------------------------------------------


def _score(live: RequestKey, recorded: RequestKey) -> int:
    score = 0
    if live.method == recorded.method:
        score += 100
    if live.path == recorded.path:
        score += 1000
    else:
        a, b = live.path.split("/"), recorded.path.split("/")
        score += 10 * sum(1 for x, y in zip(a, b, strict=False) if x == y)
    score += 3 * len(set(live.query) & set(recorded.query))
    if isinstance(live.body, tuple) and isinstance(recorded.body, tuple):
        score += 3 * len(set(live.body) & set(recorded.body))
    elif live.body == recorded.body:
        score += 3
    return score


def closest(live: RequestKey, exchanges: list[tuple[Exchange, RequestKey]], used: set[int]) -> Exchange | None:
    """The recorded exchange most like `live` (unused ones first among equals, then the earliest)."""
    best: tuple[int, int, int] | None = None
    found: Exchange | None = None
    for exchange, key in exchanges:
        rank = (_score(live, key), exchange.id not in used, -exchange.id)
        if best is None or rank > best:
            best, found = rank, exchange
    return found


def _shown(value: str | None) -> str:
    if value is None:
        return "(absent)"
    return repr(value) if len(value) <= 100 else repr(value[:97] + "...")


def _pair_lines(what: str, live: Pairs, recorded: Pairs) -> list[str]:
    lines = []
    live_map: dict[str, list[str]] = {}
    recorded_map: dict[str, list[str]] = {}
    for name, value in live:
        live_map.setdefault(name, []).append(value)
    for name, value in recorded:
        recorded_map.setdefault(name, []).append(value)
    for name in sorted(set(live_map) | set(recorded_map)):
        sent, kept = live_map.get(name), recorded_map.get(name)
        if sent != kept:
            show_sent = _shown(None if sent is None else ", ".join(sent))
            show_kept = _shown(None if kept is None else ", ".join(kept))
            lines.append(f"  {what} {name}: recorded {show_kept}, sent {show_sent}")
    return lines


def difference(live: RequestKey, recorded: RequestKey) -> list[str]:
    """One line per thing that differs, recorded value against sent value."""
    lines = []
    if live.method != recorded.method:
        lines.append(f"  method: recorded {recorded.method}, sent {live.method}")
    if live.path != recorded.path:
        lines.append(f"  path: recorded {recorded.path}, sent {live.path}")
    lines += _pair_lines("query", live.query, recorded.query)
    if live.body != recorded.body:
        if isinstance(live.body, tuple) and isinstance(recorded.body, tuple):
            lines += _pair_lines("form", live.body, recorded.body)
        else:
            sent = live.body if isinstance(live.body, str) or live.body is None else "form " + str(live.body)
            kept = recorded.body if isinstance(recorded.body, str) or recorded.body is None else str(recorded.body)
            lines.append(f"  body: recorded {_shown(kept)}, sent {_shown(sent)}")
    return lines
