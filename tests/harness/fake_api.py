"""FakeIntelligence: Intelligence v2 in memory, as an `httpx.AsyncBaseTransport`, on the event loop's clock.

The routes a batch run uses, answered with the JSON shapes of Twilio's OpenAPI file (services, transcripts, sentences,
operator results, media), Twilio's error body `{code, message, more_info, status}` and its list paging (`meta` with
absolute `https://intelligence.twilio.com` URLs, an opaque `PageToken`). No sockets, no threads, no real time: the
lifecycle (queued → in-progress → completed/failed) reads `asyncio.get_running_loop().time()`, so on
`tests.harness.sim.run_virtual` a minute of processing passes in microseconds.

    fake = FakeIntelligence(ACCOUNT_SID, AUTH_TOKEN, service_sids=[SERVICE_SID], complete_after_s=30)
    client = IntelligenceClient(ACCOUNT_SID, AUTH_TOKEN, base_url="https://intelligence.twilio.com", transport=fake)

Switches are plain attributes a test may flip at any moment (`auth_ok`, `permissions`, `unreachable`, `latency_s`,
`error_5xx_rate`, `fail`, `complete_after_s`); `lose_answer_after_commit(predicate)` arms the one fault that needs a
predicate. Order of checks per request, as Twilio's: connect → authenticate (20003) → route (20404) → permission
(70051) → injected 5xx → parameters (20001) and resources (20404) → commit → (lost answer).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import random
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx

BASE = "https://intelligence.twilio.com"
PERMISSION_PREFIX = "/twilio/voice/intelligence."
_SID = re.compile(r"^[A-Z]{2}[0-9a-fA-F]{32}$")
_DIGITS = re.compile(r"^[0-9]{1,9}$")  # ASCII digits only, as Twilio parses PageSize
_OPERATOR_SID = "LY" + "5" * 32
_NULL_RESULT_FIELDS = (
    "extract_match", "match_probability", "normalized_result", "utterance_results", "utterance_match",
    "predicted_label", "predicted_probability", "label_probabilities", "extract_results", "json_results",
)  # fmt: skip


def iso(epoch: float) -> str:
    """Twilio's date form: `YYYY-MM-DDThh:mm:ssZ`, whole seconds, UTC."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


class Refusal(Exception):
    """An error answer with Twilio's body; raised anywhere in a handler, turned into a response in one place."""

    def __init__(self, status: int, code: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}

    def body(self) -> dict[str, Any]:
        more_info = f"https://www.twilio.com/docs/errors/{self.code}"
        return {"code": self.code, "message": self.message, "more_info": more_info, "status": self.status}


def _invalid(name: str, value: str, reason: str) -> Refusal:
    return Refusal(400, 20001, f"Invalid {name}: '{value[:200]}': {reason}")


def _missing(name: str) -> Refusal:
    return Refusal(400, 20001, f"Missing required parameter {name} in the post body")


def _not_found(path: str) -> Refusal:
    return Refusal(404, 20404, f"The requested resource {path} was not found")


@dataclass
class FakeService:
    sid: str
    unique_name: str
    friendly_name: str | None = None
    webhook_url: str | None = None
    webhook_http_method: str = "POST"  # never null on the wire (an enum: GET, POST, NULL)
    version: int = 1
    created: float = 0.0  # Unix seconds
    updated: float = 0.0


@dataclass
class FakeTranscript:
    sid: str
    index: int  # creation order: stable paging position
    service_sid: str
    channel: dict[str, Any]
    customer_key: str | None
    media_start_time: str | None
    created: float  # loop time
    fails: bool  # decided at create time by `FakeIntelligence.fail`


@dataclass(frozen=True)
class Call:
    """What a handler sees: the path's SID (if any), query and form parameters, and the request itself."""

    sid: str
    query: dict[str, str]
    form: dict[str, str]
    request: httpx.Request


Handler = Callable[["FakeIntelligence", Call], httpx.Response]


@dataclass(frozen=True)
class Route:
    method: str
    template: str  # e.g. /v2/Transcripts/{Sid}/Sentences — also the key of `FakeIntelligence.requests`
    permission: str  # e.g. transcripts/create, under PERMISSION_PREFIX
    handler: Handler

    def match(self, method: str, path: str) -> str | None:
        """The path's SID ("" when the template has none) if this route takes the request, else None."""
        found = re.fullmatch(self.template.replace("{Sid}", "([^/]+)"), path) if method == self.method else None
        return None if found is None else (found.groups() or ("",))[0]


