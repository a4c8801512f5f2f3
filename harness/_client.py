"""IntelligenceClient: typed async access to Intelligence v2 for many tasks at once.

    async with IntelligenceClient() as client:            # credentials from the environment
        t = await client.create_transcript("GA…", {"media_properties": {"media_url": url}}, customer_key="k")
        t = await client.fetch_transcript(t.sid)
        async for s in client.list_sentences(t.sid): ...

Every call goes through one `AdaptiveLimiter` (Twilio's limit is per account, so all tasks share it) and one
`RetryPolicy`; see `harness._limiter` and `harness._retry`. Lists are async iterators that follow
`meta.next_page_url`.
"""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import datetime
from types import TracebackType
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel

from harness._credentials import Credentials, resolve_credentials
from harness._errors import BadRequest, OutcomeUnknown, TransportError
from harness._limiter import AdaptiveLimiter
from harness._models import Media, Operator, OperatorResult, Sentence, Service, Transcript
from harness._requester import Pairs, Requester
from harness._retry import RetryBudget, RetryEvent, RetryPolicy
from harness._transport import AiohttpTransport

M = TypeVar("M", bound=BaseModel)


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _pairs(**fields: Any) -> list[tuple[str, str]]:
    """Twilio form/query pairs from keyword fields, skipping None; booleans as true/false, datetimes ISO-8601."""
    out = []
    for name, value in fields.items():
        if value is None:
            continue
        if isinstance(value, bool):
            value = _bool(value)
        elif isinstance(value, datetime):
            value = value.strftime("%Y-%m-%dT%H:%M:%SZ")
        out.append((name, str(value)))
    return out


