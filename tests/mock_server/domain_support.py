"""Helpers for domain-model tests: a registry on a manual clock, and terse parameter building."""

from __future__ import annotations

import json
import random
from typing import Any

from mock_server._clock import ManualClock
from mock_server._config import LifecycleConfig, MediaConfig
from mock_server._model import Account, Params, Registry


def P(**values: str) -> Params:  # noqa: N802 - reads like the form it builds
    return Params.from_pairs(values.items())


def channel(media_url: str | None = "https://media.example.com/a.wav", **extra: Any) -> str:
    props: dict[str, Any] = {}
    if media_url is not None:
        props["media_url"] = media_url
    if "source_sid" in extra:
        props["source_sid"] = extra.pop("source_sid")
    return json.dumps({"media_properties": props, **extra})


def world(seed: int = 1, **lifecycle: Any) -> tuple[Registry, Account, ManualClock, str]:
    """A registry, one account with the given lifecycle, a clock, and a service with a webhook."""
    clock = ManualClock()
    registry = Registry(random.Random(seed), clock)
    account = registry.create_account(lifecycle=LifecycleConfig(**lifecycle), media=MediaConfig(fetch=False))
    service = account.create_service(P(UniqueName="calls", WebhookUrl="https://hooks.example.com/ci"))
    assert service.body is not None
    return registry, account, clock, service.body["sid"]


def create(account: Account, service_sid: str, **params: str) -> dict[str, Any]:
    result = account.create_transcript(P(ServiceSid=service_sid, Channel=params.pop("Channel", channel()), **params))
    assert result.status == 202
    assert result.body is not None
    return result.body
