"""Conformance: send a cassette's requests (recorded from the real API) to a mock and report where its answers differ.

The requests go one at a time, in recorded order, with the mock account's credentials. A recording refers to
resources by Twilio's SIDs; the mock makes its own, so every SID is mapped as the answers come in: where the
recorded answer and the mock's hold a SID at the same place (`$.sid`, `$.transcripts[].service_sid`…), the recorded
one stands for the mock's in every later request. A Service the cassette uses without creating it (made in the
console, say) is created on the mock the first time it is needed; account SIDs (real or pseudonymised) are the mock
account's. Other resources the recording did not create (a Recording `RE…` as `source_sid`) cannot be mapped, and
the mock's 404 for them is reported like any difference.

Not sent, and listed as skipped: requests to other hosts than the API (media downloads), exchanges that got no
answer, answers that were 429 or 5xx when recorded (the moment's load, not the API's shape), and bodies that were
over the recording's cap. For each answer: the status (and Twilio's error `code`), then the shape of the JSON
(harness.replay._shape: missing, extra, type, null, paging).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx

from harness.replay._cassette import Cassette, Exchange
from harness.replay._shape import json_type, shape_differences

SID = re.compile(r"\b[A-Z]{2}[0-9a-fA-F]{32}\b")
API_PATHS = ("/v1/", "/v2/")
KINDS = ("status", "code", "missing", "extra", "type", "null", "paging")


@dataclass(frozen=True, slots=True)
class Difference:
    """One way the mock's answer to a recorded request differs from the recorded answer."""

    exchange: int
    request: str
    kind: str
    path: str
    recorded: str
    mock: str

    def describe(self) -> str:
        where = f" {self.path}:" if self.path else ""
        return f"#{self.exchange} {self.request}:{where} {self.kind}: recorded {self.recorded}, mock {self.mock}"


@dataclass
class ConformanceReport:
    """What `check_conformance` found: requests sent, skipped (with why) and every difference."""

    base_url: str
    sent: int = 0
    skipped: list[str] = field(default_factory=list)
    differences: list[Difference] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences


class _SidMap:
    def __init__(self, account_sid: str) -> None:
        self.account_sid = account_sid
        self.known: dict[str, str] = {}

    def text(self, text: str) -> str:
        return SID.sub(self._one, text) if SID.search(text) else text

    def value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.value(item) for item in value]
        if isinstance(value, dict):
            return {key: self.value(item) for key, item in value.items()}
        return value

    def _one(self, match: re.Match[str]) -> str:
        sid = match[0]
        return self.account_sid if sid.startswith("AC") else self.known.get(sid, sid)

    def learn(self, recorded: Any, mock: Any) -> None:
        """Pair the SIDs found at the same places of the two answers."""
        if isinstance(recorded, str) and isinstance(mock, str):
            if SID.fullmatch(recorded) and SID.fullmatch(mock) and recorded[:2] == mock[:2] and recorded != mock:
                self.known.setdefault(recorded, mock)
        elif isinstance(recorded, dict) and isinstance(mock, dict):
            for name in recorded.keys() & mock.keys():
                self.learn(recorded[name], mock[name])
        elif isinstance(recorded, list) and isinstance(mock, list):
            for left, right in zip(recorded, mock, strict=False):
                self.learn(left, right)


def _skip_reason(exchange: Exchange) -> str | None:
    url = httpx.URL(exchange.request.url)
    if not url.path.startswith(API_PATHS) or "/__mock__/" in url.path:
        return "not the API (media or another host)"
    if exchange.response is None:
        return "no answer was recorded"
    if exchange.response.status == 429 or exchange.response.status >= 500:
        return f"answered {exchange.response.status} when recorded (load, not shape)"
    body = exchange.request.body
    if body is not None and body.omitted:
        return "its body was not kept"
    return None


def _answer_json(content: bytes) -> Any:
    try:
        return json.loads(content) if content else None
    except ValueError:
        return None