@dataclass
class FakeIntelligence(httpx.AsyncBaseTransport):
    """One Twilio account's Intelligence v2, in memory; see the module docstring for switches and check order."""

    account_sid: str
    auth_token: str = field(repr=False)
    service_sids: Iterable[str] = ()  # services that exist from the start
    complete_after_s: float = 2.0  # queued for the first quarter, in-progress until then, then final
    fail: Callable[[str | None], bool] | None = None  # customer_key -> end `failed` instead of `completed`
    seed: int = 0
    # Unix time of loop time 0, for date_created and the AfterDateCreated filter. None: anchored so that the first
    # request's loop time is the wall clock's now — keep that when the code under test filters by time.time().
    epoch: float | None = None
    sentences_per_transcript: int = 3
    # Switches, read on every request.
    auth_ok: bool = True  # False: every request is refused 401 / 20003, whatever the credentials
    permissions: set[str] | None = None  # None: full access; else Twilio permission strings (wildcards `…/*` too)
    unreachable: bool = False  # True: raise httpx.ConnectError, as a dead server would
    latency_s: float = 0.0  # slept (on the loop's clock) before each answer
    error_5xx_rate: float = 0.0  # fraction of authorised requests answered 500 / 20500 before being processed
    # Counters.
    requests: Counter[tuple[str, str]] = field(default_factory=Counter)  # (method, route template) -> count
    responses_by_status: Counter[int] = field(default_factory=Counter)
    transcripts_by_customer_key: Counter[str] = field(default_factory=Counter)
    creates: int = 0  # transcripts committed
    refused_connections: int = 0  # requests that met `unreachable`
    lost_answers: int = 0  # creates committed whose answer was then lost
    # State.
    services: dict[str, FakeService] = field(default_factory=dict)
    transcripts: dict[str, FakeTranscript] = field(default_factory=dict)
    _lose: Callable[[str | None], bool] | None = field(default=None, init=False, repr=False)
    _rng: random.Random = field(init=False, repr=False)
    _sids: int = field(default=0, init=False, repr=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        for sid in self.service_sids:
            self.add_service(sid)

    # --- test-facing helpers -------------------------------------------------------------------------------------

    def add_service(self, sid: str | None = None, unique_name: str | None = None) -> FakeService:
        sid = sid or self._new_sid("GA")
        now = self.epoch or time.time()
        service = FakeService(sid, unique_name or f"service-{sid[-6:]}", created=now, updated=now)
        self.services[sid] = service
        return service

    def lose_answer_after_commit(self, predicate: Callable[[str | None], bool] | None) -> None:
        """Creates whose customer_key satisfies `predicate` are committed, then answered by a reset (ReadError)."""
        self._lose = predicate

    def status_of(self, sid: str) -> str:
        return self._status(self.transcripts[sid], self._now())[0]

    # --- transport ----------------------------------------------------------------------------------------------

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.unreachable:
            self.refused_connections += 1
            raise httpx.ConnectError("[Errno 111] Connection refused (FakeIntelligence.unreachable)", request=request)
        if self.latency_s > 0:
            await asyncio.sleep(self.latency_s)
        self._now()  # anchors `epoch` at the first request
        method, path = request.method, request.url.path
        route, sid = next(((r, s) for r in ROUTES if (s := r.match(method, path)) is not None), (None, ""))
        self.requests[(method, route.template if route else path)] += 1
        body = await request.aread()
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)) if body else {}
        query = dict(request.url.params.multi_items())
        try:
            if not self.auth_ok or not self._authenticated(request):
                raise Refusal(401, 20003, "Authenticate", {"WWW-Authenticate": 'Basic realm="Twilio API"'})
            if route is None:
                raise _not_found(path)
            if not self._allowed(route.permission):
                full = PERMISSION_PREFIX + route.permission
                raise Refusal(401, 70051, f"Authorization Error: required permission {full} is missing")
            if self.error_5xx_rate > 0 and self._rng.random() < self.error_5xx_rate:
                raise Refusal(500, 20500, "Internal Server Error")
            response = route.handler(self, Call(sid, query, form, request))
        except Refusal as refusal:
            headers = {**refusal.headers, "Content-Type": "application/json"}
            response = httpx.Response(refusal.status, json=refusal.body(), headers=headers, request=request)
        self.responses_by_status[response.status_code] += 1
        return response

    def _authenticated(self, request: httpx.Request) -> bool:
        scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
        try:
            user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return scheme.lower() == "basic" and (user, password) == (self.account_sid, self.auth_token)

    def _allowed(self, permission: str) -> bool:
        if self.permissions is None:
            return True
        full = PERMISSION_PREFIX + permission
        star = full.rsplit("/", 1)[0] + "/*"
        return any(p in self.permissions for p in (full, star, full[1:], star[1:]))

    # --- clock, SIDs, rendering ------------------------------------------------------------------------------------

    def _now(self) -> float:
        now = asyncio.get_running_loop().time()
        if self.epoch is None:
            self.epoch = time.time() - now  # loop time `now` is this wall-clock moment
        return now

    def _wall(self, loop_time: float) -> float:
        return (self.epoch or 0.0) + loop_time

    def _new_sid(self, prefix: str) -> str:
        self._sids += 1
        return f"{prefix}{self._sids:032x}"

    def _status(self, t: FakeTranscript, now: float) -> tuple[str, float]:
        """(status, loop time it was entered) of `t` at `now`."""
        done = t.created + self.complete_after_s
        if now >= done:
            return ("failed" if t.fails else "completed"), done
        started = t.created + self.complete_after_s / 4
        return ("in-progress", started) if now >= started else ("queued", t.created)

    def _transcript(self, t: FakeTranscript, now: float) -> dict[str, Any]:
        status, since = self._status(t, now)
        url = f"{BASE}/v2/Transcripts/{t.sid}"
        return {
            "account_sid": self.account_sid, "service_sid": t.service_sid, "sid": t.sid,
            "date_created": iso(self._wall(t.created)), "date_updated": iso(self._wall(since)),
            "status": status, "channel": t.channel, "data_logging": False, "language_code": "en-US",
            "customer_key": t.customer_key, "media_start_time": t.media_start_time,
            "duration": 42 if status == "completed" else 0, "url": url, "redaction": True,
            "encryption_credential_sid": None,
            "links": {
                "sentences": f"{url}/Sentences", "encrypted_sentences": f"{url}/Sentences/Encrypted",
                "media": f"{url}/Media", "operator_results": f"{url}/OperatorResults",
                "encrypted_operator_results": f"{url}/OperatorResults/Encrypted",
            },
        }  # fmt: skip

    def _service(self, s: FakeService) -> dict[str, Any]:
        return {
            "sid": s.sid, "account_sid": self.account_sid, "unique_name": s.unique_name,
            "friendly_name": s.friendly_name, "language_code": "en-US", "auto_redaction": False,
            "media_redaction": False, "auto_transcribe": False, "data_logging": False,
            "webhook_url": s.webhook_url, "webhook_http_method": s.webhook_http_method,
            "read_only_attached_operator_sids": [_OPERATOR_SID], "version": s.version,
            "encryption_credential_sid": None, "date_created": iso(s.created), "date_updated": iso(s.updated),
            "url": f"{BASE}/v2/Services/{s.sid}",
        }  # fmt: skip

    def _answer(self, call: Call, status: int, body: dict[str, Any], **headers: str) -> httpx.Response:
        return httpx.Response(status, json=body, headers=headers, request=call.request)

    def _page(
        self, call: Call, key: str, path: str, items: Sequence[tuple[int, Any]],
        render: Callable[[Any], dict[str, Any]], filters: Sequence[tuple[str, str]] = (), max_size: int = 1000,
    ) -> httpx.Response:  # fmt: skip
        """One page of `items` — (stable position, item), in the order they are listed — with Twilio's `meta`.

        The PageToken names the position the next page starts at, so items created while a client pages (new
        transcripts list first, at positions already passed) are neither repeated nor make others skipped.
        """
        size_text, page_text, token = call.query.get("PageSize", "50"), call.query.get("Page", "0"), ""
        if not _DIGITS.match(size_text) or not 1 <= int(size_text) <= max_size:
            raise _invalid("PageSize", size_text, f"must be an integer from 1 to {max_size}")
        if not _DIGITS.match(page_text):
            raise _invalid("Page", page_text, "must be a non-negative integer")
        size, page = int(size_text), int(page_text)
        start = 0
        if "PageToken" in call.query:
            token = call.query["PageToken"]
            if not re.fullmatch(r"PT-?[0-9]{1,12}", token):
                raise _invalid("PageToken", token, "not a page token this service issued")
            start = next((i for i, (pos, _) in enumerate(items) if pos >= int(token[2:])), len(items))
        chosen = items[start : start + size + 1]
        more = len(chosen) > size

        def url(number: int, page_token: str) -> str:
            query = [*filters, ("PageSize", str(size)), ("Page", str(number))]
            return f"{BASE}{path}?{urlencode([*query, ('PageToken', page_token)] if page_token else query)}"

        meta = {
            "page": page, "page_size": size, "first_page_url": url(0, ""), "url": url(page, token),
            "previous_page_url": url(page - 1, "") if page > 0 else None,
            "next_page_url": url(page + 1, f"PT{chosen[-1][0]}") if more else None, "key": key,
        }  # fmt: skip
        return self._answer(call, 200, {key: [render(item) for _, item in chosen[:size]], "meta": meta})

    def _find(self, sid: str, path: str) -> FakeTranscript:
        t = self.transcripts.get(sid)
        if t is None:
            raise _not_found(path)
        return t

    # --- handlers -----------------------------------------------------------------------------------------------

    def _create_service(self, call: Call) -> httpx.Response:
        if not call.form.get("UniqueName"):
            raise _missing("UniqueName")
        service = self.add_service(unique_name=call.form["UniqueName"])
        self._apply_service_fields(service, call.form)
        return self._answer(call, 201, self._service(service), ETag=f'"{service.version}"')

    def _fetch_service(self, call: Call) -> httpx.Response:
        service = self.services.get(call.sid)
        if service is None:
            raise _not_found(call.request.url.path)
        return self._answer(call, 200, self._service(service), ETag=f'"{service.version}"')

    def _update_service(self, call: Call) -> httpx.Response:
        service = self.services.get(call.sid)
        if service is None:
            raise _not_found(call.request.url.path)
        if_match = call.request.headers.get("If-Match")
        if if_match is not None and if_match.strip('"') != str(service.version):
            raise Refusal(412, 20412, f'Precondition Failed: resource version is "{service.version}"')
        self._apply_service_fields(service, call.form)
        service.version += 1
        service.updated = self._wall(self._now())
        return self._answer(call, 200, self._service(service), ETag=f'"{service.version}"')

    @staticmethod
    def _apply_service_fields(service: FakeService, form: dict[str, str]) -> None:
        method = form.get("WebhookHttpMethod")
        if method is not None and method not in ("GET", "POST", "NULL"):
            raise _invalid("WebhookHttpMethod", method, "must be one of GET, POST, NULL")
        service.webhook_url = form.get("WebhookUrl", service.webhook_url) or None
        service.webhook_http_method = method or service.webhook_http_method
        service.friendly_name = form.get("FriendlyName", service.friendly_name)

    def _create_transcript(self, call: Call) -> httpx.Response:
        form = call.form
        service_sid = form.get("ServiceSid") or ""
        if not service_sid:
            raise _missing("ServiceSid")
        if not _SID.match(service_sid) or not service_sid.startswith("GA"):
            raise _invalid("ServiceSid", service_sid, "must be a Service SID (GA…)")
        if not form.get("Channel"):
            raise _missing("Channel")
        try:
            channel = json.loads(form["Channel"])
        except ValueError:
            raise _invalid("Channel", form["Channel"], "must be a JSON object") from None
        props = channel.get("media_properties") if isinstance(channel, dict) else None
        if not isinstance(props, dict) or not (props.get("media_url") or props.get("source_sid")):
            # Twilio's media code for this is 95006 "Media url is empty"; the HTTP answer is still a 400.
            raise _invalid("Channel", form["Channel"], "media url is empty (95006): give media_url or source_sid")
        customer_key = form.get("CustomerKey")
        start = form.get("MediaStartTime")
        if start is not None:
            try:
                start = iso(datetime.fromisoformat(start).timestamp())
            except ValueError:
                raise _invalid("MediaStartTime", start, "must be an ISO-8601 date-time") from None
        if service_sid not in self.services:
            raise _not_found(f"/v2/Services/{service_sid}")
        # Commit.
        fails = self.fail is not None and self.fail(customer_key)
        t = FakeTranscript(
            self._new_sid("GT"), len(self.transcripts), service_sid, channel, customer_key, start, self._now(), fails
        )
        self.transcripts[t.sid] = t
        self.creates += 1
        if customer_key is not None:
            self.transcripts_by_customer_key[customer_key] += 1
        if self._lose is not None and self._lose(customer_key):
            self.lost_answers += 1
            raise httpx.ReadError("[Errno 104] Connection reset by peer (after commit)", request=call.request)
        return self._answer(call, 202, self._transcript(t, t.created))

    def _fetch_transcript(self, call: Call) -> httpx.Response:
        t = self._find(call.sid, call.request.url.path)
        return self._answer(call, 200, self._transcript(t, self._now()))

    def _list_transcripts(self, call: Call) -> httpx.Response:
        q, now = call.query, self._now()
        after, before = self._date(q, "AfterDateCreated"), self._date(q, "BeforeDateCreated")
        service_sid, status = q.get("ServiceSid"), q.get("Status")

        def keep(t: FakeTranscript) -> bool:
            created = self._wall(t.created)
            return (
                (not service_sid or t.service_sid == service_sid)
                and (after is None or created > after)
                and (before is None or created < before)
                and (not status or self._status(t, now)[0] == status)
            )

        # Newest first, as Twilio lists them; position -index keeps that order stable while more are created.
        items = [(-t.index, t) for t in reversed(self.transcripts.values()) if keep(t)]
        names = ("ServiceSid", "BeforeDateCreated", "AfterDateCreated", "Status")
        filters = [(name, q[name]) for name in names if q.get(name)]
        return self._page(call, "transcripts", "/v2/Transcripts", items, lambda t: self._transcript(t, now), filters)

    @staticmethod
    def _date(query: dict[str, str], name: str) -> float | None:
        if not query.get(name):
            return None
        try:
            return datetime.fromisoformat(query[name]).timestamp()
        except ValueError:
            raise _invalid(name, query[name], "must be an ISO-8601 date-time") from None

    def _list_sentences(self, call: Call) -> httpx.Response:
        t = self._find(call.sid, call.request.url.path)
        words = call.query.get("WordTimestamps") == "true"
        done = self._status(t, self._now())[0] == "completed"
        count = self.sentences_per_transcript if done else 0  # no sentences before the transcript completes

        def render(i: int) -> dict[str, Any]:
            text = f"Sentence {i} of {t.customer_key or t.sid}."
            start = 2.5 * i
            return {
                "media_channel": i % 2 + 1, "sentence_index": i, "start_time": f"{start:.2f}",
                "end_time": f"{start + 2.0:.2f}", "transcript": text, "sid": f"GX{t.index:016x}{i:016x}",
                "confidence": "0.95",
                "words": [
                    {"word": w, "start_time": start + 0.4 * n, "end_time": start + 0.4 * n + 0.3}
                    for n, w in enumerate(text.split())
                ] if words else [],
            }  # fmt: skip

        filters = [(name, call.query[name]) for name in ("Redacted", "WordTimestamps") if name in call.query]
        items = [(i, i) for i in range(count)]
        return self._page(call, "sentences", call.request.url.path, items, render, filters, max_size=5000)

    def _list_operator_results(self, call: Call) -> httpx.Response:
        t = self._find(call.sid, call.request.url.path)
        done = self._status(t, self._now())[0] == "completed"
        result: dict[str, Any] = {
            **dict.fromkeys(_NULL_RESULT_FIELDS), "operator_type": "text-generation", "name": "Call summary",
            "operator_sid": _OPERATOR_SID, "transcript_sid": t.sid,
            "text_generation_results": {"result": f"Summary of {t.customer_key or t.sid}", "format": "text"},
            "url": f"{BASE}/v2/Transcripts/{t.sid}/OperatorResults/{_OPERATOR_SID}",
        }  # fmt: skip
        items = [(0, result)] if done else []
        filters = [("Redacted", call.query["Redacted"])] if "Redacted" in call.query else []
        return self._page(call, "operator_results", call.request.url.path, items, lambda r: r, filters)

    def _fetch_media(self, call: Call) -> httpx.Response:
        t = self._find(call.sid, call.request.url.path)
        body = {
            "account_sid": self.account_sid, "service_sid": t.service_sid, "sid": t.sid,
            "media_url": f"https://media.intelligence.test/{t.sid}.wav?Expires=600&Signature=fake",
            "url": f"{BASE}/v2/Transcripts/{t.sid}/Media",
        }  # fmt: skip
        return self._answer(call, 200, body)


ROUTES: tuple[Route, ...] = (
    Route("POST", "/v2/Services", "services/create", FakeIntelligence._create_service),
    Route("GET", "/v2/Services/{Sid}", "services/read", FakeIntelligence._fetch_service),
    Route("POST", "/v2/Services/{Sid}", "services/update", FakeIntelligence._update_service),
    Route("POST", "/v2/Transcripts", "transcripts/create", FakeIntelligence._create_transcript),
    Route("GET", "/v2/Transcripts", "transcripts/list", FakeIntelligence._list_transcripts),
    Route("GET", "/v2/Transcripts/{Sid}", "transcripts/read", FakeIntelligence._fetch_transcript),
    Route("GET", "/v2/Transcripts/{Sid}/Sentences", "transcript-sentences/read", FakeIntelligence._list_sentences),
    Route("GET", "/v2/Transcripts/{Sid}/OperatorResults", "operator-results/read",
          FakeIntelligence._list_operator_results),
    Route("GET", "/v2/Transcripts/{Sid}/Media", "transcript-media/read", FakeIntelligence._fetch_media),
)  # fmt: skip
