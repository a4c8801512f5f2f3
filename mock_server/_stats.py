"""Request counters kept by the HTTP layer, and the stats documents the control plane answers with.

The HTTP layer counts what only it sees (requests, responses by status); the limiter, the account's domain state
and the webhook dispatcher each count their own part, and `account_stats` puts the pieces into one flat document
(DESIGN.md "Mock control plane"). Counters are plain ints bumped in the request path: no locks are needed on one
event loop, and nothing is allocated per request but the status key's first appearance.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


class Counters:
    """What the HTTP layer saw for one account (or, app-wide, for requests that never reached an account)."""

    __slots__ = ("by_status", "dropped", "requests")

    def __init__(self) -> None:
        self.requests = 0
        self.by_status: dict[int, int] = {}
        self.dropped = 0  # connections aborted by a reset fault: requests without any response

    def count(self, status: int) -> None:
        self.requests += 1
        by_status = self.by_status
        by_status[status] = by_status.get(status, 0) + 1

    def to_json(self) -> dict[str, Any]:
        return {
            "requests": self.requests + self.dropped,
            "responses_by_status": {str(k): v for k, v in sorted(self.by_status.items())},
            "connections_dropped": self.dropped,
        }


# The Video counters (`_video/`): summed globally, and promised in both stats documents.
_VIDEO = (
    "rooms",
    "compositions_created",
    "compositions_completed",
    "compositions_failed",
    "compositions_deleted",
    "composition_callbacks_sent",
    "composition_callbacks_failed",
    "composition_callbacks_dropped",
)

# Keys summed across accounts for the global totals; dict-valued keys are merged by summing their values.
_SUMMED = (
    "requests",
    "rejected_429",
    "in_flight",
    "transcripts_created",
    "transcripts_completed",
    "transcripts_failed",
    "transcripts_deleted",
    "transcripts_stored",
    "services",
    "webhooks_sent",
    "webhooks_failed",
    "webhooks_dropped",
    "media_fetched",
    "media_failed",
    "alerts",
    "recordings_stored",
    *_VIDEO,
)

# Every key README's control-plane table promises in both the global and each account's stats document.
STATS_KEYS = (
    "requests",
    "responses_by_status",
    "rejected_429",
    "in_flight",
    "peak_in_flight",
    "current_limit",
    "connections_dropped",
    "transcripts_created",
    "transcripts_completed",
    "transcripts_failed",
    "transcripts_deleted",
    "transcripts_by_customer_key",
    "webhooks_sent",
    "webhooks_failed",
    "webhooks_dropped",
    "media_fetched",
    "media_failed",
    "alerts",
    "recordings_stored",
    *_VIDEO,
)


def totals(per_account: Iterable[Mapping[str, Any]], app: Counters) -> dict[str, Any]:
    """Global totals: sums over accounts, plus the requests answered before an account was known (401, 404, 405).

    `current_limit` is not a sum (accounts are limited separately): the control plane adds the global config's.
    """
    out: dict[str, Any] = dict.fromkeys(_SUMMED, 0)
    out.update(app.to_json())
    by_status: dict[str, int] = dict(out["responses_by_status"])
    by_customer_key: dict[str, int] = {}
    peak = 0
    for stats in per_account:
        for key in _SUMMED:
            out[key] += int(stats.get(key, 0))
        out["connections_dropped"] += int(stats.get("connections_dropped", 0))
        for status, count in stats.get("responses_by_status", {}).items():
            by_status[status] = by_status.get(status, 0) + count
        for key, count in stats.get("transcripts_by_customer_key", {}).items():
            by_customer_key[key] = by_customer_key.get(key, 0) + count
        peak = max(peak, int(stats.get("peak_in_flight", 0)))
    out["responses_by_status"] = dict(sorted(by_status.items()))
    out["peak_in_flight"] = peak  # the largest single-account peak: accounts are limited separately
    out["transcripts_by_customer_key"] = by_customer_key
    return out
