"""Is the API answering? The batch runner's view of the connection, fed by every request and every retry.

A request that fails for the connection (refused, reset, timed out, a 5xx) starts or continues an *outage*; any
answer from the API (a 2xx, a 4xx, a 429 — each proves the service is there) ends it. The runner shows an ongoing
outage as "API unreachable for 40 s: <reason>" and stops, resumably, when it lasts longer than its bound.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from harness._redact import scrub_text
from harness._retry import RetryEvent

log = logging.getLogger("harness.runner")
OUTAGE_ERRORS = frozenset({"TransportError", "OutcomeUnknown", "ServerError", "RetryBudgetExhausted"})


SHOW_AFTER_S = 2.0  # a lone 5xx or reset is not an outage; one that lasts this long is shown and logged
LOG_EVERY_S = 10.0


class Health:
    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self.failing_since: float | None = None
        self.reason: str | None = None
        self._logged_at: float | None = None

    def ok(self) -> None:
        if self._logged_at is not None:  # only an outage that was reported gets its end reported
            log.warning("API reachable again after %.0f s", self.unreachable_s())
        self.failing_since = None
        self.reason = None
        self._logged_at = None

    def failed(self, reason: str) -> None:
        now = self._clock()
        self.reason = scrub_text(reason)[:300]
        if self.failing_since is None:
            self.failing_since = now
        lasting = now - self.failing_since >= SHOW_AFTER_S
        if lasting and (self._logged_at is None or now - self._logged_at >= LOG_EVERY_S):
            self._logged_at = now  # visible as it happens, without a line per retry
            log.warning("API unreachable for %.0f s: %s", self.unreachable_s(), self.reason)

    def on_retry(self, event: RetryEvent) -> None:
        """The client's retry listener: a connection-type failure counts before its retries run out."""
        if event.reason in OUTAGE_ERRORS:
            self.failed(event.detail or event.reason)
        else:  # 429: the service answered
            self.ok()

    def unreachable_s(self) -> float:
        return 0.0 if self.failing_since is None else self._clock() - self.failing_since

    def describe(self) -> str | None:
        """ "API unreachable for N s: reason" once an outage has lasted `SHOW_AFTER_S`, else None."""
        if self.failing_since is None or self.unreachable_s() < SHOW_AFTER_S:
            return None
        return f"API unreachable for {self.unreachable_s():.0f} s: {self.reason}"
