"""What people watching a batch see: a live rich panel on a terminal, plain lines in CI logs, JSON lines on request.

All three show the same numbers — loaded, rejected, submitted, completed, failed, retries, the limiter's current
concurrency limit, 429s and the rate — refreshed at most once a second; the final summary is a table.
"""

from __future__ import annotations

import json
import sys
import time
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from harness._runner import Progress, Summary


def snapshot(p: Progress, metrics: dict[str, Any]) -> dict[str, Any]:
    elapsed = max(time.monotonic() - p.started, 1e-9)
    return {
        "elapsed_s": round(elapsed, 1), "loaded": p.loaded, "rejected": p.rejected,
        "submitted": p.submitted + p.adopted, "unknown": p.unknown, "completed": p.completed, "failed": p.failed,
        "retries": metrics.get("retries"), "limit": metrics.get("limit"), "in_flight": metrics.get("in_flight"),
        "rejected_429": metrics.get("rejected_429"), "rate_per_s": round((p.submitted + p.completed) / elapsed, 1),
    }  # fmt: skip


class ProgressView:
    """Use as a context manager around the run; pass `view.update` as the runner's `on_progress`."""

    def __init__(self, log_format: str = "text", *, interactive: bool | None = None) -> None:
        self.log_format = log_format
        self.console = Console(stderr=True)
        interactive = self.console.is_terminal if interactive is None else interactive
        self._live = Live(console=self.console, refresh_per_second=4) if interactive and log_format == "text" else None
        self._last = 0.0

    def __enter__(self) -> ProgressView:
        if self._live is not None:
            self._live.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._live is not None:
            self._live.stop()

    def update(self, p: Progress, metrics: dict[str, Any]) -> None:
        now = time.monotonic()
        if now - self._last < 1.0 and self._last:
            return
        self._last = now
        s = snapshot(p, metrics)
        if self.log_format == "json":
            print(json.dumps({"event": "progress", **s}), file=sys.stderr, flush=True)
        elif self._live is not None:
            self._live.update(_panel(s))
        else:
            print(
                f"[{s['elapsed_s']:>6}s] submitted {s['submitted']}/{p.loaded}  completed {p.completed}  failed "
                f"{p.failed}  retries {s['retries']}  limit {s['limit']}  429s {s['rejected_429']}  "
                f"{s['rate_per_s']}/s",
                file=sys.stderr,
                flush=True,
            )

    def summary(self, summary: Summary, out: str | None) -> None:
        if self.log_format == "json":
            print(json.dumps({"event": "summary", **summary.__dict__}))
            return
        table = Table(caption=f"finished in {summary.elapsed_s:.1f} s")
        table.add_column("state")
        table.add_column("items", justify="right")
        for state in ("completed", "failed", "submitted", "pending", "unknown", "submitting"):
            if summary.counts.get(state):
                table.add_row(state, str(summary.counts[state]))
        if summary.rejected:
            table.add_row("rejected (rows)", str(summary.rejected))
        console = Console()
        console.print(table)
        for f in summary.failed[:20]:
            console.print(f"  failed row {f['row']} {f['customer_key']}: {f['reason']}", markup=False)
        if len(summary.failed) > 20:
            console.print(f"  … and {len(summary.failed) - 20} more in summary.json", markup=False)
        if out is not None:
            console.print(f"results: {out}/results.jsonl, {out}/items/, {out}/rejects.jsonl, {out}/summary.json",
                          markup=False)  # fmt: skip


def _panel(s: dict[str, Any]) -> Table:
    table = Table(title=f"cintel — {s['elapsed_s']} s", show_header=True)
    for column in ("submitted", "completed", "failed", "rejected", "retries", "limit", "in flight", "429s", "rate"):
        table.add_column(column, justify="right")
    table.add_row(
        f"{s['submitted']}/{s['loaded']}", str(s["completed"]), str(s["failed"]), str(s["rejected"]),
        str(s["retries"]), str(s["limit"]), str(s["in_flight"]), str(s["rejected_429"]), f"{s['rate_per_s']}/s",
    )  # fmt: skip
    return table
