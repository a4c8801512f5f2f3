"""Shared by the replay tests: a mock with a fresh account, and the calls a batch makes, recorded or replayed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from harness import AiohttpTransport, IntelligenceClient
from harness.replay import Recorder
from mock_server import MockConfig, RunningMock, serve

SIGNATURE = "Zm9vYmFyc2lnbmF0dXJlMTIz"
SIGNED_URL = (
    f"https://bucket.s3.amazonaws.com/calls/a.wav?X-Amz-Credential=AKIAEXAMPLE%2F20250101&X-Amz-Signature={SIGNATURE}"
)


@dataclass
class Account:
    base_url: str
    sid: str
    token: str

    def client(self, transport: httpx.AsyncBaseTransport) -> IntelligenceClient:
        return IntelligenceClient(self.sid, self.token, base_url=self.base_url, transport=transport)


@pytest.fixture
async def mock() -> AsyncIterator[RunningMock]:
    config = {"lifecycle": {"mode": "immediate"}, "media": {"fetch": False}}
    async with serve(MockConfig.from_json(config), port=0, seed=11) as running:
        yield running


async def new_account(mock: RunningMock, **config: Any) -> Account:
    async with httpx.AsyncClient(base_url=mock.base_url) as control:
        answer = (await control.post("/__mock__/accounts", json=config)).json()
    return Account(mock.base_url, answer["account_sid"], answer["auth_token"])


async def a_batch(client: IntelligenceClient, polls: int = 1) -> dict[str, Any]:
    """What a batch does for one item: a service, a create, polls until final, sentences and operator results."""
    async with client:
        service = await client.create_service("replayed")
        created = await client.create_transcript(
            service.sid, {"media_properties": {"media_url": SIGNED_URL}}, customer_key="k1"
        )
        states = []
        for _ in range(polls):
            states.append((await client.fetch_transcript(created.sid)).status)
        sentences = [s.model_dump() async for s in client.list_sentences(created.sid, page_size=2)]
        results = [o.model_dump() async for o in client.list_operator_results(created.sid)]
    return {"service": service.model_dump(), "created": created.model_dump(), "states": states,
            "sentences": sentences, "operator_results": results}  # fmt: skip


async def record_a_batch(account: Account, **recorder: Any) -> tuple[Recorder, dict[str, Any]]:
    rec = Recorder(**recorder)
    outcome = await a_batch(account.client(rec.wrap(AiohttpTransport())))
    return rec, outcome