async def check_conformance(
    cassette: Cassette,
    base_url: str,
    *,
    account_sid: str,
    auth_token: str,
    transport: httpx.AsyncBaseTransport | None = None,
) -> ConformanceReport:
    """Send `cassette`'s API requests to the mock at `base_url` as the account given; see the module docstring."""
    report = ConformanceReport(base_url=base_url.rstrip("/"))
    sids = _SidMap(account_sid)
    async with httpx.AsyncClient(base_url=report.base_url, auth=(account_sid, auth_token), transport=transport,
                                 timeout=60.0, follow_redirects=False) as http:  # fmt: skip
        for exchange in sorted(cassette.exchanges, key=lambda e: e.id):
            reason = _skip_reason(exchange)
            if reason is not None:
                report.skipped.append(f"{exchange.describe()}: {reason}")
                continue
            await _services_needed(http, exchange, sids)
            answer = await http.send(_request(http, exchange, sids))
            report.sent += 1
            report.differences += _compare(exchange, answer, sids)
    return report


def _request(http: httpx.AsyncClient, exchange: Exchange, sids: _SidMap) -> httpx.Request:
    recorded = exchange.request
    url = httpx.URL(recorded.url)
    params = httpx.QueryParams([(sids.text(k), sids.text(v)) for k, v in url.params.multi_items()])
    headers = {"Accept": "application/json"}
    for name, value in recorded.headers:
        if name in ("content-type", "if-match"):
            headers[name] = sids.text(value)
    body = recorded.body
    content: bytes | None = None
    if body is not None and body.form is not None:
        content = urlencode([(k, sids.text(v)) for k, v in body.form]).encode()
    elif body is not None:
        content = body.content()
        content = sids.text(content.decode("utf-8")).encode() if body.base64 is None else content
    return http.build_request(recorded.method, sids.text(url.path), params=params, headers=headers, content=content)


async def _services_needed(http: httpx.AsyncClient, exchange: Exchange, sids: _SidMap) -> None:
    """Create on the mock each Service the request names that the cassette never showed being created."""
    text = f"{exchange.request.url} {json.dumps(exchange.request.body.form if exchange.request.body else None)}"
    for sid in dict.fromkeys(re.findall(r"\bGA[0-9a-fA-F]{32}\b", text)):
        if sid in sids.known:
            continue
        answer = await http.post("/v2/Services", data={"UniqueName": f"conformance-{sid[-8:]}"})
        created = _answer_json(answer.content)
        if answer.status_code == 201 and isinstance(created, dict) and isinstance(created.get("sid"), str):
            sids.known[sid] = created["sid"]


def _compare(exchange: Exchange, answer: httpx.Response, sids: _SidMap) -> list[Difference]:
    recorded = exchange.response
    assert recorded is not None  # skipped otherwise
    request = exchange.describe().split(" ", 1)[1]
    out: list[Difference] = []

    def add(kind: str, path: str, was: str, now: str) -> None:
        out.append(Difference(exchange.id, request, kind, path, was, now))

    body = recorded.body
    kept = body.json_value if body is not None and "json_value" in body.model_fields_set else None
    got = _answer_json(answer.content)
    if answer.status_code != recorded.status:
        add("status", "", str(recorded.status), str(answer.status_code))
        if isinstance(kept, dict) and isinstance(got, dict) and kept.get("code") != got.get("code"):
            add("code", "$.code", repr(kept.get("code")), repr(got.get("code")))
        return out
    if kept is None or got is None:
        if (kept is None) != (got is None) and recorded.status != 204:
            add("type", "$", json_type(kept) if kept is not None else "no JSON",
                json_type(got) if got is not None else "no JSON")  # fmt: skip
        return out
    if isinstance(kept, dict) and isinstance(got, dict) and "code" in kept and kept.get("code") != got.get("code"):
        add("code", "$.code", repr(kept.get("code")), repr(got.get("code")))
    for found in shape_differences(kept, got):
        add(found.kind, found.path, found.recorded, found.mock)
    sids.learn(kept, got)
    return out
