"""The runner's view of the connection: a lone failure is not an outage; a lasting one is shown and logged, once."""

from __future__ import annotations

import logging

import pytest

from harness._health import Health
from harness._retry import RetryEvent


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_lone_failure_that_recovers_is_neither_shown_nor_logged(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    health = Health(clock)
    with caplog.at_level(logging.INFO, logger="harness.runner"):
        health.failed("HTTP 500: boom")
        assert health.describe() is None
        clock.now += 0.5
        health.ok()
    assert caplog.records == []


def test_a_lasting_outage_is_shown_logged_every_ten_seconds_and_its_end_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    health = Health(clock)
    with caplog.at_level(logging.INFO, logger="harness.runner"):
        for _ in range(40):  # 20 s of failures every half second
            health.failed("could not connect: https://b.example/x?X-Amz-Signature=s3cr3t")
            clock.now += 0.5
        assert health.describe() == ("API unreachable for 20 s: could not connect: https://b.example/x?<redacted>")
        health.ok()
    messages = [r.getMessage() for r in caplog.records]
    assert [m.split(" for ")[0] for m in messages] == ["API unreachable"] * 2 + ["API reachable again after 20 s"]
    assert all("s3cr3t" not in m for m in messages)


def test_retries_of_connection_errors_count_and_a_429_proves_the_api_is_there() -> None:
    clock = Clock()
    health = Health(clock)
    health.on_retry(RetryEvent(1, 0.1, "TransportError", "GET", "/v2/Transcripts/GT1", "could not connect"))
    clock.now += 5
    assert health.unreachable_s() == 5
    health.on_retry(RetryEvent(2, 0.1, "RateLimited", "GET", "/v2/Transcripts/GT1", "HTTP 429"))
    assert health.unreachable_s() == 0