class IntelligenceClient:
    """Async client for Intelligence v2, shared by many tasks; see the module docstring.

    Credentials come from the arguments or the environment (`TWILIO_ACCOUNT_SID` + `TWILIO_AUTH_TOKEN`, or +
    `TWILIO_API_KEY` + `TWILIO_API_SECRET`); `base_url` or `CINTEL_BASE_URL` points it at the mock. Every request
    passes the client's `AdaptiveLimiter` and `RetryPolicy`; `transport` replaces the aiohttp-backed one (tests
    pass a respx or httpx mock transport).
    """

    def __init__(
        self,
        account_sid: str | None = None,
        auth_token: str | None = None,
        *,
        api_key: str | None = None,
        api_secret: str | None = None,
        base_url: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        limiter: AdaptiveLimiter | None = None,
        retry: RetryPolicy | None = None,
        retry_budget: RetryBudget | None = None,
        timeout_s: float = 30.0,
        max_connections: int = 256,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.credentials: Credentials = resolve_credentials(
            account_sid, auth_token, api_key=api_key, api_secret=api_secret, base_url=base_url
        )
        self.limiter = limiter or AdaptiveLimiter()
        self._requester = Requester(
            self.credentials,
            transport or AiohttpTransport(max_connections=max_connections, timeout_s=timeout_s),
            self.limiter,
            retry or RetryPolicy(),
            budget=retry_budget,
            sleep=sleep,
            rng=rng,
        )

    def __repr__(self) -> str:
        c = self.credentials
        return f"IntelligenceClient(account_sid={c.account_sid!r}, base_url={c.base_url!r})"

    async def __aenter__(self) -> IntelligenceClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._requester.transport.aclose()

    @property
    def retries(self) -> int:
        return self._requester.retries

    def add_retry_listener(self, listener: Callable[[RetryEvent], None]) -> None:
        """Call `listener` before every retry wait, in addition to the policy's `on_retry` (the runner watches
        connection failures this way while a request is still being retried)."""
        self._requester.retry_listeners.append(listener)

    def metrics(self) -> dict[str, Any]:
        return {**self.limiter.metrics(), "retries": self.retries, "retry_budget": self._requester.budget.tokens}

    # --- plumbing -----------------------------------------------------------------------------------------------

    async def _one(self, model: type[M], method: str, path: str, **kwargs: Any) -> M:
        body = await self._requester.request(method, path, **kwargs)
        return model.model_validate_json(body)

    async def _each(self, model: type[M], path: str, params: Pairs | None = None) -> AsyncIterator[M]:
        async for records in self._requester.pages(path, params):
            for record in records:
                yield model.model_validate(record)

    # --- services -----------------------------------------------------------------------------------------------

    async def create_service(self, unique_name: str, **fields: Any) -> Service:
        """Fields as Twilio names them in snake_case: friendly_name, webhook_url, webhook_http_method, …"""
        data = _pairs(UniqueName=unique_name, **_camel(fields))
        return await self._one(Service, "POST", "/v2/Services", data=data)

    async def fetch_service(self, sid: str) -> Service:
        return await self._one(Service, "GET", f"/v2/Services/{sid}")

    def list_services(self, *, page_size: int | None = None) -> AsyncIterator[Service]:
        return self._each(Service, "/v2/Services", _pairs(PageSize=page_size))

    async def update_service(self, sid: str, *, if_match: str | None = None, **fields: Any) -> Service:
        headers = [("If-Match", if_match)] if if_match else []
        data = _pairs(**_camel(fields))
        return await self._one(Service, "POST", f"/v2/Services/{sid}", data=data, headers=headers)

    async def delete_service(self, sid: str) -> None:
        await self._requester.request("DELETE", f"/v2/Services/{sid}")

    async def attach_operator(self, service_sid: str, operator_sid: str) -> None:
        await self._requester.request("POST", f"/v2/Services/{service_sid}/Operators/{operator_sid}", data=[])

    async def detach_operator(self, service_sid: str, operator_sid: str) -> None:
        await self._requester.request("DELETE", f"/v2/Services/{service_sid}/Operators/{operator_sid}")

    # --- transcripts --------------------------------------------------------------------------------------------

    async def create_transcript(
        self,
        service_sid: str,
        channel: Mapping[str, Any] | str,
        *,
        customer_key: str | None = None,
        media_start_time: datetime | str | None = None,
    ) -> Transcript:
        """Create (202). An unknown outcome raises `OutcomeUnknown`: reconcile by `customer_key`, don't resend."""
        channel_json = channel if isinstance(channel, str) else json.dumps(channel)
        data = _pairs(
            ServiceSid=service_sid, Channel=channel_json, CustomerKey=customer_key, MediaStartTime=media_start_time
        )
        return await self._one(Transcript, "POST", "/v2/Transcripts", data=data, customer_key=customer_key)

    async def check_can_create_transcripts(self, service_sid: str) -> None:
        """Prove, without creating anything, that these credentials may create transcripts on this service.

        It sends a create with no `Channel`: Twilio checks credentials, the key's permissions and the service before
        the parameters, so a 400 answer means all three passed, while 401 (20003 / 70051), 403 and 404 raise as a
        real create would. Nothing can be created without media, so a lost answer is only a transport failure.
        """
        try:
            await self._requester.request("POST", "/v2/Transcripts", data=_pairs(ServiceSid=service_sid))
        except BadRequest:
            return
        except OutcomeUnknown as lost:
            raise TransportError(str(lost), method="POST", url=lost.url) from lost

    async def fetch_transcript(self, sid: str) -> Transcript:
        return await self._one(Transcript, "GET", f"/v2/Transcripts/{sid}")

    async def delete_transcript(self, sid: str) -> None:
        await self._requester.request("DELETE", f"/v2/Transcripts/{sid}")

    def list_transcripts(
        self,
        *,
        service_sid: str | None = None,
        status: str | None = None,
        source_sid: str | None = None,
        language_code: str | None = None,
        after_date_created: datetime | str | None = None,
        before_date_created: datetime | str | None = None,
        after_start_time: datetime | str | None = None,
        before_start_time: datetime | str | None = None,
        page_size: int | None = None,
    ) -> AsyncIterator[Transcript]:
        params = _pairs(
            ServiceSid=service_sid, Status=status, SourceSid=source_sid, LanguageCode=language_code,
            AfterDateCreated=after_date_created, BeforeDateCreated=before_date_created,
            AfterStartTime=after_start_time, BeforeStartTime=before_start_time, PageSize=page_size,
        )  # fmt: skip
        return self._each(Transcript, "/v2/Transcripts", params)

    def list_sentences(
        self,
        transcript_sid: str,
        *,
        redacted: bool | None = None,
        word_timestamps: bool | None = None,
        page_size: int | None = None,
    ) -> AsyncIterator[Sentence]:
        params = _pairs(Redacted=redacted, WordTimestamps=word_timestamps, PageSize=page_size)
        return self._each(Sentence, f"/v2/Transcripts/{transcript_sid}/Sentences", params)

    async def fetch_media(self, transcript_sid: str, *, redacted: bool | None = None) -> Media:
        return await self._one(
            Media, "GET", f"/v2/Transcripts/{transcript_sid}/Media", params=_pairs(Redacted=redacted)
        )

    def list_operator_results(
        self, transcript_sid: str, *, redacted: bool | None = None
    ) -> AsyncIterator[OperatorResult]:
        path = f"/v2/Transcripts/{transcript_sid}/OperatorResults"
        return self._each(OperatorResult, path, _pairs(Redacted=redacted))

    async def fetch_operator_result(self, transcript_sid: str, operator_sid: str) -> OperatorResult:
        path = f"/v2/Transcripts/{transcript_sid}/OperatorResults/{operator_sid}"
        return await self._one(OperatorResult, "GET", path)

    # --- operators ----------------------------------------------------------------------------------------------

    def list_operators(self, *, availability: str | None = None) -> AsyncIterator[Operator]:
        return self._each(Operator, "/v2/Operators", _pairs(Availability=availability))

    async def fetch_operator(self, sid: str) -> Operator:
        return await self._one(Operator, "GET", f"/v2/Operators/{sid}")


def _camel(fields: Mapping[str, Any]) -> dict[str, Any]:
    return {"".join(part.capitalize() for part in name.split("_")): value for name, value in fields.items()}
